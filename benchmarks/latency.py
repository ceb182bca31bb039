"""Shared by the latency benchmarks: drive a venue at a steady tick rate from a thread and time
each tick from its creation in the venue to the session's book showing it."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

from jango.domain.book import Changes
from jango.domain.model import OrderNotice, Tick
from jango.engine import Session
from jango.sandbox.venue import Venue


async def tick_to_book_latencies(
    venue: Venue, session: Session, *, codes_per_step: int, rate: int, seconds: float
) -> list[float]:
    """Seconds from creation to the book, for every tick that reached it while driving."""
    created: dict[tuple[str, int], float] = {}
    latencies: list[float] = []

    def on_burst(events: list[Tick | OrderNotice]) -> None:
        # A burst listener, like the sim adapter's: a per-tick listener would make the venue
        # hand every listener single events.
        at = time.perf_counter()
        for event in events:
            if isinstance(event, Tick):
                created[(event.code, event.volume)] = at

    def on_change(ch: Changes) -> None:
        now = time.perf_counter()
        for key in ch.rows:
            row = session.book.row(key)
            if row is not None:
                t = created.pop((key.code, row.volume), None)
                if t is not None:
                    latencies.append(now - t)

    stop = threading.Event()

    def drive() -> None:
        interval = codes_per_step / rate
        next_at = time.perf_counter()
        while not stop.is_set():
            venue.step(codes_per_step)
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    remove_tick = venue.add_burst_listener(on_burst, first=True)
    remove_change = session.on_change(on_change)
    thread = threading.Thread(target=drive)
    thread.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        stop.set()
        thread.join()
    await asyncio.sleep(0.5)  # let the last frames land
    remove_tick()
    remove_change()
    return latencies


def median_p99_ms(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1e3, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1e3
