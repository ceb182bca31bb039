"""The block reader of a rebuild decides every row as the row-by-row reader does.

A journal of real venue events has some of its tick bodies mutated the ways that would trip a
decoder trusting too much (a key twice, escapes, odd numbers, a newline, a notice where a tick
was, a body closing early and the next one continuing it), some rows of other kinds, and gaps
in its sequence numbers. :func:`replay_rows` (windows made small so that they cross every
kind of row) must give exactly what the old rebuild gives: every row through ``parse_line``
then ``apply_journaled_all``: the same book, last sequence number, rows read and unreadable.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango import recorded
from jango.domain.book import Book
from jango.domain.model import Event, Tick
from jango.journal import Journal, rebuild
from jango.journal.checkpoint import dump_book
from jango.journal.fence import apply_journaled_all
from jango.recorded import RecordError, parse_line, read_tick_rows
from tests.journal.streams import venue_events, write
from tests.test_recorded_fast import EDITS

EVENTS = venue_events(seed=5, steps=40)

ODD = [
    *EDITS,
    ("}", "\n}"),  # a newline inside a body
    ("}", ""),  # a body that does not close ...
    ('{"type"', '"x":1}{"type"'),  # ... and one that starts inside another
    ("}", '}] [1,{"type":"tick"}'),  # a second row on the line
    ('"code":"', '"code":"A'),  # a code the strict reader rewrites
    ("+09:00", "+09:00 "),
]


def old_rebuild(db: sqlite3.Connection, book: Book, start: int) -> tuple[int, int]:
    """The rebuild as it was: every row in one query, each body through ``parse_line``."""
    read = bad = 0
    events: list[tuple[int, Event, bool]] = []
    for seq, body, reflected in db.execute(
        "SELECT seq, body, reflected FROM events "
        "WHERE seq > ? AND kind IN ('snapshot', 'tick', 'notice') ORDER BY seq",
        (start,),
    ):
        read += 1
        try:
            events.append((seq, parse_line(body), bool(reflected)))
        except RecordError:
            bad += 1
    apply_journaled_all(book, events)
    return read, bad


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blocks") / "j.sqlite"
    write(path, EVENTS, checkpoint_every=10**9)
    return path


def rebuilt(path: Path, reader: object, start: int, last_seq: int) -> tuple[object, ...]:
    recorded._SEEN_CODES.clear()
    recorded._SEEN_TIMES.clear()
    book = Book()
    book.last_seq = last_seq
    db = sqlite3.connect(path)
    try:
        counts = reader(db, book, start)  # type: ignore[operator]
    finally:
        db.close()
    return dump_book(book), counts


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(1, len(EVENTS)), st.sampled_from(ODD)), min_size=0, max_size=6
    ),
    kinds=st.lists(st.tuples(st.integers(1, len(EVENTS)), st.sampled_from(["error", "tick"]))),
    gaps=st.lists(st.integers(1, len(EVENTS)), max_size=3),
    window=st.integers(1, 40),
    start=st.integers(0, 30),
    ahead=st.integers(0, 20),
)
def test_blocks_and_rows_rebuild_the_same_book(
    journal: Path,
    tmp_path: Path,
    edits: list[tuple[int, tuple[str, str]]],
    kinds: list[tuple[int, str]],
    gaps: list[int],
    window: int,
    start: int,
    ahead: int,
) -> None:
    path = tmp_path / "odd.sqlite"
    path.write_bytes(journal.read_bytes())
    db = sqlite3.connect(path)
    with db:
        for seq, (old, new) in edits:
            (body,) = db.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
            db.execute("UPDATE events SET body = ? WHERE seq = ?", (body.replace(old, new, 1), seq))
        for seq, kind in kinds:
            db.execute("UPDATE events SET kind = ? WHERE seq = ?", (kind, seq))
        for seq in gaps:  # sequence numbers jump (rows removed), wider than a window
            db.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (seq, seq + 50))
    db.close()
    saved = rebuild.WINDOW
    rebuild.WINDOW = window
    try:
        # A checkpoint's book may stand at or past its own row ("ahead"): those rows are skipped.
        want = rebuilt(path, old_rebuild, start, start + ahead)
        assert rebuilt(path, rebuild.replay_rows, start, start + ahead) == want
    finally:
        rebuild.WINDOW = saved


def test_the_blocks_of_a_plain_journal_are_all_read_in_one_go(journal: Path) -> None:
    recorded._SEEN_CODES.clear()
    recorded._SEEN_TIMES.clear()
    db = sqlite3.connect(journal)
    (block, count) = db.execute(rebuild._TICKS, (0, 10**9)).fetchone()
    rows = read_tick_rows(b"[" + block + b"]", count)
    assert rows is not None and not rows.bad
    ticks = [e for e in EVENTS if isinstance(e, Tick)]
    assert len(rows.seqs) == len(ticks)
    assert rows.quotes == [
        None if t.expected else (t.code, t.price, t.diff, t.volume, t.time) for t in ticks
    ]
    db.close()


def test_a_journal_rebuilds_to_the_book_its_rows_give(journal: Path) -> None:
    with Journal(journal, checkpoint_every=10**9) as j:
        book = j.rebuild(use_checkpoints=False)
        assert j.last_rebuild.events_read == len(EVENTS)
    assert rebuilt(journal, old_rebuild, 0, 0)[0] == dump_book(book)


def test_apply_quotes_is_apply_tick_on_each() -> None:
    ticks = [e for e in EVENTS if isinstance(e, Tick)]
    one, many = Book(), Book()
    one.apply(EVENTS[0])
    many.apply(EVENTS[0])
    for t in ticks:
        one.apply_tick(t)
    many.apply_quotes(
        [None if t.expected else (t.code, t.price, t.diff, t.volume, t.time) for t in ticks]
    )
    assert dump_book(one) == dump_book(many)
