"""``replay_lines`` with its runs of ticks gives what applying each line's event one by one gives.

The lines are an export of real venue events (snapshot, ticks, notices, journal marks), cut,
repeated and shuffled in places (marks go back, a file is replayed twice), with blank lines,
headers in odd places, broken lines and unmarked lines among them. The reference is the replay
as it was: every record from ``read_records`` through ``apply_journaled`` (or ``Book.apply``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from jango import recorded
from jango.domain.book import Book
from jango.domain.model import DomainError
from jango.journal.checkpoint import dump_book
from jango.journal.export import replay_lines
from jango.journal.fence import apply_journaled
from jango.recorded import JournalMark, RecordError, dump_line, header_line, read_records
from tests.journal.streams import venue_events

EVENTS = venue_events(seed=7, steps=30)
MARKED = [dump_line(e, JournalMark(i + 1)) for i, e in enumerate(EVENTS)]
PLAIN = [dump_line(e) for e in EVENTS]
ODD = ["", "   ", header_line(), "{", '{"type":"tick"}', MARKED[3].replace('"seq":', '"seq":-')]


def reference(book: Book, lines: Iterable[str | bytes]) -> Iterator[tuple[int, Exception]]:
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


pieces = st.tuples(
    st.sampled_from([MARKED, PLAIN]), st.integers(0, len(EVENTS)), st.integers(0, 80)
).map(lambda p: p[0][p[1] : p[1] + p[2]])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(pieces | st.lists(st.sampled_from(ODD), max_size=2), min_size=1, max_size=8),
    st.booleans(),
    st.booleans(),
)
def test_runs_of_ticks_replay_as_the_lines_one_by_one(
    parts: list[list[str]], header: bool, as_bytes: bool
) -> None:
    lines: list[str | bytes] = [header_line()] if header else []
    lines += [line for part in parts for line in part]
    if as_bytes:
        lines = [line.encode() + b"\n" if isinstance(line, str) else line for line in lines]
    results = []
    for replay in (reference, replay_lines):
        recorded._SEEN_CODES.clear()
        recorded._SEEN_TIMES.clear()
        book = Book()
        errors = [(n, str(e)) for n, e in replay(book, lines)]
        results.append((dump_book(book), errors))
    assert results[0] == results[1]
