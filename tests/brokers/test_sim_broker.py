"""The in-process sim broker over a real asyncio loop, and the shared rate limiter."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jango.brokers.port import (
    Broker,
    BrokerError,
    BrokerLimits,
    ConnectionStatus,
    NoSuchOrder,
    OrderRefused,
    OrderRequest,
    PushItem,
    Received,
    StartupError,
    TickBurst,
)
from jango.brokers.ratelimit import RateLimiter
from jango.brokers.sim.broker import SimBroker
from jango.brokers.sim.demo import DemoTrader
from jango.domain.krx import tick_size
from jango.domain.model import (
    BalanceSnapshot,
    Code,
    NoticeKind,
    OrderNotice,
    OrderType,
    Side,
    Tick,
    parse_code,
)
from jango.sandbox.clock import SimClock
from jango.sandbox.venue import Venue

DAY = date(2025, 9, 1)
DEMO = "5012345601"
SAMSUNG = parse_code("005930")
HYNIX = parse_code("000660")
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def limits(**changes: Any) -> BrokerLimits:
    values: dict[str, Any] = {
        "subscription_capacity": 200,
        "quote_batch": 50,
        "quote_requests": 20,
        "trade_requests": 10,
        "window_seconds": 1.0,
        "balance_page_size": 50,
    }
    values.update(changes)
    return BrokerLimits(**values)


def manual_broker(**kwargs: Any) -> SimBroker:
    """A broker that never steps by itself: the test drives the venue."""
    venue = Venue(seed=1, clock=SimClock(DAY), codes_per_step=20)
    return SimBroker(venue, tick_interval=0, **kwargs)


async def collect(stream: AsyncIterator[PushItem]) -> list[PushItem]:
    return [item async for item in stream]


def events_of(items: list[PushItem], kind: type[T]) -> list[T]:
    found: list[object] = []
    for item in items:
        if isinstance(item, TickBurst):
            found.extend(item.ticks)
        elif isinstance(item, Received):
            found.append(item.event)
    return [e for e in found if isinstance(e, kind)]


def test_the_sim_broker_implements_the_broker_port() -> None:
    assert isinstance(manual_broker(), Broker)


def test_ticks_arrive_only_for_subscribed_codes_from_another_thread() -> None:
    async def scenario() -> tuple[list[PushItem], list[Tick]]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        await broker.subscribe(SAMSUNG)
        stepped: list[Tick] = []
        for _ in range(60):
            stepped += await asyncio.to_thread(broker.venue.step)
        await broker.close()
        return await collect(stream), stepped

    items, stepped = run(scenario())
    ticks = events_of(items, Tick)
    assert ticks == [t for t in stepped if t.code == SAMSUNG]
    assert ticks  # 60 steps of 20 codes out of 80 reach it
    assert isinstance(items[0], ConnectionStatus) and items[0].connected
    assert isinstance(items[-1], ConnectionStatus) and not items[-1].connected


def test_unsubscribing_stops_that_codes_ticks() -> None:
    async def scenario() -> list[PushItem]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        await broker.subscribe(SAMSUNG)
        await broker.unsubscribe(SAMSUNG)
        await broker.unsubscribe(HYNIX)  # never subscribed: ignored
        for _ in range(60):
            await asyncio.to_thread(broker.venue.step)
        await broker.close()
        return await collect(stream)

    assert events_of(run(scenario()), Tick) == []


def test_connect_opens_the_demo_account_and_notices_arrive_with_raw_json() -> None:
    async def scenario() -> tuple[list[str], list[PushItem]]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        accounts = await broker.accounts()
        market_sell = OrderRequest(DEMO, Side.SELL, SAMSUNG, 1, order_type=OrderType.MARKET)
        ack = await broker.place(market_sell)
        await broker.close()
        items = await collect(stream)
        assert {n.order_no for n in events_of(items, OrderNotice)} == {ack.order_no}
        return accounts, items

    accounts, items = run(scenario())
    assert accounts == [DEMO]
    notices = events_of(items, OrderNotice)
    assert [n.kind for n in notices] == [NoticeKind.ACCEPTED, NoticeKind.FILLED]
    received = [i for i in items if isinstance(i, Received)]
    raw = json.loads(received[-1].raw)
    assert (raw["type"], raw["kind"], raw["code"], raw["name"]) == (
        "notice",
        "filled",
        "005930",
        "삼성전자",
    )
    assert received[-1].source == "sim"


def test_connect_keeps_existing_accounts() -> None:
    async def scenario() -> list[str]:
        venue = Venue(seed=1, clock=SimClock(DAY))
        venue.open_account("1234567890", cash=1_000)
        broker = SimBroker(venue, tick_interval=0)
        await broker.connect()
        accounts = await broker.accounts()
        await broker.close()
        await broker.close()  # twice is fine
        return accounts

    assert run(scenario()) == ["1234567890"]


def test_the_broker_steps_the_venue_itself_while_connected() -> None:
    async def scenario() -> list[Tick]:
        broker = SimBroker(Venue(seed=2, clock=SimClock(DAY)), tick_interval=0.001)
        await broker.connect()
        await broker.subscribe(SAMSUNG)
        ticks: list[Tick] = []

        async def first_ticks() -> None:
            async for item in broker.events():
                ticks.extend(events_of([item], Tick))
                if len(ticks) >= 5:
                    return

        await asyncio.wait_for(first_ticks(), timeout=60)
        await broker.close()
        return ticks

    ticks = run(scenario())
    assert {t.code for t in ticks} == {SAMSUNG} and len(ticks) >= 5


def test_a_quote_batch_above_the_limit_is_refused_without_a_request() -> None:
    async def scenario() -> None:
        broker = manual_broker()
        codes = [i.code for i in broker.venue.instruments()]
        with pytest.raises(BrokerError) as refused:
            await broker.quotes(codes[:51])
        assert refused.value.code == "BATCH_LIMIT"
        assert broker.request_count.quote_requests == 0
        quotes = await broker.quotes(codes[:50])
        assert [q.code for q in quotes] == codes[:50]
        assert (await broker.quote(SAMSUNG)).name == "삼성전자"
        assert broker.request_count.quote_requests == 2

    run(scenario())


def test_subscriptions_beyond_capacity_are_refused() -> None:
    async def scenario() -> None:
        broker = manual_broker(limits=limits(subscription_capacity=2))
        codes: list[Code] = [i.code for i in broker.venue.instruments()][:3]
        await broker.subscribe(codes[0])
        await broker.subscribe(codes[1])
        await broker.subscribe(codes[1])  # already open: no second slot
        with pytest.raises(BrokerError) as refused:
            await broker.subscribe(codes[2])
        assert refused.value.code == "CAPACITY"
        await broker.unsubscribe(codes[0])
        await broker.subscribe(codes[2])
        assert broker.subscriptions == {codes[1], codes[2]}
        assert broker.request_count.subscriptions == 2
        with pytest.raises(BrokerError):
            await broker.subscribe(Code("999999"))

    run(scenario())


def test_requests_beyond_the_rate_wait_their_turn() -> None:
    async def scenario() -> None:
        broker = manual_broker(limits=limits(quote_requests=2, window_seconds=0.05))
        await asyncio.gather(*(broker.quote(SAMSUNG) for _ in range(6)))
        counts = broker.request_count
        assert counts.quote_requests == 6
        assert counts.rate_waits >= 2  # six requests at two per window span three windows

    run(scenario())


def test_the_limiter_keeps_every_window_within_the_limit_and_serves_in_order() -> None:
    async def scenario() -> tuple[list[int], list[float]]:
        limiter = RateLimiter(3, 0.05)
        order: list[int] = []
        stamps: list[float] = []

        async def request(n: int) -> None:
            stamps.append(await limiter.acquire())
            order.append(n)

        await asyncio.gather(*(request(n) for n in range(10)))
        return order, stamps

    order, stamps = run(scenario())
    assert order == list(range(10))
    assert all(later - earlier >= 0.05 for earlier, later in zip(stamps, stamps[3:], strict=False))


def test_balance_pages_count_as_requests() -> None:
    async def scenario() -> None:
        broker = manual_broker(limits=limits(balance_page_size=2))
        await broker.connect()
        snapshot = await broker.balance(DEMO)
        assert broker.request_count.trade_requests == -(-len(snapshot.rows) // 2)
        with pytest.raises(BrokerError) as refused:
            await broker.balance("0000000000")
        assert refused.value.code == "UNKNOWN_ACCOUNT"
        await broker.close()

    run(scenario())


def test_venue_refusals_become_order_refused_and_no_such_order() -> None:
    async def scenario() -> None:
        broker = manual_broker()
        await broker.connect()
        with pytest.raises(OrderRefused) as refused:
            await broker.place(OrderRequest(DEMO, Side.SELL, SAMSUNG, 10**6, 70_000))
        assert refused.value.code == "INSUFFICIENT_SELLABLE"
        with pytest.raises(NoSuchOrder):
            await broker.cancel(DEMO, "0000000999")
        with pytest.raises(NoSuchOrder):
            await broker.amend(DEMO, "0000000999", price=70_000)
        await broker.close()

    run(scenario())


def test_amend_and_cancel_return_new_order_numbers() -> None:
    async def scenario() -> list[OrderNotice]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        upper = (await broker.quote(SAMSUNG)).upper
        placed = await broker.place(OrderRequest(DEMO, Side.SELL, SAMSUNG, 5, upper))
        amended = await broker.amend(DEMO, placed.order_no, price=upper, qty=3)
        cancelled = await broker.cancel(DEMO, amended.order_no)
        assert len({placed.order_no, amended.order_no, cancelled.order_no}) == 3
        await broker.close()
        return events_of(await collect(stream), OrderNotice)

    notices = run(scenario())
    assert [(n.kind, n.qty) for n in notices] == [
        (NoticeKind.ACCEPTED, 5),
        (NoticeKind.CONFIRMED, 3),
        (NoticeKind.CONFIRMED, 3),
    ]


def test_the_demo_trader_makes_fills_appear_on_its_own() -> None:
    async def scenario() -> OrderNotice:
        broker = SimBroker(
            Venue(seed=3, clock=SimClock(DAY)), tick_interval=0.001, demo_trader=True
        )
        await broker.connect()

        async def first_fill() -> OrderNotice:
            async for item in broker.events():
                event = item.event if isinstance(item, Received) else None
                if isinstance(event, OrderNotice) and event.kind is NoticeKind.FILLED:
                    return event
            raise AssertionError("events ended before a fill")

        fill = await asyncio.wait_for(first_fill(), timeout=120)
        await broker.close()
        return fill

    assert run(scenario()).account == DEMO


def test_the_demo_trader_is_deterministic_under_its_seed() -> None:
    def history(seed: int) -> list[OrderNotice]:
        venue = Venue(seed=9, clock=SimClock(DAY))
        venue.open_demo_account()
        notices: list[OrderNotice] = []
        venue.add_notice_listener(notices.append)
        trader = DemoTrader(venue, DEMO, seed=seed)
        for n in range(400):
            venue.step()
            if n % 5 == 0:
                trader.act()
        kinds = {notice.kind for notice in notices}
        assert {NoticeKind.ACCEPTED, NoticeKind.FILLED, NoticeKind.CONFIRMED} <= kinds
        return notices

    assert history(1) == history(1)
    assert history(1) != history(2)


def test_the_balance_carries_the_days_orders_as_the_venue_knows_them() -> None:
    async def scenario() -> None:
        broker = manual_broker()
        await broker.connect()
        lower = (await broker.quote(SAMSUNG)).lower  # rests: nothing trades that low
        ack = await broker.place(OrderRequest(DEMO, Side.BUY, SAMSUNG, 1, lower))
        snapshot = await broker.balance(DEMO)
        await broker.close()
        assert snapshot == broker.venue.balance(DEMO)
        assert snapshot.orders is not None
        [order] = snapshot.orders
        assert (order.order_no, order.qty, order.filled, order.remaining) == (ack.order_no, 1, 0, 1)

    run(scenario())


def test_a_broker_on_a_state_path_continues_the_market_of_the_last_run(tmp_path: Path) -> None:
    path = tmp_path / "profile" / "sim-venue.sqlite"

    async def session(until_fills: int) -> tuple[BalanceSnapshot, list[str], list[OrderNotice]]:
        broker = SimBroker(
            seed=4, tick_interval=0.001, demo_trader=True, demo_period=0.005, state_path=path
        )
        await broker.connect()
        fills: list[OrderNotice] = []
        async for item in broker.events():
            event = item.event if isinstance(item, Received) else None
            if isinstance(event, OrderNotice) and event.kind is NoticeKind.FILLED:
                fills.append(event)
                if len(fills) == until_fills:
                    break
        await broker.close()
        assert broker.venue.closed  # the file is released with the broker
        reopened = Venue(state_path=path)
        try:
            saved = [f.fill_id for f in reopened.fills(DEMO)]
            return reopened.balance(DEMO), saved, fills
        finally:
            reopened.close()

    first, first_saved, first_fills = run(asyncio.wait_for(session(3), timeout=120))
    second, second_saved, second_fills = run(asyncio.wait_for(session(3), timeout=120))
    assert second.time >= first.time
    ids = [f.fill_id for f in first_fills + second_fills]
    assert len(set(ids)) == len(ids) == 6
    # The second run traded on the first one's market: its fills follow the first run's.
    assert second_saved[: len(first_saved)] == first_saved
    assert set(ids) <= set(second_saved)
    assert second_fills[0].time >= first_fills[-1].time


def test_an_unreadable_state_file_stops_the_broker_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "sim-venue.sqlite"
    path.write_text("not a market")
    with pytest.raises(StartupError) as caught:
        SimBroker(state_path=path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_text() == "not a market"
    with pytest.raises(ValueError, match="not both"):
        SimBroker(Venue(seed=1), state_path=path)


def test_a_venue_step_arrives_as_one_burst_and_its_fills_follow_it_in_order() -> None:
    async def scenario() -> tuple[list[list[Tick]], list[PushItem]]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        for instrument in broker.venue.instruments():
            await broker.subscribe(instrument.code)
        # A resting buy one tick below the price: some later step's tick fills it.
        price = broker.venue.quote(SAMSUNG).price
        bid = price - tick_size(price)
        await broker.place(OrderRequest(DEMO, Side.BUY, SAMSUNG, 1, bid))
        steps = [await asyncio.to_thread(broker.venue.step) for _ in range(300)]
        await broker.close()
        return steps, await collect(stream)

    steps, items = run(scenario())
    bursts = [i for i in items if isinstance(i, TickBurst)]
    # One burst per step, each holding exactly that step's ticks in the venue's order.
    assert [list(b.ticks) for b in bursts] == [s for s in steps if s]
    assert all(b.raws == () and b.source == "sim" for b in bursts)
    order = [
        i if isinstance(i, TickBurst) else i.event
        for i in items
        if isinstance(i, TickBurst | Received)
    ]
    fill = next(e for e in order if isinstance(e, OrderNotice) and e.kind is NoticeKind.FILLED)
    at = order.index(fill)
    before = order[at - 1]
    # The fill comes right after the burst of the step whose Samsung print crossed the bid.
    assert isinstance(before, TickBurst)
    assert any(t.code == SAMSUNG and not t.expected and t.price <= fill.price for t in before.ticks)
    assert all(isinstance(e, TickBurst) for e in order[1:at])  # only the accept before them


def test_a_burst_holds_only_the_subscribed_codes_in_the_venues_order() -> None:
    async def scenario() -> tuple[list[list[Tick]], list[PushItem], set[str]]:
        broker = manual_broker()
        await broker.connect()
        stream = broker.events()
        chosen = {i.code for i in broker.venue.instruments()[::3]}
        for code in chosen:
            await broker.subscribe(code)
        # Steps with and without fills (a resting buy at the price fills on some step).
        price = broker.venue.quote(SAMSUNG).price
        await broker.place(OrderRequest(DEMO, Side.BUY, SAMSUNG, 1, price))
        steps = [await asyncio.to_thread(broker.venue.step) for _ in range(200)]
        await broker.close()
        return steps, await collect(stream), chosen

    steps, items, chosen = run(scenario())
    expected = [[t for t in step if t.code in chosen] for step in steps]
    bursts = [list(i.ticks) for i in items if isinstance(i, TickBurst)]
    assert bursts == [ticks for ticks in expected if ticks]


def test_a_session_stopped_while_the_market_trades_ends_with_the_venues_own_book() -> None:
    """The market stops before the session stops listening, and what it made is applied: no
    fill lands in the venue that the book at the end has not heard of. A busy loop (bursts
    waiting in the queue at the stop) used to lose about one run in 30."""
    from jango.engine import Session

    for seed in range(30):
        venue = Venue(seed=seed)
        broker = SimBroker(venue, tick_interval=0.0005, demo_trader=True, demo_period=0.001)

        async def main(venue: Venue = venue, broker: SimBroker = broker) -> Session:
            async with Session(broker) as session:
                while len(venue.fills(venue.accounts()[0])) < 2:
                    await asyncio.sleep(0.002)
                for _ in range(5):
                    await asyncio.sleep(0.001)
                    time.sleep(0.003)  # the loop busy: the venue's bursts wait for it
            return session

        session = run(main())
        [account] = venue.accounts()
        truth = venue.balance(account)
        book = {r.key: (r.qty, r.purchase_amount) for r in session.book.rows(account) if r.qty}
        assert book == {r.key: (r.qty, r.purchase_amount) for r in truth.rows if r.qty}, seed
