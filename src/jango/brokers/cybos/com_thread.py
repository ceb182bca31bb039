"""The one thread that owns every CYBOS COM object and pumps its messages.

COM objects of CYBOS Plus are apartment-threaded: each may be used only by the thread that
created it, and its events (``OnReceived``, ``OnDisconnect``) fire only while that thread pumps
window messages. So the adapter never touches a COM object from the asyncio loop: it submits a
callable here and awaits the result. Between calls the thread keeps pumping, so pushed events
flow even while the engine is idle.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

# How long the thread waits for a submitted call before pumping again. It bounds event latency;
# a real message loop would wake on the message itself (MsgWaitForMultipleObjects).
PUMP_INTERVAL = 0.005


class ComThread:
    """A dedicated thread running submitted callables and pumping messages in between.

    ``pump`` is ``pythoncom.PumpWaitingMessages`` (or the emulator's); ``initialize`` and
    ``uninitialize`` are ``pythoncom.CoInitialize``/``CoUninitialize``.
    """

    def __init__(
        self,
        pump: Callable[[], Any],
        *,
        initialize: Callable[[], Any] | None = None,
        uninitialize: Callable[[], Any] | None = None,
        name: str = "cybos-com",
    ) -> None:
        self._pump = pump
        self._initialize = initialize
        self._uninitialize = uninitialize
        self._calls: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def start(self) -> None:
        self._thread.start()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the COM thread and return its result (or raise its exception)."""
        if self._stopped:
            raise RuntimeError("the COM thread is stopped")
        future: Future[T] = Future()
        self._calls.put((fn, future))
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Ask the thread to finish the queued calls and exit; waits for it."""
        if self._stopped:
            return
        self._stopped = True
        self._calls.put(None)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        if self._initialize is not None:
            self._initialize()
        try:
            while True:
                try:
                    item = self._calls.get(timeout=PUMP_INTERVAL)
                except queue.Empty:
                    self._pump()
                    continue
                if item is None:
                    break
                fn, future = item
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:
                        future.set_exception(exc)
                self._pump()
        finally:
            if self._uninitialize is not None:
                self._uninitialize()
