"""The simulated venue: prices, notice sequences, refusals, the ledger and the trading day."""

from __future__ import annotations

import threading
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jango.domain import krx
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    Cash,
    Condition,
    Credit,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Side,
    Tick,
    parse_code,
)
from jango.sandbox.clock import SimClock
from jango.sandbox.instruments import InstrumentSpec
from jango.sandbox.venue import UnknownInstrument, Venue, VenueRefusal

DAY = date(2025, 9, 1)  # a Monday; sells settle in 2025, so KOSPI/KOSDAQ tax is 0.15%
ACCOUNT = "1111111111"
SAMSUNG = parse_code("005930")
ECOPRO = parse_code("247540")
KODEX = parse_code("069500")
SPECS = [
    InstrumentSpec(SAMSUNG, "삼성전자", Market.KOSPI, 70_000),
    InstrumentSpec(ECOPRO, "에코프로비엠", Market.KOSDAQ, 115_000),
    InstrumentSpec(KODEX, "KODEX 200", Market.ETF, 45_015),
]
UPPER, LOWER = krx.price_limits(70_000, Market.KOSPI, DAY)  # 91,000 / 49,000


class Recorder:
    """Collects everything a venue emits, in order."""

    def __init__(self, venue: Venue) -> None:
        self.notices: list[OrderNotice] = []
        self.ticks: list[Tick] = []
        venue.add_notice_listener(self.notices.append)
        venue.add_tick_listener(self.ticks.append)

    def of(self, order_no: str) -> list[OrderNotice]:
        return [n for n in self.notices if order_no in (n.order_no, n.orig_order_no)]


def make_venue(
    *,
    seed: int = 0,
    cash: int = 100_000_000,
    shares: int = 50,
    purchase_amount: int = 3_000_000,
    depth_won: int = 20_000_000,
    start: date | datetime = DAY,
) -> tuple[Venue, Recorder, SimClock]:
    clock = SimClock(start)
    venue = Venue(SPECS, seed=seed, clock=clock, depth_won=depth_won, codes_per_step=len(SPECS))
    holdings = [BalanceRow(ACCOUNT, SAMSUNG, shares, shares, purchase_amount)] if shares else []
    venue.open_account(ACCOUNT, cash=cash, holdings=holdings)
    return venue, Recorder(venue), clock


def fills(notices: list[OrderNotice]) -> list[OrderNotice]:
    return [n for n in notices if n.kind is NoticeKind.FILLED]


def row(venue: Venue, code: str, credit: Credit = Credit.CASH) -> BalanceRow | None:
    rows = [r for r in venue.balance(ACCOUNT).rows if r.code == code and r.credit is credit]
    return rows[0] if rows else None


def commission(amount: int) -> int:
    return amount * 15 // 100_000 // 10 * 10  # 0.015%, truncated to 10 won


# ------------------------------------------------------------------------ prices


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 200))
def test_prices_stay_on_valid_ticks_within_the_days_limits(seed: int, steps: int) -> None:
    # Ten-minute steps cross several day rolls, so new bases and limits are covered too.
    venue = Venue(seed=seed, clock=SimClock(DAY), step_seconds=600, codes_per_step=40)
    for _ in range(steps):
        day = venue.now().date()
        for tick in venue.step():
            quote = venue.quote(tick.code)
            assert krx.is_valid_price(tick.price, quote.market, day), tick
            assert quote.lower <= tick.price <= quote.upper, tick
            assert tick.diff == tick.price - quote.base


def test_same_seed_and_calls_give_the_same_prices_and_notices() -> None:
    def run(seed: int) -> tuple[list[Tick], list[OrderNotice]]:
        venue, rec, _ = make_venue(seed=seed, depth_won=700_000)
        venue.place(ACCOUNT, Side.BUY, SAMSUNG, 40, UPPER)
        venue.place(ACCOUNT, Side.SELL, SAMSUNG, 30, 0, order_type=OrderType.MARKET)
        for _ in range(50):
            venue.step()
        return rec.ticks, rec.notices

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_an_expected_price_tick_moves_nothing_and_fills_nothing() -> None:
    venue, rec, _ = make_venue(cash=10**10, depth_won=70_000)
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 100_000, UPPER)
    for _ in range(20_000):
        before = venue.quote(SAMSUNG)
        seen = len(rec.notices)
        ticks = venue.step(1)
        if ticks[0].expected and ticks[0].code == SAMSUNG:
            break
    else:
        pytest.fail("no expected-price tick in 20,000 steps")
    after = venue.quote(SAMSUNG)
    assert (after.price, after.volume) == (before.price, before.volume)
    assert fills(rec.notices[seen:]) == []


