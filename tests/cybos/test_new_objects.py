"""StockMstM, StockBid, the CpSvr analysis objects and CpTd0312 credit orders, against the help's
tables and against the objects they must agree with (StockMst, StockChart, the venue)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from jango.brokers.cybos import CybosBroker
from jango.brokers.port import NotSupported, OrderRequest, Received
from jango.domain.model import Code, Credit, NoticeKind, OrderNotice, OrderType, Side
from jango.sandbox.cybos.analysis import INSTITUTIONS, investor_flows
from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.cybos.listing import krx_listing
from jango.sandbox.cybos.master import INDEXES
from jango.sandbox.cybos.run import venue_for_scripts
from jango.sandbox.cybos.runtime import LT_NONTRADE_REQUEST, LT_SUBSCRIBE, LT_TRADE_REQUEST
from jango.sandbox.venue import DEMO_ACCOUNT, Venue

from .conftest import BIG
from .test_broker import next_item, notice, run


@pytest.fixture
def market() -> Iterator[CybosEmulator]:
    venue = venue_for_scripts(seed=3)
    emu = CybosEmulator(venue)
    for _ in range(40):
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


def rows(obj: object, count: int, fields: int) -> list[list[object]]:
    return [[obj.GetDataValue(f, i) for f in range(fields)] for i in range(count)]  # type: ignore[attr-defined]


def all_pages(obj: object, count_header: int, fields: int) -> list[list[object]]:
    found = rows(obj, obj.GetHeaderValue(count_header), fields)  # type: ignore[attr-defined]
    while obj.Continue:  # type: ignore[attr-defined]
        assert obj.BlockRequest() == 0  # type: ignore[attr-defined]
        found += rows(obj, obj.GetHeaderValue(count_header), fields)  # type: ignore[attr-defined]
    return found


def test_stockmstm_answers_back_to_back_codes_as_stockmst_does(market: CybosEmulator) -> None:
    codes = ["A005930", "A000660", "Q500061", "A008970"]
    mstm = request(market, "DsCbo1.StockMstM", i0="".join(codes))
    assert mstm.GetHeaderValue(0) == 4  # type: ignore[attr-defined]
    for code, row in zip(codes, rows(mstm, 4, 12), strict=True):
        mst = request(market, "DsCbo1.StockMst", i0=code)
        assert row[0] == code and row[1] == mst.GetHeaderValue(1)  # type: ignore[attr-defined]
        assert row[4] == mst.GetHeaderValue(11) and row[2] == mst.GetHeaderValue(12)  # type: ignore[attr-defined]
        assert (row[5], row[6]) == (mst.GetHeaderValue(16), mst.GetHeaderValue(17))  # type: ignore[attr-defined]
        assert row[7] == mst.GetHeaderValue(18) and isinstance(row[3], int)  # type: ignore[attr-defined]
    too_many = market.Dispatch("DsCbo1.StockMstM")
    too_many.SetInputValue(0, "A005930" * 111)
    assert too_many.BlockRequest() == 0 and too_many.GetDibStatus() == -1


def test_stockbid_lists_todays_trades_ending_in_the_current_price(market: CybosEmulator) -> None:
    market.venue.clock.advance(3 * 3600)  # mid-session: a few hundred minutes of trades
    bid = request(market, "Dscbo1.StockBid", i0="A005930", i2=80, i3=ord("C"))
    first_page = bid.GetHeaderValue(2)  # type: ignore[attr-defined]
    assert first_page == 80 and bid.Continue == 1  # type: ignore[attr-defined]
    newest = rows(bid, 1, 11)[0]
    sells, buys = bid.GetHeaderValue(3), bid.GetHeaderValue(4)  # type: ignore[attr-defined]
    trades = all_pages(bid, 2, 11)
    mst = request(market, "DsCbo1.StockMst", i0="A005930")
    assert newest[4] == mst.GetHeaderValue(11) and newest[5] == mst.GetHeaderValue(18)  # type: ignore[attr-defined]
    totals = [row[5] for row in trades]
    assert totals == sorted(totals, reverse=True)  # 누적 거래량, newest first
    steps = zip(totals, totals[1:], trades, strict=False)  # each row adds its own trade
    assert all(newer - older == row[6] for newer, older, row in steps)
    assert sells + buys == newest[5] and {chr(r[7]) for r in trades} <= {"1", "2"}  # type: ignore[arg-type]
    assert all(r[9] // 100 == r[0] for r in trades)  # type: ignore[operator]


def test_stockbid_time_search_starts_at_that_minute(market: CybosEmulator) -> None:
    market.venue.clock.advance(3600)
    bid = request(market, "Dscbo1.StockBid", i0="A000660", i2=10, i4="0930")
    assert rows(bid, 1, 1)[0][0] == 930


def test_investor_flows_add_up_to_zero_and_institutions_to_their_total() -> None:
    for day in (date(2026, 11, 30), date(2026, 12, 1)):
        flows = investor_flows("005930", day, 3_651_875)
        individual = [k for k in flows if k != 3]
        assert sum(b for k, (b, _) in flows.items() if k in individual) == 3_651_875
        assert sum(b - s for k, (b, s) in flows.items() if k in individual) == 0
        assert flows[3] == (
            sum(flows[k][0] for k in INSTITUTIONS),
            sum(flows[k][1] for k in INSTITUTIONS),
        )


def test_cpsvr7254_daily_rows_agree_with_the_chart(market: CybosEmulator) -> None:
    flows = request(
        market, "CpSysDib.CpSvr7254", i0="A005930", i1=6, i4=ord("0"), i5=0, i6=ord("1")
    )
    assert flows.GetHeaderValue(0) == "A005930" and flows.GetHeaderValue(1) == 17  # type: ignore[attr-defined]
    days = rows(flows, 17, 19)
    chart = request(
        market, "CpSysDib.StockChart", i0="A005930", i1=ord("2"), i4=17, i5=[0, 5, 8], i6=ord("D")
    )
    bars = rows(chart, 17, 3)
    assert [d[0] for d in days] == [b[0] for b in bars]
    assert [(d[14], d[17]) for d in days] == [(b[1], b[2]) for b in bars]
    for day in days:
        # 개인 + 외국인 + 기관계 + 기타법인 + 기타외인: every share bought was sold.
        assert day[1] + day[2] + day[3] + day[10] + day[11] == 0  # type: ignore[operator]
    assert chr(days[0][18]) == "0" and chr(days[1][18]) == "1"  # type: ignore[arg-type]
    assert flows.Continue == 1  # type: ignore[attr-defined]


def test_cpsvr7254_for_one_investor_splits_buys_and_sells(market: CybosEmulator) -> None:
    flows = request(market, "CpSysDib.CpSvr7254", i0="A000660", i1=5, i4="0", i5=2)
    assert flows.GetHeaderValue(1) == 5  # type: ignore[attr-defined]
    for day in rows(flows, 5, 11):
        assert day[9] == day[5] - day[1]  # type: ignore[operator]
        assert 0 <= day[2] <= 100 and 0 <= day[6] <= 100  # type: ignore[operator]


def test_cpsvr7238_short_sales_stay_within_the_days_volume(market: CybosEmulator) -> None:
    short = request(market, "CpSysDib.CpSvr7238", i0="A005930")
    days = all_pages(short, 0, 10)
    assert len(days) > 30 and days[0][1] == market.venue.quote("005930").price
    assert all(0 <= d[5] <= d[4] for d in days)  # type: ignore[operator]
    assert [d[0] for d in days] == sorted((d[0] for d in days), reverse=True)  # type: ignore[type-var]


def test_cpsvr8548_weights_cover_the_whole_market_in_cap_order(market: CybosEmulator) -> None:
    caps = request(market, "CpSysDib.CpSvr8548", i0=ord("2"))
    total = caps.GetHeaderValue(1)  # type: ignore[attr-defined]
    listed = all_pages(caps, 0, 12)
    stocks = [i for i in krx_listing() if i.market.value == "KOSPI" and i.section == 1]
    assert len(listed) == len(stocks)
    assert [r[6] for r in listed] == sorted((r[6] for r in listed), reverse=True)  # type: ignore[type-var]
    # Each weight is rounded to 0.01%, so the sum is 100 within half a hundredth per row.
    assert abs(sum(r[7] for r in listed) - 100) <= 0.005 * len(listed)  # type: ignore[misc]
    assert abs(sum(r[6] for r in listed) - total) <= len(listed)  # type: ignore[misc]
    kospi200 = all_pages(request(market, "CpSysDib.CpSvr8548", i0="1"), 0, 1)
    assert {r[0] for r in kospi200} == {
        "A" + i.code for i in krx_listing() if i.k200 and i.section == 1
    }


def test_cpsvrnew7043_lists_todays_risers_by_rate(market: CybosEmulator) -> None:
    risers = request(market, "CpSysDib.CpSvrNew7043", i0=ord("0"), i1=ord("2"), i3=21)
    found = all_pages(risers, 0, 8)
    assert found and all(r[4] > 0 for r in found)  # type: ignore[operator]
    assert [r[5] for r in found] == sorted((r[5] for r in found), reverse=True)  # type: ignore[type-var]
    for code, price in ((r[0], r[2]) for r in found[:5]):
        assert market.venue.quote(str(code)[1:]).price == price


def test_a_credit_buy_borrows_and_a_credit_sell_repays_that_loan(market: CybosEmulator) -> None:
    market.Dispatch("CpTrade.CpTdUtil").TradeInit(0)
    venue = market.venue
    buy = request(
        market, "CpTrade.CpTd0312", i0="2", i1="33", i2=DEMO_ACCOUNT, i3="01", i4="A000660",
        i5=3, i6=0, i10="03",
    )  # fmt: skip
    assert buy.GetHeaderValue(15) == "02" and buy.GetHeaderValue(9) > 0  # type: ignore[attr-defined]
    for _ in range(20):
        venue.step()
    today = venue.now().date()
    loans = [r for r in venue.balance(DEMO_ACCOUNT).rows if r.code == Code("000660")]
    row = next(r for r in loans if r.credit is Credit.MARGIN_SELF and r.loan_date == today)
    assert row.qty == 3
    loan_date = int(today.strftime("%Y%m%d"))
    sell = request(
        market, "CpTrade.CpTd0312", i0="1", i2=DEMO_ACCOUNT, i3="01", i4="A000660", i5=3,
        i6=0, i9=loan_date, i10="03",
    )  # fmt: skip
    assert sell.GetHeaderValue(8) == loan_date  # type: ignore[attr-defined]
    for _ in range(20):
        venue.step()
    left = [r for r in venue.balance(DEMO_ACCOUNT).rows if r.key == row.key]
    assert not left or left[0].qty == 0


def test_credit_orders_cybos_cannot_place_are_refused_with_a_reason(
    market: CybosEmulator,
) -> None:
    market.Dispatch("CpTrade.CpTdUtil").TradeInit(0)
    substitute = market.Dispatch("CpTrade.CpTd0312")
    for index, value in {0: "2", 1: "13", 2: DEMO_ACCOUNT, 3: "01", 4: "A005930", 5: 1}.items():
        substitute.SetInputValue(index, value)
    assert substitute.BlockRequest() == 0 and substitute.GetDibStatus() == -1
    assert "신용대출주문구분" in substitute.GetDibMsg1()
    no_date = market.Dispatch("CpTrade.CpTd0312")
    for index, value in {0: "1", 2: DEMO_ACCOUNT, 3: "01", 4: "A005930", 5: 1, 10: "03"}.items():
        no_date.SetInputValue(index, value)
    assert no_date.BlockRequest() == 0 and no_date.GetDibStatus() == -1


def test_limits_count_the_new_objects_as_the_help_says(market: CybosEmulator) -> None:
    status = market.Dispatch("CpUtil.CpCybos")
    assert [status.GetLimitRemainCount(t) for t in (0, 1, 2)] == [20, 60, 400]
    request(market, "CpSysDib.CpSvr7254", i0="A005930", i1=5)
    request(market, "Dscbo1.StockBid", i0="A005930", i2=1)
    assert status.GetLimitRemainCount(LT_NONTRADE_REQUEST) == 58
    market.Dispatch("CpTrade.CpTdUtil").TradeInit(0)
    credit = market.Dispatch("CpTrade.CpTd0312")
    for index, value in {0: "2", 2: DEMO_ACCOUNT, 3: "01", 4: "A005930", 5: 1, 10: "03"}.items():
        credit.SetInputValue(index, value)
    assert credit.BlockRequest() == 0
    assert status.GetLimitRemainCount(LT_TRADE_REQUEST) == 19
    cur = market.Dispatch("DsCbo1.StockCur")
    cur.SetInputValue(0, "A005930")
    cur.Subscribe()
    assert status.GetLimitRemainCount(LT_SUBSCRIBE) == 399


def test_the_adapter_places_credit_orders_through_cptd0312(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        code = Code("005930")
        try:
            await broker.place(
                OrderRequest(BIG, Side.BUY, code, 4, order_type=OrderType.MARKET,
                             credit=Credit.MARGIN_SELF)
            )  # fmt: skip
            bought = await next_item(events, notice(NoticeKind.FILLED, code), venue=venue)
            assert isinstance(bought, Received) and isinstance(bought.event, OrderNotice)
            assert bought.event.credit is Credit.MARGIN_SELF
            loan_date = bought.event.loan_date
            assert loan_date == venue.now().date()
            await broker.place(
                OrderRequest(BIG, Side.SELL, code, 4, order_type=OrderType.MARKET,
                             credit=Credit.MARGIN_SELF, loan_date=loan_date)
            )  # fmt: skip
            sold = await next_item(events, notice(NoticeKind.FILLED, code), venue=venue)
            assert isinstance(sold, Received) and isinstance(sold.event, OrderNotice)
            assert sold.event.side is Side.SELL and sold.event.loan_date == loan_date
            with pytest.raises(NotSupported):
                await broker.place(OrderRequest(BIG, Side.SELL, code, 1, credit=Credit.MARGIN_SELF))
            with pytest.raises(NotSupported):
                await broker.place(OrderRequest(BIG, Side.BUY, code, 1, credit=Credit.MARGIN_KSFC))
        finally:
            await broker.close()

    run(scenario)


def test_stockbid_trades_are_the_minute_charts_closes(market: CybosEmulator) -> None:
    market.venue.clock.advance(1800)
    bid = request(market, "Dscbo1.StockBid", i0="A035420", i2=80)
    trades = rows(bid, bid.GetHeaderValue(2), 7)  # type: ignore[attr-defined]
    chart = request(
        market, "CpSysDib.StockChart", i0="A035420", i1=ord("2"), i4=len(trades),
        i5=[1, 5, 8], i6=ord("m"), i7=1,
    )  # fmt: skip
    bars = rows(chart, chart.GetHeaderValue(3), 3)  # type: ignore[attr-defined]
    assert [(t[0], t[4]) for t in trades] == [(b[0], b[1]) for b in bars]
    # Each minute's trade is that minute bar's volume; the newest also takes the rounding.
    assert [t[6] for t in trades[1:]] == [b[2] for b in bars[1:]]


def test_sector_indexes_follow_their_industrys_stocks() -> None:
    venue = venue_for_scripts(seed=6)
    emu = CybosEmulator(venue)
    spec = next(s for s in INDEXES if s.code == "U013")
    mst = request(emu, "DsCbo1.StockMst", i0="U013")
    assert mst.GetHeaderValue(1) == "전기전자" and mst.GetHeaderValue(11) == spec.base_value  # type: ignore[attr-defined]
    samsung = venue.quote("005930")
    while venue.quote("005930").price == samsung.price:
        venue.step()
    moved = request(emu, "DsCbo1.StockMst", i0="U013").GetHeaderValue(11)  # type: ignore[attr-defined]
    assert isinstance(moved, float) and moved != spec.base_value  # 삼성전자 is a member
    codes = emu.Dispatch("CpUtil.CpCodeMgr").GetIndexCodeList()
    assert {"U005", "U013", "U030", "U180", "U201"} <= set(codes)
    emu.close()
