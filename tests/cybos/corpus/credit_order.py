# A 신용 (margin) buy and the sell that repays it through CpTd0312, fills followed through
# CpConclusion in a PumpWaitingMessages loop, the loan row read back from CpTd6033.
import time

import pythoncom
import win32com.client

trade = win32com.client.Dispatch("CpTrade.CpTdUtil")
if trade.TradeInit(0) != 0:
    raise SystemExit("TradeInit failed")
account = trade.AccountNumber[0]
goods = trade.GoodsList(account, 1)[0]


class CpEvent:
    def set_params(self, client, notices):
        self.client, self.notices = client, notices

    def OnReceived(self):
        c = self.client
        self.notices.append(
            (
                c.GetHeaderValue(14),
                c.GetHeaderValue(12),
                c.GetHeaderValue(15),
                c.GetHeaderValue(17),
                c.GetHeaderValue(20),
                c.GetHeaderValue(3),
            )
        )


notices = []
conclusion = win32com.client.Dispatch("DsCbo1.CpConclusion")
handler = win32com.client.WithEvents(conclusion, CpEvent)
handler.set_params(conclusion, notices)
conclusion.Subscribe()


def credit_order(side, qty, loan_date=0):
    obj = win32com.client.Dispatch("CpTrade.CpTd0312")
    obj.SetInputValue(0, side)  # "2" 신용매수, "1" 신용매도(상환)
    obj.SetInputValue(1, "33")  # 신용융자
    obj.SetInputValue(2, account)
    obj.SetInputValue(3, goods)
    obj.SetInputValue(4, "A000660")
    obj.SetInputValue(5, qty)
    obj.SetInputValue(6, 0)
    obj.SetInputValue(10, "03")  # 시장가
    if loan_date:
        obj.SetInputValue(9, loan_date)
    ret = obj.BlockRequest()
    print("order", side, ret, obj.GetDibStatus(), obj.GetHeaderValue(15), obj.GetDibMsg1())
    return obj.GetHeaderValue(9)


def wait_fill(side, qty):
    # A market order may fill in pieces (the venue's depth is random): the first fill's fields
    # with the quantity of all of them, once all ``qty`` shares are in.
    end = time.time() + 30
    while time.time() < end:
        pythoncom.PumpWaitingMessages()
        fills = [n for n in notices if n[0] == "1" and n[1] == side]
        if sum(n[5] for n in fills) >= qty:
            return (*fills[0][:5], sum(n[5] for n in fills))
        time.sleep(0.01)
    raise SystemExit("no fill")


def loan_rows():
    bal = win32com.client.Dispatch("CpTrade.CpTd6033")
    bal.SetInputValue(0, account)
    bal.SetInputValue(1, goods)
    bal.SetInputValue(2, 50)
    bal.BlockRequest()
    return [
        (
            bal.GetDataValue(12, i),
            chr(bal.GetDataValue(1, i)),
            bal.GetDataValue(2, i),
            bal.GetDataValue(7, i),
        )
        for i in range(bal.GetHeaderValue(7))
        if bal.GetDataValue(12, i) == "A000660" and chr(bal.GetDataValue(1, i)) != " "
    ]


credit_order("2", 5)
bought = wait_fill("2", 5)
print("bought credit", bought[2], "cash/credit", bought[3], "loan date", bought[4])
rows = loan_rows()
print("loan rows", rows)
credit_order("1", 5, bought[4])
sold = wait_fill("1", 5)
print("repaid", sold[5], "loan date", sold[4])
print("loan rows after", [r for r in loan_rows() if r[2] == str(bought[4])])
