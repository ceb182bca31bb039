"""Copy every readable event of a damaged journal into a new, healthy one.

A truncated or partly overwritten file loses some pages; SQLite then fails on the rows (or index
pages) they held. Recovery reads forward in sequence order, and when a read fails it steps past
the damaged sequence numbers one at a time, so every row still reachable is copied. Rows whose
event text no longer parses are counted as unreadable, not copied. Checkpoints are not copied:
the new journal's first open rebuilds from its events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jango.journal.schema import JournalCorrupt, JournalError, connect
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