def test_quote_reports_base_limits_and_names() -> None:
    venue, _, _ = make_venue()
    quote = venue.quote("A005930")
    assert (quote.base, quote.upper, quote.lower) == (70_000, 91_000, 49_000)
    assert quote.name == "삼성전자"
    assert quote.market is Market.KOSPI


def test_an_unknown_code_raises_unknown_instrument_with_a_clear_message() -> None:
    venue, _, _ = make_venue()
    with pytest.raises(UnknownInstrument, match="unknown instrument '000000'"):
        venue.instrument("000000")
    with pytest.raises(KeyError):
        venue.quote("garbage")


# ------------------------------------------------------------------------ notice sequences


def test_a_large_buy_is_accepted_then_filled_in_partials_then_done() -> None:
    venue, rec, _ = make_venue(depth_won=700_000)  # at most 10 shares per match
    order_no = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 25, UPPER)
    for _ in range(200):
        if not venue.open_orders(ACCOUNT):
            break
        venue.step()
    notices = rec.of(order_no)
    assert notices[0].kind is NoticeKind.ACCEPTED
    assert (notices[0].qty, notices[0].price, notices[0].name) == (25, UPPER, "삼성전자")
    filled = fills(notices)
    assert notices[1:] == filled
    assert len(filled) >= 3
    assert sum(n.qty for n in filled) == 25
    assert len({n.fill_id for n in filled}) == len(filled)
    assert all(n.price <= UPPER for n in filled)
    held = 50
    for fill in filled:
        held += fill.qty
        assert (fill.post_qty, fill.post_sellable) == (held, held)
    assert venue.open_orders(ACCOUNT) == []


def test_fill_notices_carry_a_fill_id_and_the_orders_cumulative_filled_quantity() -> None:
    venue, rec, _ = make_venue(depth_won=700_000)  # at most 10 shares per match
    order_no = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 25, UPPER)
    while venue.open_orders(ACCOUNT):
        venue.step()
    filled = fills(rec.of(order_no))
    running = [sum(n.qty for n in filled[: i + 1]) for i in range(len(filled))]
    assert [n.filled_total for n in filled] == running
    assert running[-1] == 25
    assert [f.fill_id for f in venue.fills(ACCOUNT)] == [n.fill_id for n in filled]
    assert all(n.filled_total is None for n in rec.notices if n.kind is not NoticeKind.FILLED)


def test_the_snapshot_lists_the_days_orders_with_their_filled_watermarks() -> None:
    venue, rec, clock = make_venue(depth_won=1)  # one share per match
    part = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 5, UPPER)  # fills 1 at once
    resting = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 4, UPPER)
    amended = venue.amend(ACCOUNT, resting, price=UPPER - 100, qty=3)
    venue.cancel(ACCOUNT, part, qty=2)
    rejected = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER + 1_000)
    orders = venue.balance(ACCOUNT).orders
    assert orders is not None
    assert [
        (o.order_no, o.side, o.qty, o.filled, o.remaining, o.orig_order_no) for o in orders
    ] == [
        (part, Side.BUY, 5, 1, 2, ""),
        (resting, Side.SELL, 4, 0, 0, ""),
        (amended, Side.SELL, 3, 0, 3, resting),
        (rejected, Side.BUY, 1, 0, 0, ""),
    ]
    [fill] = fills(rec.notices)
    assert (fill.order_no, fill.filled_total) == (part, 1)
    clock.advance(7 * 3600)  # a new trading day starts with no orders
    assert venue.balance(ACCOUNT).orders == ()


def test_a_market_sell_fills_at_the_current_price() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 1, order_type=OrderType.MARKET)
    accepted, filled = rec.of(order_no)
    assert (accepted.kind, accepted.price) == (NoticeKind.ACCEPTED, 0)
    assert (filled.kind, filled.qty, filled.price) == (NoticeKind.FILLED, 1, 70_000)


