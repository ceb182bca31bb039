"""The emulator's quote objects against the help's tables, and against each other and the venue:
StockMst (every header, the 10-level book), StockJpBid/StockJpBid2, StockMst2, StockChart,
MarketEye (financial fields), CpCodeMgr/CpStockCode, CpTd5339/5341/5331A, index codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango.domain.model import Code, Side
from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.cybos.listing import krx_listing
from jango.sandbox.cybos.run import venue_for_scripts
from jango.sandbox.cybos.runtime import ComError
from jango.sandbox.venue import DEMO_ACCOUNT, Venue


@pytest.fixture
def market() -> Iterator[CybosEmulator]:
    venue = venue_for_scripts(seed=2)
    emu = CybosEmulator(venue)
    for _ in range(30):
        venue.step()
    yield emu
    emu.close()


def request(emu: CybosEmulator, progid: str, **inputs: object) -> object:
    obj = emu.Dispatch(progid)
    for index, value in inputs.items():
        obj.SetInputValue(int(index.removeprefix("i")), value)
    assert obj.BlockRequest() == 0
    assert obj.GetDibStatus() == 0, obj.GetDibMsg1()
    return obj


def test_stockmst_fills_every_header_and_the_book_agrees_with_the_price(
    market: CybosEmulator,
) -> None:
    mst = request(market, "DsCbo1.StockMst", i0="A005930")
    header = {i: mst.GetHeaderValue(i) for i in range(74)}  # type: ignore[attr-defined]
    assert all(value is not None for value in header.values())
    quote = market.venue.quote("005930")
    asks = [mst.GetDataValue(0, i) for i in range(10)]  # type: ignore[attr-defined]
    bids = [mst.GetDataValue(1, i) for i in range(10)]  # type: ignore[attr-defined]
    ask_qty = [mst.GetDataValue(2, i) for i in range(10)]  # type: ignore[attr-defined]
    bid_qty = [mst.GetDataValue(3, i) for i in range(10)]  # type: ignore[attr-defined]
    assert header[11] == quote.price and header[12] == quote.diff and header[27] == quote.base
    assert (header[16], header[17]) == (asks[0], bids[0]) and bids[0] == quote.price
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and asks[0] > bids[0]
    assert header[71] == sum(ask_qty) and header[73] == sum(bid_qty)
    assert header[15] <= min(header[13], header[11]) <= max(header[13], header[11]) <= header[14]
    assert header[19] == quote.price * quote.volume // 10_000  # 거래대금 in 만원 (KOSPI)
    assert (chr(header[58]), chr(header[59])) == ("2", "2")  # 장중: both say so
    assert isinstance(header[28], float) and header[20] > 0  # PER and EPS


def test_the_book_objects_show_the_same_ten_levels(market: CybosEmulator) -> None:
    mst = request(market, "DsCbo1.StockMst", i0="A000660")
    jp2 = request(market, "DsCbo1.StockJpBid2", i0="A000660")
    for kind in range(4):
        assert [jp2.GetDataValue(kind, i) for i in range(10)] == [  # type: ignore[attr-defined]
            mst.GetDataValue(kind, i)  # type: ignore[attr-defined]
            for i in range(10)
        ]
    assert jp2.GetHeaderValue(4) == mst.GetHeaderValue(71)  # type: ignore[attr-defined]


def test_stockjpbid_pushes_the_book_when_the_price_moves(market: CybosEmulator) -> None:
    class Handler:
        def __init__(self) -> None:
            self.seen: list[tuple[object, object, object]] = []

        def OnReceived(self) -> None:
            self.seen.append((bid.GetHeaderValue(0), bid.GetHeaderValue(3), bid.GetHeaderValue(4)))

    bid = market.Dispatch("DsCbo1.StockJpBid")
    bid.SetInputValue(0, "A005930")
    handler = market.WithEvents(bid, Handler)
    bid.Subscribe()  # type: ignore[attr-defined]
    while not handler.seen:
        market.venue.step()  # type: ignore[attr-defined]
        market.PumpWaitingMessages()
    code, ask1, bid1 = handler.seen[0]
    assert code == "A005930" and isinstance(ask1, int) and ask1 > bid1  # type: ignore[operator]


def test_an_unknown_code_on_subscribe_raises_the_com_error(market: CybosEmulator) -> None:
    cur = market.Dispatch("DsCbo1.StockCur")
    cur.SetInputValue(0, "A999999")
    with pytest.raises(ComError):
        cur.Subscribe()  # type: ignore[attr-defined]


def test_daily_bars_end_in_todays_bar_and_yesterday_closes_at_the_base(
    market: CybosEmulator,
) -> None:
    chart = request(market, "CpSysDib.StockChart", i0="A005930", i1=ord("2"), i4=30,
                    i5=[0, 2, 3, 4, 5, 8], i6=ord("D"), i9=ord("1"))  # fmt: skip
    rows = chart.GetHeaderValue(3)  # type: ignore[attr-defined]
    assert rows == 30
    col = {f: i for i, f in enumerate([0, 2, 3, 4, 5, 8])}

    def bar(i: int) -> dict[int, object]:
        return {f: chart.GetDataValue(c, i) for f, c in col.items()}  # type: ignore[attr-defined]

    quote = market.venue.quote("005930")
    mst = request(market, "DsCbo1.StockMst", i0="A005930")
    today, yesterday = bar(0), bar(1)
    assert today[5] == quote.price and today[2] == quote.base == yesterday[5]
    assert (today[3], today[4]) == (mst.GetHeaderValue(14), mst.GetHeaderValue(15))  # type: ignore[attr-defined]
    days = [bar(i)[0] for i in range(rows)]  # type: ignore[arg-type]
    assert days == sorted(days, reverse=True)  # type: ignore[type-var]
    for i in range(rows):  # type: ignore[arg-type]
        b = bar(i)
        assert b[4] <= min(b[2], b[5]) <= max(b[2], b[5]) <= b[3]  # type: ignore[operator]


def test_weekly_and_minute_bars_agree_with_the_daily_ones(market: CybosEmulator) -> None:
    def bars(kind: str, count: int, **extra: object) -> list[tuple[object, ...]]:
        chart = request(market, "CpSysDib.StockChart", i0="A005930", i1="2", i4=count,
                        i5=[0, 1, 2, 3, 4, 5], i6=kind, **extra)  # fmt: skip
        n = chart.GetHeaderValue(3)  # type: ignore[attr-defined]
        return [
            tuple(chart.GetDataValue(c, i) for c in range(6))  # type: ignore[attr-defined]
            for i in range(n)  # type: ignore[call-overload]
        ]

    daily = bars("D", 10)
    weekly = bars("W", 1)
    this_week = [d for d in daily if date(*divmod_date(d[0])).isocalendar()[1]
                 == date(*divmod_date(weekly[0][0])).isocalendar()[1]]  # fmt: skip
    assert weekly[0][3] == max(d[3] for d in this_week)  # type: ignore[type-var]
    assert weekly[0][4] == min(d[4] for d in this_week)  # type: ignore[type-var]
    assert weekly[0][5] == daily[0][5]
    minutes = bars("m", 500, i7=5)
    today = [m for m in minutes if m[0] == daily[0][0]]
    assert today[0][5] == daily[0][5]  # the newest minute closes at the price
    assert max(m[3] for m in today) == daily[0][3]  # type: ignore[type-var]
    assert min(m[4] for m in today) == daily[0][4]  # type: ignore[type-var]


def divmod_date(value: object) -> tuple[int, int, int]:
    number = int(value)  # type: ignore[call-overload]
    return number // 10000, number // 100 % 100, number % 100


def test_a_long_chart_request_pages_with_continue(market: CybosEmulator) -> None:
    chart = request(market, "CpSysDib.StockChart", i0="A005930", i1=ord("2"), i4=3000,
                    i5=[0, 5], i6=ord("D"))  # fmt: skip
    first = chart.GetHeaderValue(3)  # type: ignore[attr-defined]
    assert chart.Continue == 1  # type: ignore[attr-defined]
    assert chart.BlockRequest() == 0  # type: ignore[attr-defined]
    assert first + chart.GetHeaderValue(3) == 3000 and chart.Continue == 0  # type: ignore[attr-defined]


def test_marketeye_reports_financials_that_agree_with_the_price(market: CybosEmulator) -> None:
    fields = [0, 4, 67, 70, 89, 20, 86, 91, 92]
    eye = request(market, "CpSysDib.MarketEye", i0=fields, i1=["A005930", "A041830", "A999999"])
    assert eye.GetHeaderValue(2) == 2  # type: ignore[attr-defined]
    col = {f: i for i, f in enumerate(sorted(fields))}
    for row in range(2):
        get = lambda f, row=row: eye.GetDataValue(col[f], row)  # type: ignore[attr-defined]  # noqa: E731
        assert get(67) == round(get(4) / get(70), 2) and get(67) > 0
        assert get(89) > 0 and get(20) > 0
        assert get(92) == round(get(91) * 100 / get(86), 2)


def test_the_code_manager_converts_com_arguments_and_knows_industries(
    market: CybosEmulator,
) -> None:
    mgr = market.Dispatch("CpUtil.CpCodeMgr")
    kospi = mgr.GetStockListByMarket(1)  # type: ignore[attr-defined]
    assert mgr.GetStockListByMarket("1") == kospi and "A008970" in kospi  # type: ignore[attr-defined]
    assert "A041830" in mgr.GetStockListByMarket(2)  # type: ignore[attr-defined]
    with pytest.raises(ComError):
        mgr.GetStockListByMarket("kospi")  # type: ignore[attr-defined]
    assert "013" in mgr.GetIndustryList()  # type: ignore[attr-defined]
    assert mgr.GetIndustryName("013") == "전기전자"  # type: ignore[attr-defined]
    assert "A005930" in mgr.GetGroupCodeList("013")  # type: ignore[attr-defined]
    assert mgr.GetStockIndustryCode("A005930") == "013"  # type: ignore[attr-defined]
    assert mgr.GetStockSectionKind("A069500") == 10  # type: ignore[attr-defined]
    assert mgr.CodeToName("U001") == "종합(KOSPI)" and mgr.CodeToName("A999999") == ""  # type: ignore[attr-defined]
    assert mgr.GetStockCapital("A005950") in (1, 2, 3)  # type: ignore[attr-defined]
    code = market.Dispatch("CpUtil.CpStockCode")
    first = code.GetData(0, 0)  # type: ignore[attr-defined]
    assert code.CodeToIndex(first) == 0 and code.GetCount() == len(krx_listing())  # type: ignore[attr-defined]


def test_an_index_code_answers_with_float_values(market: CybosEmulator) -> None:
    mst = request(market, "DsCbo1.StockMst", i0="U001")
    value, base = mst.GetHeaderValue(11), mst.GetHeaderValue(27)  # type: ignore[attr-defined]
    assert isinstance(value, float) and 1000 < value < 5000
    assert mst.GetHeaderValue(12) == round(value - base, 2)  # type: ignore[attr-defined]


def test_stockmst2_lists_many_codes_in_one_request(market: CybosEmulator) -> None:
    mst2 = request(market, "DsCbo1.StockMst2", i0="A005930,A000660,A999999")
    assert mst2.GetHeaderValue(0) == 2  # type: ignore[attr-defined]
    assert mst2.GetDataValue(3, 0) == market.venue.quote("005930").price  # type: ignore[attr-defined]


def test_open_and_daily_order_inquiries_and_orderable_cash(market: CybosEmulator) -> None:
    venue = market.venue
    market.Dispatch("CpTrade.CpTdUtil").TradeInit(0)  # type: ignore[attr-defined]
    low = venue.quote("005930").lower
    order_no = venue.place(DEMO_ACCOUNT, Side.BUY, Code("005930"), 2, low)
    open_rq = request(market, "CpTrade.CpTd5339", i0=DEMO_ACCOUNT, i1="01", i7=20)
    assert open_rq.GetHeaderValue(5) == 1  # type: ignore[attr-defined]
    assert open_rq.GetDataValue(1, 0) == int(order_no) and open_rq.GetDataValue(11, 0) == 2  # type: ignore[attr-defined]
    daily = request(market, "CpTrade.CpTd5341", i0=DEMO_ACCOUNT, i1="01", i5=20)
    assert daily.GetHeaderValue(6) == 1 and daily.GetDataValue(7, 0) == 2  # type: ignore[attr-defined]
    cash = request(market, "CpTrade.CpTdNew5331A", i0=DEMO_ACCOUNT, i1="01", i2="A005930",
                   i4=70_000, i6=ord("2"))  # fmt: skip
    orderable = venue.orderable_cash(DEMO_ACCOUNT)
    assert cash.GetHeaderValue(9) == cash.GetHeaderValue(10) == orderable  # type: ignore[attr-defined]
    assert cash.GetHeaderValue(18) == orderable // 70_000  # type: ignore[attr-defined]
    assert cash.GetHeaderValue(11) is not None and cash.GetHeaderValue(12) is not None  # type: ignore[attr-defined]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 40), st.sampled_from(["005930", "041830", "069500"]))
def test_stockmst_marketeye_and_the_chart_tell_the_same_story(
    seed: int, steps: int, code: str
) -> None:
    venue = Venue(seed=seed) if code != "041830" else venue_for_scripts(seed)
    emu = CybosEmulator(venue)
    try:
        for _ in range(steps):
            venue.step()
        mst = request(emu, "DsCbo1.StockMst", i0="A" + code)
        eye = request(emu, "CpSysDib.MarketEye", i0=[4, 5, 6, 7, 8, 9, 10], i1="A" + code)
        chart = request(emu, "CpSysDib.StockChart", i0="A" + code, i1="2", i4=1,
                        i5=[2, 3, 4, 5, 8], i6="D")  # fmt: skip
        header = [mst.GetHeaderValue(i) for i in (11, 13, 14, 15, 16, 17, 18)]  # type: ignore[attr-defined]
        eyes = [eye.GetDataValue(c, 0) for c in (0, 1, 2, 3, 4, 5, 6)]  # type: ignore[attr-defined]
        assert eyes == header
        bar = [chart.GetDataValue(c, 0) for c in range(5)]  # type: ignore[attr-defined]
        assert bar == [header[1], header[2], header[3], header[0], header[6]]
        assert header[0] == venue.quote(code).price
    finally:
        emu.close()


def test_a_fill_pumped_later_is_listed_in_the_days_orders(market: CybosEmulator) -> None:
    venue = market.venue
    market.Dispatch("CpTrade.CpTdUtil").TradeInit(0)  # type: ignore[attr-defined]
    order_no = venue.place(DEMO_ACCOUNT, Side.BUY, Code("000660"), 1, venue.quote("000660").upper)
    daily = request(market, "CpTrade.CpTd5341", i0=DEMO_ACCOUNT, i1="01", i5=20, i6=ord("2"))
    rows = daily.GetHeaderValue(6)  # type: ignore[attr-defined]
    filled = [
        daily.GetDataValue(9, i) for i in range(rows) if daily.GetDataValue(1, i) == int(order_no)
    ]  # type: ignore[attr-defined]
    assert filled == [1]


def test_pywin32_spellings_scripts_use_resolve_as_with_idispatch(market: CybosEmulator) -> None:
    gencache = market.win32com_client.gencache  # type: ignore[attr-defined]
    assert gencache.EnsureDispatch("CpUtil.CpCybos").IsConnect == 1
    chart = market.Dispatch("CpSysDib.StockChart")
    chart.setInputValue(0, "A005930")  # type: ignore[attr-defined]
    chart.setinputvalue(4, 3)  # type: ignore[attr-defined]
    chart.SetInputValue(5, [0, 5])
    assert chart.blockRequest() == 0  # type: ignore[attr-defined]
    assert chart.getHeaderValue(3) == 3  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        chart.NoSuchMethod()  # type: ignore[attr-defined]
