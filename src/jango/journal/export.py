"""A journal as a recorded-event file, and that file back into a book, agreeing exactly.

:func:`export_lines` writes each journaled event in the recorded format with its journal mark
(sequence number, and the old ``reflected`` flag where a journal has one), so :func:`replay_lines`
of an export gives exactly the book :meth:`~jango.journal.store.Journal.rebuild` gives: both go
through :func:`~jango.journal.fence.apply_journaled`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from jango.domain.book import Book
from jango.domain.model import DomainError
from jango.journal.fence import apply_journaled
from jango.journal.store import Entry
from jango.recorded import JournalMark, RecordError, dump_line, header_line, read_records


def export_lines(entries: Iterable[Entry]) -> Iterator[str]:
    """The header, then one line per event entry (ticks, notices, snapshots), with its mark."""
    yield header_line()
    for e in entries:
        if e.kind in ("snapshot", "tick", "notice"):
            yield dump_line(e.event(), JournalMark(e.seq, e.reflected))


def replay_lines(book: Book, lines: Iterable[str]) -> Iterator[tuple[int, Exception]]:
    """Apply every event line to ``book``; yield ``(line number, error)`` for each bad line and
    go on. Lines exported from a journal apply by their sequence numbers, once each."""
    for number, item in read_records(lines):
        if isinstance(item, RecordError):
            yield number, item
            continue
        event, mark = item
        try:
            if mark is None:
                book.apply(event)
            else:
                apply_journaled(book, mark.seq, event, reflected=mark.reflected)
        except DomainError as exc:
            yield number, exc
