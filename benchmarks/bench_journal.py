"""Journal throughput per durability mode, and rebuild time with and without checkpoints.

Run: ``.venv/bin/python benchmarks/bench_journal.py [--events N]`` (default 1,000,000 for the
rebuild; the "every" mode, one fsync per event, is timed on a slice). Prints a markdown table.
The baseline of each group is the row marked 1.00×.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from jango.brokers.sim.demo import DemoTrader
from jango.domain.model import KST, Event, OrderNotice, Tick
from jango.journal import Journal
from jango.sandbox.venue import Venue

AT = datetime(2026, 3, 4, 9, 0, tzinfo=KST)


def stream(n: int) -> list[Event]:
    """``n`` events from a sim venue with a demo trader (mostly ticks, some notices)."""
    venue = Venue(seed=1)
    venue.open_demo_account()
    account = venue.accounts()[0]
    events: list[Event] = [venue.balance(account)]

    def keep(e: Tick | OrderNotice) -> None:
        events.append(e)

    venue.add_tick_listener(keep)
    venue.add_notice_listener(keep)
    trader = DemoTrader(venue, account, seed=1)
    while len(events) < n:
        trader.act()
        venue.step()
    return events[:n]


def record(path: Path, events: list[Event], **options: object) -> float:
    start = time.perf_counter()
    with Journal(path, **options) as journal:  # type: ignore[arg-type]
        for e in events:
            journal.record_event(e, raw="", source="sim", at=AT)
        journal.flush()
        elapsed = time.perf_counter() - start
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every-events", type=int, default=2_000)
    args = parser.parse_args()
    events = stream(args.events)
    notices = sum(isinstance(e, OrderNotice) for e in events)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        n_every = min(args.every_events, len(events))
        every = n_every / record(d / "every.sqlite", events[:n_every], durability="every")
        batch = len(events) / record(
            d / "batch.sqlite", events, durability="batch", checkpoint_every=50_000
        )
        j = Journal(d / "batch.sqlite")
        start = time.perf_counter()
        j.rebuild(use_checkpoints=False)
        full = time.perf_counter() - start
        full_read = j.last_rebuild.events_read
        start = time.perf_counter()
        j.rebuild()
        cp = time.perf_counter() - start
        cp_read = j.last_rebuild.events_read
        j.close()
    print(f"events: {len(events):,} ({notices:,} notices)\n")
    print("| measure | value | ratio |")
    print("|---|---|---|")
    print(f"| record, durability=every (fsync per event) | {every:,.0f} ev/s | 1.00× |")
    print(
        f"| record, durability=batch (50 ms group commit) | {batch:,.0f} ev/s | "
        f"{batch / every:,.1f}× |"
    )
    print(f"| rebuild, no checkpoints ({full_read:,} events read) | {full:.2f} s | 1.00× |")
    print(
        f"| rebuild, latest checkpoint ({cp_read:,} events read) | {cp:.3f} s | "
        f"{full / cp:,.0f}× faster |"
    )


if __name__ == "__main__":
    main()
