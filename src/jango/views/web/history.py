"""The day's total valuation and P&L, as the page's chart draws them.

The session keeps no history of its totals, so the web app samples them: once a second while
anything changed, and at least once a minute so a quiet market still draws a line. A page that
opens late gets every point since the session started from ``/api/history`` and then appends the
totals each delta brings.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from jango.domain.book import Changes, PnlMode
from jango.engine import Session

INTERVAL = 1.0  # seconds between samples while the book moves
QUIET = 60.0  # seconds after which an unchanged book is sampled anyway
KEEP = 30_000  # points kept: over eight hours at one a second


class TotalsHistory:
    """Samples of the book's overall purchase amount, valuation and P&L (integer won)."""

    def __init__(
        self,
        session: Session,
        *,
        interval: float = INTERVAL,
        quiet: float = QUIET,
        keep: int = KEEP,
    ) -> None:
        self.session = session
        self.interval = interval
        self.quiet = quiet
        self.points: deque[tuple[float, int, int, int]] = deque(maxlen=keep)
        self._changed = True
        self._remove = session.on_change(self._on_change)

    def _on_change(self, changes: Changes) -> None:
        self._changed = True

    def sample(self) -> None:
        """Add a point now: (unix seconds, purchase amount, valuation, P&L)."""
        book = self.session.book
        net = book.pnl_mode is PnlMode.NET
        cost = value = pnl = 0
        for acc in book.accounts.values():
            t = acc.totals
            cost += t.purchase_amount
            value += t.value
            pnl += t.pnl_net if net else t.pnl
        self.points.append((round(time.time(), 3), cost, value, pnl))
        self._changed = False

    async def run(self) -> None:
        """Sample for as long as the session runs (a supervised task of the web app)."""
        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            if self._changed or now - quiet_since >= self.quiet:
                self.sample()
                quiet_since = now
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        """Stop following the session's changes."""
        self._remove()

    def payload(self) -> dict[str, Any]:
        """Columns for the chart: ``t`` (unix seconds), ``cost``, ``value``, ``pnl``."""
        points = list(self.points)
        return {
            "t": [p[0] for p in points],
            "cost": [p[1] for p in points],
            "value": [p[2] for p in points],
            "pnl": [p[3] for p in points],
        }
