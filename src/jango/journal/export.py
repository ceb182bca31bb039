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
from jango.recorded import (
    JournalMark,
    LineReader,
    Quote,
    RecordError,
    dump_line,
    fast_quote,
    header_line,
)


def export_lines(entries: Iterable[Entry]) -> Iterator[str]:
    """The header, then one line per event entry (ticks, notices, snapshots), with its mark."""
    yield header_line()
    for e in entries:
        if e.kind in ("snapshot", "tick", "notice"):
            yield dump_line(e.event(), JournalMark(e.seq, e.reflected))


def replay_lines(book: Book, lines: Iterable[str | bytes]) -> Iterator[tuple[int, Exception]]:
    """Apply every event line to ``book``; yield ``(line number, error)`` for each bad line and
    go on. Lines exported from a journal apply by their sequence numbers, once each.

    Plain tick lines (:func:`~jango.recorded.fast_quote`) gather into runs applied with
    :meth:`Book.apply_quotes`, as :func:`~jango.journal.fence.apply_journaled` on each would
    apply them; a run is applied before any other line is, and before an error is yielded.
    """
    reader = LineReader()
    run: list[Quote | None] = []
    floor = 0  # the last sequence number applied, counting the run not yet applied
    last = 0  # the last sequence number in the run
    for number, line in enumerate(lines, start=1):
        fast = None if reader.first else fast_quote(line)
        if fast is not None:
            quote, expected, mark = fast
            if not run:
                floor = book.last_seq
            if mark is not None:
                if mark.seq <= floor:
                    continue  # applied already
                floor = last = mark.seq
            run.append(None if expected else quote)
            continue
        item = reader.read(number, line)
        if item is None:
            continue
        if run:
            _apply_run(book, run, last)
            run, last = [], 0
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
    if run:
        _apply_run(book, run, last)


def _apply_run(book: Book, run: list[Quote | None], last: int) -> None:
    book.apply_quotes(run)
    if last:
        book.last_seq = last
