# Chart downloads the way most public scripts write them: chars as ord(), a count request, a
# period request, minute bars with Continue paging, and the older StockWeek object.
import time

import win32com.client

chart = win32com.client.Dispatch("CpSysDib.StockChart")
status = win32com.client.Dispatch("CpUtil.CpCybos")


def wait_for_quota():
    if status.GetLimitRemainCount(1) <= 0:
        time.sleep(status.LimitRequestRemainTime / 1000)


def daily(code, count):
    chart.SetInputValue(0, code)
    chart.SetInputValue(1, ord("2"))
    chart.SetInputValue(4, count)
    chart.SetInputValue(5, (0, 2, 3, 4, 5, 8))
    chart.SetInputValue(6, ord("D"))
    chart.SetInputValue(9, ord("1"))
    wait_for_quota()
    chart.BlockRequest()
    rows = chart.GetHeaderValue(3)
    fields = chart.GetHeaderValue(1)
    return [[chart.GetDataValue(f, r) for f in range(fields)] for r in range(rows)]


bars = daily("A005930", 20)
print("daily", len(bars), bars[0])

chart.SetInputValue(0, "A000660")
chart.SetInputValue(1, "1")
chart.SetInputValue(2, 0)
chart.SetInputValue(3, 20200101)
chart.SetInputValue(5, [0, 5])
chart.SetInputValue(6, "W")
chart.BlockRequest()
print("weekly since 2020", chart.GetHeaderValue(3))

chart.SetInputValue(0, "A035420")
chart.SetInputValue(1, ord("2"))
chart.SetInputValue(4, 4000)
chart.SetInputValue(5, [0, 1, 2, 3, 4, 5, 8])
chart.SetInputValue(6, ord("m"))
chart.SetInputValue(7, 1)
total = 0
pages = 0
chart.BlockRequest()
while True:
    total += chart.GetHeaderValue(3)
    pages += 1
    if not chart.Continue:
        break
    chart.BlockRequest()
print("minutes", total, "pages", pages)

week = win32com.client.Dispatch("DsCbo1.StockWeek")
week.SetInputValue(0, "A005930")
seen = 0
for _ in range(3):
    week.BlockRequest()
    seen += week.GetHeaderValue(1)
    if not week.Continue:
        break
print("stockweek rows", seen)
