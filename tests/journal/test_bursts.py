"""Bursts of ticks journaled in one call are the same rows as the ticks recorded one by one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jango.domain.model import Event, Tick
from jango.journal import Journal
from jango.journal.store import _chunks, tick_body
from tests.journal.streams import ARRIVAL, replay, state, venue_events
from tests.journal.writers import both_writers  # noqa: F401


def rows(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT seq, kind, at, source, code, body, raw FROM events "
            "WHERE kind IN ('snapshot', 'tick', 'notice') ORDER BY seq"
        ).fetchall()
    finally:
        db.close()


def bursts(events: list[Event]) -> list[list[Event]]:
    """Runs of ticks together, every other event alone (as the sim adapter hands them over)."""
    groups: list[list[Event]] = []
    for event in events:
        if isinstance(event, Tick) and groups and isinstance(groups[-1][-1], Tick):
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def record(journal: Journal, events: list[Event], *, together: bool) -> None:
    for group in bursts(events):
        first = group[0]
        if together and isinstance(first, Tick):
            ticks = [e for e in group if isinstance(e, Tick)]
            journal.record_ticks(ticks, raws=(), source="sim", at=ARRIVAL)
            continue
        for event in group:
            raw = tick_body(event) if isinstance(event, Tick) else "{}"
            journal.record_event(event, raw=raw, source="sim", at=ARRIVAL)


@pytest.mark.parametrize("durability", ["window", "batch", "every"])
def test_bursts_journal_the_same_rows_as_ticks_one_by_one(tmp_path: Path, durability: str) -> None:
    events = venue_events(steps=60)
    assert any(len(g) > 1 for g in bursts(events))  # there are bursts to group
    one, together = tmp_path / "one.sqlite", tmp_path / "together.sqlite"
    for path, grouped in ((one, False), (together, True)):
        with Journal(path, durability=durability) as journal:  # type: ignore[arg-type]
            record(journal, events, together=grouped)
            journal.flush()
            rebuilt = journal.rebuild(use_checkpoints=False)
            assert state(rebuilt) == state(replay(events))
    assert rows(together) == rows(one)
    assert len(rows(one)) == len(events)


def test_a_burst_keeps_the_raw_payloads_it_was_given(tmp_path: Path) -> None:
    ticks = [e for e in venue_events(steps=5) if isinstance(e, Tick)][:7]
    raws = [f"frame-{i}" for i in range(len(ticks))]
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_ticks(ticks, raws=raws, source="kis", at=ARRIVAL)
    got = rows(tmp_path / "j.sqlite")
    assert [(r[3], r[4], r[6]) for r in got] == [
        ("kis", t.code, raw) for t, raw in zip(ticks, raws, strict=True)
    ]


def test_sampled_bursts_keep_the_last_tick_of_each_code(tmp_path: Path) -> None:
    ticks = [e for e in venue_events(steps=40) if isinstance(e, Tick)]
    path = tmp_path / "j.sqlite"
    with Journal(path, ticks="latest", durability="batch", flush_ms=60_000) as journal:
        half = len(ticks) // 2
        journal.record_ticks(ticks[:half], raws=(), source="sim", at=ARRIVAL)
        journal.record_ticks(ticks[half:], raws=(), source="sim", at=ARRIVAL)
        journal.flush()  # both bursts in one commit
        assert journal.health.shed_ticks == 0  # a sample is not shedding
    last = {t.code: tick_body(t) for t in ticks}
    assert sorted(r[5] for r in rows(path)) == sorted(last.values())


def test_a_burst_larger_than_the_queue_is_shed_and_counted_never_lost(tmp_path: Path) -> None:
    ticks = [e for e in venue_events(steps=10) if isinstance(e, Tick)]
    with Journal(tmp_path / "j.sqlite", max_queue=4) as journal:
        journal.record_ticks(ticks, raws=(), source="sim", at=ARRIVAL)
        journal.flush()
        health = journal.health
    assert (health.shed_ticks, health.lost, health.state) == (len(ticks), 0, "ok")
    assert rows(tmp_path / "j.sqlite") == []


def test_no_ticks_policy_journals_no_burst(tmp_path: Path) -> None:
    ticks = [e for e in venue_events(steps=5) if isinstance(e, Tick)]
    with Journal(tmp_path / "j.sqlite", ticks="none") as journal:
        journal.record_ticks(ticks, raws=(), source="sim", at=ARRIVAL)
    assert rows(tmp_path / "j.sqlite") == []


@given(st.integers(0, 3000))
def test_rows_go_to_sqlite_in_order_in_at_most_nine_statement_sizes(count: int) -> None:
    rows = [(i,) for i in range(count)]
    chunks = list(_chunks(rows))
    assert [row for chunk in chunks for row in chunk] == rows
    assert {len(chunk) for chunk in chunks} <= {1 << k for k in range(9)}
