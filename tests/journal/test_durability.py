"""What each durability mode acknowledges, seen from another connection to the same file, and
how the journal behaves when the disk cannot keep up (it says so; the caller never waits)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from jango.domain.model import OrderNotice, Tick
from jango.journal import Journal, read_entries
from jango.journal.schema import JournalError
from jango.journal.store import tick_body
from jango.recorded import dump_line
from tests.journal.streams import ARRIVAL, replay, state, venue_events
from tests.journal.writers import both_writers  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def committed(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        count: int = db.execute("SELECT count(*) FROM events").fetchone()[0]
        return count
    finally:
        db.close()


def test_every_mode_commits_each_event_before_record_event_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path, durability="every") as journal:
        for i, event in enumerate(venue_events(steps=20)[:50], start=1):
            journal.record_event(event, raw="{}", source="sim", at=ARRIVAL)
            assert committed(path) == i == journal.last_seq


def test_batch_mode_acknowledges_at_flush(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=20)[:300]
    with Journal(path, durability="batch", flush_ms=60_000) as journal:
        for event in events:
            journal.record_event(event, raw="", source="sim", at=ARRIVAL)
        journal.flush()
        assert committed(path) == len(events)


def test_errors_and_discrepancies_are_journaled_in_sequence(tmp_path: Path) -> None:
    from jango.domain.model import Discrepancy

    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.record_error(raw="\x00garbage", error="bad frame", source="kis", at=ARRIVAL)
        journal.record_discrepancies(
            [Discrepancy("1", "005930", "qty", "1", "2", "snapshot", ARRIVAL)]
        )
    db = sqlite3.connect(path)
    rows = db.execute("SELECT seq, kind, raw FROM events ORDER BY seq").fetchall()
    db.close()
    assert rows == [(1, "error", "\x00garbage"), (2, "discrepancy", "")]


def test_recording_after_close_is_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.record_error(raw="", error="x", source="sim", at=ARRIVAL)


def test_the_default_window_mode_commits_without_flush_or_close(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=20)[:200]
    journal = Journal(path)
    assert journal.durability == "window"
    for event in events:
        journal.record_event(event, raw="", source="sim", at=ARRIVAL)
    # The writer commits on its own; poll from another connection (no timing assumed).
    while committed(path) < len(events):
        time.sleep(0.01)
    assert journal.health.ok
    journal.close()
    assert [e.body for e in read_entries(path)] == [dump_line(e) for e in events]


def locked(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock: the journal's writer cannot commit."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_a_stuck_disk_sheds_ticks_first_never_notices_and_never_blocks_the_caller(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=300)
    ticks = [e for e in events if isinstance(e, Tick)]
    notices = [e for e in events if isinstance(e, OrderNotice)][:30]
    journal = Journal(path, max_queue=100)
    blocker = locked(path)
    try:
        # With the file locked every call still returns at once.
        for tick in ticks[:200]:
            journal.record_event(tick, raw="", source="sim", at=ARRIVAL)
        for notice in notices:
            journal.record_event(notice, raw="", source="sim", at=ARRIVAL)
        health = journal.health
        assert health.shed_ticks >= 200 - 100
        assert health.lost == 0
        assert health.state in ("behind", "failed")
        if health.state == "behind":
            assert f"journal behind by {health.backlog} events" in health.message
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    journal.flush()
    assert journal.health.ok
    journal.close()
    kept = [e.event() for e in read_entries(path, kinds=["notice"])]
    assert kept == notices


def test_notices_that_overflow_the_queue_degrade_the_journal_and_say_so(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    notices = [e for e in venue_events(steps=300) if isinstance(e, OrderNotice)]
    assert len(notices) > 20
    journal = Journal(path, max_queue=10)
    blocker = locked(path)
    try:
        for notice in notices:
            journal.record_event(notice, raw="", source="sim", at=ARRIVAL)
        health = journal.health
        assert health.lost >= len(notices) - 10
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with pytest.raises(JournalError, match="not journaled"):
        journal.flush()
    health = journal.health
    assert health.state == "degraded"
    assert f"journal degraded: {health.lost} events not journaled since seq" in health.message
    assert str(path) not in health.message or "\n" not in health.message
    with pytest.raises(JournalError, match="degraded"):
        journal.close()


def test_latest_tick_sampling_keeps_one_tick_per_code_per_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=100)
    with Journal(path, durability="batch", flush_ms=60_000, ticks="latest") as journal:
        for event in events:
            journal.record_event(event, raw="", source="sim", at=ARRIVAL)
        journal.flush()  # one commit holds everything
        rebuilt = journal.rebuild()
    ticks = [e.event() for e in read_entries(path, kinds=["tick"])]
    codes = {e.code for e in events if isinstance(e, Tick)}
    assert sorted(t.code for t in ticks) == sorted(codes)  # type: ignore[union-attr]
    # Every notice and snapshot is kept, and the book ends at the same prices.
    assert len(list(read_entries(path, kinds=["notice", "snapshot"]))) == sum(
        not isinstance(e, Tick) for e in events
    )
    assert state(rebuilt) == state(replay(events))


def test_ticks_none_journals_everything_but_ticks(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=40)
    with Journal(path, ticks="none") as journal:
        for event in events:
            journal.record_event(event, raw="", source="sim", at=ARRIVAL)
    kinds = {e.kind for e in read_entries(path)}
    assert kinds == {"snapshot", "notice"}


def test_the_fast_tick_encoding_is_exactly_the_recorded_format() -> None:
    ticks = [e for e in venue_events(steps=60) if isinstance(e, Tick)]
    ticks.append(replace(ticks[0], expected=True, diff=-ticks[0].diff - 5))
    for tick in ticks:
        assert tick_body(tick) == dump_line(tick)


RECORD_A_NOTICE_THEN_KEEP_TICKING = """
import sys
from jango.domain.model import OrderNotice, Tick
from jango.journal import Journal
from tests.journal.streams import ARRIVAL, venue_events
events = venue_events(steps=300)
notice = next(e for e in events if isinstance(e, OrderNotice))
ticks = [e for e in events if isinstance(e, Tick)]
journal = Journal(sys.argv[1])
journal.record_event(notice, raw="wire", source="sim", at=ARRIVAL)
print(notice.order_no, flush=True)
while True:  # a busy session: ticks keep coming; the notice must not wait behind them
    for tick in ticks:
        journal.record_event(tick, raw="", source="sim", at=ARRIVAL)
