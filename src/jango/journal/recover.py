"""Copy every readable event of a damaged journal into a new, healthy one.

A truncated or partly overwritten file loses some pages; SQLite then fails on the rows (or index
pages) they held. Recovery reads forward in sequence order, and when a read fails it steps past
the damaged sequence numbers one at a time, so every row still reachable is copied. Rows whose
event text no longer parses are counted as unreadable, not copied. Checkpoints are not copied:
the new journal's first open rebuilds from its events.

:func:`check` reads a journal without changing it and reports its integrity, gaps in the sequence
numbers, unreadable rows, the latest checkpoint and whether the last writer closed it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jango.journal.schema import JournalCorrupt, JournalError, connect, open_readonly
from jango.journal.store import wal_holds_frames
from jango.recorded import RecordError, parse_line

# After this many damaged sequence numbers in a row (and no known maximum), stop looking.
_MAX_MISSES = 10_000
_EVENT_KINDS = ("snapshot", "tick", "notice")


@dataclass(frozen=True, slots=True)
class RecoverReport:
    """How many rows were copied, and how many sequence numbers could not be read."""

    copied: int
    unreadable: int
    last_seq: int


def recover(source: Path, target: Path) -> RecoverReport:
    """Copy every readable row of the journal ``source`` into a new journal at ``target``."""
    if target.exists():
        raise JournalError(f"{target} already exists; recover into a new file")
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        # A truncated file can fail SQLite's schema sanity checks even though the schema page
        # is intact; this read-only connection may skip them.
        src.execute("PRAGMA writable_schema=ON")
        columns = {row[1] for row in src.execute("PRAGMA table_info(events)")}
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(f"nothing readable in {source}: {exc}") from exc
    if "seq" not in columns:
        src.close()
        raise JournalCorrupt(f"nothing readable in {source}: no events table")
    reflected = "reflected" if "reflected" in columns else "0"
    select = f"seq, kind, at, source, account, code, order_no, body, raw, {reflected}"
    copied = unreadable = last = 0
    dst = connect(target)
    try:
        dst.execute("BEGIN")
        for row, missed in _scan(src, select):
            unreadable += missed
            if row is None:
                continue
            if not _readable(row):
                unreadable += 1
                continue
            dst.execute(
                "INSERT INTO events (seq, kind, at, source, account, code, order_no, body, raw, "
                "reflected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            copied += 1
            last = row[0]
        dst.execute("COMMIT")
    finally:
        dst.close()
        src.close()
    return RecoverReport(copied, unreadable, last)


def _readable(row: tuple[Any, ...]) -> bool:
    if not isinstance(row[0], int) or not isinstance(row[7], str):
        return False
    if row[1] in _EVENT_KINDS:
        try:
            parse_line(row[7])
        except RecordError:
            return False
    return True


def _scan(db: sqlite3.Connection, select: str) -> Iterator[tuple[tuple[Any, ...] | None, int]]:
    """Yield ``(row, damaged seqs skipped just before it)``; a final ``(None, n)`` for the tail."""
    try:
        upper: int | None = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    except sqlite3.DatabaseError:
        upper = None  # the rightmost pages are gone; probe until misses run out
    last = misses = 0
    while upper is None or last < upper:
        try:
            for row in db.execute(
                f"SELECT {select} FROM events WHERE seq > ? ORDER BY seq", (last,)
            ):
                yield row, misses
                last, misses = row[0], 0
            return
        except sqlite3.DatabaseError:
            # Step past one sequence number; a point lookup may still reach it by another page.
            last += 1
            try:
                row = db.execute(f"SELECT {select} FROM events WHERE seq = ?", (last,)).fetchone()
            except sqlite3.DatabaseError:
                row = None
            if row is not None:
                yield row, misses
                misses = 0
                continue
            misses += 1
            if upper is None and misses >= _MAX_MISSES:
                return
    yield None, misses


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``jango journal --check`` found; :attr:`problems` is empty for a healthy journal."""

    path: Path
    integrity: tuple[str, ...]  # ("ok",) or SQLite's messages
    rows: int
    last_seq: int
    gaps: tuple[tuple[int, int], ...]  # (first missing, last missing) seq ranges
    unreadable: tuple[int, ...]  # seqs whose body does not parse
    unreadable_total: int
    read_error: str  # rows that could not be read at all ("" if all were)
    last_checkpoint: tuple[int, str] | None  # (seq, at)
    closed_cleanly: bool | None  # None: the file predates the marker
    wal_missing: bool  # not closed cleanly, and its write-ahead log is gone
    errors_journaled: int

    @property
    def problems(self) -> list[str]:
        """One line per thing that is wrong."""
        out: list[str] = []
        if self.integrity != ("ok",):
            out.append(f"integrity check failed: {'; '.join(self.integrity[:5])}")
        if self.gaps:
            missing = sum(b - a + 1 for a, b in self.gaps)
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.gaps[:10])
            out.append(f"{missing} sequence numbers missing: {shown}")
        if self.unreadable_total:
            shown = ", ".join(str(s) for s in self.unreadable[:10])
            out.append(f"{self.unreadable_total} rows unreadable (seq {shown})")
        if self.read_error:
            out.append(f"rows after seq {self.last_seq} cannot be read: {self.read_error}")
        if self.wal_missing:
            out.append(
                f"the write-ahead log {self.path.name}-wal is missing after an unclean "
                f"shutdown: events may be missing since seq {self.last_seq}"
            )
        return out


