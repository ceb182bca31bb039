# Daishin-sample style: an InitPlusCheck, a class per request object, StockBid paged back with
# Continue until the session's first trade, StockMstM for a watch list given back to back.
import ctypes
import itertools

import win32com.client

g_objCpStatus = win32com.client.Dispatch("CpUtil.CpCybos")


def InitPlusCheck():
    if not ctypes.windll.shell32.IsUserAnAdmin():
        print("오류: 일반권한으로 실행됨")
        return False
    if g_objCpStatus.IsConnect == 0:
        print("PLUS가 정상적으로 연결되지 않음.")
        return False
    return True


class CpStockBid:
    def __init__(self):
        self.objSBid = win32com.client.Dispatch("Dscbo1.StockBid")

    def Request(self, code):
        self.objSBid.SetInputValue(0, code)
        self.objSBid.SetInputValue(2, 80)
        self.objSBid.SetInputValue(3, ord("C"))
        rows = []
        while True:
            self.objSBid.BlockRequest()
            if self.objSBid.GetDibStatus() != 0:
                print("통신상태", self.objSBid.GetDibStatus(), self.objSBid.GetDibMsg1())
                return []
            cnt = self.objSBid.GetHeaderValue(2)
            for i in range(cnt):
                rows.append(
                    (
                        self.objSBid.GetDataValue(9, i),
                        self.objSBid.GetDataValue(4, i),
                        self.objSBid.GetDataValue(5, i),
                        self.objSBid.GetDataValue(6, i),
                        chr(self.objSBid.GetDataValue(7, i)),
                    )
                )
            if not self.objSBid.Continue:
                break
        return rows


class CpStockMstM:
    def __init__(self):
        self.obj = win32com.client.Dispatch("DsCbo1.StockMstM")

    def Request(self, codes):
        self.obj.SetInputValue(0, "".join(codes))
        self.obj.BlockRequest()
        return {
            self.obj.GetDataValue(0, i): (self.obj.GetDataValue(4, i), self.obj.GetDataValue(7, i))
            for i in range(self.obj.GetHeaderValue(0))
        }


if not InitPlusCheck():
    raise SystemExit(1)
trades = CpStockBid().Request("A005930")
watch = CpStockMstM().Request(["A005930", "A000660", "A035420", "Q500061"])
newest = trades[0]
print("trades", len(trades), "first", trades[-1][0], "newest", newest[0])
print("agree", (newest[1], newest[2]) == watch["A005930"])
steps = all(a[2] - b[2] == a[3] for a, b in itertools.pairwise(trades))
print("cumulative", steps, "sides", "".join(sorted({t[4] for t in trades})))
print("watch", len(watch), "etn", "Q500061" in watch)