def test_amend_replaces_the_remaining_and_releases_a_lower_quantity() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 10, UPPER)
    assert rec.notices[-1].post_sellable == 40
    new_no = venue.amend(ACCOUNT, order_no, price=UPPER - 100, qty=6)
    confirmed = rec.notices[-1]
    assert (confirmed.kind, confirmed.action) == (NoticeKind.CONFIRMED, OrderAction.AMEND)
    assert (confirmed.order_no, confirmed.orig_order_no) == (new_no, order_no)
    assert (confirmed.qty, confirmed.price, confirmed.post_sellable) == (6, UPPER - 100, 44)
    [open_order] = venue.open_orders(ACCOUNT)
    assert (open_order.order_no, open_order.remaining, open_order.orig_order_no) == (
        new_no,
        6,
        order_no,
    )
    with pytest.raises(VenueRefusal) as refused:
        venue.amend(ACCOUNT, order_no, price=UPPER)
    assert refused.value.reason_code == "NO_SUCH_ORDER"
    with pytest.raises(VenueRefusal) as refused:
        venue.amend(ACCOUNT, new_no, price=UPPER, qty=7)
    assert refused.value.reason_code == "QTY_ABOVE_REMAINING"


def test_amending_a_resting_buy_to_a_marketable_price_fills_it() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, LOWER)
    new_no = venue.amend(ACCOUNT, order_no, price=UPPER)
    kinds = [(n.kind, n.action, n.order_no) for n in rec.of(order_no)]
    assert kinds == [
        (NoticeKind.ACCEPTED, OrderAction.NEW, order_no),
        (NoticeKind.CONFIRMED, OrderAction.AMEND, new_no),
        (NoticeKind.FILLED, OrderAction.NEW, new_no),
    ]


def test_an_amend_to_an_invalid_price_is_rejected_and_the_original_stays() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 10, UPPER)
    venue.amend(ACCOUNT, order_no, price=UPPER + 1_000)
    rejected = rec.notices[-1]
    assert (rejected.kind, rejected.action, rejected.orig_order_no) == (
        NoticeKind.REJECTED,
        OrderAction.AMEND,
        order_no,
    )
    assert rejected.post_sellable == 40
    assert [o.order_no for o in venue.open_orders(ACCOUNT)] == [order_no]


def test_cancel_can_be_partial_and_releases_the_sell_hold() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 10, UPPER)
    cancel_no = venue.cancel(ACCOUNT, order_no, qty=4)
    partial = rec.notices[-1]
    assert (partial.kind, partial.action) == (NoticeKind.CONFIRMED, OrderAction.CANCEL)
    assert (partial.order_no, partial.orig_order_no, partial.qty) == (cancel_no, order_no, 4)
    assert partial.post_sellable == 44
    assert venue.open_orders(ACCOUNT)[0].remaining == 6
    venue.cancel(ACCOUNT, order_no)
    assert (rec.notices[-1].qty, rec.notices[-1].post_sellable) == (6, 50)
    assert venue.open_orders(ACCOUNT) == []
    with pytest.raises(VenueRefusal) as refused:
        venue.cancel(ACCOUNT, order_no)
    assert refused.value.reason_code == "NO_SUCH_ORDER"


@pytest.mark.parametrize("price", [70_050, UPPER + 100, LOWER - 100])
def test_an_off_tick_or_out_of_limit_price_is_accepted_then_rejected(price: int) -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 10, price)
    accepted, rejected = rec.of(order_no)
    assert (accepted.kind, accepted.post_sellable) == (NoticeKind.ACCEPTED, 40)
    assert (rejected.kind, rejected.qty, rejected.post_sellable) == (NoticeKind.REJECTED, 10, 50)
    assert venue.open_orders(ACCOUNT) == []


def test_ioc_fills_what_it_can_now_and_cancels_the_rest() -> None:
    venue, rec, _ = make_venue(depth_won=700_000)
    order_no = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 30, UPPER, condition=Condition.IOC)
    notices = rec.of(order_no)
    kinds = [n.kind for n in notices]
    assert kinds == [NoticeKind.ACCEPTED, NoticeKind.FILLED, NoticeKind.CONFIRMED]
    filled, cancelled = notices[1], notices[2]
    assert cancelled.action is OrderAction.CANCEL
    assert (cancelled.order_no, cancelled.orig_order_no) == (order_no, order_no)
    assert filled.qty + cancelled.qty == 30
    assert venue.open_orders(ACCOUNT) == []


