"""Orders placed at the hub: routed to the owning agent over NATS, answered with its broker's
reply, and failing at once when that agent is not running."""

from __future__ import annotations

from pathlib import Path

import pytest

from jango.brokers.port import Disconnected, NoSuchOrder, OrderRequest
from jango.desk import wire
from jango.desk.cli import HUB_INBOX
from jango.desk.connect import nats_options
from jango.desk.session import hub_session
from jango.domain.book import OrderStatus
from jango.domain.model import Code, NoticeKind, OrderType, Side
from jango.journal.store import read_entries
from jango.sandbox.venue import DEMO_ACCOUNT
from tests.desk.harness import Desk, NatsServer, needs_nats

pytestmark = needs_nats

A1, A2 = wire.qualify("a1", DEMO_ACCOUNT), wire.qualify("a2", DEMO_ACCOUNT)


async def test_an_order_at_the_hub_fills_at_its_agent_and_a_stopped_agent_fails_at_once(
    tmp_path: Path,
) -> None:
    server = NatsServer(tmp_path)
    server.start()
    desk = Desk(tmp_path, server)
    try:
        desk.agent("a1", "--seed", "1", "--no-demo")
        desk.agent("a2", "--seed", "2", "--no-demo")
        options = nats_options(server.url, inbox=HUB_INBOX, env={})
        session, hub = hub_session({}, options, tmp_path / "hub.sqlite", ack_wait=1.5)
        async with session:
            await session.wait_for(lambda b: {A1, A2} <= set(b.accounts), timeout=30)

            buy = OrderRequest(A1, Side.BUY, Code("005930"), 3, order_type=OrderType.MARKET)
            ack = await session.place(buy)
            agent, local = wire.unqualify(ack.order_no)
            assert agent == "a1"

            def filled(book: object) -> bool:
                order = session.book.orders.get(ack.order_no)
                return order is not None and order.status is OrderStatus.FILLED

            # The agent's fill notice comes back through the stream into the hub's book.
            await session.wait_for(filled, timeout=30)
            assert session.book.orders[ack.order_no].account == A1

            # The broker's refusal comes back as the broker's error, naming the agent.
            with pytest.raises(NoSuchOrder, match="agent a1"):
                await session.cancel(A1, wire.qualify("a1", "9999999"))

            desk.stop("a2")
            with pytest.raises(Disconnected, match="agent a2 is not running"):
                await session.place(
                    OrderRequest(A2, Side.BUY, Code("005930"), 1, order_type=OrderType.MARKET)
                )
            await session.wait_for(lambda b: "desk a2" in session.supervisor.problems, 15)
            a2 = next(a for a in hub.status()["agents"] if a["agent"] == "a2")
            assert a2["state"] == "down"
        desk.stop("a1")
    finally:
        desk.close()
        server.stop()

    at_agent = [
        e
        for e in read_entries(desk.journal("a1"), kinds=("notice",), order_no=local)
        if e.event().kind is NoticeKind.FILLED  # type: ignore[union-attr]
    ]
    assert sum(e.event().qty for e in at_agent) == 3  # type: ignore[union-attr]
