"""SIGKILL a real ``jango run --profile`` on the sim again and again while the demo trader
trades: every fill the venue made is in the final book exactly once, and the book's quantities,
deposit and D+2 equal the venue's own account.

The kills land anywhere: during startup (rebuild, the first snapshot, subscriptions), while
trading, at checkpoints and in shutdown. ``JANGO_LONG=1`` runs 60 kills instead of 30.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from jango.domain.model import HoldingKey, Side
from jango.journal import Journal, read_entries
from jango.sandbox.venue import Venue
from tests.journal.streams import fills_journaled

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("JANGO_KILLS", "0")) or (
    60 if os.environ.get("JANGO_LONG") == "1" else 22
)
PROFILE = "desk"


def jango(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "jango.cli", "--config", str(data / "config.toml"), *args]


def environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JANGO_")}
    return {**env, "JANGO_DATA_DIR": str(data), "PYTHONPATH": str(ROOT / "src")}


def run_and_kill(data: Path, rng: random.Random, *, in_startup: bool) -> None:
    """Start a run and SIGKILL it: at a random moment of startup, or a random moment after it
    has journaled a new fill (so the kill lands while trading, whatever the machine's load)."""
    before = fills_journaled(data / f"{PROFILE}.journal.sqlite")
    proc = subprocess.Popen(
        jango(data, "run", "--profile", PROFILE, "--seconds", "120", "--format", "json"),
        cwd=ROOT,
        env=environment(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if in_startup:
        time.sleep(rng.uniform(0.1, 1.5))
    else:
        deadline = time.monotonic() + 90
        while (
            fills_journaled(data / f"{PROFILE}.journal.sqlite") <= before
            and time.monotonic() < deadline
        ):
            assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")[-3000:]
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.0))
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def final_book(data: Path) -> dict[str, object]:
    out = subprocess.run(
        jango(data, "run", "--profile", PROFILE, "--seconds", "1", "--format", "json", "--no-demo"),
        cwd=ROOT,
        env=environment(data),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    book: dict[str, object] = json.loads(out.stdout)
    return book


def test_a_profile_killed_again_and_again_keeps_every_fill_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        "[sim]\ntick_interval = 0.01\ndemo_period = 0.05\n", encoding="utf-8"
    )
    rng = random.Random(20261201)
    trading = 0
    for _ in range(KILLS):
        # A third of the kills land in startup, the rest while trading.
        in_startup = rng.random() < 0.33
        run_and_kill(tmp_path, rng, in_startup=in_startup)
        trading += not in_startup
    book = final_book(tmp_path)

    venue = Venue(state_path=tmp_path / f"{PROFILE}.venue.sqlite")
    [account] = venue.accounts()
    truth = venue.balance(account)
    fills = venue.fills(account)
    venue.close()
    assert len(fills) >= trading  # each trading run was killed after a new fill

    [acc] = book["accounts"]  # type: ignore[misc]
    rows = {(r["code"], r["credit"], r["loan_date"]): r for r in acc["rows"]}
    assert {k: (r["qty"], r["purchase_amount"]) for k, r in rows.items()} == {
        (r.code, r.credit.value, r.loan_date and r.loan_date.isoformat()): (
            r.qty,
            r.purchase_amount,
        )
        for r in truth.rows
        if r.qty
    }
    assert (acc["cash"]["deposit"], acc["cash"]["d2"]) == (truth.cash.deposit, truth.cash.d2)

    # Independently of the book: the first balance the journal saw, plus every venue fill once.
    path = tmp_path / f"{PROFILE}.journal.sqlite"
    first = next(e for e in read_entries(path, kinds=["snapshot"])).event()
    expected: Counter[HoldingKey] = Counter({r.key: r.qty for r in first.rows})  # type: ignore[union-attr]
    for f in fills:
        key = HoldingKey(account, f.code, f.credit, f.loan_date)
        opening = f.side is (Side.SELL if f.credit.is_short else Side.BUY)
        expected[key] += f.qty if opening else -f.qty
    assert {k: q for k, q in expected.items() if q} == {r.key: r.qty for r in truth.rows if r.qty}

    # Nothing lost, nothing doubled: each restart's reconcile changed a row by exactly what the
    # venue filled while the journal could not hear it (fills saved by the venue whose notices
    # were in flight at the kill), never more.
    journaled = Counter(
        json.loads(e.body).get("fill_id")
        for e in read_entries(path, kinds=["notice"])
        if json.loads(e.body)["kind"] == "filled"
    )
    assert set(journaled) <= {f.fill_id for f in fills}
    assert all(n == 1 for n in journaled.values())
    unheard: Counter[tuple[str, str, str]] = Counter()
    for f in fills:
        if f.fill_id not in journaled:
            opening = f.side is (Side.SELL if f.credit.is_short else Side.BUY)
            key = (f.code, f.credit.value, f.loan_date.isoformat() if f.loan_date else "")
            unheard[key] += f.qty if opening else -f.qty
    corrected: Counter[tuple[str, str, str]] = Counter()
    for e in read_entries(path, kinds=["discrepancy"]):
        d = json.loads(e.body)
        if d["reason"] == "snapshot" and d["field"] == "qty":
            extra = d["extra"]
            key = (e.code, extra["credit"], extra["loan_date"])
            corrected[key] += int(d["reported"]) - int(d["computed"])
    assert {k: q for k, q in corrected.items() if q} == {k: q for k, q in unheard.items() if q}
    with Journal(path) as journal:
        rebuilt = journal.rebuild()
    assert {
        (r.key.code, r.key.credit.value, r.key.loan_date and r.key.loan_date.isoformat()): r.qty
        for r in rebuilt.rows(account)
    } == {k: r["qty"] for k, r in rows.items()}
