"""Kill -9 a real journaling process at random points; nothing acknowledged is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from jango.domain.book import Book
from jango.domain.model import OrderNotice
from jango.journal import Journal
from jango.journal.fence import absorb
from jango.recorded import parse_line
from tests.journal.streams import state

ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(path: Path, seed: int, acks: int) -> list[int]:
    """Start the driver, read ``acks`` acknowledged seqs, then SIGKILL it mid-stream."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.journal.kill_driver", str(path), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[int] = []
    try:
        while len(seen) < acks:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"driver ended early: {proc.communicate()[1][-2000:]}")
            seen.append(int(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # Lines already written before the kill were acknowledged too.
    seen.extend(int(line) for line in proc.stdout.read().split())
    return seen


def straight_replay(path: Path) -> Book:
    """Every journaled event through a fresh Book, honouring stored "reflected" decisions."""
    book = Book()
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT body, reflected FROM events WHERE kind IN ('snapshot','tick','notice') ORDER BY seq"
    ).fetchall()
    db.close()
    for body, reflected in rows:
        event = parse_line(body)
        if reflected and isinstance(event, OrderNotice):
            absorb(book, event)
        else:
            book.apply(event)
    return book


def test_killed_processes_lose_no_acknowledged_event_and_rebuild_exactly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kill.journal.sqlite"
    rng = random.Random(20260304)
    acked: list[int] = []
    for run in range(4):
        acked += run_until_killed(path, seed=run, acks=rng.randint(30, 400))
        db = sqlite3.connect(path)
        seqs = [s for (s,) in db.execute("SELECT seq FROM events ORDER BY seq")]
        db.close()
        # Every acknowledged row is there, exactly once; restarts never reuse a seq.
        assert len(acked) == len(set(acked))
        assert set(acked) <= set(seqs)
        assert seqs == list(range(1, len(seqs) + 1))
        with Journal(path) as journal:
            rebuilt = journal.rebuild()
            assert journal.last_rebuild.checkpoint_seq > 0
            from_scratch = journal.rebuild(use_checkpoints=False)
        assert state(rebuilt) == state(from_scratch) == state(straight_replay(path))
