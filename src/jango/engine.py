"""The session: startup checks → snapshot → batched price bootstrap → subscriptions → live loop.

One asyncio loop drives everything. Adapters that need threads bridge into it themselves. The
session owns the :class:`Book`; views and strategies read the book and the change sets it
publishes, and never reach into the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from jango.brokers.port import (
    Broker,
    BrokerError,
    ConnectionStatus,
    OrderAck,
    OrderRequest,
    PushItem,
    Received,
    Undecodable,
)
from jango.domain.book import Book, Changes
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceSnapshot,
    Code,
    Discrepancy,
    Event,
    NoticeKind,
    OrderNotice,
    Quote,
    Tick,
    mask_account,
)

log = logging.getLogger("jango.engine")


def now() -> datetime:
    return datetime.now(KST)


class Recorder(Protocol):
    """Where the session sends every event it applies (the journal implements this)."""

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None: ...

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None: ...

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None: ...


@dataclass(slots=True)
class Status:
    """Connection status as the views show it."""

    connected: bool = False
    detail: str = "starting"
    since: datetime = field(default_factory=now)
    reconnects: int = 0


@dataclass(slots=True)
class Stats:
    """Counters the tests and benchmarks read."""

    quote_requests: int = 0
    bootstrap_requests: int = 0
    ticks: int = 0
    notices: int = 0
    errors: int = 0
    polls: int = 0


ChangeListener = Callable[[Changes], None]
FillListener = Callable[[OrderNotice], None]


def quote_to_tick(q: Quote, at: datetime) -> Tick:
    return Tick(q.code, q.price, q.diff, q.volume, at)


class Session:
    """A live book on one broker.

    Use as ``async with Session(broker) as s:``; read ``s.book``; ``async for ch in s.changes()``
    to follow change sets; ``s.on_fill(cb)`` to react to fills; ``await s.place(...)`` to trade.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        book: Book | None = None,
        costs: CostSchedule | None = None,
        accounts: list[str] | None = None,
        recorder: Recorder | None = None,
        poll_interval: float = 1.0,
        keep_notices: int = 50,
    ) -> None:
        self.broker = broker
        self.book = book or Book(costs)
        self.recorder = recorder
        self.poll_interval = poll_interval
        self.accounts: list[str] = list(accounts or [])
        self.status = Status()
        self.stats = Stats()
        self.subscribed: set[Code] = set()
        self.polled: set[Code] = set()
        self.notices: deque[OrderNotice] = deque(maxlen=keep_notices)
        self.errors: deque[Undecodable] = deque(maxlen=keep_notices)
        self._change_listeners: list[ChangeListener] = []
        self._fill_listeners: list[FillListener] = []
        self._queues: list[asyncio.Queue[Changes]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sync_lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self._closers: list[Callable[[], None]] = []

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Session:
        try:
            await self.start()
        except BaseException:
            # A failed start still releases what it opened (connections, a journal's writer).
            with contextlib.suppress(Exception):
                await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect, load every account's balance, price it, subscribe, and start the live loop."""
        await self.broker.connect()
        if not self.accounts:
            self.accounts = await self.broker.accounts()
        for account in self.accounts:
            await self._apply_snapshot(await self.broker.balance(account))
        await self._bootstrap_prices(sorted(self.book.held_codes()))
        await self._sync_subscriptions()
        self._set_status(True, f"connected to {self.broker.name}")
        self._tasks.append(asyncio.create_task(self._pump(), name="jango-pump"))
        self._tasks.append(asyncio.create_task(self._poll(), name="jango-poll"))

    async def stop(self) -> None:
        """Stop the loops, unsubscribe everything and close the broker. Safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for code in sorted(self.subscribed):
            with contextlib.suppress(BrokerError):
                await self.broker.unsubscribe(code)
        self.subscribed.clear()
        self.polled.clear()
        await self.broker.close()
        for close in self._closers:
            close()
        self._set_status(False, "stopped")

    def add_closer(self, close: Callable[[], None]) -> None:
        """Run ``close`` after the session stops (a journal to flush, a file to close)."""
        self._closers.append(close)

    # ----------------------------------------------------------------- following

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` with every non-empty change set; returns a remover."""
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

    def on_fill(self, listener: FillListener) -> Callable[[], None]:
        """Call ``listener`` with every fill notice once it is applied; returns a remover."""
        self._fill_listeners.append(listener)
        return lambda: self._fill_listeners.remove(listener)

    async def changes(self) -> AsyncIterator[Changes]:
        """Every change set from now on, until the session stops."""
        queue: asyncio.Queue[Changes] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while not self._stopped.is_set():
                getter = asyncio.ensure_future(queue.get())
                stopper = asyncio.ensure_future(self._stopped.wait())
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
        finally:
            self._queues.remove(queue)

    async def wait_for(self, predicate: Callable[[Book], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate(book)`` holds (checked after every change)."""
        async with asyncio.timeout(timeout):
            if predicate(self.book):
                return
            async for _ in self.changes():
                if predicate(self.book):
                    return

    # ----------------------------------------------------------------- trading

    async def place(self, order: OrderRequest) -> OrderAck:
        return await self.broker.place(order)

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        return await self.broker.amend(account, order_no, price=price, qty=qty)

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        return await self.broker.cancel(account, order_no, qty=qty)

    async def reconcile(self) -> list[Discrepancy]:
        """Re-read every account's balance; the broker's truth wins and differences are kept."""
        found: list[Discrepancy] = []
        for account in self.accounts:
            changes = await self._apply_snapshot(await self.broker.balance(account))
            found.extend(changes.discrepancies)
        await self._sync_subscriptions()
        return found

    # ----------------------------------------------------------------- internals

    async def _apply_snapshot(self, snap: BalanceSnapshot) -> Changes:
        changes = self.book.apply_snapshot(snap)
        if self.recorder is not None:
            self.recorder.record_event(snap, raw="", source=self.broker.name, at=now())
            self.recorder.record_discrepancies(changes.discrepancies)
        if changes.discrepancies:
            log.warning(
                "reconciliation of %s found %d differences",
                mask_account(snap.account),
                len(changes.discrepancies),
            )
        self._publish(changes)
        return changes

    async def _bootstrap_prices(self, codes: list[Code]) -> None:
        """Price every held code in as few requests as the broker allows."""
        for tick in await self._fetch(codes):
            self._publish(self.book.apply_tick(tick))
        self.stats.bootstrap_requests = self.stats.quote_requests

    async def _fetch(self, codes: list[Code]) -> list[Tick]:
        batch = max(1, self.broker.limits.quote_batch)
        ticks: list[Tick] = []
        for i in range(0, len(codes), batch):
            chunk = codes[i : i + batch]
            self.stats.quote_requests += 1
            if batch == 1:
                quotes = [await self.broker.quote(chunk[0])]
            else:
                quotes = await self.broker.quotes(chunk)
            at = now()
            for q in quotes:
                if q.price > 0:
                    tick = quote_to_tick(q, at)
                    ticks.append(tick)
                    if self.recorder is not None:
                        # Requested prices are events too: a replay must see what the book saw.
                        source = f"{self.broker.name}:quote"
                        self.recorder.record_event(tick, raw="", source=source, at=at)
        return ticks

    async def _sync_subscriptions(self) -> None:
        """Subscribe held codes up to capacity, most valuable first; poll the rest."""
        async with self._sync_lock:
            held = self.book.held_codes()
            for code in sorted(self.subscribed - held):
                with contextlib.suppress(BrokerError):
                    await self.broker.unsubscribe(code)
                self.subscribed.discard(code)
            self.polled &= held
            new = held - self.subscribed - self.polled
            if new:
                # A code that just appeared is priced at once, not at the next poll.
                for tick in await self._fetch(sorted(new)):
                    self._publish(self.book.apply_tick(tick))
            capacity = self.broker.limits.subscription_capacity
            waiting = sorted(held - self.subscribed, key=self._value_of, reverse=True)
            for code in waiting:
                if len(self.subscribed) >= capacity:
                    self.polled.add(code)
                    continue
                try:
                    await self.broker.subscribe(code)
                except BrokerError as exc:
                    log.info("subscription for %s refused (%s); polling it", code, exc)
                    self.polled.add(code)
                    continue
                self.subscribed.add(code)
                self.polled.discard(code)

    def _value_of(self, code: Code) -> int:
        return self.book.code_value(code)

    async def _pump(self) -> None:
        async for item in self.broker.events():
            await self._handle(item)

    async def _handle(self, item: PushItem) -> None:
        if isinstance(item, Received):
            await self._apply_received(item)
        elif isinstance(item, Undecodable):
            self.stats.errors += 1
            self.errors.append(item)
            log.warning("undecodable %s frame kept: %s", item.source, item.error)
            if self.recorder is not None:
                self.recorder.record_error(
                    raw=item.raw, error=item.error, source=item.source, at=item.at
                )
        else:
            await self._connection(item)

    async def _apply_received(self, item: Received) -> None:
        event = item.event
        if self.recorder is not None:
            self.recorder.record_event(event, raw=item.raw, source=item.source, at=item.at)
        if isinstance(event, Tick):
            self.stats.ticks += 1
            self._publish(self.book.apply_tick(event))
            return
        self.stats.notices += 1
        held_before = self.book.held_codes()
        changes = self.book.apply_notice(event)
        if not changes.applied:
            return
        self.notices.append(event)
        if self.recorder is not None and changes.discrepancies:
            self.recorder.record_discrepancies(changes.discrepancies)
        self._publish(changes)
        if event.kind is NoticeKind.FILLED:
            for listener in list(self._fill_listeners):
                listener(event)
        if self.book.held_codes() != held_before:
            await self._sync_subscriptions()

    async def _connection(self, status: ConnectionStatus) -> None:
        self._set_status(status.connected, status.detail)
        if status.connected and status.reconnected:
            self.status.reconnects += 1
            await self.reconcile()
        self._publish(Changes(accounts=frozenset(self.accounts)))

    async def _poll(self) -> None:
        """Price codes that did not fit the subscription capacity, most valuable first."""
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self.polled:
                continue
            codes = sorted(self.polled, key=self._value_of, reverse=True)
            self.stats.polls += 1
            try:
                ticks = await self._fetch(codes)
            except BrokerError as exc:
                log.warning("polling failed: %s", exc)
                continue
            for tick in ticks:
                self._publish(self.book.apply_tick(tick))

    def _set_status(self, connected: bool, detail: str) -> None:
        self.status.connected = connected
        self.status.detail = detail
        self.status.since = now()

    def _publish(self, changes: Changes) -> None:
        if not changes and not changes.discrepancies:
            return
        for listener in list(self._change_listeners):
            listener(changes)
        for queue in self._queues:
            queue.put_nowait(changes)
