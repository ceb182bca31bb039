# A PyQt5 window in the Daishin-sample style: the balance (CpTd6033), its prices (MarketEye),
# and realtime ticks (StockCur) delivered by app.exec_() — the script never pumps by itself.
import sys

import win32com.client
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QMainWindow, QPushButton

trade = win32com.client.Dispatch("CpTrade.CpTdUtil")


class CpEvent:
    def set_params(self, client, window):
        self.client = client
        self.window = window

    def OnReceived(self):
        code = self.client.GetHeaderValue(0)
        price = self.client.GetHeaderValue(13)
        flag = self.client.GetHeaderValue(19)
        self.window.on_tick(code, price, flag == ord("1"))


class CpStockCur:
    def subscribe(self, code, window):
        self.obj = win32com.client.Dispatch("DsCbo1.StockCur")
        self.handler = win32com.client.WithEvents(self.obj, CpEvent)
        self.obj.SetInputValue(0, code)
        self.handler.set_params(self.obj, window)
        self.obj.Subscribe()

    def unsubscribe(self):
        self.obj.Unsubscribe()


class Window(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("balance")
        self.ticks = 0
        self.subs = {}
        self.rows = {}
        button = QPushButton("refresh", self)
        button.clicked.connect(self.refresh)
        self.refresh()
        QTimer.singleShot(30000, self.close_all)

    def refresh(self):
        if trade.TradeInit(0) != 0:
            print("TradeInit failed")
            return
        account = trade.AccountNumber[0]
        rq = win32com.client.Dispatch("CpTrade.CpTd6033")
        rq.SetInputValue(0, account)
        rq.SetInputValue(1, trade.GoodsList(account, 1)[0])
        rq.SetInputValue(2, 50)
        rq.BlockRequest()
        for i in range(rq.GetHeaderValue(7)):
            code = rq.GetDataValue(12, i)
            self.rows[code] = self.rows.get(code, 0) + rq.GetDataValue(7, i)
        eye = win32com.client.Dispatch("CpSysDib.MarketEye")
        eye.SetInputValue(0, (0, 4, 17))
        eye.SetInputValue(1, list(self.rows))
        eye.BlockRequest()
        for i in range(eye.GetHeaderValue(2)):
            print("holding", eye.GetDataValue(0, i), eye.GetDataValue(2, i), eye.GetDataValue(1, i))
        for code in self.rows:
            if code not in self.subs:
                self.subs[code] = CpStockCur()
                self.subs[code].subscribe(code, self)

    def on_tick(self, code, price, expected):
        self.ticks += 1
        if self.ticks == 5:
            print("ticks", self.ticks, "last", code, price, "*" if expected else "")
            self.close_all()

    def close_all(self):
        for sub in self.subs.values():
            sub.unsubscribe()
        QApplication.instance().quit()


app = QApplication(sys.argv)
window = Window()
window.show()
sys.exit(app.exec_())
