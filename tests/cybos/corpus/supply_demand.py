# A client class in the style of the public trading-system wrappers: one Dispatch per object in
# __init__, a generic request() that pages with Continue and reads rows oldest first, and a
# wait() that sleeps out the quote limit when only a few requests are left.
import time

import win32com.client


class Creon:
    def __init__(self):
        self.cybos = win32com.client.Dispatch("CpUtil.CpCybos")
        self.short = win32com.client.Dispatch("CpSysDib.CpSvr7238")
        self.investors = win32com.client.Dispatch("CpSysDib.CpSvr7254")
        self.marketcap = win32com.client.Dispatch("CpSysDib.CpSvr8548")
        self.waits = 0

    def wait(self):
        remain_time = self.cybos.LimitRequestRemainTime
        remain_count = self.cybos.GetLimitRemainCount(1)
        if remain_count <= 3:
            self.waits += 1
            time.sleep(remain_time / 1000)

    def request(self, obj, keys, cntidx=0, n=None):
        def process():
            obj.BlockRequest()
            if obj.GetDibStatus() != 0:
                return None
            cnt = obj.GetHeaderValue(cntidx)
            return [
                {k: obj.GetDataValue(j, cnt - 1 - i) for j, k in enumerate(keys)}
                for i in range(cnt)
            ]

        result = process()
        while obj.Continue:
            self.wait()
            more = process()
            if not more:
                break
            result = more + result
            if n is not None and n <= len(result):
                break
        return result

    def investor_flows(self, code, n):
        keys = [
            "date",
            "ind",
            "foreign",
            "inst",
            "fin",
            "ins",
            "trust",
            "bank",
            "fin_etc",
            "fund",
            "corp",
            "foreign_etc",
            "private_fund",
            "country",
            "close",
            "diff",
            "diffratio",
            "volume",
            "confirm",
        ]
        self.investors.SetInputValue(0, "A" + code)
        self.investors.SetInputValue(1, ord("6"))
        self.investors.SetInputValue(4, ord("0"))
        self.investors.SetInputValue(5, 0)
        self.investors.SetInputValue(6, ord("1"))
        return self.request(self.investors, keys, cntidx=1, n=n)

    def short_selling(self, code, n):
        keys = [
            "date",
            "close",
            "diff",
            "diffratio",
            "volume",
            "short_volume",
            "short_ratio",
            "short_amount",
            "avg_price",
            "avg_price_ratio",
        ]
        self.short.SetInputValue(0, "A" + code)
        return self.request(self.short, keys, n=n)

    def market_cap(self, target):
        keys = [
            "code",
            "name",
            "close",
            "diff",
            "diffratio",
            "volume",
            "cap",
            "weight",
            "foreign",
            "influence",
            "influence_pct",
            "contribution",
        ]
        self.marketcap.SetInputValue(0, ord(target))
        return self.request(self.marketcap, keys)


creon = Creon()
balanced = True
for code in (
    "005930",
    "000660",
    "035420",
    "035720",
    "005380",
    "051910",
    "006400",
    "068270",
    "105560",
    "055550",
    "012330",
    "028260",
    "066570",
    "003550",
    "017670",
):
    flows = creon.investor_flows(code, 60)
    balanced = balanced and all(
        f["ind"] + f["foreign"] + f["inst"] + f["corp"] + f["foreign_etc"] == 0 for f in flows
    )
print("investors", len(flows), "balanced", balanced, "last", chr(flows[-1]["confirm"]))
short = creon.short_selling("005930", 90)
print("short", len(short), "within volume", all(s["short_volume"] <= s["volume"] for s in short))
caps = creon.market_cap("2")
print("marketcap", len(caps), "weights", round(sum(c["weight"] for c in caps)))
kospi200 = creon.market_cap("1")
print("kospi200", len(kospi200))
print("waits", creon.waits)
