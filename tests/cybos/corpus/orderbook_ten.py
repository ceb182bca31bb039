# A ten-level book: StockJpBid2 once, then StockJpBid pushes in a PumpWaitingMessages loop.
import time

import pythoncom
import win32com.client


class BookEvent:
    def set_params(self, client, seen):
        self.client = client
        self.seen = seen

    def OnReceived(self):
        offers = [self.client.GetHeaderValue(3 + 4 * i) for i in range(5)]
        offers += [self.client.GetHeaderValue(27 + 4 * i) for i in range(5)]
        bids = [self.client.GetHeaderValue(4 + 4 * i) for i in range(5)]
        bids += [self.client.GetHeaderValue(28 + 4 * i) for i in range(5)]
        self.seen.append(
            (offers, bids, self.client.GetHeaderValue(23), self.client.GetHeaderValue(24))
        )


snapshot = win32com.client.Dispatch("DsCbo1.StockJpBid2")
snapshot.SetInputValue(0, "A005930")
snapshot.BlockRequest()
offers = [snapshot.GetDataValue(0, i) for i in range(10)]
bids = [snapshot.GetDataValue(1, i) for i in range(10)]
print("snapshot", offers[0], bids[0], snapshot.GetHeaderValue(4), snapshot.GetHeaderValue(6))

seen = []
push = win32com.client.Dispatch("DsCbo1.StockJpBid")
handler = win32com.client.WithEvents(push, BookEvent)
handler.set_params(push, seen)
push.SetInputValue(0, "A005930")
push.Subscribe()
deadline = time.time() + 20
while len(seen) < 3 and time.time() < deadline:
    pythoncom.PumpWaitingMessages()
    time.sleep(0.01)
push.Unsubscribe()
ok = all(o == sorted(o) and b == sorted(b, reverse=True) and o[0] > b[0] for o, b, _, _ in seen)
print("pushes", len(seen), "ordered", ok)
