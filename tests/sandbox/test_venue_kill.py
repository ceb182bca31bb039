"""SIGKILL a real process trading on a lasting sim market: the saved market never forgets a fill
it pushed, and order numbers and fill ids never repeat across the restarts.

Each round starts ``tests.sandbox.venue_child`` on the same state file and kills it: half the
rounds from outside at a random moment after a random number of notices, half from inside, in
the venue's notice listener, exactly as a fill notice is pushed. After every kill the state file
is opened as the next run would open it and checked against every line the process printed.
``JANGO_LONG=1`` runs 60 rounds instead of 10.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import date
from pathlib import Path
from typing import IO, Any

from jango.domain.model import HoldingKey, Side
from jango.sandbox.clock import SimClock
from jango.sandbox.venue import DEMO_ACCOUNT, Venue, VenueFill

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 60 if os.environ.get("JANGO_LONG") == "1" else 10
DAY = date(2026, 3, 2)  # a Monday
# A round that prints no notice for this long has hung; the test then fails with its stderr.
_STUCK_SECONDS = 60.0


def _reader(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for text in stream:
        lines.put(text)
    lines.put(None)


def run_and_kill(path: Path, seed: int, rng: random.Random) -> list[dict[str, Any]]:
    """One run of the child on ``path``, killed; returns every notice line it printed."""
    die_at = rng.randint(1, 6) if seed % 2 else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sandbox.venue_child", str(path), str(seed), str(die_at)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    reader.start()
    printed: list[dict[str, Any]] = []
    wanted = rng.randint(1, 40)  # outside kills: after this many notices, plus a random pause
    ended = False
    try:
        while die_at or len(printed) < wanted:
            try:
                text = lines.get(timeout=_STUCK_SECONDS)
            except queue.Empty:
                raise AssertionError(f"child printed nothing for {_STUCK_SECONDS} s") from None
            if text is None:
                ended = True
                break
            printed.append(json.loads(text))
        if not die_at:
            threading.Event().wait(rng.uniform(0, 0.05))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
    # Lines written before the kill were pushed too.
    while not ended and (text := lines.get()) is not None:
        printed.append(json.loads(text))
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-3000:]
    if die_at:
        assert sum(1 for n in printed if n["kind"] == "filled") == die_at
    return printed


def issued_order_numbers(printed: list[dict[str, Any]]) -> list[str]:
    """Order numbers the venue handed out: new orders, amends, and cancel requests."""
    issued = []
    for n in printed:
        new = n["kind"] == "accepted" or (n["kind"] == "rejected" and n["action"] == "amend")
        moved = n["kind"] == "confirmed" and n["order_no"] != n["orig_order_no"]
        if new or moved:
            issued.append(n["order_no"])
    return issued


def check_saved_market(path: Path, pushed: dict[str, dict[str, Any]]) -> list[VenueFill]:
    """Open the state as a restart would; every pushed fill is in it, with its cumulative qty."""
    venue = Venue(state_path=path)
    try:
        saved = venue.fills(DEMO_ACCOUNT)
    finally:
        venue.close()
    by_id = {f.fill_id: f for f in saved}
    assert len(by_id) == len(saved), "a fill id repeats in the saved market"
    missing = sorted(set(pushed) - set(by_id))
    assert not missing, f"fills pushed as notices but missing from the saved state: {missing}"
    cumulative: Counter[str] = Counter()
    totals: dict[str, int] = {}
    for fill in saved:
        cumulative[fill.order_no] += fill.qty
        totals[fill.fill_id] = cumulative[fill.order_no]
    for fill_id, notice in pushed.items():
        fill = by_id[fill_id]
        assert (fill.order_no, fill.qty, fill.price, fill.time.isoformat()) == (
            notice["order_no"],
            notice["qty"],
            notice["price"],
            notice["time"],
        )
        assert notice["filled_total"] == totals[fill_id]
    return saved


def test_a_killed_market_keeps_every_fill_it_pushed_and_never_repeats_a_number(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sim-venue.sqlite"
    first = Venue(seed=4, clock=SimClock(DAY), state_path=path)
    first.open_demo_account()
    opening = {r.key: r.qty for r in first.balance(DEMO_ACCOUNT).rows}
    first.close()

    rng = random.Random(20261201)
    pushed: dict[str, dict[str, Any]] = {}
    issued: list[str] = []
    for round_no in range(ROUNDS):
        printed = run_and_kill(path, seed=round_no, rng=rng)
        issued += issued_order_numbers(printed)
        for notice in printed:
            if notice["kind"] == "filled":
                assert notice["fill_id"] not in pushed, f"fill id {notice['fill_id']} reused"
                pushed[notice["fill_id"]] = notice
        saved = check_saved_market(path, pushed)

    assert len(pushed) >= ROUNDS
    repeated = [no for no, count in Counter(issued).items() if count > 1]
    assert not repeated, f"order numbers issued twice across restarts: {repeated}"
    # The saved rows are the opening rows moved by the saved fills, share for share.
    expected = Counter(opening)
    for fill in saved:
        key = HoldingKey(DEMO_ACCOUNT, fill.code, fill.credit, fill.loan_date)
        expected[key] += fill.qty if fill.side is Side.BUY else -fill.qty
    venue = Venue(state_path=path)
    try:
        rows = {r.key: r.qty for r in venue.balance(DEMO_ACCOUNT).rows}
    finally:
        venue.close()
    assert rows == {key: qty for key, qty in expected.items() if qty}
