"""Simulated KST time for the venue: moves only when told, and never idles after the session.

The clock starts at the session open (09:00) of a KRX business day and moves by
:meth:`SimClock.advance`, so a demo can run many times faster than real time and a test can be
exactly repeatable. Once simulated time reaches the end of continuous trading (15:20) it jumps
to the next business day's open: a demo must never sit idle through a closed market. The venue
notices the new trading day and rolls its prices, limits and orders.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta

from jango.domain import krx
from jango.domain.model import KST

# Continuous matching (접속매매) per krx-rules §3; the closing auction is skipped.
SESSION_OPEN = time(9, 0)
SESSION_CLOSE = time(15, 20)


class SimClock:
    """Simulated KST wall time of a trading session; thread-safe.

    ``start`` may be a date (its 09:00), an aware or naive-KST datetime, or ``None`` for today's
    date in KST. A start outside a session moves forward to the next session open.
    """

    def __init__(
        self,
        start: date | datetime | None = None,
        *,
        session_open: time = SESSION_OPEN,
        session_close: time = SESSION_CLOSE,
    ) -> None:
        if session_open >= session_close:
            raise ValueError(f"session opens at {session_open} after it closes {session_close}")
        self._open = session_open
        self._close = session_close
        self._lock = threading.Lock()
        self._now = self._normalize(_as_datetime(start, session_open))

    @property
    def session_open(self) -> time:
        """Time of day the simulated session opens."""
        return self._open

    @property
    def session_close(self) -> time:
        """Time of day the simulated session ends (the clock then rolls to the next day)."""
        return self._close

    def now(self) -> datetime:
        """The current simulated time (aware, KST)."""
        with self._lock:
            return self._now

    def trading_day(self) -> date:
        """The KRX business day the clock is in."""
        return self.now().date()

    def close_of(self, day: date) -> datetime:
        """When the session of ``day`` ends."""
        return datetime.combine(day, self._close, KST)

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward and return it; past the close, jump to the next open."""
        if seconds < 0:
            raise ValueError(f"time cannot go backwards ({seconds} s)")
        with self._lock:
            self._now = self._normalize(self._now + timedelta(seconds=seconds))
            return self._now

    def restore(self, moment: datetime) -> datetime:
        """Set the time to a saved ``moment`` (a venue resuming its market); returns it.

        Unlike :meth:`advance` this may move backwards: the saved market's time is the truth.
        """
        with self._lock:
            self._now = self._normalize(_as_datetime(moment, self._open))
            return self._now

    def _normalize(self, moment: datetime) -> datetime:
        day = moment.date()
        if not krx.is_business_day(day) or moment.time() >= self._close:
            return datetime.combine(krx.add_business_days(day, 1), self._open, KST)
        if moment.time() < self._open:
            return datetime.combine(day, self._open, KST)
        return moment


def _as_datetime(start: date | datetime | None, session_open: time) -> datetime:
    if start is None:
        return datetime.combine(datetime.now(KST).date(), session_open, KST)
    if isinstance(start, datetime):
        return start.astimezone(KST) if start.tzinfo else start.replace(tzinfo=KST)
    return datetime.combine(start, session_open, KST)
