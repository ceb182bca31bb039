"""An asyncio sliding-window rate limiter, shared by the broker adapters.

Brokers count requests per rolling window ("20 requests per second"), not per calendar second,
so the limiter remembers when each of the last ``limit`` requests went out and makes the next
caller wait until the oldest of them has left the window.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` acquisitions within any ``window`` seconds; callers wait their turn.

    Waiters are served in arrival order. ``clock`` must be monotonic and in seconds; it is
    injectable so tests can read the very timestamps the limiter decided on.
    """

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"need a positive limit and window, got {limit} per {window} s")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waits = 0  # times a caller had to sleep before it could go

    async def acquire(self) -> float:
        """Wait until a request may go out, record it, and return its timestamp."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    break
                self.waits += 1
                # Re-checked after waking: an event loop may wake a timer slightly early.
                await asyncio.sleep(self._sent[0] + self.window - now)
            self._sent.append(now)
            self.acquired += 1
            return now

    async def __aenter__(self) -> float:
        return await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        return None
