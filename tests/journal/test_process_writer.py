"""The journal's writer in a process of its own: it writes what its session sent even when the
session is killed, a restarted session waits for it, and a writer that dies is loud."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jango.domain.model import Tick
from jango.journal import Journal, JournalError, read_entries
from jango.journal.lock import JournalLocked, hold
from jango.journal.process import ProcessJournal
from jango.journal.schema import CURRENT_VERSION, JournalVersionError
from tests.journal.streams import ARRIVAL, replay, state, venue_events

ROOT = Path(__file__).resolve().parents[2]


def rows(path: Path) -> list[tuple[object, ...]]:
    return [(e.seq, e.kind, e.body, e.raw, e.reflected) for e in read_entries(path)]


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (an exited orphan may stay a zombie if no one reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_process_writer_journals_exactly_what_the_thread_writer_does(tmp_path: Path) -> None:
    events = venue_events(steps=60)
    for kind, path in ((Journal, tmp_path / "t.sqlite"), (ProcessJournal, tmp_path / "p.sqlite")):
        with kind(path) as journal:
            run: list[Tick] = []
            for event in events:
                if type(event) is Tick:
                    run.append(event)
                    continue
                if run:
                    journal.record_ticks(run, raws=(), source="sim", at=ARRIVAL)
                    run = []
                journal.record_event(event, raw="{}", source="sim", at=ARRIVAL)
            journal.record_ticks(run, raws=(), source="sim", at=ARRIVAL)
    assert rows(tmp_path / "p.sqlite") == rows(tmp_path / "t.sqlite")
    with ProcessJournal(tmp_path / "p.sqlite") as journal:
        assert state(journal.rebuild()) == state(replay(events))


# A session that hands its writer many ticks and a last notice, says so, and waits to be killed.
SESSION = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta
    from jango.domain.model import KST, Tick
    from jango.journal.process import ProcessJournal
    from tests.journal.streams import ARRIVAL, venue_events

    journal = ProcessJournal(sys.argv[1])
    notices = [e for e in venue_events(steps=40) if type(e).__name__ == "OrderNotice"]
    at = datetime(2026, 3, 4, 9, 0, tzinfo=KST)
    for i in range(0, 60_000, 20):
        burst = [Tick(f"{(i + j) % 500:06d}", 1000 + j, 0, i + j, at) for j in range(20)]
        journal.record_ticks(burst, raws=(), source="sim", at=ARRIVAL)
    journal.record_event(notices[-1], raw="last", source="sim", at=ARRIVAL)
    while journal._sent < journal._items_in:  # handed to the writer process, not yet written
        pass
    print(journal._proc.pid, flush=True)
    sys.stdin.read()
    """
)


def test_a_killed_session_s_writer_writes_what_it_was_sent_and_a_restart_waits_for_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert session.stdout is not None
    writer_pid = int(session.stdout.readline())
    session.send_signal(signal.SIGKILL)
    session.wait()
    # The restarted session's journal opens only once the old writer has written and closed it.
    with Journal(path) as journal:
        assert journal.open_warnings == []  # it closed the file cleanly
        entries = list(read_entries(path))
        while running(writer_pid):
            time.sleep(0.01)
        assert len(list(read_entries(path))) == len(entries)  # nothing came after
    assert entries[-1].kind == "notice" and entries[-1].raw == "last"
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    ticks = sum(e.kind == "tick" for e in entries)
    shed = 60_000 - ticks  # a writer that fell behind samples ticks; it never loses a notice
    assert ticks > 0 and shed >= 0


def test_a_second_writer_waits_for_the_lock_then_names_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with ProcessJournal(path) as journal:
        with pytest.raises(JournalLocked, match=r"another process \(pid \d+\); waited 0.2 s"):
            hold(path, wait_s=0.2)
        journal.record_event(venue_events(steps=1)[0], raw="", source="sim", at=ARRIVAL)
    fd = hold(path, wait_s=0.2)  # free once the writer has closed
    assert fd is not None
    os.close(fd)


