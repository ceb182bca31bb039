"""What the CYBOS emulator shares between its COM objects: errors, message queues, request windows.

* :class:`ComError` stands in for ``pywintypes.com_error``.
* :class:`MessageQueues` holds one queue per thread. A COM object belongs to the thread that
  created it (an apartment-threaded object); its events are posted to that thread's queue and run
  only when that thread calls ``PumpWaitingMessages`` — the reason real CYBOS programs that never
  pump see no events.
* :class:`RequestWindows` counts requests per limit type in a sliding window (CYBOS: 60 quote
  requests and 20 trade requests per 15 s).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# CYBOS limit types (CpCybos.GetLimitRemainCount argument).
LT_TRADE_REQUEST = 0
LT_NONTRADE_REQUEST = 1
LT_SUBSCRIBE = 2

# HRESULT pywin32 raises when an apartment-threaded object is called from another thread.
RPC_E_WRONG_THREAD = -2147417842
# HRESULT used for a refused call (E_FAIL).
E_FAIL = -2147467259


class ComError(Exception):
    """The emulator's ``pywintypes.com_error``: ``(hresult, strerror, excepinfo, argerror)``."""

    def __init__(self, hresult: int, strerror: str) -> None:
        super().__init__(hresult, strerror, None, None)
        self.hresult = hresult
        self.strerror = strerror


@dataclass(frozen=True, slots=True)
class HandlerError:
    """An exception raised by a user's event handler while the emulator delivered an event."""

    thread_id: int
    event: str
    error: BaseException


class MessageQueues:
    """Per-thread event queues: events run only on their owning thread, only while it pumps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[int, deque[tuple[str, Callable[[], None]]]] = {}
        self._wakers: dict[int, Callable[[], None]] = {}
        self.handler_errors: list[HandlerError] = []

    def set_waker(self, thread_id: int, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from the posting thread) whenever an event is queued for
        ``thread_id`` — what a posted window message does to a sleeping message loop."""
        with self._lock:
            self._wakers[thread_id] = wake

    def post(self, thread_id: int, event: str, deliver: Callable[[], None]) -> None:
        """Queue ``deliver`` for ``thread_id``; ``event`` names it in error reports."""
        with self._lock:
            self._queues.setdefault(thread_id, deque()).append((event, deliver))
            wake = self._wakers.get(thread_id)
        if wake is not None:
            wake()

    def pending(self, thread_id: int | None = None) -> int:
        """How many events wait for ``thread_id`` (default: the calling thread)."""
        ident = threading.get_ident() if thread_id is None else thread_id
        with self._lock:
            return len(self._queues.get(ident, ()))

    def pump(self) -> int:
        """Deliver the calling thread's queued events (``PumpWaitingMessages``); return the count.

        Events posted while pumping (e.g. by an order sent from a handler) wait for the next pump,
        as window messages posted during dispatch do. A handler's exception is printed and kept in
        :attr:`handler_errors` — pywin32 reports it and goes on with the next message.
        """
        ident = threading.get_ident()
        with self._lock:
            batch = self._queues.pop(ident, deque())
        for event, deliver in batch:
            try:
                deliver()
            except Exception as exc:
                traceback.print_exc()
                with self._lock:
                    self.handler_errors.append(HandlerError(ident, event, exc))
        return len(batch)


class RequestWindows:
    """Sliding-window request counters per limit type, safe to share between threads."""

    def __init__(
        self,
        limits: dict[int, int],
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stamps: dict[int, deque[float]] = {kind: deque() for kind in limits}
        # Every request served, as (limit type, clock time), so tests can check the window held.
        self.served: list[tuple[int, float]] = []

    def _expire(self, now: float) -> None:
        for stamps in self._stamps.values():
            while stamps and stamps[0] <= now - self.window_seconds:
                stamps.popleft()

    def remaining(self, kind: int) -> int:
        """Requests of ``kind`` still allowed in the current window."""
        with self._lock:
            self._expire(self._clock())
            return self.limits[kind] - len(self._stamps[kind])

    def remain_ms(self, kind: int | None = None) -> int:
        """Milliseconds until a slot of ``kind`` (or of any type, if None) frees up; 0 if none is
        used."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            kinds = self._stamps if kind is None else {kind: self._stamps[kind]}
            oldest = [stamps[0] for stamps in kinds.values() if stamps]
            if not oldest:
                return 0
            return max(1, int((min(oldest) + self.window_seconds - now) * 1000 + 0.999))

    def try_take(self, kind: int) -> bool:
        """Count one request of ``kind`` if the window allows it."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._stamps[kind]) >= self.limits[kind]:
                return False
            self._stamps[kind].append(now)
            self.served.append((kind, now))
            return True

    def take_blocking(self, kind: int) -> None:
        """Count one request of ``kind``, sleeping until the window frees a slot (quote RQs)."""
        while not self.try_take(kind):
            time.sleep(self.remain_ms(kind) / 1000)
