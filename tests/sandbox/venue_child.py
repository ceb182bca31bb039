"""A real process trading on a lasting sim market, to be SIGKILLed by tests/sandbox/test_venue_kill.

Usage: ``python -m tests.sandbox.venue_child STATE SEED DIE_AT``. It runs a :class:`SimBroker`
on the state file with the demo trader and prints every order notice it is pushed as one JSON
line (flushed), so the parent knows exactly which notices left the venue. ``DIE_AT`` > 0 makes
the process SIGKILL itself inside the venue's notice listener at that fill notice: the harshest
moment, right as the notice is pushed; 0 leaves the killing to the parent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path

from jango.brokers.port import Received
from jango.brokers.sim.broker import SimBroker
from jango.domain.model import NoticeKind, OrderNotice

# The listener (a venue thread) and the event loop both print: one line at a time.
_PRINTING = threading.Lock()


def emit(notice: OrderNotice) -> None:
    with _PRINTING:
        print(line(notice), flush=True)


def line(notice: OrderNotice) -> str:
    return json.dumps(
        {
            "kind": notice.kind,
            "action": notice.action,
            "order_no": notice.order_no,
            "orig_order_no": notice.orig_order_no,
            "fill_id": notice.fill_id,
            "qty": notice.qty,
            "price": notice.price,
            "filled_total": notice.filled_total,
            "time": notice.time.isoformat(),
        }
    )


async def main(path: Path, seed: int, die_at: int) -> None:
    broker = SimBroker(
        seed=seed, tick_interval=0.001, demo_trader=True, demo_period=0.005, state_path=path
    )
    fills = 0

    def die_on_fill(notice: OrderNotice) -> None:
        nonlocal fills
        if notice.kind is NoticeKind.FILLED:
            fills += 1
            if fills == die_at:
                with _PRINTING:
                    print(line(notice), flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)

    if die_at > 0:
        broker.venue.add_notice_listener(die_on_fill)
    await broker.connect()
    async for item in broker.events():
        if isinstance(item, Received) and isinstance(item.event, OrderNotice):
            emit(item.event)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
