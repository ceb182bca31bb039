# Order wrappers in the Daishin-sample style: a class per object, return code 4 waited out with
# LimitRequestRemainTime, fills followed through CpConclusion in a PumpWaitingMessages loop.
import time

import pythoncom
import win32com.client

status = win32com.client.Dispatch("CpUtil.CpCybos")
trade = win32com.client.Dispatch("CpTrade.CpTdUtil")
if trade.TradeInit(0) != 0:
    print("TradeInit failed")
    raise SystemExit(1)
account = trade.AccountNumber[0]
goods = trade.GoodsList(account, 1)[0]


class CpEvent:
    def set_params(self, client, notices):
        self.client = client
        self.notices = notices

    def OnReceived(self):
        flag = self.client.GetHeaderValue(14)
        self.notices.append(
            (
                flag,
                self.client.GetHeaderValue(5),
                self.client.GetHeaderValue(3),
                self.client.GetHeaderValue(9),
                self.client.GetHeaderValue(23),
            )
        )


def block(obj):
    while True:
        ret = obj.BlockRequest()
        if ret == 4:
            time.sleep(status.LimitRequestRemainTime / 1000)
            continue
        return ret


class Orders:
    def __init__(self):
        self.new = win32com.client.Dispatch("CpTrade.CpTd0311")
        self.amend_rq = win32com.client.Dispatch("CpTrade.CpTd0313")
        self.cancel_rq = win32com.client.Dispatch("CpTrade.CpTd0314")

    def buy(self, code, qty, price, kind="01"):
        # The side given as a number, as the well-known book does (COM makes it "2").
        self.new.SetInputValue(0, 2)
        self.new.SetInputValue(1, account)
        self.new.SetInputValue(2, goods)
        self.new.SetInputValue(3, code)
        self.new.SetInputValue(4, qty)
        self.new.SetInputValue(5, price)
        self.new.SetInputValue(7, "0")
        self.new.SetInputValue(8, kind)
        ret = block(self.new)
        print("buy", ret, self.new.GetDibStatus(), self.new.GetDibMsg1())
        return self.new.GetHeaderValue(8)

    def amend(self, number, code, price):
        for index, value in ((1, number), (2, account), (3, goods), (4, code), (5, 0), (6, price)):
            self.amend_rq.SetInputValue(index, value)
        block(self.amend_rq)
        return self.amend_rq.GetHeaderValue(7)

    def cancel(self, number, code):
        for index, value in ((1, number), (2, account), (3, goods), (4, code), (5, 0)):
            self.cancel_rq.SetInputValue(index, value)
        block(self.cancel_rq)
        return self.cancel_rq.GetHeaderValue(6)


def open_orders():
    rq = win32com.client.Dispatch("CpTrade.CpTd5339")
    rq.SetInputValue(0, account)
    rq.SetInputValue(1, goods)
    rq.SetInputValue(4, "0")
    rq.SetInputValue(5, "1")
    rq.SetInputValue(6, "0")
    rq.SetInputValue(7, 20)
    found = []
    while True:
        block(rq)
        for i in range(rq.GetHeaderValue(5)):
            found.append((rq.GetDataValue(1, i), rq.GetDataValue(3, i), rq.GetDataValue(11, i)))
        if not rq.Continue:
            return found


notices = []
conclusion = win32com.client.Dispatch("DsCbo1.CpConclusion")
handler = win32com.client.WithEvents(conclusion, CpEvent)
handler.set_params(conclusion, notices)
conclusion.Subscribe()

codes = win32com.client.Dispatch("CpUtil.CpCodeMgr")
low = codes.GetStockMinPrice("A000660")
orders = Orders()
resting = orders.buy("A000660", 1, low)
print("open", [o for o in open_orders() if o[0] == resting])
amended = orders.amend(
    resting, "A000660", codes.GetStockMinPrice("A000660") + codes.GetTickUnit("A000660")
)
cancelled = orders.cancel(amended, "A000660")
filled_no = orders.buy("A005930", 3, 0, kind="03")
deadline = time.time() + 20


def filled(number):
    return sum(n[2] for n in notices if n[0] == "1" and n[1] == number)


# A market order may fill in pieces (the venue's depth is random): wait for all three shares.
while time.time() < deadline and filled(filled_no) < 3:
    pythoncom.PumpWaitingMessages()
    time.sleep(0.01)
print("numbers", resting, amended, cancelled, filled_no)
print("notice flags", sorted({n[0] for n in notices}))
print("filled", filled(filled_no))
print("open after cancel", [o for o in open_orders() if o[0] in (resting, amended)])
conclusion.Unsubscribe()
