"""Restart where you were: rebuild the book from the journal, then let the broker correct it.

:func:`open_session_with_journal` rebuilds the book from the journal and hands it to a
:class:`~jango.engine.Session` that records into the same journal. When the session starts it
reads each account's balance and orders of the day; because the rebuilt account is already
synced, ``Book.apply_snapshot`` records every difference (what happened while jango was down)
as a discrepancy before adopting the broker's values, and the journal keeps them. Notices that
arrived while the balance was read are then judged against each order's filled watermark from
the snapshot (see :mod:`jango.journal.fence`), so a fill is never counted twice.
"""

from __future__ import annotations

from typing import Any

from jango.brokers.port import Broker
from jango.domain.costs import CostSchedule
from jango.engine import Session
from jango.journal.store import Journal


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
    return Session(broker, book=book, recorder=journal, **session_options)
