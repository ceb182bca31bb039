"""Disk faults are loud: one line naming the file and the cause, a failed or degraded status,
and never SQLite's follow-on noise ("cannot rollback - no transaction is active").

Each fault is real: a file system that fills up, read-only media, pages overwritten on disk, a
write-ahead log deleted after a killed process (see ``tests/journal/disks.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jango.domain.model import OrderNotice
from jango.journal import Journal, read_entries
from jango.journal.recover import check
from jango.journal.schema import JournalCorrupt, JournalError
from tests.journal.disks import media
from tests.journal.streams import ARRIVAL, venue_events
from tests.journal.writers import both_writers  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
RAW_NOISE = ("cannot rollback", "no transaction is active", "Traceback")


@pytest.fixture(scope="module")
def events() -> list:  # type: ignore[type-arg]
    return venue_events(steps=200)


def one_loud_line(text: str, path: Path) -> None:
    assert "\n" not in text
    assert str(path) in text
    assert not any(noise in text for noise in RAW_NOISE)


def record_all(journal: Journal, events: list, raw: str = "") -> None:  # type: ignore[type-arg]
    for event in events:
        journal.record_event(event, raw=raw, source="sim", at=ARRIVAL)


def test_a_full_disk_fails_the_journal_loudly_and_the_caller_never_waits(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    with media(tmp_path, size_kib=96) as disk:
        path = disk.folder / "j.sqlite"
        journal = Journal(path, **disk.options)  # type: ignore[arg-type]
        # Far more than fits; every call returns (the writer, not the caller, meets the disk).
        for _ in range(5):
            record_all(journal, events, raw="x" * 300)
        with pytest.raises(JournalError) as flushed:
            journal.flush()
        health = journal.health
        assert health.state == "failed"
        assert "the disk is full" in health.message
        one_loud_line(health.message, path)
        one_loud_line(str(flushed.value), path)
        with pytest.raises(JournalError) as closed:
            journal.close()
        one_loud_line(str(closed.value), path)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged and all(str(path) in line for line in logged)
    assert not any(noise in line for line in logged for noise in RAW_NOISE)


def test_a_full_disk_in_every_mode_refuses_the_record_with_the_cause(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    with media(tmp_path, size_kib=96) as disk:
        path = disk.folder / "j.sqlite"
        journal = Journal(path, durability="every", **disk.options)  # type: ignore[arg-type]
        with pytest.raises(JournalError) as refused:
            for _ in range(5):
                record_all(journal, events, raw="x" * 300)
        one_loud_line(str(refused.value), path)
        assert "the disk is full" in str(refused.value)
        assert journal.health.state == "failed"
        with pytest.raises(JournalError):
            journal.close()


def test_a_read_only_folder_opens_failed_with_the_book_rebuilt_from_what_it_holds(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    with media(tmp_path) as disk:
        path = disk.folder / "j.sqlite"
        with Journal(path, **disk.options) as journal:  # type: ignore[arg-type]
            record_all(journal, events)
            expected = journal.rebuild()
        disk.make_read_only()
        journal = Journal(path)
        assert journal.health.state == "failed"
        assert "read-only" in journal.health.message
        one_loud_line(journal.health.message, path)
        assert len(journal.open_warnings) == 1
        one_loud_line(journal.open_warnings[0], path)
        assert "not being journaled" in journal.open_warnings[0]
        assert list(journal.rebuild().rows()) == list(expected.rows())
        # Recording goes on without raising; the loss is counted and reported at close.
        record_all(journal, events[:10])
        with pytest.raises(JournalError) as closed:
            journal.close()
        one_loud_line(str(closed.value), path)
        # A new journal there fails the same way, with an empty book.
        fresh = Journal(disk.folder / "new.sqlite")
        assert fresh.health.state == "failed"
        assert not list(fresh.rebuild().rows())
        with pytest.raises(JournalError):
            fresh.close()
        # Reading still works: `jango journal` lists a read-only journal.
        assert sum(1 for _ in read_entries(path)) == len(events)


def test_a_read_only_file_opens_failed_and_names_the_file(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    with media(tmp_path) as disk:
        path = disk.folder / "j.sqlite"
        with Journal(path, **disk.options) as journal:  # type: ignore[arg-type]
            record_all(journal, events[:50])
        disk.make_file_read_only(path)
        journal = Journal(path)
        health = journal.health
        assert health.state == "failed"
        assert "read-only" in health.message
        one_loud_line(health.message, path)
        with pytest.raises(JournalError):
            journal.close()


def test_pages_overwritten_under_a_running_journal_fail_it_as_corrupted(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path, durability="batch") as journal:
        record_all(journal, events)
    journal = Journal(path)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xff" * (size - 4096))
    record_all(journal, events)
    with pytest.raises(JournalError):
        journal.flush()
    health = journal.health
    assert health.state == "failed"
    assert "corrupted" in health.message and "--recover" in health.message
    one_loud_line(health.message, path)
    with pytest.raises(JournalError) as closed:
        journal.close()
    one_loud_line(str(closed.value), path)
    # The next open refuses the file with the same one line instead of building on it.
    with pytest.raises(JournalCorrupt) as refused:
        Journal(path)
    one_loud_line(str(refused.value), path)


WRITE_THEN_WAIT = """
import sys, time
from jango.journal import Journal
from tests.journal.streams import ARRIVAL, venue_events
journal = Journal(sys.argv[1])
for event in venue_events(steps=80):
    journal.record_event(event, raw="", source="sim", at=ARRIVAL)
