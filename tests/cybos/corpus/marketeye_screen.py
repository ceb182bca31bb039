# A MarketEye screen over many codes: the columns follow the requested fields sorted.
import win32com.client

codes = win32com.client.Dispatch("CpUtil.CpCodeMgr")
eye = win32com.client.Dispatch("CpSysDib.MarketEye")
universe = list(codes.GetStockListByMarket("1"))[:150]
fields = [111, 4, 20, 70, 67, 0, 17]
eye.SetInputValue(0, fields)
eye.SetInputValue(1, universe)
eye.BlockRequest()
rows = eye.GetHeaderValue(2)
column = {field: i for i, field in enumerate(sorted(fields))}
picked = []
for row in range(rows):
    per = eye.GetDataValue(column[67], row)
    cap = eye.GetDataValue(column[4], row) * eye.GetDataValue(column[20], row)
    if 0 < per < 10:
        picked.append(
            (eye.GetDataValue(column[0], row), eye.GetDataValue(column[17], row), per, cap)
        )
picked.sort(key=lambda item: item[2])
print("screened", rows, "cheap", len(picked))
for code, name, per, cap in picked[:5]:
    print(code, name, per, cap // 100_000_000, "억")
