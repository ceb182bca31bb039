"""The journal at its default durability: throughput, event-loop stalls and memory over time.

Run: ``.venv/bin/python benchmarks/bench_journal.py [--events N] [--seconds S]``; with
``JANGO_LONG=1`` the memory run lasts an hour. Prints markdown tables for BENCHMARKS.md.

1. **Throughput, journaled vs not, in one run.** Sim events (a demo trader trading while prices
   move), mixed as one notice per ~50 ticks, applied on an asyncio loop in frames of 20 (as a
   WebSocket frame brings them), each frame's ticks as bursts split by its notices (what the
   engine's pump does): once to a bare Book, then to a Book while ``record_ticks`` and
   ``record_event`` journal them at the default durability ("window": notices fsync'd within
   20 ms, ticks batched), once with the writer thread and once with the writer process. Then
   the engine path: pre-made venue steps through the sim adapter's thread bridge into a
   ``Session``, unjournaled and with each writer. Then each writer fed at steady rates
   (``--rates``) for 5 s: ticks shed, the largest backlog, the loop's lag.
2. **Loop stall**: a callback re-scheduled with ``call_soon`` runs once per loop iteration; the
   gap between two runs is the longest anything (a frame's work, or waiting for the GIL the
   writer thread holds) kept the loop from going round. p99 and max of those gaps.
3. **Memory** at a steady 10,000 ticks/s (one notice per 50) for ``--seconds`` (an hour with
   ``JANGO_LONG=1``): resident set size sampled each second, and the journal's backlog.
4. Rebuild time with and without checkpoints, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import platform
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench_engine import build, saturated
from jango.brokers.sim.demo import DemoTrader
from jango.domain.book import Book
from jango.domain.model import KST, BalanceSnapshot, Event, OrderNotice, Tick
from jango.engine import Session
from jango.journal import Journal
from jango.journal.process import ProcessJournal
from jango.sandbox.venue import Venue

AT = datetime(2026, 3, 4, 9, 0, tzinfo=KST)
FRAME = 20
TICKS_PER_NOTICE = 50


def stream(n: int) -> list[Event]:
    """A snapshot, then ``n`` sim ticks and notices, one notice per ~50 ticks, in their order."""
    venue = Venue(seed=1)
    venue.open_demo_account()
    account = venue.accounts()[0]
    ticks: list[Tick] = []
    notices: list[OrderNotice] = []
    venue.add_tick_listener(ticks.append)
    venue.add_notice_listener(notices.append)
    trader = DemoTrader(venue, account, seed=1)
    want_notices = n // (TICKS_PER_NOTICE + 1)
    while len(ticks) < n - want_notices or len(notices) < want_notices:
        if len(notices) < want_notices:
            trader.act()
        venue.step()
    events: list[Event] = [venue.balance(account)]
    it = iter(notices[:want_notices])
    for i, tick in enumerate(ticks[: n - want_notices], start=1):
        events.append(tick)
        if i % TICKS_PER_NOTICE == 0:
            notice = next(it, None)
            if notice is not None:
                events.append(notice)
    return events


class Stalls:
    """Gaps between loop iterations, from a callback the loop runs once per iteration."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._running = False
        self._last = 0.0

    def start(self) -> None:
        self._running = True
        self._last = time.perf_counter()
        asyncio.get_running_loop().call_soon(self._beat)

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now
        if self._running:
            asyncio.get_running_loop().call_soon(self._beat)

    def stop(self) -> tuple[float, float]:
        """p99 and max gap in ms."""
        self._running = False
        gaps = sorted(self.gaps)
        return gaps[int(len(gaps) * 0.99)] * 1000, gaps[-1] * 1000


Item = list[Tick] | Event


