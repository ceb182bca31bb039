"""KIS: how fast do batched H0STCNT0 frames go from the wire into the book, and how long from
the sandbox sending a tick to the book showing it?

Phase 1, in process: pre-built frames of 20 records each (as the sandbox batches them) through the
adapter's parser (``parse_frame`` + ``parse_ticks``) into ``Book.apply_tick``, against the bare
Book applying the same ticks (the baseline).

Phase 2, over real sockets on loopback: the KIS sandbox and the engine's session on the KIS
adapter; the venue is stepped from a thread at a steady rate across the 40 codes the adapter can
subscribe (KIS allows 41 registrations: 40 ticks + the notice channel). Latency runs from the
tick's creation in the venue (the sandbox frames it on the next loop turn) to the book showing
it. Sandbox and adapter share one process and one event loop here, so the server's own work is
inside the measurement: read the numbers as an upper bound.

Run: ``python benchmarks/bench_kis.py [--ticks 200000] [--rate 10000] [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jango.brokers.kis import KisBroker, wire
from jango.brokers.kis.config import KisConfig
from jango.brokers.kis.wire import DataFrame, parse_frame, parse_ticks
from jango.domain.book import Book
from jango.domain.model import BalanceRow, Tick
from jango.engine import Session
from jango.sandbox.instruments import synthetic_instruments
from jango.sandbox.kis import KisSandbox, frames
from jango.sandbox.venue import Venue
from latency import median_p99_ms, tick_to_book_latencies

ACC = "5012345601"
CODES = 40
BATCH = 20


def venue_with_holdings(seed: int = 1) -> Venue:
    specs = synthetic_instruments(CODES, seed=seed)
    venue = Venue(specs, seed=seed, codes_per_step=CODES)
    venue.open_account(
        ACC,
        cash=10**10,
        holdings=[BalanceRow(ACC, s.code, 10, 10, 10 * s.base_price) for s in specs],
    )
    return venue


def sandbox_config(sandbox: KisSandbox, token_cache: Path) -> KisConfig:
    """The adapter's configuration for the sandbox's first user and account."""
    user = sandbox.credentials
    return KisConfig(
        app_key=user.app_key,
        app_secret=user.app_secret,
        account=user.accounts[0],
        hts_id=user.hts_id,
        mode=sandbox.mode,
        rest_url=sandbox.rest_url,
        ws_url=sandbox.ws_url,
        token_cache=token_cache,
    )


def parser_cost(count: int) -> tuple[float, float, float]:
    """µs per record: the bare split (the floor), ``parse_ticks``, and every record through the
    strict checks alone (what the parser did before it had a fast path), best of three."""
    venue = venue_with_holdings()
    ticks: list[Tick] = []
    while len(ticks) < count:
        ticks.extend(venue.step())
    payloads = [
        "^".join(frames.tick_record(t, t.price - t.diff) for t in ticks[i : i + BATCH])
        for i in range(0, count - BATCH + 1, BATCH)
    ]
    records = len(payloads) * BATCH
    today = ticks[0].time.date()

    def split() -> None:
        for payload in payloads:
            payload.split("^")

    def fast() -> None:
        for payload in payloads:
            parse_ticks(payload, BATCH, today=today)

    def strict() -> None:
        for payload in payloads:
            fields = payload.split("^")
            width = len(fields) // BATCH
            for i in range(BATCH):
                wire._checked_tick(fields[i * width : (i + 1) * width], today)

    def best(fn: Callable[[], None]) -> float:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return min(runs) / records * 1e6

    return best(split), best(fast), best(strict)


def parser_phase(count: int) -> tuple[float, float]:
    venue = venue_with_holdings()
    ticks: list[Tick] = []
    venue.add_tick_listener(ticks.append)
    while len(ticks) < count:
        venue.step()
    ticks = ticks[:count]
    texts = [
        frames.tick_frame([frames.tick_record(t, t.price - t.diff) for t in ticks[i : i + BATCH]])
        for i in range(0, count, BATCH)
    ]
    today = ticks[0].time.date()

    bare = Book()
    bare.apply(venue.balance(ACC))
    t0 = time.perf_counter()
    for t in ticks:
        bare.apply_tick(t)
    bare_rate = count / (time.perf_counter() - t0)

    book = Book()
    book.apply(venue.balance(ACC))
    t0 = time.perf_counter()
    for text in texts:
        frame = parse_frame(text)
        assert isinstance(frame, DataFrame)
        book.apply_ticks(parse_ticks(frame.payload, frame.count, today=today))
    wire_rate = count / (time.perf_counter() - t0)
    return bare_rate, wire_rate


async def socket_phase(rate: int, seconds: float) -> tuple[list[float], int]:
    venue = venue_with_holdings(seed=2)
    sandbox = KisSandbox(venue, tick_interval=None)
    await sandbox.start()
    with tempfile.TemporaryDirectory() as tmp:
        broker = KisBroker(sandbox_config(sandbox, Path(tmp) / "token.json"))
        try:
            async with Session(broker) as s:
                latencies = await tick_to_book_latencies(
                    venue, s, codes_per_step=CODES, rate=rate, seconds=seconds
                )
                subscribed = len(s.subscribed)
        finally:
            await broker.close()
            await sandbox.stop()
    return latencies, subscribed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} python {platform.python_version()}")
    floor, fast, strict = parser_cost(min(args.ticks, 100_000))
    print("\n| H0STCNT0 parser, 20 records a frame | µs per record | vs bare split |")
    print("|---|---:|---:|")
    print(f"| bare `payload.split('^')` (floor) | {floor:.2f} | 1.00× |")
    print(f"| `parse_ticks` | {fast:.2f} | {fast / floor:.2f}× |")
    print(
        f"| every record through the strict checks (the old parser) | {strict:.2f} | "
        f"{strict / floor:.2f}× |"
    )
    bare, through = parser_phase(args.ticks)
    print()
    print(f"| path ({args.ticks:,} ticks, {BATCH} records a frame) | ticks/s | vs bare Book |")
    print("|---|---:|---:|")
    print(f"| bare Book.apply_tick (baseline) | {bare:,.0f} | 1.00x |")
    print(
        f"| H0STCNT0 frame → parse_frame → parse_ticks → Book.apply_ticks | {through:,.0f} | "
        f"{through / bare:.3f}x |"
    )
    lat, subscribed = asyncio.run(socket_phase(args.rate, args.seconds))
    if lat:
        p50, p99 = median_p99_ms(lat)
        print(
            f"\nover loopback at a steady {args.rate:,} ticks/s across {subscribed} subscribed "
            f"codes ({len(lat):,} ticks reached the book): median {p50:.2f} ms, p99 {p99:.2f} ms"
        )


if __name__ == "__main__":
    main()
