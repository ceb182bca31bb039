# A plain top-level script: connection check, the code list, a name, one price with its book.
import win32com.client

status = win32com.client.Dispatch("CpUtil.CpCybos")
if status.IsConnect == 0:
    print("PLUS is not connected")
    raise SystemExit(1)

codes = win32com.client.Dispatch("CpUtil.CpCodeMgr")
kospi = codes.GetStockListByMarket(1)
kosdaq = codes.GetStockListByMarket(2)
print("listings", len(kospi), len(kosdaq))
print("name", codes.CodeToName(kospi[0]))

mst = win32com.client.Dispatch("DsCbo1.StockMst")
mst.SetInputValue(0, "A005930")
mst.BlockRequest()
if mst.GetDibStatus() != 0:
    print("request failed", mst.GetDibMsg1())
    raise SystemExit(1)
price = mst.GetHeaderValue(11)
ask, bid = mst.GetHeaderValue(16), mst.GetHeaderValue(17)
print("price", mst.GetHeaderValue(1), price, mst.GetHeaderValue(12), mst.GetHeaderValue(18))
for level in range(10):
    print(
        "level",
        level + 1,
        mst.GetDataValue(0, level),
        mst.GetDataValue(2, level),
        mst.GetDataValue(1, level),
        mst.GetDataValue(3, level),
    )
print(
    "book ok"
    if ask == mst.GetDataValue(0, 0) and bid == mst.GetDataValue(1, 0)
    else "book mismatch"
)
