"""The CYBOS adapter's snapshot carries the day's orders with their filled watermarks (CpTd5339 /
CpTd5341) and each loan row's 대출금액 (CpTd6033 header 6); fill notices carry the order's
cumulative filled quantity where the adapter can know it exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from jango.brokers.cybos import CybosBroker, wire
from jango.brokers.port import ConnectionStatus, OrderRequest, PushItem, Received
from jango.domain.model import (
    BalanceRow,
    Code,
    Credit,
    Market,
    NoticeKind,
    OrderNotice,
    OrderType,
    Side,
)
from jango.sandbox.venue import DEMO_ACCOUNT, Venue

WAIT = 30.0  # a guard against hanging, not a timing expectation
CODE = Code("005930")


def small_depth_venue() -> Venue:
    """A venue whose matches fill few shares, so an order fills in several pieces."""
    venue = Venue(seed=11, depth_won=300_000)
    venue.open_demo_account()
    return venue


async def fills(broker: CybosBroker, venue: Venue, order_no: str, n: int) -> list[OrderNotice]:
    """The next ``n`` fill notices of ``order_no``, stepping the venue while waiting."""
    found: list[OrderNotice] = []
    queue: asyncio.Queue[PushItem] = asyncio.Queue()

    async def drain() -> None:
        # One reader of the stream: cancelling a pending anext() would close the generator.
        async for item in broker.events():
            queue.put_nowait(item)

    async def collect() -> None:
        while len(found) < n:
            venue.step()
            try:
                item = await asyncio.wait_for(queue.get(), 0.05)
            except TimeoutError:
                continue
            if (
                isinstance(item, Received)
                and isinstance(item.event, OrderNotice)
                and item.event.kind is NoticeKind.FILLED
                and item.event.order_no == order_no
            ):
                found.append(item.event)

    reader = asyncio.create_task(drain())
    try:
        await asyncio.wait_for(collect(), WAIT)
    finally:
        reader.cancel()
    return found


def step_until(venue: Venue, done: Callable[[], bool]) -> None:
    for _ in range(10_000):
        if done():
            return
        venue.step()
    raise AssertionError("the venue never reached the state")


def number(order_no: str) -> str:
    """A venue order number as CYBOS sends it (a long: no leading zeros)."""
    return str(int(order_no))


def test_the_snapshot_lists_the_days_orders_with_filled_and_remaining() -> None:
    venue = small_depth_venue()
    # The emulated server keeps the day's log from its start, so it starts before the orders.
    broker = CybosBroker.for_emulator(venue)
    price = venue.quote(CODE).upper  # a marketable limit buy: fills a little on every step
    filled_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 3, price)
    open_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 40, price)
    step_until(
        venue, lambda: not any(o.order_no == filled_no for o in venue.open_orders(DEMO_ACCOUNT))
    )
    cancelled_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 5, venue.quote(CODE).lower)
    venue.cancel(DEMO_ACCOUNT, cancelled_no)
    numbers = (filled_no, open_no, cancelled_no)

    async def scenario() -> None:
        await broker.connect()
        try:
            snap = await broker.balance(DEMO_ACCOUNT)
        finally:
            await broker.close()
        assert snap.orders is not None
        orders = {o.order_no: o for o in snap.orders}
        live = {number(o.order_no): o for o in venue.open_orders(DEMO_ACCOUNT)}
        filled_no, open_no, cancelled_no = (number(n) for n in numbers)
        assert orders[filled_no].filled == 3 and orders[filled_no].remaining == 0
        assert orders[open_no].filled == live[open_no].filled
        assert orders[open_no].remaining == live[open_no].remaining
        assert orders[cancelled_no].filled == 0 and orders[cancelled_no].remaining == 0
        assert {o.side for o in snap.orders} == {Side.BUY}
        assert all(o.code == CODE for o in snap.orders)

    asyncio.run(scenario())


def test_fills_carry_the_orders_cumulative_quantity_continuing_the_venues_count() -> None:
    venue = small_depth_venue()
    price = venue.quote(CODE).upper
    order_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 60, price)
    venue.step()
    before = next(o for o in venue.open_orders(DEMO_ACCOUNT) if o.order_no == order_no).filled
    assert before > 0  # filled in part before the adapter started

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            got = await fills(broker, venue, number(order_no), 2)
        finally:
            await broker.close()
        totals = [n.filled_total for n in got]
        assert totals[0] == before + got[0].qty
        assert totals[1] == before + got[0].qty + got[1].qty
        assert [n.fill_id for n in got] == [f"{number(order_no)}:{t}" for t in totals]

    asyncio.run(scenario())


def test_an_order_that_fills_while_the_subscription_opens_gets_no_guessed_total() -> None:
    venue = small_depth_venue()
    price = venue.quote(CODE).upper
    order_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 60, price)

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        emulator = broker.emulator
        register = emulator.register_conclusion

        def register_then_fill(obj: Any) -> None:
            # A fill lands just after CpConclusion opens, before the adapter's second read.
            register(obj)
            filled = venue.open_orders(DEMO_ACCOUNT)[0].filled
            step_until(venue, lambda: venue.open_orders(DEMO_ACCOUNT)[0].filled > filled)

        emulator.register_conclusion = register_then_fill
        await broker.connect()
        try:
            got = await fills(broker, venue, number(order_no), 2)
            other = await broker.place(OrderRequest(DEMO_ACCOUNT, Side.BUY, CODE, 30, price=price))
            fresh = await fills(broker, venue, other.order_no, 1)
        finally:
            await broker.close()
        assert [n.filled_total for n in got] == [None, None]
        assert [n.fill_id for n in got] == ["", ""]
        assert fresh[0].filled_total == fresh[0].qty  # a new order starts at zero, exactly

    asyncio.run(scenario())


def test_a_single_loan_row_takes_the_accounts_loan_amount() -> None:
    venue = Venue(seed=4)
    venue.open_demo_account()

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            snap = await broker.balance(DEMO_ACCOUNT)
        finally:
            await broker.close()
        loans = [r for r in snap.rows if r.credit.is_loan]
        truth = [r for r in venue.balance(DEMO_ACCOUNT).rows if r.credit.is_loan]
        assert len(loans) == 1
        # The venue lends the whole purchase of a margin buy, so the loan is its 매입금액.
        assert loans[0].loan_amount == truth[0].purchase_amount
        assert all(r.loan_amount == 0 for r in snap.rows if not r.credit.is_loan)

    asyncio.run(scenario())


def row(
    code: str, amount: int, credit: Credit = Credit.CASH, day: date | None = None
) -> BalanceRow:
    return BalanceRow("1", Code(code), 10, 10, amount, credit, day)


def test_several_loan_rows_share_the_loan_by_purchase_amount_and_add_up_exactly() -> None:
    rows = [
        row("005930", 700_000),
        row("005930", 300_000, Credit.MARGIN_SELF, date(2026, 10, 1)),
        row("000660", 700_000, Credit.MARGIN_KSFC, date(2026, 10, 2)),
    ]
    spread = wire.with_loan_amounts(rows, 500_001)
    assert [r.loan_amount for r in spread] == [0, 150_000, 350_001]
    assert wire.with_loan_amounts(rows[:1], 500_001) == rows[:1]


def test_filled_totals_take_the_biggest_running_total_or_the_sum_of_fills() -> None:
    rows: list[dict[int, object]] = [
        {1: 7, 9: 3, 10: 3, 36: "1"},
        {1: 7, 9: 5, 10: 2, 36: "1"},
        {1: 8, 10: 4, 36: "1"},
        {1: 8, 10: 1, 36: "1"},
        {1: 9, 9: 0, 10: 0, 36: "3"},  # a cancel request: never fills
    ]
    assert wire.filled_totals(rows) == {"7": 5, "8": 5}


def test_an_open_order_missing_from_the_daily_list_comes_from_5339_alone() -> None:
    open_rows: list[dict[int, object]] = [
        {1: 12, 2: 0, 3: "A005930", 6: 10, 7: 70_000, 8: 4, 9: ord(" "), 11: 6, 13: "2", 21: "01"}
    ]
    (state,) = wire.order_states("1", [], open_rows, date(2026, 11, 2))
    assert (state.order_no, state.qty, state.filled, state.remaining) == ("12", 10, 4, 6)
    assert state.side is Side.BUY and state.order_type is OrderType.LIMIT


def test_each_row_carries_its_market_from_the_code_manager() -> None:
    venue = Venue(seed=4)
    venue.open_demo_account()

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            snap = await broker.balance(DEMO_ACCOUNT)
        finally:
            await broker.close()
        markets = {row.code: row.market for row in snap.rows}
        truth = {i.code: i.market for i in venue.instruments()}
        assert markets == {code: truth[code] for code in markets}
        assert markets[Code("069500")] is Market.ETF  # an ETF sell is not taxed as a stock
        assert markets[Code("247540")] is Market.KOSDAQ

    asyncio.run(scenario())


def test_the_code_managers_kinds_map_to_markets() -> None:
    assert wire.market_from_kinds(1, 10) is Market.ETF
    assert wire.market_from_kinds(1, 17) is Market.ETN
    assert wire.market_from_kinds(2, 1) is Market.KOSDAQ
    assert wire.market_from_kinds(0, 0) is Market.UNKNOWN


async def restored(broker: CybosBroker) -> None:
    """Wait for the adapter's report that it restored the session after a disconnect."""

    async def status() -> None:
        async for item in broker.events():
            if isinstance(item, ConnectionStatus) and item.connected:
                return

    await asyncio.wait_for(status(), WAIT)


def test_after_a_reconnect_fill_totals_continue_from_the_orders_fills_during_the_outage() -> None:
    venue = small_depth_venue()
    price = venue.quote(CODE).upper

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue, reconnect_interval=0.01)
        await broker.connect()
        try:
            order_no = venue.place(DEMO_ACCOUNT, Side.BUY, CODE, 200, price)
            broker.emulator.disconnect()
            # Fills while disconnected never reach the stream; the adapter re-reads them.
            step_until(venue, lambda: venue.open_orders(DEMO_ACCOUNT)[0].filled >= 12)
            during = venue.open_orders(DEMO_ACCOUNT)[0].filled
            broker.emulator.reconnect()
            await restored(broker)  # the venue stands still until the adapter re-seeded
            got = await fills(broker, venue, number(order_no), 3)
        finally:
            await broker.close()
        (logged,) = [o for o in broker.emulator.day_orders.of(DEMO_ACCOUNT) if o.fills]
        server_totals = {fill.total for fill in logged.fills}
        assert all(n.filled_total in server_totals for n in got)  # each one exact
        assert any(n.filled_total is not None and n.filled_total > during for n in got)

    asyncio.run(scenario())
