"""The live page at size: tick-to-repaint in headless Chromium at 200, 1,200 and 5,000 rows.

The sim steps on its own at its default interval (50 ms) and, for the busiest rate, moves
every one of its 80 codes on every step. The server stamps each delta with the time the oldest
change in it reached the book; the page records, after the frame that painted it, how long ago
that was (same machine, same clock). Also reported: the largest WebSocket message, the page's
JS heap and the server's RSS over the run.

    .venv/bin/python -m benchmarks.bench_web              # 20 s per size
    JANGO_LONG=1 .venv/bin/python -m benchmarks.bench_web  # 10 minutes at 5,000 rows
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from datetime import date, timedelta

from playwright.sync_api import sync_playwright
from tests.web.live import BIG_PAGES, CHROMIUM, CHROMIUM_ARGS, LiveServer

from jango.domain.book import Changes
from jango.domain.model import BalanceRow, Credit, HoldingKey
from jango.sandbox.venue import Venue
from jango.views.web.hub import _dumps
from jango.views.web.payload import row_payload

ALL_CODES = 10_000  # more than the venue has: every code moves on every step


def sized_venue(rows: int, accounts: int) -> Venue:
    """A venue whose accounts hold ``rows`` rows in all: each code cash and on margin loans."""
    venue = Venue(seed=5)
    codes = venue.instruments()
    per_account = rows // accounts
    for n in range(accounts):
        account = f"79000{n:05d}"
        holdings: list[BalanceRow] = []
        loan = 0
        while len(holdings) < per_account:
            for i, inst in enumerate(codes):
                if len(holdings) >= per_account:
                    break
                base = venue.quote(inst.code).price
                qty = 1 + (i * 7 + n) % 40
                credit = Credit.CASH if loan == 0 else Credit.MARGIN_SELF
                when = None if loan == 0 else date(2024, 1, 1) + timedelta(days=loan)
                holdings.append(BalanceRow(account, inst.code, qty, qty, qty * base, credit, when))
            loan += 1
        venue.open_account(account, cash=1_000_000_000, holdings=holdings)
    return venue


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run(rows: int, accounts: int, seconds: float, codes: int) -> dict[str, dict[str, float]]:
    """The page with its view reported ("view") and without ("all rows", the baseline: every
    changed row every frame), alternating in halves on one server so load drifts hit both."""
    venue = sized_venue(rows, accounts)
    lat: dict[str, list[float]] = {"all rows": [], "view": []}
    heap: list[float] = []
    largest = model = 0
    with (
        LiveServer(venue, tick_interval=0.05, codes_per_step=codes, limits=BIG_PAGES) as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--enable-precise-memory-info"]
        )
        for mode in ("all rows", "view", "all rows", "view"):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url + ("/?view=off" if mode == "all rows" else "/"))
            page.wait_for_selector("body[data-ws=live]", timeout=60_000)
            page.wait_for_timeout(2_000)  # warm up
            page.evaluate("() => { window.jango.stats.latencies.length = 0; }")
            start = time.monotonic()
            while time.monotonic() - start < seconds / 2:
                page.wait_for_timeout(min(10_000, seconds * 1000 / 8))
                heap.append(page.evaluate("() => performance.memory.usedJSHeapSize") / 2**20)
            stats = page.evaluate(
                """() => {
                    const s = window.jango.stats;
                    return {lat: s.latencies.slice(), largest: s.largest, bytes: s.bytes,
                            model: window.jango.modelSize()};
                }"""
            )
            page.close()
            lat[mode] += stats["lat"]
            largest = max(largest, stats["largest"])
            model = stats["model"]
        largest = max(largest, server.hub.largest_message)
        browser.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out: dict[str, dict[str, float]] = {}
    for mode, values in lat.items():
        out[mode] = {
            "rows": model,
            "repaints": len(values),
            "p50": statistics.median(values),
            "p99": percentile(values, 0.99),
            "max": max(values),
            "largest": largest,
            "heap_first": heap[0],
            "heap_last": heap[-1],
            "heap_max": max(heap),
            "rss_max": rss,
        }
    return out


def wire(rows: int, accounts: int, steps: int = 10) -> dict[str, float]:
    """Server side, no browser: what one busy frame costs as whole JSON rows (the page's first
    protocol, the baseline) and as changed integer cells (now), in bytes and milliseconds."""
    venue = sized_venue(rows, accounts)
    with LiveServer(venue, limits=BIG_PAGES) as server:
        hub = server.hub

        async def frame() -> tuple[int, float, int, float, int]:
            client = hub.join()
            hub.snapshot_messages(client)
            hub.clients.discard(client)  # measured by hand, not by the hub's own pushes
            changed: set[HoldingKey] = set()

            def note(ch: Changes) -> None:
                changed.update(ch.rows)

            remove = server.session.on_change(note)
            for _ in range(steps):
                venue.step(ALL_CODES)
            await asyncio.sleep(1.0)  # the pump applies the ticks
            remove()
            book = server.session.book
            t0 = time.perf_counter()
            whole = [
                _dumps(row_payload(hub.ids, r, book.pnl_mode))
                for r in book.rows()
                if r.key in changed
            ]
            t1 = time.perf_counter()
            # Everything since its snapshot is pending for the client, as for one that was slow.
            client.dirty.update(hub._values)
            messages = hub.delta_messages(client)
            t2 = time.perf_counter()
            return len(",".join(whole)), t1 - t0, sum(map(len, messages)), t2 - t1, len(changed)

        whole_bytes, whole_s, cell_bytes, cell_s, changed = server.call(frame())
    return {
        "changed": changed,
        "whole_kb": whole_bytes / 1024,
        "cells_kb": cell_bytes / 1024,
        "whole_ms": whole_s * 1000,
        "cells_ms": cell_s * 1000,
    }


def main() -> None:
    long = os.environ.get("JANGO_LONG") == "1"
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600 if long else 20)
    parser.add_argument("--sizes", default="5000" if long else "200,1200,5000")
    parser.add_argument("--codes", type=int, default=ALL_CODES, help="codes moved per step")
    parser.add_argument("--wire-only", action="store_true", help="skip the browser runs")
    args = parser.parse_args()
    print("| rows | rows changed in the frame | whole rows (baseline) | changed cells | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        w = wire(size, 1 if size <= 200 else 3)
        print(
            f"| {size:,} | {w['changed']:,} | {w['whole_kb']:,.0f} KB, {w['whole_ms']:.0f} ms | "
            f"{w['cells_kb']:,.0f} KB, {w['cells_ms']:.0f} ms | "
            f"{w['cells_kb'] / w['whole_kb']:.2f}x size |",
            flush=True,
        )
    if args.wire_only:
        return
    print()
    print(
        "| rows | page | repaints | p50 ms | p99 ms | max ms | largest msg | JS heap MB "
        "(first → last, max) | server max RSS MB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        accounts = 1 if size <= 200 else 3
        for mode, r in run(size, accounts, args.seconds, args.codes).items():
            print(
                f"| {r['rows']:,} | {mode} | {r['repaints']:,} | {r['p50']:.0f} | "
                f"{r['p99']:.0f} | {r['max']:.0f} | {r['largest']:,.0f} B | "
                f"{r['heap_first']:.1f} → {r['heap_last']:.1f}, {r['heap_max']:.1f} | "
                f"{r['rss_max']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
