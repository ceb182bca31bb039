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

import asyncio
from typing import Any

from jango.brokers.port import Broker
from jango.domain.costs import CostSchedule
from jango.engine import Session
from jango.journal.process import AnyJournal
from jango.journal.schema import JournalError

# How often the session's status follows the journal's health.
HEALTH_EVERY = 0.25


def open_session_with_journal(
    broker: Broker,
    journal: AnyJournal,
    *,
    costs: CostSchedule | None = None,
    **session_options: Any,
) -> Session:
    """A session on ``broker`` whose book starts as the journal's rebuilt book.

    Start it as usual (``async with``); its first balance read reconciles the rebuilt book with
    the broker and the journal records what differed. ``session_options`` go to ``Session``.
    """
    book = journal.rebuild(costs)
    session = Session(broker, book=book, recorder=journal, **session_options)
    session.run_alongside("journal", lambda: follow_health(session, journal))
    return session


async def follow_health(session: Session, journal: AnyJournal) -> None:
    """Show the journal's health in the session's status while the session runs.

    A journal that is behind is shown until it catches up; one that failed or lost events
    stays shown and makes the session end as failed (a non-zero exit), while the book goes on
    in memory.
    """
    shown = ""  # the state last reported: each change is reported (and logged) once
    while True:
        health = journal.health
        if health.ok:
            if shown:
                session.supervisor.clear("journal")
                shown = ""
        elif health.state != shown:
            lasting = health.state in ("failed", "degraded")
            session.supervisor.report("journal", JournalError(health.message), permanent=lasting)
            shown = health.state
        await asyncio.sleep(HEALTH_EVERY)
