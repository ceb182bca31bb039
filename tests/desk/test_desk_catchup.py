"""A hub catching up on a backlog already in the stream (the hub back after time offline)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

import nats

from jango.desk import wire
from jango.desk.connect import nats_options
from jango.desk.hub import HubBroker, desk_totals
from jango.domain.model import KST, BalanceRow, BalanceSnapshot, Cash, Code, Tick
from jango.journal.store import tick_body
from jango.recorded import dump_line
from tests.desk.harness import NatsServer, eventually, needs_nats

pytestmark = needs_nats

BACKLOG = 100_000 if os.environ.get("JANGO_LONG") == "1" else 20_000
CODES = [Code("005930"), Code("000660"), Code("035420")]
AT = datetime(2026, 3, 4, 9, 0, tzinfo=KST)


def rows() -> list[wire.WireEvent]:
    """One agent's journal: a balance with three holdings, then ticks."""
    snap = BalanceSnapshot(
        "5012345601",
        tuple(BalanceRow("5012345601", c, 10, 10, 700_000) for c in CODES),
        Cash(1_000_000, 1_000_000),
        AT,
        orders=(),
    )
    at = AT.isoformat()
    out = [
        wire.WireEvent("x1", 1, 0, "snapshot", at, "sim", snap.account, "", "", dump_line(snap), "")
    ]
    for seq in range(2, BACKLOG + 1):
        tick = Tick(CODES[seq % 3], 70_000 + seq % 50 * 100, 0, seq, AT)
        out.append(
            wire.WireEvent(
                "x1", seq, seq - 1, "tick", at, "sim", "", tick.code, "", tick_body(tick), ""
            )
        )
    return out


async def publish(url: str, events: list[wire.WireEvent]) -> None:
    """The backlog, published with nats-py alone as an agent would (ids, acks).

    Each chunk's acks are awaited with a deadline and the chunk sent again if they do not all
    come (the ids make a resend a no-op for what was stored): an ack that never arrives would
    otherwise hold nats-py's pending-ack semaphore, and this test, for ever (seen once in CI).
    """
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=wire.STREAM, subjects=[wire.EVENT_SUBJECTS])
    for i in range(0, len(events), 2000):
        chunk = events[i : i + 2000]
        for _ in range(3):
            futures = [
                await js.publish_async(
                    e.subject, e.encode(), wait_stall=30, headers={"Nats-Msg-Id": e.id}
                )
                for e in chunk
            ]
            try:
                await asyncio.wait_for(asyncio.gather(*futures), 30)
                break
            except TimeoutError:
                for future in futures:
                    future.cancel()  # gives its slot in the pending-ack semaphore back
        else:
            raise AssertionError(f"JetStream did not acknowledge events {i + 1}–{i + len(chunk)}")
    await nc.close()


async def test_a_hub_catches_up_on_a_backlog_in_order(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    server.start()
    try:
        events = rows()
        await publish(server.url, events)
        hub = HubBroker(nats_options(server.url, env={}), tmp_path / "hub.sqlite")
        hub.load()
        await hub.connect()

        async def read() -> None:
            async for _ in hub.events():
                pass  # each row is applied to the hub's book as it is handed on

        reader = asyncio.create_task(read())
        try:
            await eventually(lambda: hub._applied_n == BACKLOG, 120, "the backlog")
        finally:
            reader.cancel()
            await hub.close()
    finally:
        server.stop()

    assert hub.agents["x1"].applied_seq == BACKLOG and hub.agents["x1"].events == BACKLOG
    last = {e.code: e for e in events if e.kind == "tick"}
    for code, e in last.items():
        assert hub.book.last_price(Code(code)) == 70_000 + e.seq % 50 * 100
    account = wire.qualify("x1", "5012345601")
    totals = desk_totals(hub.book)
    assert totals["accounts"][account]["purchase_amount"] == 3 * 700_000
    assert totals["accounts"][account]["value"] == sum(10 * hub.book.last_price(c) for c in CODES)
