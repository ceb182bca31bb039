# A volatility-breakout ETF trader in the style of the well-known book: system check, orderable
# cash, the target from yesterday's range, a best-price IOC buy, then sell everything held.
import ctypes
import time

import win32com.client

codes = win32com.client.Dispatch("CpUtil.CpStockCode")
status = win32com.client.Dispatch("CpUtil.CpCybos")
trade = win32com.client.Dispatch("CpTrade.CpTdUtil")
stock = win32com.client.Dispatch("DsCbo1.StockMst")
ohlc = win32com.client.Dispatch("CpSysDib.StockChart")
balance = win32com.client.Dispatch("CpTrade.CpTd6033")
cash = win32com.client.Dispatch("CpTrade.CpTdNew5331A")
order = win32com.client.Dispatch("CpTrade.CpTd0311")


def check_system():
    if not ctypes.windll.shell32.IsUserAnAdmin():
        return False
    if status.IsConnect == 0:
        return False
    return trade.TradeInit(0) == 0


def current(code):
    stock.SetInputValue(0, code)
    stock.BlockRequest()
    return stock.GetHeaderValue(11), stock.GetHeaderValue(16), stock.GetHeaderValue(17)


def yesterday(code):
    ohlc.SetInputValue(0, code)
    ohlc.SetInputValue(1, ord("2"))
    ohlc.SetInputValue(4, 2)
    ohlc.SetInputValue(5, [0, 2, 3, 4, 5])
    ohlc.SetInputValue(6, ord("D"))
    ohlc.SetInputValue(9, ord("1"))
    ohlc.BlockRequest()
    return [ohlc.GetDataValue(i, 1) for i in range(5)]


def holdings():
    account = trade.AccountNumber[0]
    balance.SetInputValue(0, account)
    balance.SetInputValue(1, trade.GoodsList(account, -1)[0])
    balance.SetInputValue(2, 50)
    balance.BlockRequest()
    rows = []
    for i in range(balance.GetHeaderValue(7)):
        rows.append(
            (
                balance.GetDataValue(12, i),
                balance.GetDataValue(0, i),
                balance.GetDataValue(7, i),
                balance.GetDataValue(15, i),
            )
        )
    return rows


def orderable_cash():
    account = trade.AccountNumber[0]
    cash.SetInputValue(0, account)
    cash.SetInputValue(1, trade.GoodsList(account, -1)[0])
    cash.BlockRequest()
    return cash.GetHeaderValue(9)


def send(side, code, qty, kind, condition):
    account = trade.AccountNumber[0]
    order.SetInputValue(0, side)
    order.SetInputValue(1, account)
    order.SetInputValue(2, trade.GoodsList(account, -1)[0])
    order.SetInputValue(3, code)
    order.SetInputValue(4, qty)
    order.SetInputValue(7, condition)
    order.SetInputValue(8, kind)
    ret = order.BlockRequest()
    while ret == 4:
        time.sleep(status.LimitRequestRemainTime / 1000)
        ret = order.BlockRequest()
    return ret, order.GetDibStatus(), order.GetDibMsg1()


if not check_system():
    print("system check failed")
    raise SystemExit(1)
code = "A069500"
print("name", codes.CodeToName(code))
day, open_, high, low, close = yesterday(code)
price, ask, bid = current(code)
target = open_ + (high - low) * 0.5
print("target", day, target, "price", price, ask, bid)
money = orderable_cash()
qty = int(money * 0.1 // ask)
print("buy", qty, send("2", code, qty, "12", "1"))
time.sleep(1)
refused = set()
for held_code, name, _qty, sellable in holdings():
    if sellable > 0:
        result = send("1", held_code, sellable, "03", "0")
        print("sell", held_code, name, sellable, result)
        if result[1] != 0:
            refused.add((held_code, sellable))
deadline = time.time() + 20
while time.time() < deadline:
    left = [(c, q, s) for c, _, q, s in holdings()]
    if all((c, s) in refused for c, q, s in left):
        break
    time.sleep(0.5)
print("left", left)
