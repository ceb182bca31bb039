"""A jango process to be killed: a sim session journaling in "every" mode while a demo trades.

Usage: ``python -m tests.journal.kill_driver JOURNAL SEED``. Each journal row's ``seq`` is printed
(and flushed) on its own line as soon as the journal acknowledged it, i.e. after ``record_*``
returned. It runs until killed. Each start resumes from the journal (rebuild, then reconcile).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from jango.brokers.port import BrokerLimits
from jango.brokers.sim.broker import SimBroker
from jango.brokers.sim.demo import DemoTrader
from jango.domain.model import Discrepancy, Event
from jango.engine import Recorder
from jango.journal import Journal
from jango.journal.restart import open_session_with_journal
from jango.sandbox.venue import Venue

LIMITS = BrokerLimits(200, 50, 10_000, 10_000, 1.0, 50)


class Acks:
    """Passes every call on, then prints the seqs the journal acknowledged during it."""

    def __init__(self, inner: Recorder, journal: Journal) -> None:
        self.inner, self.journal = inner, journal

    def _acked(self, before: int) -> None:
        for seq in range(before + 1, self.journal.last_seq + 1):
            sys.stdout.write(f"{seq}\n")
        sys.stdout.flush()

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None:
        before = self.journal.last_seq
        self.inner.record_event(event, raw=raw, source=source, at=at)
        self._acked(before)

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        before = self.journal.last_seq
        self.inner.record_error(raw=raw, error=error, source=source, at=at)
        self._acked(before)

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        before = self.journal.last_seq
        self.inner.record_discrepancies(found)
        self._acked(before)


async def main(path: Path, seed: int) -> None:
    venue = Venue(seed=seed)
    venue.open_demo_account()
    broker = SimBroker(venue, tick_interval=0.002, limits=LIMITS)
    journal = Journal(path, durability="every", checkpoint_every=40)
    session = open_session_with_journal(broker, journal)
    assert session.recorder is not None
    session.recorder = Acks(session.recorder, journal)
    trader = DemoTrader(venue, venue.accounts()[0], seed=seed)
    async with session:
        while True:
            await asyncio.to_thread(trader.act)
            await asyncio.sleep(0.002)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
