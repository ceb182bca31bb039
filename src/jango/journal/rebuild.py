"""Rebuilding a book from a journal's rows: the bulk read behind :meth:`Journal.rebuild`.

The rows after ``start`` are read a window of sequence numbers at a time, all in one read
transaction (one snapshot of the file, whatever a writer appends meanwhile). In a window, the
few notices and snapshots come one row each; the ticks come from SQLite as one block, which
:func:`~jango.recorded.read_tick_rows` decodes in one call into plain price quotes, and each run
of them between two other events is applied with :meth:`Book.apply_quotes`. A window the block
reader does not trust, or one that starts at or below the book's own last sequence number (a
checkpoint ahead of its row), is read row by row exactly as before: every body through
:func:`~jango.recorded.parse_line`, the events through
:func:`~jango.journal.fence.apply_journaled_all`. Both ways give the same book, the same count
of events read and the same unreadable rows (tested against each other).
"""

from __future__ import annotations

import bisect
import logging
import sqlite3

from jango.domain.book import Book
from jango.domain.model import Event
from jango.journal.fence import apply_journaled, apply_journaled_all
from jango.recorded import Quote, RecordError, parse_line, read_tick_rows

log = logging.getLogger(__name__)

WINDOW = 8192
"""Sequence numbers per window: about 1 MB of tick bodies, well under a line's limit."""

_KINDS = "kind IN ('snapshot', 'tick', 'notice')"
_OTHERS = (
    "SELECT seq, body, reflected FROM events "
    "WHERE seq > ? AND seq <= ? AND kind IN ('snapshot', 'notice') ORDER BY seq"
)
# One line "[seq,body]" per tick row, the brackets between rows in the separator (cheaper for
# SQLite than two concatenations a row; the first and the last are added after). CAST keeps the
# block bytes: no text object to build.
_TICKS = (
    "SELECT CAST(group_concat(seq || ',' || body, ']' || char(10) || '[') AS BLOB), count(*) "
    "FROM events WHERE seq > ? AND seq <= ? AND kind = 'tick'"
)
_ROWS = (
    f"SELECT seq, body, reflected FROM events WHERE seq > ? AND seq <= ? AND {_KINDS} ORDER BY seq"
)
_NEXT = f"SELECT min(seq) FROM events WHERE seq > ? AND {_KINDS}"


def replay_rows(db: sqlite3.Connection, book: Book, start: int) -> tuple[int, int]:
    """Apply every snapshot, tick and notice row after sequence number ``start`` to ``book``;
    return ``(rows read, rows unreadable)``. An unreadable row is logged and skipped."""
    read = bad = 0
    in_transaction = db.in_transaction
    if not in_transaction:
        db.execute("BEGIN")
    try:
        lo = start
        while True:
            hi = lo + WINDOW
            window = _window(db, book, lo, hi)
            if window is None:  # nothing in (lo, hi]: skip to the next row, if any
                (after,) = db.execute(_NEXT, (hi,)).fetchone()
                if after is None:
                    break
                lo = after - 1
                continue
            read += window[0]
            bad += window[1]
            lo = hi
    finally:
        if not in_transaction:
            db.execute("COMMIT")
    return read, bad


def _window(db: sqlite3.Connection, book: Book, lo: int, hi: int) -> tuple[int, int] | None:
    """Apply the rows in ``(lo, hi]``: ``(read, unreadable)``, or ``None`` if there are none."""
    others = db.execute(_OTHERS, (lo, hi)).fetchall()
    block, count = db.execute(_TICKS, (lo, hi)).fetchone()
    if not count:
        if not others:
            return None
        rows = others
    else:
        ticks = read_tick_rows(b"[" + block + b"]", count) if lo >= book.last_seq else None
        if ticks is not None:
            return count + len(others), _apply(book, ticks.seqs, ticks.quotes, ticks.bad, others)
        rows = db.execute(_ROWS, (lo, hi)).fetchall()
    return len(rows), _apply_rows(book, rows)


def _apply(
    book: Book,
    seqs: list[int],
    quotes: list[Quote | None],
    bad: list[tuple[int, RecordError]],
    others: list[tuple[int, str, int]],
) -> int:
    """The window's quotes in runs between its other events, each applied in order."""
    for seq, exc in bad:
        log.warning("journal event %d unreadable, skipped: %s", seq, exc)
    unreadable = len(bad)
    done = 0
    for seq, body, reflected in others:
        upto = bisect.bisect_left(seqs, seq, done)
        if upto > done:
            book.apply_quotes(quotes[done:upto])
            book.last_seq = seqs[upto - 1]
            done = upto
        try:
            event = parse_line(body)
        except RecordError as exc:
            unreadable += 1
            log.warning("journal event %d unreadable, skipped: %s", seq, exc)
            continue
        apply_journaled(book, seq, event, reflected=bool(reflected))
    if done < len(seqs):
        book.apply_quotes(quotes[done:])
        book.last_seq = seqs[-1]
    return unreadable


def _apply_rows(book: Book, rows: list[tuple[int, str, int]]) -> int:
    """Rows one by one, as the rebuild read them before the block reader: unreadable count."""
    unreadable = 0
    events: list[tuple[int, Event, bool]] = []
    for seq, body, reflected in rows:
        try:
            event = parse_line(body)
        except RecordError as exc:
            unreadable += 1
            log.warning("journal event %d unreadable, skipped: %s", seq, exc)
            continue
        events.append((seq, event, bool(reflected)))
    apply_journaled_all(book, events)
    return unreadable