journal.flush()
print(journal.last_seq, flush=True)
time.sleep(600)
"""


def killed_after_flush(path: Path) -> int:
    """A process journals, flushes, prints its last seq and is SIGKILLed; returns the seq."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITE_THEN_WAIT, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert line, proc.stderr.read() if proc.stderr else ""
    return int(line)


def test_a_deleted_wal_after_a_crash_is_warned_about_on_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    written = killed_after_flush(path)
    assert written > 0
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0  # the committed events live in the WAL until a checkpoint
    wal.unlink()
    report = check(path)
    assert report.wal_missing and report.problems
    journal = Journal(path)
    [warning] = journal.open_warnings
    one_loud_line(warning, path)
    assert "events may be missing since seq" in warning
    assert "reconciling with the broker" in warning
    journal.close()
    # The warning is journaled too, and a clean close clears the marker.
    errors = [e.body for e in read_entries(path, kinds=["error"])]
    assert any("events may be missing" in body for body in errors)
    assert Journal(path).open_warnings == []


def test_a_crash_with_its_wal_intact_loses_nothing_committed_and_says_the_session_crashed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    written = killed_after_flush(path)
    with Journal(path) as journal:
        [warning] = journal.open_warnings
        one_loud_line(warning, path)
        assert "was not closed by the last session (killed or crashed)" in warning
        assert f"events after seq {written} may be missing" in warning
        assert journal.last_seq == written
        notices = [e for e in read_entries(path, kinds=["notice"])]
        assert all(isinstance(e.event(), OrderNotice) for e in notices)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition``; the generous bound only keeps a broken build from hanging."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def test_a_disk_that_fills_then_frees_space_is_written_again_and_the_gap_is_journaled(
    tmp_path: Path,
    events: list,  # type: ignore[type-arg]
) -> None:
    with media(tmp_path, size_kib=8192) as disk:
        if not disk.mounted:
            pytest.skip("needs a real small file system to fill and free (root and mount)")
        path = disk.folder / "j.sqlite"
        journal = Journal(path)
        filler = fill(disk.folder)
        notices = [e for e in events if isinstance(e, OrderNotice)]
        record_all(journal, notices, raw="x" * 1000)
        wait_for(lambda: journal.health.state == "failed")
        assert "the disk is full" in journal.health.message
        filler.unlink()
        # The writer retries with back-off and succeeds now that there is room.
        wait_for(lambda: journal.health.state != "failed")
        journal.flush()
        assert journal.health.ok  # nothing was lost: the notices waited in the queue
        journal.close()
        rows = list(read_entries(path))
    [gap] = [e for e in rows if e.kind == "error" and e.source == "journal"]
    assert "could not be written" in gap.body and "the disk is full" in gap.body
    assert str(path) in gap.body
    assert [e.event() for e in rows if e.kind == "notice"] == notices