_MAX_LISTED = 100


def check(path: Path) -> CheckReport:
    """Read the whole journal at ``path`` without changing it and report what is wrong.

    Raises :class:`JournalError` only when the file cannot be opened at all.
    """
    if not path.exists():
        raise JournalError(f"no journal at {path}")
    wal_there = wal_holds_frames(path)  # before SQLite may create an empty one
    db = open_readonly(path)
    try:
        integrity = _integrity(db)
        gaps: list[tuple[int, int]] = []
        unreadable: list[int] = []
        bad = rows = last = 0
        read_error = ""
        try:
            for seq, kind, body in db.execute("SELECT seq, kind, body FROM events ORDER BY seq"):
                rows += 1
                if seq != last + 1 and len(gaps) < _MAX_LISTED:
                    gaps.append((last + 1, seq - 1))
                last = seq
                if not _body_readable(kind, body):
                    bad += 1
                    if len(unreadable) < _MAX_LISTED:
                        unreadable.append(seq)
        except sqlite3.DatabaseError as exc:
            read_error = str(exc)
        checkpoint, clean, errors = _meta(db)
    finally:
        db.close()
    return CheckReport(
        path,
        integrity,
        rows,
        last,
        tuple(gaps),
        tuple(unreadable),
        bad,
        read_error,
        checkpoint,
        clean,
        clean is False and not wal_there,
        errors,
    )


def _integrity(db: sqlite3.Connection) -> tuple[str, ...]:
    try:
        return tuple(row[0] for row in db.execute("PRAGMA integrity_check(20)"))
    except sqlite3.DatabaseError as exc:
        return (str(exc),)


def _body_readable(kind: object, body: object) -> bool:
    if not isinstance(body, str):
        return False
    if kind in _EVENT_KINDS:
        try:
            parse_line(body)
        except RecordError:
            return False
        return True
    if kind in ("error", "discrepancy"):
        try:
            return isinstance(json.loads(body), dict)
        except ValueError:
            return False
    return False


def _meta(db: sqlite3.Connection) -> tuple[tuple[int, str] | None, bool | None, int]:
    """The latest checkpoint, whether the last writer closed cleanly, and error rows."""
    checkpoint: tuple[int, str] | None = None
    clean: bool | None = None
    errors = 0
    with contextlib.suppress(sqlite3.DatabaseError):
        row = db.execute("SELECT seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
        checkpoint = (row[0], row[1]) if row else None
    with contextlib.suppress(sqlite3.DatabaseError):
        row = db.execute("SELECT value FROM meta WHERE key = 'wal'").fetchone()
        clean = None if row is None else row[0] == "clean"
    with contextlib.suppress(sqlite3.DatabaseError):
        errors = db.execute("SELECT count(*) FROM events WHERE kind = 'error'").fetchone()[0]
    return checkpoint, clean, errors
