"""The KIS WebSocket reader runs under the session's supervisor: a death is shown, journaled,
and restarted, and the restarted reader still delivers fills.

The fault is real: the sandbox drops every socket, forgets every approval key and fails the
approval service, so the reconnect's replay of registrations cannot renew its key and the
reader dies of it (before supervision, that death was silent and the stream stopped for good).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from jango.brokers.kis import KisBroker
from jango.brokers.kis.realtime import TASK_NAME
from jango.brokers.port import OrderRequest
from jango.domain.model import Discrepancy, Event, NoticeKind, OrderNotice, Side
from jango.engine import Session
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from jango.supervisor import Backoff
from tests.kis.helpers import FAST, config_for

ACCOUNT = "5012345601"
RESTARTS = Backoff(initial=0.01, factor=2.0, maximum=0.05, attempts=200, healthy_after=0.3)
WAIT = 20.0  # a safety net on every wait, never a measurement


class Capture:
    """A recorder keeping what the session journaled."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.errors: list[tuple[str, str]] = []  # (source, error)

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None:
        self.events.append(event)

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        self.errors.append((source, error))

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        pass


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def test_a_dead_reader_is_shown_journaled_restarted_and_a_later_fill_arrives(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        capture = Capture()
        venue = Venue(seed=31, depth_won=10**12)
        sandbox = KisSandbox(venue, tick_interval=0.02)
        await sandbox.start()
        broker = KisBroker(config_for(sandbox, tmp_path / "token.json"), tuning=FAST)
        session = Session(broker, recorder=capture, poll_interval=0.1, restart=RESTARTS)
        key = sandbox.credentials.app_key
        try:
            async with session:
                assert not session.status.degraded
                sandbox.set_faults(approval_down=True, forget_approvals=True, drop=True)
                await until(
                    lambda: any(p.task == TASK_NAME for p in session.supervisor.incidents),
                    "the reader to die",
                )
                assert session.status.degraded
                (shown,) = [p for p in session.status.problems if p.task == TASK_NAME]
                assert "EGW00002" in shown.error and not shown.permanent

                sandbox.set_faults(approval_down=False)
                await until(lambda: not session.status.degraded, "the reader to recover")
                assert sandbox.sessions == 1 and len(sandbox.registrations()) >= 1
                # Every restart opened a session of its own, and never beside a leftover one.
                counts = sandbox.app_key_sessions()[key]
                assert counts.opened >= 2 and counts.live == 1 and counts.refused == 0

                new = next(
                    i.code for i in venue.instruments() if i.code not in session.book.held_codes()
                )
                quote = await broker.quote(new)
                ack = await session.place(OrderRequest(ACCOUNT, Side.BUY, new, 3, quote.upper))
                await until(
                    lambda: any(
                        isinstance(e, OrderNotice)
                        and e.kind is NoticeKind.FILLED
                        and e.order_no == ack.order_no
                        for e in capture.events
                    ),
                    "the fill notice to arrive on the restarted reader",
                )
                await session.wait_for(
                    lambda book: any(r.key.code == new and r.qty == 3 for r in book.rows()), WAIT
                )
            assert await session.stop() == ()
        finally:
            await broker.close()
            await sandbox.stop()
        deaths = [error for source, error in capture.errors if source == f"jango:{TASK_NAME}"]
        assert deaths and all("EGW00002" in error for error in deaths)

    asyncio.run(scenario())