def test_ioc_that_cannot_fill_is_cancelled_whole() -> None:
    venue, rec, _ = make_venue()
    order_no = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 5, LOWER, condition=Condition.IOC)
    assert [(n.kind, n.qty) for n in rec.of(order_no)] == [
        (NoticeKind.ACCEPTED, 5),
        (NoticeKind.CONFIRMED, 5),
    ]


def test_fok_fills_all_at_once_or_nothing() -> None:
    venue, rec, _ = make_venue(depth_won=700_000)
    too_big = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 11, UPPER, condition=Condition.FOK)
    assert [(n.kind, n.qty) for n in rec.of(too_big)] == [
        (NoticeKind.ACCEPTED, 11),
        (NoticeKind.CONFIRMED, 11),
    ]
    small = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER, condition=Condition.FOK)
    assert [(n.kind, n.qty) for n in rec.of(small)] == [
        (NoticeKind.ACCEPTED, 1),
        (NoticeKind.FILLED, 1),
    ]


# ------------------------------------------------------------------------ refusals


def test_overselling_is_refused_with_no_order_number_and_no_notice() -> None:
    venue, rec, _ = make_venue()
    with pytest.raises(VenueRefusal) as refused:
        venue.place(ACCOUNT, Side.SELL, SAMSUNG, 51, UPPER)
    assert refused.value.reason_code == "INSUFFICIENT_SELLABLE"
    venue.place(ACCOUNT, Side.SELL, SAMSUNG, 30, UPPER)
    with pytest.raises(VenueRefusal) as refused:
        venue.place(ACCOUNT, Side.SELL, SAMSUNG, 21, UPPER)  # 20 left unheld
    assert refused.value.reason_code == "INSUFFICIENT_SELLABLE"
    assert [n.order_no for n in rec.notices] == ["0000000001"]


def test_overbuying_is_refused_counting_open_buys_and_market_holds_at_the_upper_limit() -> None:
    # 10 shares at 70,000 cost 700,105 with commission; a market buy is held at 91,000.
    venue, _, _ = make_venue(cash=800_000)
    with pytest.raises(VenueRefusal) as refused:
        venue.place(ACCOUNT, Side.BUY, SAMSUNG, 10, order_type=OrderType.MARKET)
    assert refused.value.reason_code == "INSUFFICIENT_CASH"
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 10, LOWER)  # 490,070 held
    with pytest.raises(VenueRefusal):
        venue.place(ACCOUNT, Side.BUY, SAMSUNG, 5, 70_000)
    assert venue.orderable_cash(ACCOUNT) == 800_000 - 490_070


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"account": "9999999999"}, "UNKNOWN_ACCOUNT"),
        ({"code": "000000"}, "UNKNOWN_CODE"),
        ({"qty": 0}, "BAD_QTY"),
        ({"credit": Credit.SHORT_SELF}, "SHORT_UNSUPPORTED"),
        ({"credit": Credit.MARGIN_SELF, "side": Side.SELL}, "LOAN_DATE_REQUIRED"),
        ({"order_type": OrderType.MARKET, "price": 70_000}, "BAD_PRICE"),
    ],
)
def test_broker_side_problems_are_refused(kwargs: dict[str, object], reason: str) -> None:
    venue, rec, _ = make_venue()
    args: dict[str, object] = {
        "account": ACCOUNT,
        "side": Side.BUY,
        "code": SAMSUNG,
        "qty": 1,
        "price": 70_000,
    }
    args.update(kwargs)
    with pytest.raises(VenueRefusal) as refused:
        venue.place(**args)  # type: ignore[arg-type]
    assert refused.value.reason_code == reason
    assert rec.notices == []


# ------------------------------------------------------------------------ the ledger


def test_selling_part_of_a_row_removes_its_share_of_the_purchase_amount() -> None:
    venue, rec, _ = make_venue(shares=3, purchase_amount=100)
    expected = [(2, 67, Decimal("33.5")), (1, 34, Decimal(34)), (0, 0, Decimal(0))]
    for qty, amount, book in expected:
        venue.place(ACCOUNT, Side.SELL, SAMSUNG, 1, LOWER)
        assert (rec.notices[-1].post_qty, rec.notices[-1].post_book_price) == (qty, book)
        current = row(venue, SAMSUNG)
        assert (current.purchase_amount if current else 0) == amount
    assert venue.balance(ACCOUNT).rows == ()  # a row at zero is not listed


