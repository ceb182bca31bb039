"""Event streams from a real sim venue (a demo trader trading while prices move), for tests."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from jango.brokers.sim.demo import DemoTrader
from jango.domain.book import Book
from jango.domain.model import KST, Event, OrderNotice, Tick
from jango.journal import Journal
from jango.journal.checkpoint import dump_book
from jango.sandbox.venue import Venue

ARRIVAL = datetime(2026, 3, 4, 9, 0, tzinfo=KST)


def venue_events(seed: int = 3, steps: int = 200) -> list[Event]:
    """The demo account's snapshot, then every tick and notice the venue emits, in order."""
    venue = Venue(seed=seed)
    venue.open_demo_account()
    account = venue.accounts()[0]
    events: list[Event] = [venue.balance(account)]

    def keep(event: Tick | OrderNotice) -> None:
        events.append(event)

    venue.add_tick_listener(keep)
    venue.add_notice_listener(keep)
    trader = DemoTrader(venue, account, seed=seed)
    for _ in range(steps):
        trader.act()
        venue.step()
    return events


def replay(events: list[Event]) -> Book:
    """A straight replay: every event through a fresh Book."""
    book = Book()
    book.apply_all(events)
    return book


def state(book: Book) -> dict[str, object]:
    """What must be equal between two books (discrepancies are journal rows, not book state;
    the last journal sequence applied is bookkeeping of how the book was fed)."""
    data = dump_book(book)
    data.pop("last_seq")
    return data


def write(path: Path, events: list[Event], **options: object) -> None:
    with Journal(path, **options) as journal:  # type: ignore[arg-type]
        for event in events:
            journal.record_event(event, raw="", source="sim", at=ARRIVAL)


def fills_journaled(path: Path) -> int:
    """How many fill notices the journal at ``path`` holds now (read-only, while it is written;
    0 before the file or its schema exists)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = db.execute(
            "SELECT count(*) FROM events WHERE kind = 'notice' AND body LIKE ?",
            ('%"kind":"filled"%',),
        ).fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
    return int(count)