def frames(events: list[Event], size: int = FRAME) -> list[list[Item]]:
    """Frames of ``size`` events as the engine gets them: in each, the runs of ticks as bursts
    (lists), every notice or snapshot on its own, in order."""
    out: list[list[Item]] = []
    for i in range(0, len(events), size):
        frame: list[Item] = []
        run: list[Tick] = []
        for event in events[i : i + size]:
            if type(event) is Tick:
                run.append(event)
                continue
            if run:
                frame.append(run)
                run = []
            frame.append(event)
        if run:
            frame.append(run)
        out.append(frame)
    return out


def handle(book: Book, journal: Journal | ProcessJournal | None, frame: list[Item]) -> None:
    """What the engine's pump does with a frame's items: journal each, then apply it."""
    for item in frame:
        if isinstance(item, list):
            if journal is not None:
                journal.record_ticks(item, raws=(), source="sim", at=AT)
            book.apply_ticks(item)
            continue
        if journal is not None:
            journal.record_event(item, raw="", source="sim", at=AT)
        book.apply(item)


async def apply_all(
    events: list[Event], journal: Journal | ProcessJournal | None
) -> tuple[float, float, float, float, float]:
    """Events/s the loop applied, events/s until the journal had written what it kept, p99 and
    max loop stall (ms), and CPU µs per event (this process's threads)."""
    book = Book()
    items = frames(events)
    stalls = Stalls()
    stalls.start()
    cpu = time.process_time()
    start = time.perf_counter()
    for frame in items:
        handle(book, journal, frame)
        await asyncio.sleep(0)
    applied = time.perf_counter() - start
    p99, worst = stalls.stop()  # before flush, which waits for the writer on purpose
    if journal is not None:
        journal.flush()  # what the loop handed over is all on disk before we stop the clock
    elapsed = time.perf_counter() - start
    cpu_us = (time.process_time() - cpu) / len(events) * 1e6
    return len(events) / applied, len(events) / elapsed, p99, worst, cpu_us


async def session_rate(
    codes: int, count: int, journal: Journal | ProcessJournal | None
) -> tuple[float, float]:
    """Ticks/s through the sim adapter's bridge into a Session: until the book had them all,
    and until the journal had also written what it kept."""
    venue, broker = build(codes)
    steps: list[list[Tick | OrderNotice]] = []
    made = 0
    while made < count:
        step: list[Tick | OrderNotice] = list(venue.step())
        steps.append(step)
        made += len(step)
    count = made
    async with Session(broker, recorder=journal) as s:
        start_ticks = s.stats.ticks

        def push() -> None:
            for step in steps:
                broker._on_burst(step)

        t0 = time.perf_counter()
        thread = threading.Thread(target=push)
        thread.start()
        while s.stats.ticks - start_ticks < count:
            await asyncio.sleep(0.001)
        applied = time.perf_counter() - t0
        if journal is not None:
            journal.flush()
        elapsed = time.perf_counter() - t0
        thread.join()
    return count / applied, count / elapsed


def rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Lateness:
    """How late each wake-up was, as counts per 10 µs (so an hour of samples takes no more
    memory than a second's: the memory run must not measure its own bookkeeping)."""

    STEP = 1e-5

    def __init__(self) -> None:
        self.counts: collections.Counter[int] = collections.Counter()
        self.n = 0

    def append(self, seconds: float) -> None:
        self.counts[max(0, int(seconds / self.STEP))] += 1
        self.n += 1

    def quantile(self, q: float) -> float:
        """The ``q`` quantile in seconds (to 10 µs); 1.0 gives the worst."""
        want, seen = min(self.n, int(self.n * q) + 1), 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= want:
                return bucket * self.STEP
        return 0.0


def lag_line(label: str, lateness: Lateness) -> str:
    p99, worst = lateness.quantile(0.99) * 1000, lateness.quantile(1.0) * 1000
    return f"| {label} | {p99:.2f} ms | {worst:.2f} ms |"


