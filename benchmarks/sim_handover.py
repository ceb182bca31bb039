"""Where the sim path's latency tail comes from: the thread hand-over, or the work after it?

Runs ``bench_engine``'s paced phase (1,000 held codes, a steady 10,000 ticks/s) and also times
each burst from the sim adapter hearing it on the venue's thread to the loop running the
``call_soon_threadsafe`` callback that queues it (the hand-over), by wrapping the adapter's
private ``_on_burst`` and ``_put_all``: a diagnostic, not a product path.

Run: ``python benchmarks/sim_handover.py [--burst 20] [--seconds 4] [--switch 0.005] [--no-gc]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from typing import Any

import jango.brokers.sim.broker as sim
from bench_engine import paced
from latency import median_p99_ms


def instrument(handovers: list[float]) -> None:
    """Wrap the adapter so every burst's hand-over time lands in ``handovers``."""
    heard: dict[int, float] = {}
    put_all, on_burst = sim._put_all, sim.SimBroker._on_burst

    def timed_put_all(queue: Any, items: list[Any]) -> None:
        now = time.perf_counter()
        for item in items:
            ticks = getattr(item, "ticks", None)
            if ticks and (at := heard.pop(id(ticks[0]), None)) is not None:
                handovers.append(now - at)
        put_all(queue, items)

    def timed_on_burst(self: sim.SimBroker, events: list[Any]) -> None:
        if events and type(events[0]) is sim.Tick:
            heard[id(events[0])] = time.perf_counter()
        on_burst(self, events)

    sim._put_all = timed_put_all
    sim.SimBroker._on_burst = timed_on_burst  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--switch", type=float, default=sys.getswitchinterval())
    parser.add_argument("--no-gc", action="store_true")
    args = parser.parse_args()
    sys.setswitchinterval(args.switch)
    if args.no_gc:
        gc.disable()
    handovers: list[float] = []
    instrument(handovers)
    latencies = asyncio.run(paced(1000, args.seconds, 10_000, args.burst))
    p50, p99 = median_p99_ms(latencies)
    h50, h99 = median_p99_ms(handovers)
    print(
        f"{args.burst} ticks a step: {len(latencies):,} ticks timed, creation to book median "
        f"{p50:.2f} ms, p99 {p99:.2f} ms; hand-over of {len(handovers):,} bursts median "
        f"{h50:.3f} ms, p99 {h99:.3f} ms"
    )


if __name__ == "__main__":
    main()