def test_cash_moves_by_amount_commission_and_tax_and_settles_at_t_plus_2() -> None:
    venue, rec, clock = make_venue(cash=1_000_000)
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER)
    bought = rec.notices[-1].price
    venue.place(ACCOUNT, Side.SELL, SAMSUNG, 2, LOWER, order_type=OrderType.LIMIT)
    sells = fills(rec.notices[2:])
    d2 = 1_000_000 - bought - commission(bought)
    for fill in sells:
        amount = fill.qty * fill.price
        d2 += amount - commission(amount) - amount * 15 // 10_000  # 0.15% KOSPI in 2025
    assert venue.balance(ACCOUNT).cash == Cash(deposit=1_000_000, d2=d2, d1=1_000_000)
    clock.advance(7 * 3600)  # T+1: the trades settle tomorrow, so D+1 shows them
    assert venue.balance(ACCOUNT).cash == Cash(deposit=1_000_000, d2=d2, d1=d2)
    clock.advance(7 * 3600)  # T+2
    assert venue.balance(ACCOUNT).cash == Cash(deposit=d2, d2=d2, d1=d2)


def test_sell_tax_follows_the_market_and_the_settlement_date() -> None:
    # Sold 2025-12-29, settles 2026-01-02: the 0.20% rate applies; ETFs pay none.
    venue, rec, _ = make_venue(cash=10_000_000, shares=0, start=date(2025, 12, 29))
    for code in (SAMSUNG, KODEX):
        venue.place(ACCOUNT, Side.BUY, code, 1, venue.quote(code).upper)
    before = venue.balance(ACCOUNT).cash.d2
    venue.place(ACCOUNT, Side.SELL, SAMSUNG, 1, LOWER)
    stock = rec.notices[-1].price
    venue.place(ACCOUNT, Side.SELL, KODEX, 1, venue.quote(KODEX).lower)
    etf = rec.notices[-1].price
    tax = stock * 20 // 10_000
    after = before + stock - commission(stock) - tax + etf - commission(etf)
    assert venue.balance(ACCOUNT).cash.d2 == after
    assert CostSchedule().tax(stock, Market.KOSPI, date(2025, 12, 29)) == tax


def test_a_margin_buy_opens_its_own_row_keyed_by_the_trade_date() -> None:
    venue, rec, _ = make_venue()
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER, credit=Credit.MARGIN_SELF)
    assert (rec.notices[-1].credit, rec.notices[-1].loan_date) == (Credit.MARGIN_SELF, DAY)
    margin = row(venue, SAMSUNG, Credit.MARGIN_SELF)
    assert margin is not None
    assert (margin.qty, margin.loan_date) == (1, DAY)
    assert row(venue, SAMSUNG) == BalanceRow(
        ACCOUNT, SAMSUNG, 50, 50, 3_000_000, name="삼성전자", market=Market.KOSPI, price=70_000
    )
    venue.place(ACCOUNT, Side.SELL, SAMSUNG, 1, LOWER, credit=Credit.MARGIN_SELF, loan_date=DAY)
    assert row(venue, SAMSUNG, Credit.MARGIN_SELF) is None
    assert row(venue, SAMSUNG) is not None


def test_the_demo_account_has_cash_holdings_and_a_margin_row_beside_a_cash_row() -> None:
    venue = Venue(seed=1, clock=SimClock(DAY))
    venue.open_demo_account()
    snapshot = venue.balance("5012345601")
    assert snapshot.cash.deposit == 50_000_000
    assert len({r.code for r in snapshot.rows}) >= 6
    [margin] = [r for r in snapshot.rows if r.credit is Credit.MARGIN_SELF]
    assert margin.loan_date is not None
    assert any(r.code == margin.code and r.credit is Credit.CASH for r in snapshot.rows)


# ------------------------------------------------------------------------ the trading day


