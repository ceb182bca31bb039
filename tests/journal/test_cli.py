"""``jango journal`` and ``jango why`` on a real journal file, through argparse."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jango.domain.book import Book
from jango.domain.model import OrderNotice
from jango.journal.cli import add_commands
from jango.recorded import read_events
from tests.journal.streams import replay, state, venue_events, write


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:  # type: ignore[type-arg]
    events = venue_events(steps=120)
    path = tmp_path_factory.mktemp("cli") / "j.sqlite"
    write(path, events)
    return path, events


def test_export_writes_the_recorded_format_that_replay_reads(
    journal: tuple[Path, list],
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    path, events = journal
    out = tmp_path / "out.jsonl"
    assert run("journal", "--path", str(path), "--export", str(out)) == 0
    parsed = [item for _, item in read_events(out.read_text().splitlines())]
    book = Book()
    book.apply_all(parsed)  # type: ignore[arg-type]
    assert state(book) == state(replay(events))


def test_filters_by_code_order_and_kind(
    journal: tuple[Path, list],
    capsys: pytest.CaptureFixture[str],  # type: ignore[type-arg]
) -> None:
    path, events = journal
    notice = next(e for e in events if isinstance(e, OrderNotice))
    assert run("journal", "--path", str(path), "--order", notice.order_no) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(notice.order_no in line for line in lines)
    assert run("journal", "--path", str(path), "--code", notice.code, "--kind", "tick") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(" tick " in line and notice.code in line for line in lines)
    assert run("journal", "--path", str(path), "--until", "2000-01-01T00:00:00") == 0
    assert capsys.readouterr().out == ""


def test_why_ends_at_the_rows_quantity_and_purchase_amount(
    journal: tuple[Path, list],
    capsys: pytest.CaptureFixture[str],  # type: ignore[type-arg]
) -> None:
    path, events = journal
    book = replay(events)
    row = next(iter(book.rows()))
    assert run("why", row.key.code, "--path", str(path)) == 0
    last = capsys.readouterr().out.splitlines()[-1].split()
    assert last[-3:-1] == [f"{row.qty:,}", f"{row.purchase_amount:,}"]


def test_a_missing_or_corrupted_journal_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("journal", "--path", str(tmp_path / "none.sqlite")) == 2
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 500)
    assert run("journal", "--path", str(bad)) == 2
    assert run("why", "005930", "--path", str(bad)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "--recover" in err[1]