def test_a_writer_process_that_dies_fails_the_journal_loudly(tmp_path: Path) -> None:
    events = venue_events(steps=5)
    journal = ProcessJournal(tmp_path / "j.sqlite")
    journal.record_event(events[0], raw="", source="sim", at=ARRIVAL)
    journal.flush()
    journal._proc.kill()
    deadline = time.monotonic() + 30
    while journal.health.state != "failed" and time.monotonic() < deadline:
        time.sleep(0.01)
    health = journal.health
    assert health.state == "failed"
    assert health.message.startswith("journal failed: ")
    assert "the writer process stopped" in health.message and str(journal.path) in health.message
    notice = next(e for e in events if type(e).__name__ == "OrderNotice")
    journal.record_event(notice, raw="", source="sim", at=ARRIVAL)
    assert journal.health.lost == 1
    with pytest.raises(JournalError, match="the writer process stopped"):
        journal.flush()
    with pytest.raises(JournalError, match="the writer process stopped"):
        journal.close()


def test_a_journal_from_a_newer_jango_is_refused_through_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={CURRENT_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(JournalVersionError, match="newer than this jango understands"):
        ProcessJournal(path)
    fd = hold(path, wait_s=5)  # the refused writer let go of the lock
    assert fd is not None
    os.close(fd)


def test_every_mode_through_the_writer_acknowledges_each_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with ProcessJournal(path, durability="every") as journal:
        for i, event in enumerate(venue_events(steps=5)[:20], start=1):
            journal.record_event(event, raw="{}", source="sim", at=ARRIVAL)
            db = sqlite3.connect(path)
            assert db.execute("SELECT count(*) FROM events").fetchone()[0] == i
            db.close()
            assert journal.last_seq == i


def test_a_session_whose_writer_process_cannot_start_writes_from_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from jango.journal.settings import JournalOptions

    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    journal = JournalOptions.from_settings({}).open(tmp_path / "j.sqlite")
    try:
        assert type(journal) is Journal
        journal.record_event(venue_events(steps=1)[0], raw="", source="sim", at=ARRIVAL)
        journal.flush()
        assert journal.last_seq >= 1
    finally:
        journal.close()
    [line] = [
        r.getMessage() for r in caplog.records if "writer process cannot start" in r.getMessage()
    ]
    assert line.endswith("the journal is written from this process instead")


def test_a_run_whose_writer_process_is_killed_shows_its_book_degraded_and_exits_1(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JANGO_")},
        "JANGO_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT / "src"),
    }
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jango.cli",
            *("run", "--profile", "p", "--seconds", "30"),
            "--format",
            "json",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock_file = tmp_path / "p.journal.sqlite.lock"
    deadline = time.monotonic() + 60
    writer = 0
    while time.monotonic() < deadline and not writer:
        text = lock_file.read_text() if lock_file.exists() else ""
        pid = int(text) if text.strip().isdigit() else 0
        if pid and pid != run.pid:  # the writer process has named itself
            writer = pid
        time.sleep(0.02)
    assert writer, "the writer process never took the lock"
    os.kill(writer, signal.SIGKILL)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 1, err
    assert "Traceback" not in err
    assert "the writer process stopped (exit code -9)" in err
    assert err.strip().splitlines()[-1].startswith("jango: error: journal failed: ")
    status = json.loads(out)["status"]
    assert status["degraded"] is True
    [problem] = status["problems"]
    assert problem["task"] == "journal" and problem["permanent"] is True


def test_what_the_writer_logs_while_opening_reaches_the_sessions_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'open' WHERE key = 'wal'")  # as a killed writer left it
    db.commit()
    db.close()
    with ProcessJournal(path) as journal:
        [warning] = journal.open_warnings
    assert "after an unclean shutdown" in warning and "reconciling with the broker" in warning
    assert warning in [r.getMessage() for r in caplog.records if r.name == "jango.journal"]
