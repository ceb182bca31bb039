"""Startup of a large KIS account at KIS's real rate limits: requests and seconds to a fully
priced book.

The KIS sandbox serves one account holding ``--holdings`` codes (1,000 by default) and enforces
KIS's per-app-key limit (20 requests/s real, 2/s paper) and page sizes (50 balance rows a page
real, 20 paper); the real KIS adapter, which paces itself under that limit, starts a ``Session``
on it over loopback. Timed from ``Session.start`` to its return, when every page of the balance
is loaded, every held code priced and the subscriptions made, twice: the first start of the day,
and a restart the same day with a new adapter (which finds each code's product info in its
cache on disk). Reported: the requests by path (as the sandbox's gateway counted them), the
quote requests against ``ceil(N/30)`` (KIS's multi-quote takes 30 codes; paper has none and
asks one code at a time), the requests the gateway refused for the rate, and that every row
ended with a price.

Baseline in the same run: the least time the limit allows for the requests made: the first
``limit`` at once, then ``limit`` a second, so ``ceil(requests / limit) - 1`` seconds.

Run: ``python benchmarks/bench_kis_startup.py [--holdings 1000] [--paper 100]``; ``--paper N``
also runs a paper account of N holdings (paper asks each quote alone, at 2/s: 100 holdings take
about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import platform
import tempfile
import time
from pathlib import Path

from bench_kis import sandbox_config
from jango.brokers.kis import KisBroker
from jango.domain.model import BalanceRow
from jango.engine import Session
from jango.sandbox.instruments import synthetic_instruments
from jango.sandbox.kis import KisSandbox
from jango.sandbox.kis.auth import DEMO_USER
from jango.sandbox.venue import Venue

Run = tuple[float, collections.Counter[str], int]


async def startups(holdings: int, mode: str) -> tuple[list[Run], int]:
    """The first start of the day and a restart the same day (a new adapter, the same cache
    folder): for each, seconds to a started session, requests by path, and the rows left
    without a price; and the requests the gateway refused for the rate."""
    specs = synthetic_instruments(holdings, seed=1)
    venue = Venue(specs, seed=1)
    account = DEMO_USER.accounts[0]
    venue.open_account(
        account,
        cash=10**11,
        holdings=[BalanceRow(account, s.code, 10, 10, 10 * s.base_price) for s in specs],
    )
    sandbox = KisSandbox(venue, tick_interval=None, mode=mode)  # type: ignore[arg-type]
    await sandbox.start()
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = sandbox_config(sandbox, Path(tmp) / "token.json")
            for _ in ("first start", "restart"):
                before = len(sandbox.gateway.requests)
                broker = KisBroker(config)
                session = Session(broker)
                try:
                    t0 = time.perf_counter()
                    await session.start()
                    seconds = time.perf_counter() - t0
                    made = sandbox.gateway.requests[before:]
                    book = session.book
                    rows = [row for acc in book.accounts.values() for row in acc.rows.values()]
                    assert len(rows) == holdings, (len(rows), holdings)
                    unpriced = sum(1 for row in rows if row.price <= 0)
                finally:
                    await session.stop()
                    await broker.close()
                paths = collections.Counter(path.rsplit("/", 1)[-1] for path in made)
                runs.append((seconds, paths, unpriced))
    finally:
        await sandbox.stop()
    return runs, sandbox.stats["rate_limited"]


def report(holdings: int, mode: str) -> None:
    runs, refused = asyncio.run(startups(holdings, mode))
    limit = 2 if mode == "paper" else 20
    per_quote = 1 if mode == "paper" else 30
    print(f"\n{mode} account, {holdings:,} holdings, {limit} requests/s:\n")
    names = sorted({path for _, paths, _ in runs for path in paths}, key=lambda p: -runs[0][1][p])
    print("| request | first start of the day | restart the same day |")
    print("|---|---:|---:|")
    for path in names:
        print(f"| `{path}` | {runs[0][1][path]:,} | {runs[1][1][path]:,} |")
    totals = [sum(paths.values()) for _, paths, _ in runs]
    print(f"| **all** | **{totals[0]:,}** | **{totals[1]:,}** |")
    seconds = [run[0] for run in runs]
    # A sliding window lets the first ``limit`` go at once, then ``limit`` a second.
    floors = [max(0, math.ceil(total / limit) - 1) for total in totals]
    print(
        f"| seconds to a fully priced, subscribed book | {seconds[0]:.2f} | {seconds[1]:.2f} |\n"
        f"| the rate limit's least time for those requests (baseline) | {floors[0]:.2f} | "
        f"{floors[1]:.2f} |\n| rows without a price | {runs[0][2]} | {runs[1][2]} |"
    )
    quotes = [paths["intstock-multprice"] + paths["inquire-price"] for _, paths, _ in runs]
    print(
        f"\nquote requests: {quotes[0]:,} and {quotes[1]:,} (ceil({holdings:,}/{per_quote}) = "
        f"{math.ceil(holdings / per_quote):,}); refused for the rate, both runs: {refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--holdings", type=int, default=1000)
    parser.add_argument("--paper", type=int, default=0, help="also a paper account of N holdings")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    report(args.holdings, "real")
    if args.paper:
        report(args.paper, "paper")


if __name__ == "__main__":
    main()
