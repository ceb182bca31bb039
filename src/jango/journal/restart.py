"""Restart where you were: rebuild the book from the journal, then let the broker correct it.

:func:`open_session_with_journal` rebuilds the book from the journal and hands it to a
:class:`~jango.engine.Session` whose recorder is a :class:`FencedRecorder`. When the session
starts it reads each account's balance; because the rebuilt account is already synced,
``Book.apply_snapshot`` records every difference (what happened while jango was down) as a
discrepancy before adopting the broker's values, and the journal keeps them.

The recorder also applies the :class:`~jango.journal.fence.SnapshotFence`: the session records a
notice just before applying it and a snapshot just after adopting it, so the recorder can mark a
late fill that the snapshot already holds as seen (and absorb it into its order) before the book
would apply it twice. See :mod:`jango.journal.fence` for the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jango.brokers.port import Broker
from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import BalanceSnapshot, Discrepancy, Event, OrderNotice
from jango.engine import Session
from jango.journal.fence import SnapshotFence, absorb
from jango.journal.store import Journal


class FencedRecorder:
    """The engine's ``Recorder``: writes to ``journal`` and fences off already-reflected fills."""

    def __init__(self, journal: Journal, book: Book) -> None:
        self.journal = journal
        self.fence = SnapshotFence(book)

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None:
        """Journal ``event``; a reflected fill is absorbed now so the book's apply skips it."""
        if isinstance(event, BalanceSnapshot):
            self.fence.snapshot_adopted(event)
        elif isinstance(event, OrderNotice) and self.fence.reflected(event):
            self.journal.record_event(event, raw=raw, source=source, at=at, reflected=True)
            absorb(self.fence.book, event)
            self.journal.record_discrepancies([self.fence.note(event)])
            return
        self.journal.record_event(event, raw=raw, source=source, at=at)

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        """Journal an undecodable frame."""
        self.journal.record_error(raw=raw, error=error, source=source, at=at)

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        """Journal differences the book found."""
        self.journal.record_discrepancies(found)


def open_session_with_journal(
    broker: Broker,
    journal: Journal,
    *,
    costs: CostSchedule | None = None,
    **session_options: Any,
) -> Session:
    """A session on ``broker`` whose book starts as the journal's rebuilt book.

    Start it as usual (``async with``); its first balance read reconciles the rebuilt book with
    the broker and the journal records what differed. ``session_options`` go to ``Session``.
    """
    book = journal.rebuild(costs)
    return Session(broker, book=book, recorder=FencedRecorder(journal, book), **session_options)
