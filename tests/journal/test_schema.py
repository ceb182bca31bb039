"""Schema versions: a version-1 file is migrated in place; a newer one is refused clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jango.journal import Journal, read_entries
from jango.journal.schema import CURRENT_VERSION, V1_SCHEMA, JournalError, JournalVersionError
from jango.recorded import dump_line
from tests.journal.streams import replay, state, venue_events


def make_v1(path: Path, lines: list[str]) -> None:
    """A journal as version 1 wrote it, built by hand."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.executemany(
        "INSERT INTO events (seq, kind, at, source, body) VALUES (?, ?, ?, 'sim', ?)",
        [
            (i, line.split('"type":"')[1].split('"')[0], "2026-03-04T09:00:00.000000+09:00", line)
            for i, line in enumerate(lines, start=1)
        ],
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def test_a_version_1_journal_is_migrated_and_rebuilds_the_same_book(tmp_path: Path) -> None:
    events = venue_events(steps=60)
    path = tmp_path / "old.sqlite"
    make_v1(path, [dump_line(e) for e in events])
    with Journal(path) as journal:
        assert state(journal.rebuild()) == state(replay(events))
        journal.record_event(events[-1], raw="", source="sim", at=events[-1].time)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == len(events) + 1
    db.close()


def test_a_journal_from_a_newer_jango_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version={CURRENT_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalVersionError, match="newer than this jango"):
        Journal(path)
    with pytest.raises(JournalVersionError):
        list(read_entries(path))
    assert path.read_bytes() == before


def test_another_sqlite_file_is_not_taken_for_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE mine (x)")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="not a jango journal"):
        Journal(path)
