"""Fill notices carry the order's cumulative filled quantity, counted by the adapter from a seed
read of the day's orders; against the sandbox on loopback."""

import asyncio
from pathlib import Path

from jango.brokers.port import ConnectionStatus, OrderRequest, PushItem, Received
from jango.domain.model import Code, NoticeKind, OrderNotice, OrderType, Side
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, Rig, rig

ACCOUNT = "5012345601"
STOCK = Code("005930")


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def one_share_per_match() -> Venue:
    # depth 1: every match fills one share; step_seconds 0: the clock stands still, so fills
    # repeat with the same quantity, price and second.
    return Venue(seed=9, depth_won=1, step_seconds=0.0)


def is_fill(item: PushItem) -> bool:
    return (
        isinstance(item, Received)
        and isinstance(item.event, OrderNotice)
        and item.event.kind is NoticeKind.FILLED
    )


async def next_fill(r: Rig) -> OrderNotice:
    item = await r.next_item(is_fill)
    assert isinstance(item, Received) and isinstance(item.event, OrderNotice)
    return item.event


def market_buy(qty: int) -> OrderRequest:
    return OrderRequest(ACCOUNT, Side.BUY, STOCK, qty, 0, order_type=OrderType.MARKET)


def test_same_content_fills_of_one_order_are_all_counted(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, venue=one_share_per_match()) as r:
            ack = await r.broker.place(market_buy(3))
            r.venue.step(0)
            r.venue.step(0)
            fills = [await next_fill(r) for _ in range(3)]
            assert {(f.order_no, f.qty, f.price, f.time) for f in fills} == {
                (ack.order_no, 1, fills[0].price, fills[0].time)
            }  # one content, three fills
            assert [f.filled_total for f in fills] == [1, 2, 3]

    run(scenario())


def test_a_new_process_counts_on_from_what_the_order_had_already_filled(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, venue=one_share_per_match(), connect=False) as r:
            order_no = r.venue.place(ACCOUNT, Side.BUY, STOCK, 5, order_type=OrderType.MARKET)
            r.venue.step(0)  # two shares filled before the adapter ever connects
            await r.broker.connect()
            r.venue.step(0)
            fill = await next_fill(r)
            assert (fill.order_no, fill.filled_total) == (order_no, 3)

    run(scenario())


def test_after_a_reconnect_the_count_includes_fills_missed_while_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, venue=one_share_per_match()) as r:
            ack = await r.broker.place(market_buy(6))
            assert (await next_fill(r)).filled_total == 1
            r.sandbox.set_faults(drop=True)
            await r.next_item(lambda i: isinstance(i, ConnectionStatus) and not i.connected)
            r.venue.step(0)  # filled while no session is open: this notice is never sent
            r.venue.step(0)
            await r.next_item(lambda i: isinstance(i, ConnectionStatus) and i.reconnected)
            r.venue.step(0)
            fill = await next_fill(r)
            assert (fill.order_no, fill.filled_total) == (ack.order_no, 4)
            (order,) = [o for o in r.venue.open_orders(ACCOUNT) if o.order_no == ack.order_no]
            assert order.filled == fill.filled_total

    run(scenario())


def test_an_amend_counts_its_own_fills_from_zero(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, venue=one_share_per_match()) as r:
            ack = await r.broker.place(market_buy(4))
            assert (await next_fill(r)).filled_total == 1
            amended = await r.broker.amend(ACCOUNT, ack.order_no, price=0, qty=2)
            r.venue.step(0)
            fill = await next_fill(r)
            assert (fill.order_no, fill.filled_total) == (amended.order_no, 1)

    run(scenario())


def test_a_failed_seed_leaves_counts_unknown_until_the_next_snapshot(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, venue=one_share_per_match(), connect=False) as r:
            order_no = r.venue.place(ACCOUNT, Side.BUY, STOCK, 5, order_type=OrderType.MARKET)
            # The seeding read (the first /uapi request) meets EGW00201 on every retry.
            r.sandbox.set_faults(rate_limited=FAST.rate_retries + 1)
            await r.broker.connect()
            r.venue.step(0)
            unknown = await next_fill(r)
            assert (unknown.order_no, unknown.filled_total) == (order_no, None)
            await r.broker.balance(ACCOUNT)  # its order read seeds the count
            r.venue.step(0)
            fill = await next_fill(r)
            assert (fill.order_no, fill.filled_total) == (order_no, 3)

    run(scenario())
