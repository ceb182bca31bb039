"""The engine on the sim with 1,000 held codes: how many ticks per second go adapter → engine →
book, and how long from a tick's creation to the book showing it?

Baseline, in the same process: the bare Book applying the same number of ticks (no adapter, no
queue, no loop). Two phases: saturated (the venue steps as fast as it can from a thread) for
throughput, then paced at a steady rate for latency (median and p99).

Since the venue hands each step over as one burst, the paced phase runs twice: steps of
``--burst`` ticks (20, what a KIS frame carries) and steps of every code.

Run: ``python benchmarks/bench_engine.py [--codes 1000] [--seconds 5] [--rate 10000] [--burst 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import threading
import time

from jango.brokers.port import BrokerLimits
from jango.brokers.sim.broker import SimBroker
from jango.domain.book import Book
from jango.domain.model import BalanceRow, OrderNotice, Tick
from jango.engine import Recorder, Session
from jango.sandbox.instruments import synthetic_instruments
from jango.sandbox.venue import Venue
from latency import median_p99_ms, tick_to_book_latencies

ACC = "5012345601"


def build(codes: int) -> tuple[Venue, SimBroker]:
    specs = synthetic_instruments(codes, seed=1)
    venue = Venue(specs, seed=1, codes_per_step=codes)
    venue.open_account(
        ACC,
        cash=10**10,
        holdings=[BalanceRow(ACC, s.code, 10, 10, 10 * s.base_price) for s in specs],
    )
    limits = BrokerLimits(
        subscription_capacity=codes,
        quote_batch=200,
        quote_requests=10**6,
        trade_requests=10**6,
        window_seconds=1.0,
        balance_page_size=50,
    )
    return venue, SimBroker(venue, tick_interval=0.0, limits=limits)


async def saturated(
    codes: int, seconds: float, recorder: Recorder | None = None
) -> tuple[float, int, float, float]:
    """Ticks/s into the book, ticks produced, and CPU µs a tick of the venue's thread (step
    and adapter) and of the loop's (engine and book): on a shared machine the two threads may
    get less than a core between them, which the CPU split shows apart from the wall clock.
    ``recorder`` journals the session (``bench_journal`` runs it with each writer)."""
    venue, broker = build(codes)
    async with Session(broker, recorder=recorder) as s:
        start_ticks = s.stats.ticks
        stop = threading.Event()
        produced = [0]
        venue_cpu = [0.0]

        def drive() -> None:
            t0 = time.thread_time()
            while not stop.is_set():
                produced[0] += len(venue.step())
                time.sleep(0)  # let the loop thread in
            venue_cpu[0] = time.thread_time() - t0

        thread = threading.Thread(target=drive)
        t0 = time.perf_counter()
        loop_t0 = time.thread_time()
        thread.start()
        await asyncio.sleep(seconds)
        stop.set()
        thread.join()
        loop_cpu = time.thread_time() - loop_t0
        applied = s.stats.ticks - start_ticks
        elapsed = time.perf_counter() - t0
    per = 1e6 / max(applied, 1)
    return applied / elapsed, produced[0], venue_cpu[0] * per, loop_cpu * per


async def bridged(codes: int, count: int) -> float:
    """Pre-made venue steps pushed through the adapter's thread bridge (one hand-over per step,
    as the venue makes them), so the venue is not the limit."""
    venue, broker = build(codes)
    steps: list[list[Tick | OrderNotice]] = []
    made = 0
    while made < count:
        step: list[Tick | OrderNotice] = list(venue.step())
        steps.append(step)
        made += len(step)
    async with Session(broker) as s:
        start = s.stats.ticks

        def push() -> None:
            for step in steps:
                broker._on_burst(step)

        t0 = time.perf_counter()
        thread = threading.Thread(target=push)
        thread.start()
        while s.stats.ticks - start < made:
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - t0
        thread.join()
    return made / elapsed


async def paced(codes: int, seconds: float, rate: int, burst: int) -> list[float]:
    venue, broker = build(codes)
    async with Session(broker) as s:
        return await tick_to_book_latencies(
            venue, s, codes_per_step=burst, rate=rate, seconds=seconds
        )


def bare_book(codes: int, count: int) -> float:
    venue, _ = build(codes)
    ticks: list[Tick] = []
    while len(ticks) < count:
        ticks.extend(venue.step())
    book = Book()
    book.apply(venue.balance(ACC))
    t0 = time.perf_counter()
    for t in ticks[:count]:
        book.apply_tick(t)
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument(
        "--burst", type=int, default=20, help="ticks per venue step when paced (a KIS frame's 20)"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, "
        f"{args.codes:,} held codes"
    )
    engine_rate, produced, venue_us, loop_us = asyncio.run(saturated(args.codes, args.seconds))
    book_rate = bare_book(args.codes, 200_000)
    print()
    print("| path | ticks/s | vs bare Book |")
    print("|---|---:|---:|")
    print(f"| bare Book.apply_tick (baseline) | {book_rate:,.0f} | 1.00x |")
    print(
        f"| venue → sim adapter → engine → book (saturated) | {engine_rate:,.0f} | "
        f"{engine_rate / book_rate:.3f}x |"
    )
    bridge_rate = asyncio.run(bridged(args.codes, 200_000))
    print(
        f"| pre-made ticks → adapter bridge → engine → book | {bridge_rate:,.0f} | "
        f"{bridge_rate / book_rate:.3f}x |"
    )
    print(f"\nthe venue produced {produced:,} ticks in the saturated phase")
    print(
        f"CPU a tick: venue thread (step + adapter) {venue_us:.2f} µs, "
        f"loop thread (engine + book) {loop_us:.2f} µs"
    )
    print(f"\nlatency at a steady {args.rate:,} ticks/s, creation in the venue to the book:")
    print("\n| ticks per venue step | ticks timed | median ms | p99 ms |")
    print("|---:|---:|---:|---:|")
    for burst in sorted({args.burst, args.codes}):
        lat = asyncio.run(paced(args.codes, args.seconds, args.rate, burst))
        if lat:
            p50, p99 = median_p99_ms(lat)
            print(f"| {burst:,} | {len(lat):,} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
