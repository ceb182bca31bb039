"""How fast does the Book apply ticks and fills, against baselines run in the same process?

Ticks: books of 200, 2,000 and 20,000 rows (one row per code), totals kept current after every
tick, against (a) a bare dict-assignment loop — the floor — and (b) a book that re-sums every row
per tick. Fills: 10,000 partial fills into one order, timed in slices to show the per-fill cost
stays flat as earlier fills pile up.

Run: ``python benchmarks/bench_book.py [--ticks N]``. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from datetime import datetime, timedelta

from jango.domain.book import Book
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)

ACC = "5012345601"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=KST)


def codes(n: int) -> list[Code]:
    return [Code(f"{i:06d}") for i in range(1, n + 1)]


def make_book(n: int) -> Book:
    rows = tuple(
        BalanceRow(ACC, c, 10, 10, 500_000, price=50_000, market=Market.KOSPI) for c in codes(n)
    )
    book = Book()
    book.apply(BalanceSnapshot(ACC, rows, Cash(10**10, 10**10), T0))
    return book


def make_ticks(n_rows: int, count: int) -> list[Tick]:
    rng = random.Random(n_rows)
    cs = codes(n_rows)
    return [
        Tick(rng.choice(cs), 50_000 + 100 * rng.randint(-50, 50), 0, i, T0) for i in range(count)
    ]


def per_op(fn: object, count: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs, in nanoseconds per operation."""
    assert callable(fn)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - start) / count)
    return best


def bench_ticks(n_rows: int, count: int) -> tuple[float, float, float]:
    ticks = make_ticks(n_rows, count)
    book = make_book(n_rows)
    apply_tick = book.apply_tick

    def jango_loop() -> None:
        for t in ticks:
            apply_tick(t)

    prices: dict[str, int] = {}

    def floor_loop() -> None:
        for t in ticks:
            prices[t.code] = t.price

    rows = {c: [10, 500_000, 0] for c in codes(n_rows)}  # qty, purchase amount, value
    resum_count = min(count, max(200, 2_000_000 // n_rows))

    def resum_loop() -> None:
        for t in ticks[:resum_count]:
            r = rows[t.code]
            r[2] = r[0] * t.price
            total_value = sum(v[2] for v in rows.values())
            total_cost = sum(v[1] for v in rows.values())
            _ = total_value - total_cost

    return (
        per_op(jango_loop, count),
        per_op(floor_loop, count),
        per_op(resum_loop, resum_count, repeat=1),
    )


def bench_fills(total: int, slices: int = 5) -> list[float]:
    book = make_book(200)
    code = Code("000001")
    book.apply(
        OrderNotice(
            ACC,
            NoticeKind.ACCEPTED,
            OrderAction.NEW,
            Side.BUY,
            code,
            "1",
            total,
            50_000,
            T0,
            market=Market.KOSPI,
        )
    )
    fills = [
        OrderNotice(
            ACC,
            NoticeKind.FILLED,
            OrderAction.NEW,
            Side.BUY,
            code,
            "1",
            1,
            50_000,
            T0 + timedelta(milliseconds=i),
            fill_id=f"f{i}",
            market=Market.KOSPI,
        )
        for i in range(total)
    ]
    size = total // slices
    out = []
    for s in range(slices):
        chunk = fills[s * size : (s + 1) * size]
        start = time.perf_counter_ns()
        for f in chunk:
            book.apply_notice(f)
        out.append((time.perf_counter_ns() - start) / len(chunk))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--fills", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"python {platform.python_version()}"
    )
    print()
    print("| rows | jango ns/tick | floor ns/tick | re-sum ns/tick | jango/floor | re-sum/jango |")
    print("|---:|---:|---:|---:|---:|---:|")
    results = {}
    for n in (200, 2_000, 20_000):
        j, f, r = bench_ticks(n, args.ticks)
        results[n] = j
        print(f"| {n:,} | {j:,.0f} | {f:,.0f} | {r:,.0f} | {j / f:.1f}x | {r / j:,.0f}x |")
    print()
    print(f"20,000 rows vs 200 rows per tick: {results[20_000] / results[200]:.2f}x")
    print()
    slices = bench_fills(args.fills)
    print(
        f"| partial fills into one order ({args.fills:,}) | "
        + " | ".join(f"slice {i + 1}" for i in range(len(slices)))
        + " |"
    )
    print("|---|" + "---:|" * len(slices))
    print("| ns/fill | " + " | ".join(f"{s:,.0f}" for s in slices) + " |")
    print(f"\nlast slice vs first: {slices[-1] / slices[0]:.2f}x")


if __name__ == "__main__":
    main()
