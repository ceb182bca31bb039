"""Memory of a session whose ``changes()`` reader never reads, at a steady tick rate.

The venue is stepped from a thread at ``--rate`` ticks/s over ``--codes`` held codes (every tick
reaches the book). One ``session.changes()`` stream is made and never read: its pending change
sets are merged into one, so the process's resident memory should stay flat. A web hub with one
client that never reads is attached too (its pending rows are a set, bounded by the book).
Baseline, in the
same process and run: a fresh session whose never-reading consumer gets every change set in a
plain ``asyncio.Queue`` (what ``changes()`` did before), for a shorter time.

Run: ``python benchmarks/bench_memory.py [--codes 1000] [--rate 10000] [--seconds 60]``;
``JANGO_LONG=1`` makes the merged phase one hour.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import threading
import time
from dataclasses import dataclass

from bench_engine import build
from jango.domain.book import Changes
from jango.engine import Session
from jango.views.web.hub import Hub


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class Sample:
    seconds: float
    ticks: int
    rss: float
    pending: int  # keys held for the never-reading consumer (merged) or change sets (baseline)
    backlog: int  # items the sim adapter has handed over that the engine has not applied yet
    web: int  # rows pending for the web client that never reads


def drive(venue_step: object, codes: int, rate: int, stop: threading.Event) -> None:
    assert callable(venue_step)
    interval = codes / rate
    next_at = time.perf_counter()
    while not stop.is_set():
        venue_step(codes)
        next_at += interval
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


async def phase(codes: int, rate: int, seconds: float, samples: int, merged: bool) -> list[Sample]:
    venue, broker = build(codes)
    out: list[Sample] = []
    async with Session(broker) as session:
        unbounded: asyncio.Queue[Changes] = asyncio.Queue()
        stream = session.changes()
        hub = Hub(session)
        if merged:
            hub.start()
            client = hub.join()
            hub.snapshot(client)
        else:
            await stream.aclose()
            session.on_change(unbounded.put_nowait)
        stop = threading.Event()
        thread = threading.Thread(target=drive, args=(venue.step, codes, rate, stop))
        gc.collect()
        start = time.perf_counter()
        thread.start()
        try:
            for n in range(samples + 1):
                await asyncio.sleep(max(0.0, start + n * seconds / samples - time.perf_counter()))
                backlog = broker._queue.qsize() if broker._queue is not None else 0
                pending = stream.queue.size if merged else unbounded.qsize()
                web = len(client.rows) if merged else 0
                elapsed = time.perf_counter() - start
                out.append(Sample(elapsed, session.stats.ticks, rss_mib(), pending, backlog, web))
        finally:
            stop.set()
            thread.join()
        if merged:
            assert len(stream.queue) == 1  # one merged change set waited the whole time
            await hub.stop()
    return out


def report(title: str, samples: list[Sample]) -> None:
    print(f"\n{title}\n")
    print("| elapsed s | ticks applied | ticks/s | RSS MiB | pending | web client rows | backlog |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s in samples:
        rate = s.ticks / s.seconds if s.seconds > 0 else 0.0
        print(
            f"| {s.seconds:,.0f} | {s.ticks:,} | {rate:,.0f} | {s.rss:,.1f} | {s.pending:,} | "
            f"{s.web:,} | {s.backlog:,} |"
        )
    first, last = samples[1], samples[-1]
    ticks = max(1, last.ticks - first.ticks)
    growth = last.rss - first.rss
    print(
        f"\nRSS {first.rss:,.1f} → {last.rss:,.1f} MiB over {ticks:,} ticks after the first "
        f"sample: {growth * 2**20 / ticks:,.1f} bytes per tick"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=10_000)
    long = os.environ.get("JANGO_LONG") == "1"
    parser.add_argument("--seconds", type=float, default=3600.0 if long else 60.0)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    print(f"{args.codes:,} held codes, {args.rate:,} ticks/s, one never-reading consumer")
    merged = asyncio.run(phase(args.codes, args.rate, args.seconds, 12, merged=True))
    report(f"session.changes(), never read, {args.seconds:,.0f} s", merged)
    base = asyncio.run(phase(args.codes, args.rate, args.baseline_seconds, 4, merged=False))
    report(f"baseline: every change set in an asyncio.Queue, {args.baseline_seconds:,.0f} s", base)


if __name__ == "__main__":
    main()