async def paced(
    journal: Journal | ProcessJournal | None,
    events: list[Event],
    rate: int,
    seconds: float,
    progress: bool = False,
    backlogs: list[int] | None = None,
) -> tuple[list[str], Lateness]:
    """Apply ``rate`` events/s (cycling ``events``) for ``seconds``.

    Returns the rows of a memory table and how late each 1 ms sleep of the loop woke.
    """
    book = Book()
    lateness = Lateness()
    body = [e for e in events if not isinstance(e, BalanceSnapshot)]
    book.apply(events[0])
    start = time.perf_counter()
    cpu = time.process_time()
    sent = 0
    samples: list[tuple[float, float, int, int, float]] = []
    next_sample = 0.0
    items = frames(body)
    sizes = [sum(len(i) if isinstance(i, list) else 1 for i in frame) for frame in items]
    at = 0
    while (now := time.perf_counter() - start) < seconds:
        due = int(now * rate)
        while sent < due:
            handle(book, journal, items[at])
            sent += sizes[at]
            at = (at + 1) % len(items)
        if now >= next_sample:
            backlog = shed = 0
            if journal is not None:
                health = journal.health
                backlog, shed = health.backlog, health.shed_ticks
            writer = journal._proc.pid if isinstance(journal, ProcessJournal) else None
            samples.append((now, rss_mib(), backlog, shed, rss_mib(writer) if writer else 0.0))
            if progress and len(samples) % 60 == 1:
                print(
                    f"  {now:,.0f} s: RSS {samples[-1][1]:.1f} MiB, writer process "
                    f"{samples[-1][4]:.1f} MiB, backlog {backlog:,}, shed {shed:,}",
                    flush=True,
                )
            next_sample += 1.0
        if backlogs is not None and journal is not None:
            backlogs.append(journal.health.backlog)
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lateness.append(time.perf_counter() - before - 0.001)
    if journal is not None:
        journal.flush()
    marks = sorted({0, 1, len(samples) // 4, len(samples) // 2, len(samples) - 1})
    rows = [
        f"| {samples[i][0]:,.0f} s | {samples[i][1]:,.1f} MiB | {samples[i][4]:,.1f} MiB | "
        f"{samples[i][2]:,} | {samples[i][3]:,} |"
        for i in marks
    ]
    cpu_us = (time.process_time() - cpu) / max(1, sent) * 1e6
    rows.append(f"\nevents sent: {sent:,}; CPU (all threads) {cpu_us:.2f} µs per event")
    rss = [s[1] for s in samples[len(samples) // 4 :]]
    writer = [s[4] for s in samples[len(samples) // 4 :]]
    if len(rss) > 1:
        rows.append(
            f"RSS after the first quarter: min {min(rss):.1f}, max {max(rss):.1f} MiB; "
            f"writer process min {min(writer):.1f}, max {max(writer):.1f} MiB"
        )
    return rows, lateness


WRITERS: dict[str, type[Journal] | type[ProcessJournal]] = {
    "journaled, writer thread": Journal,
    "journaled, writer process (the default)": ProcessJournal,
}


KINDS: dict[str, type[Journal] | type[ProcessJournal] | None] = {
    "unjournaled (baseline)": None,
    "journaled, writer thread": Journal,
    "journaled, writer process (the default)": ProcessJournal,
}


def throughput(
    events: list[Event], codes: int, session_ticks: int, live_seconds: float, reps: int, d: Path
) -> None:
    """Each path run ``reps`` times, the three kinds interleaved (so a slow minute of a shared
    machine hits all three alike); the tables give medians, and each ratio is of medians."""
    loop: dict[str, list[tuple[float, float, float, float, float, int]]] = {k: [] for k in KINDS}
    bridged: dict[str, list[tuple[float, float, int]]] = {k: [] for k in KINDS}
    live: dict[str, list[tuple[float, int]]] = {k: [] for k in KINDS}
    ticks = sum(type(e) is Tick for e in events)
    for rep in range(reps):
        for label, kind in KINDS.items():
            if kind is None:
                loop[label].append((*asyncio.run(apply_all(events, None)), 0))
                bridged[label].append((*asyncio.run(session_rate(codes, session_ticks, None)), 0))
                live[label].append((asyncio.run(saturated(codes, live_seconds, None))[0], 0))
                continue
            name = kind.__name__
            with kind(d / f"window-{name}-{rep}.sqlite") as journal:
                result = asyncio.run(apply_all(events, journal))
                assert journal.health.lost == 0, journal.health.message
                loop[label].append((*result, journal.health.shed_ticks))
            with kind(d / f"session-{name}-{rep}.sqlite") as journal:
                rate = asyncio.run(session_rate(codes, session_ticks, journal))
                bridged[label].append((*rate, journal.health.shed_ticks))
            with kind(d / f"live-{name}-{rep}.sqlite") as journal:
                rate = asyncio.run(saturated(codes, live_seconds, journal))[0]
                live[label].append((rate, journal.health.shed_ticks))
                assert journal.health.lost == 0, journal.health.message
    print(f"medians of {reps} runs each, the kinds interleaved\n")
    print(
        "| loop applying events in frames of 20 | events/s applied | vs unjournaled | "
        "events/s until written | CPU µs/event (this process) | stall p99 | stall max | "
        "ticks written | ticks shed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = statistics.median([r[0] for r in loop["unjournaled (baseline)"]])
    for label, runs in loop.items():
        rate = statistics.median([r[0] for r in runs])
        written = statistics.median([r[1] for r in runs])
        cpu = statistics.median([r[4] for r in runs])
        p99 = statistics.median([r[2] for r in runs])
        worst = max(r[3] for r in runs)
        shed = round(statistics.median([r[5] for r in runs]))
        journaled = KINDS[label] is not None
        print(
            f"| {label} | {rate:,.0f} | {rate / base:.2f}× | "
            f"{f'{written:,.0f}' if journaled else ''} | {cpu:.1f} | {p99:.2f} ms | "
            f"{worst:.2f} ms | {f'{ticks - shed:,}' if journaled else ''} | "
            f"{f'{shed:,}' if journaled else ''} |"
        )
    rate_table(
        "pre-made venue steps: sim adapter bridge → Session → Book",
        {label: [(r[0], r[2]) for r in runs] for label, runs in bridged.items()},
    )
    rate_table("the live sim, saturated: venue thread → adapter → Session → Book", live)
    print()


def rate_table(title: str, runs: dict[str, list[tuple[float, int]]]) -> None:
    """Ticks/s applied (median and range) and ticks shed, per kind, against the baseline."""
    print(f"\n| {title} | ticks/s applied | vs unjournaled | range over runs | ticks shed |")
    print("|---|---:|---:|---:|---:|")
    base = statistics.median([rate for rate, _ in runs["unjournaled (baseline)"]])
    for label, kind_runs in runs.items():
        rates = [rate for rate, _ in kind_runs]
        rate = statistics.median(rates)
        shed = round(statistics.median([shed for _, shed in kind_runs]))
        print(
            f"| {label} | {rate:,.0f} | {rate / base:.2f}× | {min(rates):,.0f}–{max(rates):,.0f} | "
            f"{f'{shed:,}' if KINDS[label] is not None else ''} |"
        )


def sustained(events: list[Event], d: Path, rates: list[int]) -> None:
    """Each writer fed at a steady rate for 5 s: does it write every tick, how far behind does it
    get, and how late does the loop wake."""
    print("| events/s offered | writer | ticks shed | largest backlog (rows) | loop lag p99 |")
    print("|---:|---|---:|---:|---:|")
    for rate in rates:
        for label, kind in WRITERS.items():
            with kind(d / f"sustained-{rate}-{kind.__name__}.sqlite") as journal:
                backlog: list[int] = []
                _, lag = asyncio.run(paced(journal, events, rate, 5.0, backlogs=backlog))
                shed = journal.health.shed_ticks
            name = label.removeprefix("journaled, ")
            print(
                f"| {rate:,} | {name} | {shed:,} | {max(backlog, default=0):,} | "
                f"{lag.quantile(0.99) * 1000:.2f} ms |"
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--session-ticks", type=int, default=100_000)
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5, help="runs of each throughput case")
    parser.add_argument(
        "--live-seconds", type=float, default=3.0, help="length of each live sim run"
    )
    parser.add_argument(
        "--memory-only", action="store_true", help="only the steady-rate memory run"
    )
    parser.add_argument(
        "--rates", default="20000,50000,80000", help="sustained rates (events/s), 5 s each"
    )
    parser.add_argument("--paced-only", action="store_true", help="stop after the steady run")
    parser.add_argument(
        "--seconds", type=float, default=3600.0 if os.environ.get("JANGO_LONG") == "1" else 20.0
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    events = stream(args.events)
    notices = sum(isinstance(e, OrderNotice) for e in events)
    print(f"events: {len(events):,} ({notices:,} notices)\n")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.memory_only:
            with ProcessJournal(d / "paced.sqlite") as journal:
                rows, lag = asyncio.run(
                    paced(journal, events, args.rate, args.seconds, progress=True)
                )
            print(f"\nmemory, journaled at {args.rate:,} events/s for {args.seconds:,.0f} s:\n")
            print("| time | RSS | writer process RSS | journal backlog | shed ticks |")
            print("|---:|---:|---:|---:|---:|")
            print("\n".join(rows))
            print(lag_line("journaled loop lag", lag))
            return
        if not args.paced_only:
            throughput(events, args.codes, args.session_ticks, args.live_seconds, args.reps, d)
            sustained(events, d, [int(r) for r in args.rates.split(",")])
        lag_seconds = min(args.seconds, 20.0)
        bare_rows, bare_lag = asyncio.run(paced(None, events, args.rate, lag_seconds))
        print(f"loop lag at a steady {args.rate:,} events/s (how late a 1 ms sleep woke):\n")
        print("| run | p99 | max |")
        print("|---|---:|---:|")
        print(lag_line(f"unjournaled, {lag_seconds:,.0f} s (baseline)", bare_lag))
        summaries = [f"unjournaled: {next(r for r in bare_rows if 'events sent' in r).strip()}"]
        for label, kind in WRITERS.items():
            with kind(d / f"paced-{kind.__name__}.sqlite") as journal:
                rows, lag = asyncio.run(paced(journal, events, args.rate, args.seconds))
                health = journal.health
            print(lag_line(f"{label}, {args.seconds:,.0f} s", lag))
            sent = next(r for r in rows if "events sent" in r).strip()
            summaries.append(f"{label}: {sent}; {health.message}, shed {health.shed_ticks:,}")
        print("\n" + "\n".join(summaries))
        if args.paced_only:
            return
        print(f"\nmemory, journaled at {args.rate:,} events/s for {args.seconds:,.0f} s:\n")
        print("| time | RSS | writer process RSS | journal backlog | shed ticks |")
        print("|---:|---:|---:|---:|---:|")
        for row in rows:
            print(row)

        with Journal(d / "rebuild.sqlite", durability="batch", checkpoint_every=50_000) as j:
            for e in events:
                j.record_event(e, raw="", source="sim", at=AT)
        j = Journal(d / "rebuild.sqlite")
        t0 = time.perf_counter()
        j.rebuild(use_checkpoints=False)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        j.rebuild()
        cp = time.perf_counter() - t0
        j.close()
        print(
            f"\nrebuild of {len(events):,} events: {full:.2f} s from scratch, {cp:.3f} s from "
            f"the latest checkpoint ({full / cp:,.0f}× faster)"
        )


if __name__ == "__main__":
    main()
