"""Damaged journals: a clear error on open, and recovery of every readable event."""

from __future__ import annotations

from pathlib import Path

import pytest

from jango.journal import Journal, read_entries
from jango.journal.recover import recover
from jango.journal.schema import JournalCorrupt
from jango.recorded import dump_line
from tests.journal.streams import replay, state, venue_events, write


@pytest.fixture(scope="module")
def events() -> list:  # type: ignore[type-arg]
    return venue_events(steps=200)


def healthy(tmp_path: Path, events: list) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "j.sqlite"
    write(path, events, durability="batch")
    assert not Path(f"{path}-wal").exists()  # closed cleanly: everything is in the main file
    return path


def test_a_truncated_journal_fails_clearly_and_recovery_copies_every_readable_row(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    path = healthy(tmp_path, events)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(JournalCorrupt, match="--recover"):
        Journal(path)
    with pytest.raises(JournalCorrupt):
        list(read_entries(path))
    out = tmp_path / "out.sqlite"
    report = recover(path, out)
    assert 0 < report.copied < len(events)
    assert report.copied + report.unreadable == report.last_seq
    # Every recovered row is the event written at that seq; the book is exactly their replay.
    recovered = list(read_entries(out))
    assert [e.body for e in recovered] == [dump_line(events[e.seq - 1]) for e in recovered]
    with Journal(out) as journal:
        rebuilt = journal.rebuild()
    assert state(rebuilt) == state(replay([events[e.seq - 1] for e in recovered]))


def test_garbage_in_the_middle_loses_only_the_damaged_pages(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    path = healthy(tmp_path, events)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 3)
        f.write(b"\xff" * 8192)
    out = tmp_path / "out.sqlite"
    report = recover(path, out)
    assert report.copied + report.unreadable >= report.last_seq
    assert report.copied > len(events) // 2
    seqs = [e.seq for e in read_entries(out)]
    assert seqs == sorted(set(seqs))
    assert set(seqs) <= set(range(1, len(events) + 1))


def test_a_file_that_is_not_sqlite_at_all_is_reported_as_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database" * 1000)
    with pytest.raises(JournalCorrupt, match="corrupted or truncated"):
        Journal(path)
    with pytest.raises(JournalCorrupt, match="nothing readable"):
        recover(path, tmp_path / "out.sqlite")