def test_the_clock_skips_the_close_weekends_and_holidays() -> None:
    assert SimClock(date(2025, 9, 6)).now() == datetime(2025, 9, 8, 9, 0, tzinfo=KST)  # Sat
    clock = SimClock(datetime(2025, 10, 2, 15, 19, tzinfo=KST))
    clock.advance(30)
    assert clock.now() == datetime(2025, 10, 2, 15, 19, 30, tzinfo=KST)
    clock.advance(60)  # past 15:20; 10/3 and 10/6-10/9 are closed
    assert clock.now() == datetime(2025, 10, 10, 9, 0, tzinfo=KST)


def test_the_day_roll_expires_open_orders_at_the_close_and_rebases_prices() -> None:
    venue, rec, clock = make_venue()
    buy = venue.place(ACCOUNT, Side.BUY, SAMSUNG, 3, LOWER)
    sell = venue.place(ACCOUNT, Side.SELL, SAMSUNG, 5, UPPER)
    venue.step()
    close = venue.quote(SAMSUNG).price
    clock.advance(7 * 3600)
    quote = venue.quote(SAMSUNG)
    expired = rec.notices[-2:]
    assert [(n.kind, n.action, n.order_no, n.orig_order_no, n.qty) for n in expired] == [
        (NoticeKind.CONFIRMED, OrderAction.CANCEL, buy, buy, 3),
        (NoticeKind.CONFIRMED, OrderAction.CANCEL, sell, sell, 5),
    ]
    assert all(n.time == datetime.combine(DAY, time(15, 20), KST) for n in expired)
    assert expired[-1].post_sellable == 50
    assert venue.open_orders(ACCOUNT) == []
    assert (quote.base, quote.diff, quote.volume) == (close, 0, 0)
    assert (quote.upper, quote.lower) == krx.price_limits(close, Market.KOSPI, date(2025, 9, 2))


# ------------------------------------------------------------------------ threads


def test_concurrent_orders_and_steps_keep_the_ledger_equal_to_the_notices() -> None:
    clock = SimClock(DAY)
    venue = Venue(seed=5, clock=clock, depth_won=2_000_000, codes_per_step=20)
    accounts = [f"700000000{i}" for i in range(4)]
    for account in accounts:
        venue.open_account(account, cash=10**9)
    notices: list[OrderNotice] = []
    venue.add_notice_listener(notices.append)
    codes = [i.code for i in venue.instruments()][:10]

    def trade(account: str) -> None:
        for n in range(30):
            code = codes[n % len(codes)]
            venue.place(account, Side.BUY, code, 20, venue.quote(code).upper)

    def drive() -> None:
        for _ in range(300):
            venue.step()

    threads = [threading.Thread(target=trade, args=(a,)) for a in accounts]
    threads.append(threading.Thread(target=drive))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for account in accounts:
        for order in venue.open_orders(account):
            venue.cancel(account, order.order_no)
        mine = [n for n in notices if n.account == account]
        seen: set[str] = set()
        for notice in mine:
            if notice.kind is NoticeKind.ACCEPTED:
                seen.add(notice.order_no)
            else:
                assert notice.order_no in seen or notice.orig_order_no in seen
        bought: dict[str, int] = {}
        spent = 0
        for fill in fills(mine):
            bought[fill.code] = bought.get(fill.code, 0) + fill.qty
            spent += fill.qty * fill.price + commission(fill.qty * fill.price)
        snapshot = venue.balance(account)
        assert {r.code: r.qty for r in snapshot.rows} == bought
        assert snapshot.cash.d2 == 10**9 - spent


def test_a_removed_listener_hears_nothing_more() -> None:
    venue, _, _ = make_venue()
    heard: list[Tick] = []
    remove = venue.add_tick_listener(heard.append)
    venue.step()
    count = len(heard)
    remove()
    venue.step()
    assert count > 0 and len(heard) == count


def test_a_listener_that_trades_back_sees_events_in_order() -> None:
    venue, rec, _ = make_venue()

    def sell_after_buy_fill(notice: OrderNotice) -> None:
        if notice.kind is NoticeKind.FILLED and notice.side is Side.BUY:
            venue.place(ACCOUNT, Side.SELL, SAMSUNG, notice.qty, LOWER)

    venue.add_notice_listener(sell_after_buy_fill)
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER)
    assert [(n.kind, n.side) for n in rec.notices] == [
        (NoticeKind.ACCEPTED, Side.BUY),
        (NoticeKind.FILLED, Side.BUY),
        (NoticeKind.ACCEPTED, Side.SELL),
        (NoticeKind.FILLED, Side.SELL),
    ]
