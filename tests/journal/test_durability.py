"""What each durability mode acknowledges, seen from another connection to the same file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jango.journal import Journal
from jango.journal.schema import JournalError
from tests.journal.streams import ARRIVAL, venue_events


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