"""

# SIGKILL comes this long after record_event returned: many windows (20 ms), so a loaded
# machine still gives the writer its chance. The test asserts presence, not speed.
AFTER_THE_WINDOW_S = 1.0


def test_a_notice_recorded_then_sigkilled_after_the_window_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORD_A_NOTICE_THEN_KEEP_TICKING, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        order_no = proc.stdout.readline().strip()
        time.sleep(AFTER_THE_WINDOW_S)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert order_no, proc.stderr.read() if proc.stderr else ""
    with Journal(path) as journal:
        # Its WAL is intact; the next start says only that the session did not close it.
        [warning] = journal.open_warnings
        assert "was not closed by the last session (killed or crashed)" in warning
    [notice] = list(read_entries(path, kinds=["notice"]))
    assert notice.order_no == order_no and notice.raw == "wire"
    assert notice.seq == 1


def test_a_writer_far_behind_keeps_every_notice_and_the_last_tick_of_each_code(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    events = venue_events(steps=40)
    ticks = [e for e in events if isinstance(e, Tick)]
    notices = [e for e in events if isinstance(e, OrderNotice)]
    # The writer blocks on the lock in its first batch; all the rest is its second batch, which
    # is far more than a tenth of the queue: the sign of a writer behind.
    backlog = [ticks[i % len(ticks)] for i in range(8_000)]
    journal = Journal(path, max_queue=20_000)
    blocker = locked(path)
    try:
        for tick in backlog:
            journal.record_event(tick, raw="", source="sim", at=ARRIVAL)
        for notice in notices:
            journal.record_event(notice, raw="", source="sim", at=ARRIVAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    journal.flush()
    health = journal.health
    journal.close()
    kept = [e.event() for e in read_entries(path, kinds=["tick"])]
    assert [e.event() for e in read_entries(path, kinds=["notice"])] == notices
    assert len(kept) + health.shed_ticks == len(backlog)
    assert health.shed_ticks > 0 and health.lost == 0
    # The last tick of every code is among those kept.
    last = {t.code: t for t in backlog}
    assert set(last.values()) <= set(kept)  # type: ignore[arg-type]
