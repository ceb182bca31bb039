"""``jango journal --check``: integrity, gaps in sequence numbers, unreadable rows and the last
checkpoint, on real journal files damaged in each of those ways; exit 1 when anything is wrong."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from jango.journal import Journal
from jango.journal.cli import add_commands
from tests.journal.streams import ARRIVAL, venue_events


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite"
    with Journal(path, durability="batch", checkpoint_every=500) as j:
        for event in venue_events(steps=120):
            j.record_event(event, raw="", source="sim", at=ARRIVAL)
    return path


def edit(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


def test_a_healthy_journal_checks_clean(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("journal", "--check", "--path", str(journal)) == 0
    out = capsys.readouterr().out
    assert "integrity: ok" in out and "gaps in seq: none" in out
    assert "unreadable rows: none" in out and "closed cleanly: yes" in out
    db = sqlite3.connect(journal)
    seq, at = db.execute("SELECT seq, at FROM checkpoints ORDER BY seq DESC").fetchone()
    db.close()
    assert f"last checkpoint: seq {seq:,} at {at}" in out
    assert "PROBLEM" not in out


def test_missing_sequence_numbers_are_reported_as_ranges(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(journal, "DELETE FROM events WHERE seq BETWEEN 10 AND 14 OR seq = 30")
    assert run("journal", "--check", "--path", str(journal)) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: 6 sequence numbers missing: 10-14, 30" in out


def test_rows_whose_event_no_longer_parses_are_reported_by_seq(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(journal, 'UPDATE events SET body = \'{"type":"tick"\' WHERE seq IN (5, 7)')
    assert run("journal", "--check", "--path", str(journal)) == 1
    assert "PROBLEM: 2 rows unreadable (seq 5, 7)" in capsys.readouterr().out


def test_damaged_pages_fail_the_integrity_check(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = journal.stat().st_size
    with journal.open("r+b") as f:
        f.seek(size // 2)
        f.write(b"\x00\xff" * 4096)
    assert run("journal", "--check", "--path", str(journal)) == 1
    out = capsys.readouterr().out
    assert "integrity: FAILED" in out and "PROBLEM: integrity check failed" in out


def test_a_file_that_is_not_a_database_fails_the_check_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"not sqlite" * 1000)
    assert run("journal", "--check", "--path", str(path)) == 1
    [line] = capsys.readouterr().out.splitlines()
    assert str(path) in line and "corrupted" in line


def test_checking_a_missing_journal_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("journal", "--check", "--path", str(tmp_path / "none.sqlite")) == 2
    assert "no journal at" in capsys.readouterr().err
