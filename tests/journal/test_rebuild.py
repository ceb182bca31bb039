"""Rebuilding a book from the journal: equal to a straight replay, exact through checkpoints."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

from jango.domain.model import Tick
from jango.journal import Journal
from jango.journal.checkpoint import StateEncoder, dump_book, load_book
from tests.journal.streams import replay, state, venue_events, write
from tests.journal.writers import both_writers  # noqa: F401


def test_book_state_round_trips_exactly_through_json() -> None:
    book = replay(venue_events(steps=150))
    assert any(o.status.value == "open" for o in book.orders.values())
    again = load_book(json.loads(json.dumps(dump_book(book))))
    assert dump_book(again) == dump_book(book)


def test_the_state_encoder_writes_dump_book_data_as_the_book_goes_on_and_into_a_new_day() -> None:
    events = venue_events(steps=150)
    encoder, book = StateEncoder(), replay(events[:1])
    for lo in range(1, len(events), len(events) // 5):
        book.apply_all(events[lo : lo + len(events) // 5])
        assert json.loads(encoder.encode(book)) == dump_book(book)
    seen = len(book._seen)
    tick = next(e for e in reversed(events) if isinstance(e, Tick))
    book.apply(dataclasses.replace(tick, time=tick.time + timedelta(days=1)))
    assert len(book._seen) < seen  # the day's dedupe keys were dropped...
    text = encoder.encode(book)
    assert json.loads(text) == dump_book(book)  # ...and are not written from the cache
    assert dump_book(load_book(json.loads(text))) == dump_book(book)


def test_rebuild_equals_a_straight_replay_of_every_event(tmp_path: Path) -> None:
    events = venue_events(steps=150)
    write(tmp_path / "j.sqlite", events, checkpoint_every=10**9)
    with Journal(tmp_path / "j.sqlite", checkpoint_every=10**9) as journal:
        rebuilt = journal.rebuild(use_checkpoints=False)
        assert journal.last_rebuild.events_read == len(events)
    assert state(rebuilt) == state(replay(events))


def test_a_book_continued_from_a_checkpoint_equals_the_straight_replay(tmp_path: Path) -> None:
    events = venue_events(steps=150)
    half = len(events) // 2
    write(tmp_path / "j.sqlite", events[:half], checkpoint_every=50)
    write(tmp_path / "j.sqlite", events[half:], checkpoint_every=50)
    with Journal(tmp_path / "j.sqlite") as journal:
        rebuilt = journal.rebuild()
        stats = journal.last_rebuild
    assert state(rebuilt) == state(replay(events))
    # Close wrote a final checkpoint, so nothing is left to read after it.
    assert stats.checkpoint_seq == len(events)
    assert stats.events_read == 0


def test_checkpoints_let_rebuild_skip_earlier_events(tmp_path: Path) -> None:
    events = venue_events(steps=150)
    path = tmp_path / "j.sqlite"
    journal = Journal(path, checkpoint_every=100, durability="batch")
    for event in events:
        journal.record_event(event, raw="", source="sim", at=events[0].time)
    journal.flush()
    with_cp = journal.rebuild()
    skipped = journal.last_rebuild
    without = journal.rebuild(use_checkpoints=False)
    everything = journal.last_rebuild
    journal.close()
    assert skipped.checkpoint_seq > 0
    assert skipped.events_read == len(events) - skipped.checkpoint_seq < len(events)
    assert everything.events_read == len(events)
    assert state(with_cp) == state(without) == state(replay(events))


def test_replaying_the_same_notices_twice_changes_nothing(tmp_path: Path) -> None:
    events = venue_events(steps=100)
    path = tmp_path / "j.sqlite"
    write(path, events)
    write(path, events[1:])  # the same notices and ticks again, after the snapshot
    with Journal(path) as journal:
        rebuilt = journal.rebuild(use_checkpoints=False)
    once = replay(events)
    assert {r.key: (r.qty, r.purchase_amount) for r in rebuilt.rows()} == {
        r.key: (r.qty, r.purchase_amount) for r in once.rows()
    }
    assert rebuilt.accounts.keys() == once.accounts.keys()
    for name, acc in once.accounts.items():
        assert rebuilt.accounts[name].d2 == acc.d2
