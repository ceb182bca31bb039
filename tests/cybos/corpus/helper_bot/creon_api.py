# The helper module beside the bot's script: status checks as a decorator, classes per object.
import functools
import time

import win32com.client

_status = win32com.client.Dispatch("CpUtil.CpCybos")


def needs_plus(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if _status.IsConnect == 0:
            raise RuntimeError("PLUS is not connected")
        if _status.GetLimitRemainCount(1) <= 0:
            time.sleep(_status.LimitRequestRemainTime / 1000)
        return function(*args, **kwargs)

    return wrapper


class Codes:
    def __init__(self):
        self.mgr = win32com.client.Dispatch("CpUtil.CpCodeMgr")

    def listing(self, market):
        return self.mgr.GetStockListByMarket(market)

    def is_etf(self, code):
        return self.mgr.GetStockSectionKind(code) == 10


class Chart:
    def __init__(self):
        self.obj = win32com.client.Dispatch("CpSysDib.StockChart")

    @needs_plus
    def ohlcv(self, code, kind, count, period=1):
        self.obj.SetInputValue(0, code)
        self.obj.SetInputValue(1, ord("2"))
        self.obj.SetInputValue(4, count)
        self.obj.SetInputValue(5, [0, 1, 2, 3, 4, 5, 8])
        self.obj.SetInputValue(6, ord(kind))
        self.obj.SetInputValue(7, period)
        self.obj.SetInputValue(9, ord("1"))
        self.obj.BlockRequest()
        if self.obj.GetDibStatus() != 0:
            raise RuntimeError(self.obj.GetDibMsg1())
        n = self.obj.GetHeaderValue(3)
        return [tuple(self.obj.GetDataValue(f, i) for f in range(7)) for i in range(n)]
