"""The session: startup checks → snapshot → batched price bootstrap → subscriptions → live loop.

One asyncio loop drives everything. Adapters that need threads bridge into it themselves. The
session owns the :class:`Book`; views and strategies read the book and the change sets it
publishes, and never reach into the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from jango.brokers.port import (
    Broker,
    BrokerError,
    ConnectionStatus,
    Disconnected,
    NotSupported,
    OrderAck,
    OrderRequest,
    OwnMarket,
    PushItem,
    Received,
    StartupError,
    TickBurst,
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
    HoldingKey,
    NoticeKind,
    OrderNotice,
    Quote,
    Tick,
    mask_account,
)
from jango.recorded import dump_line
from jango.supervisor import (
    Backoff,
    Problem,
    Supervised,
    Supervisor,
    TaskFactory,
    UsesSupervisor,
    format_traceback,
)

log = logging.getLogger("jango.engine")

# A slow reader of changes() is handed at most this many of the discrepancies found while it
# slept (the newest); the book keeps them all.
DISCREPANCIES_KEPT = 1000


def now() -> datetime:
    return datetime.now(KST)


class PartlyDown(Disconnected):
    """The broker of this account is down while the session's other brokers are up (a broker
    made of several, see :mod:`jango.fanin`): a reconcile skips the account and goes on."""


class Recorder(Protocol):
    """Where the session sends every event it applies (the journal implements this)."""

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None: ...

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None: ...

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None: ...


@runtime_checkable
class BurstRecorder(Protocol):
    """A recorder that takes a burst of ticks in one call (the journal does)."""

    def record_ticks(
        self, ticks: Sequence[Tick], *, raws: Sequence[str], source: str, at: datetime
    ) -> None: ...


@dataclass(slots=True)
class Status:
    """Connection status as the views show it, and the supervised tasks that are down."""

    connected: bool = False
    detail: str = "starting"
    since: datetime = field(default_factory=now)
    reconnects: int = 0
    # Tasks that stopped and are restarting, or were given up (``permanent``): what, since when.
    problems: tuple[Problem, ...] = ()

    @property
    def degraded(self) -> bool:
        """True while any task is down: the book may not be following the market."""
        return bool(self.problems)


@dataclass(slots=True)
class Stats:
    """Counters the tests and benchmarks read."""

    quote_requests: int = 0
    bootstrap_requests: int = 0
    ticks: int = 0
    notices: int = 0
    errors: int = 0
    polls: int = 0
    listener_errors: int = 0  # exceptions raised by on_change / on_fill listeners
    discarded: int = 0  # pushed items taken and dropped after the pump was given up


ChangeListener = Callable[[Changes], None]
FillListener = Callable[[OrderNotice], None]


def quote_to_tick(q: Quote, at: datetime) -> Tick:
    return Tick(q.code, q.price, q.diff, q.volume, at)


class ChangeQueue:
    """The change sets one reader has not taken yet, merged into one.

    However long the reader sleeps, what waits is one set of keys no larger than the book (and
    at most :data:`DISCREPANCIES_KEPT` discrepancies), so a slow reader never grows memory; what
    it takes next names everything that changed since its last read, and the book holds the
    latest values.
    """

    __slots__ = (
        "_accounts",
        "_applied",
        "_closed",
        "_discrepancies",
        "_orders",
        "_pending",
        "_ready",
        "_removed",
        "_rows",
        "merged",
        "puts",
    )

    def __init__(self) -> None:
        self._rows: set[HoldingKey] = set()
        self._removed: set[HoldingKey] = set()
        self._accounts: set[str] = set()
        self._orders: set[str] = set()
        self._discrepancies: deque[Discrepancy] = deque(maxlen=DISCREPANCIES_KEPT)
        self._applied = False
        self._pending = False
        self._closed = False
        self._ready = asyncio.Event()
        self.puts = 0  # change sets put so far
        self.merged = 0  # change sets folded into the one waiting now

    def __len__(self) -> int:
        """Merged change sets waiting: 0 or 1."""
        return int(self._pending)

    @property
    def size(self) -> int:
        """Keys and discrepancies held now (bounded by the book, not by the reader's delay)."""
        return (
            len(self._rows)
            + len(self._removed)
            + len(self._accounts)
            + len(self._orders)
            + len(self._discrepancies)
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, changes: Changes) -> None:
        """Fold ``changes`` into what waits (ignored once closed)."""
        if self._closed:
            return
        self._rows.update(changes.rows)
        self._removed.update(changes.removed)
        self._accounts.update(changes.accounts)
        self._orders.update(changes.orders)
        if changes.discrepancies:
            self._discrepancies.extend(changes.discrepancies)
        self._applied |= changes.applied
        self._pending = True
        self.puts += 1
        self.merged += 1
        self._ready.set()

    def take_nowait(self) -> Changes | None:
        """What waits, as one change set, or ``None`` if nothing does."""
        if not self._pending:
            return None
        # Whether a key is shown is the book's to say now: a row removed and re-added within
        # one merge is named in both sets, as it is in the separate change sets.
        changes = Changes(
            rows=frozenset(self._rows),
            removed=frozenset(self._removed),
            accounts=frozenset(self._accounts),
            orders=frozenset(self._orders),
            discrepancies=tuple(self._discrepancies),
            applied=self._applied,
        )
        self._rows.clear()
        self._removed.clear()
        self._accounts.clear()
        self._orders.clear()
        self._discrepancies.clear()
        self._applied = False
        self._pending = False
        self.merged = 0
        self._ready.clear()
        return changes

    async def get(self) -> Changes | None:
        """The next merged change set; ``None`` once closed and emptied."""
        while not self._pending:
            if self._closed:
                return None
            await self._ready.wait()
        return self.take_nowait()

    def close(self) -> None:
        """No more puts; a waiting reader gets what is left, then ``None``."""
        self._closed = True
        self._ready.set()


class ChangeStream:
    """What :meth:`Session.changes` returns: an async iterator over merged change sets.

    It follows the session from the moment it is made, not from the first read. Forgetting it
    (or ``aclose()``) stops the session feeding it.
    """

    def __init__(self, queues: list[ChangeQueue], *, closed: bool = False) -> None:
        self.queue = ChangeQueue()
        if closed:
            self.queue.close()
        queues.append(self.queue)
        self._detach = weakref.finalize(self, _discard, queues, self.queue)

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> Changes:
        changes = await self.queue.get()
        if changes is None:
            self._detach()
            raise StopAsyncIteration
        return changes

    async def aclose(self) -> None:
        """Stop following the session."""
        self.queue.close()
        self._detach()


def _discard(queues: list[ChangeQueue], queue: ChangeQueue) -> None:
    with contextlib.suppress(ValueError):
        queues.remove(queue)


class Session:
    """A live book on one broker.

    Use as ``async with Session(broker) as s:``; read ``s.book``; ``async for ch in s.changes()``
    to follow change sets; ``s.on_fill(cb)`` to react to fills; ``await s.place(...)`` to trade;
    ``s.spawn(name, factory)`` to run a strategy loop under the session's supervisor.

    Every long-running task (the pump that applies what the broker pushes, the poll, the
    adapter's own tasks) is supervised: one that dies shows in ``s.status.problems`` at once, is
    journaled as an error and restarted with back-off (``restart``). One given up for good is
    listed in ``s.failures``, which :meth:`stop` returns; a caller should exit non-zero then.
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
        reconcile_interval: float = 60.0,
        keep_notices: int = 50,
        restart: Backoff | None = None,
    ) -> None:
        self.broker = broker
        self.book = book or Book(costs)
        self.recorder = recorder
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.accounts: list[str] = list(accounts or [])
        self.status = Status()
        self.stats = Stats()
        self.subscribed: set[Code] = set()
        self.polled: set[Code] = set()
        self.notices: deque[OrderNotice] = deque(maxlen=keep_notices)
        self.errors: deque[Undecodable] = deque(maxlen=keep_notices)
        self._change_listeners: list[ChangeListener] = []
        self._fill_listeners: list[FillListener] = []
        self._queues: list[ChangeQueue] = []
        self._failing_listeners: set[int] = set()
        self._sync_lock = asyncio.Lock()
        # Held while a pushed item is applied and while a balance is read and adopted, so a
        # notice never lands between a snapshot's read and its adoption (the fence relies on
        # notices arriving meanwhile waiting in the adapter's queue).
        self._apply_lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self._closers: list[Callable[[], None]] = []
        self._alongside: list[tuple[str, TaskFactory]] = []
        self._restart = restart or Backoff()
        self.supervisor = Supervisor(restart)
        self.supervisor.listen(self._on_problem)
        self._tasks: list[Supervised] = []
        self._pump_task: Supervised | None = None
        self._events: AsyncIterator[PushItem] | None = None
        # Set when the pump died: the item it was handling may be lost, so re-read the broker.
        self._resync = False
        if isinstance(broker, UsesSupervisor):
            broker.use_supervisor(self.supervisor)

    # ----------------------------------------------------------------- lifecycle

    @property
    def recorder(self) -> Recorder | None:
        """Where every applied event is sent (the journal), or None."""
        return self._recorder

    @recorder.setter
    def recorder(self, recorder: Recorder | None) -> None:
        self._recorder = recorder
        # Asked once here, not per burst: isinstance against a runtime Protocol costs ~6 µs.
        self._bursts = recorder if isinstance(recorder, BurstRecorder) else None

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
            await self._apply_snapshot(await self._first_balance(account))
        held = sorted(self.book.held_codes())
        await self._bootstrap_prices(held)
        await self._sync_subscriptions(priced=held)
        self._set_status(True, f"connected to {self.broker.name}")
        self._start_tasks()

    async def _first_balance(self, account: str) -> BalanceSnapshot:
        """The startup balance, read again with back-off while the broker cannot give a
        consistent one (a busy account's balance changing mid-paging); a refusal at startup
        (bad credentials, wrong mode) is final at once."""
        backoff = self._restart
        wait, attempt = backoff.initial, 0
        while True:
            attempt += 1
            try:
                return await self.broker.balance(account)
            except (StartupError, NotSupported):
                raise
            except BrokerError as exc:
                if backoff.attempts and attempt > backoff.attempts:
                    raise
                log.warning(
                    "startup balance of %s failed (%s); reading again in %.1f s",
                    mask_account(account),
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                wait = min(backoff.maximum, wait * backoff.factor)

    def _start_tasks(self) -> None:
        # The pump is ready once its re-read after a restart has worked (see _pump).
        self._pump_task = self.spawn("pump", self._pump, wait_ready=True)
        self.spawn("poll", self._poll)
        if self.reconcile_interval > 0:
            self.spawn("reconcile", self._reconcile_now_and_then)
        for name, factory in self._alongside:
            self.spawn(name, factory)

    def run_alongside(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` as a supervised task once the session has started (a part built
        before the loop runs, such as the journal's health watcher, registers itself here)."""
        self._alongside.append((name, factory))

    async def stop(self) -> tuple[Problem, ...]:
        """Stop the loops, unsubscribe everything and close the broker. Safe to call twice.

        Returns the tasks that were given up for good (also in :attr:`failures`), each logged
        as an error; empty when the session ran healthy.
        """
        if self._stopped.is_set():
            return self.failures
        self._stopped.set()
        # A broker that makes its own market (the sim) stops it first and lets the pump take
        # what it made, so the book at the end is the market's at the end.
        if isinstance(self.broker, OwnMarket):
            await self.broker.quiet()
        # The session's own tasks first: nothing is applied after this point.
        for handle in self._tasks:
            await handle.stop()
        for queue in self._queues:
            queue.close()
        for code in sorted(self.subscribed):
            try:
                await self.broker.unsubscribe(code)
            except BrokerError as exc:
                log.info("unsubscribing %s on stop failed: %s", code, exc)
        self.subscribed.clear()
        self.polled.clear()
        try:
            await self.broker.close()
        finally:
            # The adapter's tasks, if it left any running, and the final word on failures.
            failures = await self.supervisor.stop()
            self._set_status(False, "stopped")
            self._close_all()
        if failures:
            log.error(
                "session on %s ended with %d task(s) given up: %s",
                self.broker.name,
                len(failures),
                "; ".join(f.describe() for f in failures),
            )
        return failures

    def _close_all(self) -> None:
        """Run every closer even if one fails; the first failure is raised after the rest ran
        (a journal that could not write must not keep the next closer from running)."""
        first: Exception | None = None
        for close in self._closers:
            try:
                close()
            except Exception as exc:
                log.error("closing failed: %s", exc)
                first = first or exc
        if first is not None:
            raise first

    @property
    def failures(self) -> tuple[Problem, ...]:
        """Supervised tasks given up for good: the book stopped following part of the market."""
        return self.supervisor.failures

    def spawn(
        self, name: str, factory: TaskFactory, *, restart: bool = True, wait_ready: bool = False
    ) -> Supervised:
        """Run ``factory()`` as a supervised task of this session, stopped by :meth:`stop`.

        A strategy's own loop belongs here: if it raises it is shown, journaled and restarted
        like the session's own tasks (see :meth:`~jango.supervisor.Supervisor.spawn`).
        """
        handle = self.supervisor.spawn(name, factory, restart=restart, wait_ready=wait_ready)
        self._tasks.append(handle)
        return handle

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

    def changes(self) -> ChangeStream:
        """Change sets from now on, until the session stops.

        A reader that falls behind is not queued every change set: what it has not read yet is
        merged into one (see :class:`ChangeQueue`), so its memory stays bounded and its next
        read names everything that changed since; read the values from the book.
        """
        return ChangeStream(self._queues, closed=self._stopped.is_set())

    async def wait_for(self, predicate: Callable[[Book], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate(book)`` holds (checked after every change)."""
        async with asyncio.timeout(timeout):
            if predicate(self.book):
                return
            async with contextlib.aclosing(self.changes()) as stream:
                async for _ in stream:
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
        """Re-read every account's balance and orders; the broker's truth wins and differences
        are kept. Pushed notices wait meanwhile and are then judged against the new orders."""
        async with self._apply_lock:
            return await self._reconcile()

    async def _reconcile(self) -> list[Discrepancy]:
        found: list[Discrepancy] = []
        for account in self.accounts:
            try:
                snap = await self.broker.balance(account)
            except PartlyDown as exc:
                # One broker of several is down (see jango.fanin): the others are reconciled,
                # and its own reconnect reconciles it.
                log.warning("reconcile skips %s: %s", mask_account(account), exc)
                continue
            changes = await self._apply_snapshot(snap)
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

    async def _sync_subscriptions(self, *, priced: Iterable[Code] = ()) -> None:
        """Subscribe held codes up to capacity, most valuable first; poll the rest. Codes
        that just appeared are priced at once, but not those in ``priced`` (startup has just
        asked for every held code: asking again doubled its quote requests)."""
        async with self._sync_lock:
            held = self.book.held_codes()
            for code in sorted(self.subscribed - held):
                with contextlib.suppress(BrokerError):
                    await self.broker.unsubscribe(code)
                self.subscribed.discard(code)
            self.polled &= held
            new = held.difference(self.subscribed, self.polled, priced)
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
        """Apply what the broker pushes, in order.

        After a death the broker's balance is read again first: the item being handled when the
        last run died may not have been applied, and a reconcile that failed is retried here.
        """
        if self._resync:
            await self.reconcile()
            self._resync = False
            log.warning("%s re-read after the pump restarted", self.broker.name)
        if self._pump_task is not None:
            self._pump_task.ready()
        if self._events is None:
            self._events = self.broker.events()
        events = self._events
        while True:
            try:
                item = await anext(events)
            except StopAsyncIteration:
                self._events = None
                if self._stopped.is_set():
                    return
                self._resync = True
                raise BrokerError(f"the {self.broker.name} push stream ended") from None
            except Exception:
                # The adapter's stream itself failed: the next run asks for a new one.
                self._events = None
                self._resync = True
                raise
            try:
                async with self._apply_lock:
                    await self._handle(item)
            except Exception:
                self._resync = True
                raise

    async def _drain(self) -> None:
        """After the pump was given up: keep taking what the broker pushes and count it.

        Nothing piles up in the adapter's queue for the rest of the run, and the status keeps
        saying that the book no longer follows the market.
        """
        if self._events is None:
            self._events = self.broker.events()
        async for _ in self._events:
            self.stats.discarded += 1

    async def _handle(self, item: PushItem) -> None:
        if isinstance(item, TickBurst):
            self._apply_burst(item)
        elif isinstance(item, Received):
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

    def _apply_burst(self, burst: TickBurst) -> None:
        """Journal and apply a burst of ticks at once; one change set for all of them."""
        ticks = burst.ticks
        recorder = self.recorder
        if recorder is not None:
            bursts = self._bursts
            if bursts is not None:
                bursts.record_ticks(ticks, raws=burst.raws, source=burst.source, at=burst.at)
            else:
                raws = burst.raws or tuple(dump_line(tick) for tick in ticks)
                for tick, raw in zip(ticks, raws, strict=True):
                    recorder.record_event(tick, raw=raw, source=burst.source, at=burst.at)
        self.stats.ticks += len(ticks)
        self._publish(self.book.apply_ticks(ticks))

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
            for fill_listener in list(self._fill_listeners):
                try:
                    fill_listener(event)
                except Exception as exc:
                    self._listener_failed(fill_listener, exc)
        if self.book.held_codes() != held_before:
            await self._sync_subscriptions()

    async def _connection(self, status: ConnectionStatus) -> None:
        self._set_status(status.connected, status.detail)
        if status.connected and status.reconnected:
            self.status.reconnects += 1
            await self._adopt_new_accounts()
            await self._reconcile()
        self._publish(Changes(accounts=frozenset(self.accounts)))

    async def _adopt_new_accounts(self) -> None:
        """Accounts the broker shows now but did not at start (one of several brokers that
        started late, see jango.fanin) are followed from now on."""
        try:
            listed = await self.broker.accounts()
        except BrokerError as exc:
            log.warning("reading %s's accounts after a reconnect failed: %s", self.broker.name, exc)
            return
        for account in listed:
            if account not in self.accounts:
                log.warning("%s joins the session", mask_account(account))
                self.accounts.append(account)

    async def _reconcile_now_and_then(self) -> None:
        """Re-read the broker every ``reconcile_interval`` seconds: what a notice stream cannot
        carry (a fill counted in a startup race, an order changed in another program) is
        corrected and recorded within that time."""
        while True:
            await asyncio.sleep(self.reconcile_interval)
            await self.reconcile()

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
            try:
                listener(changes)
            except Exception as exc:
                self._listener_failed(listener, exc)
        for queue in self._queues:
            queue.put(changes)

    def _listener_failed(self, listener: object, error: Exception) -> None:
        """A view's or strategy's callback raised: say so once per listener, keep applying."""
        self.stats.listener_errors += 1
        if id(listener) in self._failing_listeners:
            return
        self._failing_listeners.add(id(listener))
        name = getattr(listener, "__qualname__", repr(listener))
        text = f"listener {name} raised {type(error).__name__}: {error}"
        log.error("%s; the book goes on (further errors of it are only counted)", text)
        if self.recorder is not None:
            self.recorder.record_error(
                raw=format_traceback(error), error=text, source="jango:listener", at=now()
            )

    def _on_problem(self, task: str, problem: Problem | None, error: BaseException | None) -> None:
        """A supervised task died, or recovered: show it in the status and journal the death."""
        self.status.problems = tuple(self.supervisor.problems.values())
        given_up = problem is not None and problem.permanent
        if task == "pump" and given_up and not self._stopped.is_set():
            self.spawn("pump drain", self._drain)
        if error is not None and problem is not None:
            self.stats.errors += 1
            if self.recorder is not None:
                self.recorder.record_error(
                    raw=format_traceback(error),
                    error=problem.describe(),
                    source=f"jango:{task}",
                    at=now(),
                )
        # Views redraw the status with the next change set: send one now.
        self._publish(Changes(accounts=frozenset(self.accounts)))
