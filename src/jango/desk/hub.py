"""Hub mode: one consolidated book of every agent, behind the ordinary broker port.

:class:`HubBroker` is a :class:`~jango.brokers.port.Broker`: a normal
:class:`~jango.engine.Session` runs on it, so the terminal view, the web page and the Python API
work on the desk unchanged. Behind the port:

* **Consumption.** A durable JetStream pull consumer (``jango-hub``) over ``jango.*.*.*``
  delivers every agent's journal rows. Each agent's rows are applied strictly along their
  ``prev`` chain: a row already applied (a resend, a redelivery) is acknowledged and skipped;
  one that overtook its predecessor is handed back (``nak``) until the predecessor came, and if
  that never comes (the stream's retention dropped it) it is applied after ``gap_timeout`` with
  the missing range logged and shown in the status, never silently.
* **Durability.** A batch is written to the hub's own SQLite file (``<profile>.hub.sqlite``:
  every applied row, each agent's applied seq, checkpoints of the book) and committed before
  its messages are acknowledged. A hub killed at any moment restarts from that file and its
  durable consumer redelivers what was not acknowledged: nothing lost, nothing applied twice.
* **The book.** The hub keeps a replica of the desk (:attr:`HubBroker.book`) fed in that order
  with the agents' own events (their accounts and order numbers qualified ``agent:…``). What the
  session asks of a broker is answered from it: ``balance()`` is the replica's account ("the
  agents' latest snapshots plus the events since"), ``events()`` the rows as the replica applies
  them (an agent's snapshot arrives as a reconnect, so the session re-reads the balances at
  exactly that point), quotes its last prices. Prices are desk-wide: the last tick of a code
  from any agent values every account holding it.
* **Orders** placed at the hub go to the owning agent as a NATS request (``jango.<agent>.orders``)
  and come back with the broker's reply or its error. An agent that is not running makes the
  order fail at once (``Disconnected``: no responders); one that does not answer in time fails
  with a message saying the order's fate is unknown. Orders are never queued.
* **Health.** Each agent's heartbeat says how far it has journaled and published; an agent
  silent for ``stale_after`` seconds is shown as down in the session's status, with its lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from jango.brokers.port import (
    BrokerError,
    BrokerLimits,
    ConnectionStatus,
    Disconnected,
    OrderAck,
    OrderRefused,
    OrderRequest,
    PushItem,
    Received,
    Undecodable,
)
from jango.desk import wire
from jango.desk.connect import NatsOptions
from jango.desk.stream import consumer_config, ensure_stream
from jango.desk.wire import DURABLE
from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Code,
    DomainError,
    Event,
    OrderNotice,
    OrderState,
    Quote,
    Tick,
)
from jango.journal.checkpoint import BookStateError, StateEncoder, dump_book, load_book
from jango.journal.fence import absorb
from jango.recorded import RecordError, parse_line
from jango.supervisor import Supervised, Supervisor

# How long closing the NATS connection may take before it is abandoned.
CLOSE_SECONDS = 5.0

log = logging.getLogger("jango.desk.hub")

EVENT_KINDS = ("snapshot", "tick", "notice")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    agent TEXT PRIMARY KEY, applied_seq INTEGER NOT NULL, events INTEGER NOT NULL,
    errors INTEGER NOT NULL, event_at TEXT NOT NULL, gaps TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    n INTEGER PRIMARY KEY, agent TEXT NOT NULL, seq INTEGER NOT NULL, prev INTEGER NOT NULL,
    kind TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL, account TEXT NOT NULL,
    code TEXT NOT NULL, order_no TEXT NOT NULL, body TEXT NOT NULL, raw TEXT NOT NULL,
    reflected INTEGER NOT NULL, UNIQUE (agent, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (n INTEGER PRIMARY KEY, state TEXT NOT NULL);
"""
_FIELDS = "agent, seq, prev, kind, at, source, account, code, order_no, body, raw, reflected"


@dataclass(slots=True)
class AgentState:
    """What the hub knows of one agent."""

    agent: str
    applied_seq: int = 0  # the last of its rows committed at the hub
    events: int = 0  # rows committed at the hub
    errors: int = 0  # error rows it journaled, and rows the hub could not read
    event_at: str = ""  # when the agent received its last committed row (its clock, KST)
    gaps: list[str] = field(default_factory=list)  # rows that never arrived, described
    heartbeat: dict[str, Any] = field(default_factory=dict)
    heard: float | None = None  # loop time of the last heartbeat
    heard_at: str = ""
    waiting: dict[int, float] = field(default_factory=dict)  # seq → first seen, out of order
    asked: float = 0.0  # loop time of the last resend request
    shown_down: bool = False

    def describe(self, now: float, stale_after: float) -> dict[str, Any]:
        beat = self.heartbeat
        journal_seq = int(beat.get("journal_seq", self.applied_seq) or 0)
        up = self.heard is not None and now - self.heard <= stale_after
        return {
            "agent": self.agent,
            "state": "up" if up else "down",
            "last_heartbeat": self.heard_at or None,
            "last_event_at": self.event_at or None,
            "applied_seq": self.applied_seq,
            "journal_seq": max(journal_seq, self.applied_seq),
            # Journaled at the agent but not yet acknowledged by JetStream.
            "unpublished": int(beat.get("unpublished", 0) or 0),
            # Journaled at the agent but not yet applied here (as of its last heartbeat).
            "behind": max(0, journal_seq - self.applied_seq),
            "events": self.events,
            "errors": self.errors,
            "gaps": list(self.gaps),
            "accounts": list(beat.get("accounts", [])),
            "problems": list(beat.get("problems", [])),
        }


class HubStore:
    """The hub's SQLite file: every applied row, each agent's applied seq, book checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # The hub acknowledges NATS after the commit: the commit must survive a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def agents(self) -> dict[str, AgentState]:
        found: dict[str, AgentState] = {}
        rows = self._db.execute(
            "SELECT agent, applied_seq, events, errors, event_at, gaps FROM agents"
        )
        for agent, seq, events, errors, event_at, gaps in rows:
            found[agent] = AgentState(agent, seq, events, errors, event_at, json.loads(gaps))
        return found

    def commit(self, rows: Sequence[wire.WireEvent], agents: Sequence[AgentState]) -> int:
        """Append ``rows`` and the agents' new state in one transaction; the first row's n."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            first = int(db.execute("SELECT coalesce(max(n), 0) + 1 FROM inbox").fetchone()[0])
            db.executemany(
                f"INSERT INTO inbox (n, {_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (first + i, e.agent, e.seq, e.prev, e.kind, e.at, e.source, e.account,
                     e.code, e.order_no, e.body, e.raw, int(e.reflected))
                    for i, e in enumerate(rows)
                ],
            )  # fmt: skip
            db.executemany(
                "INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (a.agent, a.applied_seq, a.events, a.errors, a.event_at, json.dumps(a.gaps))
                    for a in agents
                ],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return first

    def checkpoint(self, n: int, state: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO checkpoints (n, state) VALUES (?, ?)", (n, state))

    def checkpoints(self) -> Iterator[tuple[int, str]]:
        yield from self._db.execute("SELECT n, state FROM checkpoints ORDER BY n DESC")

    def rows_after(self, n: int) -> Iterator[tuple[int, wire.WireEvent]]:
        for row in self._db.execute(f"SELECT n, {_FIELDS} FROM inbox WHERE n > ? ORDER BY n", (n,)):
            n, agent, seq, prev, kind, at, source, account, code, order_no, body, raw, refl = row
            yield (
                n,
                wire.WireEvent(
                    agent,
                    seq,
                    prev,
                    kind,
                    at,
                    source,
                    account,
                    code,
                    order_no,
                    body,
                    raw,
                    bool(refl),
                ),
            )

    def last_n(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(n), 0) FROM inbox").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def hub_event(e: wire.WireEvent) -> Event | None:
    """The event of an event row with the agent's names qualified; None for other rows.
    Raises :class:`RecordError` for a body that does not parse."""
    if e.kind not in EVENT_KINDS:
        return None
    return wire.qualify_event(e.agent, parse_line(e.body))


def apply_row(book: Book, e: wire.WireEvent) -> Event | None:
    """Apply one agent row to the desk replica as the agent's own journal replay applies it."""
    event = hub_event(e)
    if event is None:
        return None
    if e.reflected and isinstance(event, OrderNotice):
        absorb(book, event)  # journals written before the order-state fence
    else:
        book.apply(event)
    return event


class HubBroker:
    """The desk as a broker: see the module docstring. Call :meth:`load` before building the
    session (its book starts as :meth:`book_copy`), then use it like any adapter."""

    name = "desk"
    limits = BrokerLimits(
        subscription_capacity=1_000_000,
        quote_batch=10_000,
        quote_requests=1_000_000,
        trade_requests=1_000,
        window_seconds=1.0,
        balance_page_size=1_000_000,
    )

    def __init__(
        self,
        options: NatsOptions,
        store: Path,
        *,
        costs: CostSchedule | None = None,
        durable: str = DURABLE,
        batch: int = 1000,
        gap_timeout: float = 30.0,
        ack_wait: float = 10.0,
        stale_after: float = 3.0,
        request_timeout: float = 5.0,
        checkpoint_every: int = 10_000,
        stream_limits: dict[str, float] | None = None,
    ) -> None:
        self.options = options
        self.store_path = store
        self.costs = costs
        self.durable = durable
        self.batch = batch
        # Rows a killed hub had fetched but not acknowledged come back after ``ack_wait``: a
        # hole is waited for longer than that before it is given up.
        self.ack_wait = ack_wait
        self.gap_timeout = max(gap_timeout, 2 * ack_wait)
        self.stale_after = stale_after
        self.request_timeout = request_timeout
        self.checkpoint_every = checkpoint_every
        self.stream_limits = stream_limits or {}
        self.book = Book(costs)
        self.agents: dict[str, AgentState] = {}
        self.error = "not connected yet"
        self.bad_messages = 0
        self._store: HubStore | None = None
        self._applied_n = 0  # the inbox row the replica has applied up to
        self._checkpoint_n = 0
        self._state_encoder = StateEncoder()
        # Committed batches waiting to be applied and handed on (a batch per item: one loop turn
        # per batch, not per row).
        self._queue: asyncio.Queue[list[tuple[int, wire.WireEvent]]] = asyncio.Queue(maxsize=20)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._psub: JetStreamContext.PullSubscription | None = None
        self._supervisor: Supervisor | None = None
        self._handles: list[Supervised] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._account_listeners: list[Callable[[str], None]] = []
        self._last_ticks: dict[Code, Tick] = {}
        self._event_times: dict[str, datetime] = {}
        self._nats_shown = False
        self._down_since: float | None = None

    # ----------------------------------------------------------------- state

    def load(self) -> None:
        """Open the hub's file and rebuild the replica: the latest checkpoint plus the rows
        after it."""
        if self._store is not None:
            return
        store = self._store = HubStore(self.store_path)
        self.agents = store.agents()
        start = 0
        for n, state in store.checkpoints():
            try:
                self.book, start = load_book(json.loads(state), self.costs), n
                break
            except (BookStateError, ValueError) as exc:
                log.warning("hub checkpoint at %d unreadable (%s); trying an earlier one", n, exc)
        for n, e in store.rows_after(start):
            self._apply_stored(n, e)
        self._applied_n = self._checkpoint_n = max(start, store.last_n())

    def _apply_stored(self, n: int, e: wire.WireEvent) -> Event | None:
        try:
            event = apply_row(self.book, e)
        except (RecordError, DomainError) as exc:
            log.warning("hub row %d (agent %s seq %d) not applied: %s", n, e.agent, e.seq, exc)
            return None
        if event is not None and not isinstance(event, Tick):
            with contextlib.suppress(ValueError):
                self._event_times[_account_of(event)] = datetime.fromisoformat(e.at)
        if isinstance(event, Tick):
            self._last_ticks[event.code] = event
        return event

    def book_copy(self) -> Book:
        """A copy of the replica, for the session to start from (its own book)."""
        self.load()
        copy = load_book(dump_book(self.book), self.costs)
        copy.pnl_mode = self.book.pnl_mode
        return copy

    def on_account(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with each account that appears after the start (a new agent)."""
        self._account_listeners.append(listener)

    def use_supervisor(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def status(self) -> dict[str, Any]:
        """The desk's health: the NATS link and every agent's state and lag."""
        now = asyncio.get_running_loop().time()
        return {
            "nats": {
                "url": self.options.shown,
                "connected": self._connected(),
                "error": self.error,
            },
            "agents": [self.agents[a].describe(now, self.stale_after) for a in sorted(self.agents)],
            "bad_messages": self.bad_messages,
        }

    def _connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected and not self.error

    # ----------------------------------------------------------------- the broker port

    async def connect(self) -> None:
        self.load()
        self._run("desk link", self._link)
        self._run("desk watch", self._watch)

    def _run(self, name: str, factory: Callable[[], Any]) -> None:
        if self._supervisor is not None:
            self._handles.append(self._supervisor.spawn(name, factory))
        else:
            self._tasks.append(asyncio.get_running_loop().create_task(factory()))

    async def close(self) -> None:
        for handle in self._handles:
            await handle.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._handles, self._tasks = [], []
        nc, self._nc = self._nc, None
        if nc is not None:
            # Bounded: a client whose server went away mid-flush must not hold the stop up.
            with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
                await asyncio.wait_for(nc.close(), CLOSE_SECONDS)
        store, self._store = self._store, None
        if store is not None:
            if self._applied_n > self._checkpoint_n:
                state = self._state_encoder.encode(self.book)
                store.checkpoint(self._applied_n, state)
            store.close()

    async def accounts(self) -> list[str]:
        return sorted(self.book.accounts)

    async def balance(self, account: str) -> BalanceSnapshot:
        """The replica's account as a balance snapshot (rows, cash and the day's orders)."""
        acc = self.book.accounts.get(account)
        if acc is None:
            raise BrokerError(f"no desk account {account}")
        rows = tuple(
            BalanceRow(
                account=account,
                code=r.key.code,
                qty=r.qty,
                sellable=r.sellable,
                purchase_amount=r.purchase_amount,
                credit=r.key.credit,
                loan_date=r.key.loan_date,
                name=r.name,
                market=r.market,
                price=r.price,
                loan_amount=r.loan_amount,
            )
            for r in self.book.rows(account)
        )
        orders: list[OrderState] = []
        for o in self.book.orders.values():
            if o.account != account:
                continue
            try:
                orders.append(
                    OrderState(
                        account=account, order_no=o.order_no, code=o.code, side=o.side,
                        qty=o.qty, filled=o.filled, remaining=o.remaining, price=o.price,
                        time=o.time, orig_order_no=o.orig_order_no, credit=o.credit,
                        loan_date=o.loan_date, order_type=o.order_type, condition=o.condition,
                    )
                )  # fmt: skip
            except DomainError as exc:
                log.warning("desk order %s left out of the balance: %s", o.order_no, exc)
        when = self._event_times.get(account) or datetime.now(KST)
        return BalanceSnapshot(account, rows, acc.cash, when, source="desk", orders=tuple(orders))

    async def quote(self, code: Code) -> Quote:
        tick = self._last_ticks.get(code)
        if tick is None:
            return Quote(code, self.book.last_price(code), 0, 0)
        return Quote(code, tick.price, tick.diff, tick.volume)

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        return [await self.quote(code) for code in codes]

    async def subscribe(self, code: Code) -> None:
        """Every agent's ticks reach the hub already."""

    async def unsubscribe(self, code: Code) -> None:
        """Every agent's ticks reach the hub already."""

    async def events(self) -> AsyncIterator[PushItem]:
        """The agents' rows in the order the hub committed them, each applied to the replica
        just before it is handed on."""
        while True:
            for n, e in await self._queue.get():
                accounts = len(self.book.accounts)
                event = self._apply_stored(n, e)
                self._applied_n = n
                if n - self._checkpoint_n >= self.checkpoint_every and self._store is not None:
                    state = self._state_encoder.encode(self.book)
                    await asyncio.to_thread(self._store.checkpoint, n, state)
                    self._checkpoint_n = n
                if len(self.book.accounts) != accounts and isinstance(event, BalanceSnapshot):
                    for listener in self._account_listeners:
                        listener(event.account)
                item = self._item(e, event)
                if item is not None:
                    yield item

    def _item(self, e: wire.WireEvent, event: Event | None) -> PushItem | None:
        at = _when(e.at)
        source = f"{e.agent}:{e.source}" if e.source else e.agent
        if isinstance(event, (Tick, OrderNotice)) and not e.reflected:
            return Received(event, e.raw, source, at)
        if event is not None:
            # A balance (or an old journal's absorbed notice): the session re-reads the balances
            # here, where the replica holds exactly this agent's state after it.
            detail = f"desk: {len(self.agents)} agents; balance of {_account_of(event)}"
            return ConnectionStatus(True, detail, at, reconnected=True)
        if e.kind == "error":
            return Undecodable(e.raw, f"agent {e.agent}: {_error_text(e.body)}", source, at)
        return None

    async def place(self, order: OrderRequest) -> OrderAck:
        agent, local = _split(order.account, "account")
        return await self._request(
            agent, wire.order_request(dataclasses.replace(order, account=local))
        )

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        agent, local = _split(account, "account")
        owner, number = _split(order_no, "order")
        _same(agent, owner, order_no)
        req = {"op": "amend", "account": local, "order_no": number, "price": price, "qty": qty}
        return await self._request(agent, req)

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        agent, local = _split(account, "account")
        owner, number = _split(order_no, "order")
        _same(agent, owner, order_no)
        return await self._request(
            agent, {"op": "cancel", "account": local, "order_no": number, "qty": qty}
        )

    async def _request(self, agent: str, req: dict[str, Any]) -> OrderAck:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise Disconnected(f"desk: NATS is down ({self.error}); order for {agent} not sent")
        subject = wire.orders_subject(agent)
        try:
            msg = await nc.request(subject, wire.encode(req), timeout=self.request_timeout)
        except nats.errors.NoRespondersError:
            raise Disconnected(
                f"agent {agent} is not running (no responders on {subject}); order not sent"
            ) from None
        except nats.errors.TimeoutError:
            raise Disconnected(
                f"agent {agent} did not answer within {self.request_timeout:g} s; whether the "
                "order reached its broker is unknown: check the agent's orders"
            ) from None
        return wire.read_reply(agent, msg.data)

    # ----------------------------------------------------------------- consuming

    async def _link(self) -> None:
        """Connect, then fetch, order, commit and acknowledge batches for as long as it runs."""
        wait = 0.2
        while True:
            try:
                nc = self._nc
                if nc is None:
                    await self._connect()
                    wait = 0.2
                    continue
                if not nc.is_connected:
                    self.error = "reconnecting"
                    await asyncio.sleep(0.2)
                    continue
                assert self._psub is not None
                try:
                    # A fetch returns once it has the whole batch or its time is up: a short
                    # time keeps a quiet desk's latency low (an idle fetch costs one request).
                    msgs = await self._psub.fetch(self.batch, timeout=0.05)
                except nats.errors.TimeoutError:
                    self.error = ""
                    continue
                await self._take(msgs)
                self.error = ""
                continue
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                self.error = " ".join(str(exc).split()) or type(exc).__name__
            except sqlite3.Error as exc:
                # Not acknowledged: JetStream delivers the batch again once the disk works.
                self.error = f"hub file {self.store_path}: {exc}"
                log.error("desk: %s", self.error)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 5.0)

    async def _connect(self) -> None:
        nc = await nats.connect(
            **self.options.connect_kwargs(),
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=self._on_error,
        )
        try:
            js = nc.jetstream(timeout=5.0)
            await ensure_stream(js, limits=self.stream_limits)
            psub = await js.pull_subscribe(
                wire.EVENT_SUBJECTS,
                durable=self.durable,
                stream=wire.STREAM,
                config=consumer_config(self.durable, self.ack_wait),
            )
            await nc.subscribe(wire.STATUS_SUBJECTS, cb=self._on_status)
        except BaseException:
            with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
                await asyncio.wait_for(nc.close(), CLOSE_SECONDS)
            raise
        self._nc, self._js, self._psub = nc, js, psub
        log.warning("desk: hub connected to %s (consumer %s)", self.options.shown, self.durable)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("desk: NATS %s: %s", self.options.shown, " ".join(str(exc).split()))

    async def _on_status(self, msg: Msg) -> None:
        try:
            beat = json.loads(msg.data)
            agent = wire.check_agent(str(beat["agent"]))
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("desk: unreadable heartbeat on %s: %s", msg.subject, exc)
            return
        if msg.subject != wire.status_subject(agent):
            self.bad_messages += 1
            log.warning("desk: heartbeat of %s on %s ignored", agent, msg.subject)
            return
        state = self.agents.setdefault(agent, AgentState(agent))
        state.heartbeat = beat
        state.heard = asyncio.get_running_loop().time()
        state.heard_at = datetime.now(KST).isoformat(timespec="seconds")

    async def _take(self, msgs: list[Msg]) -> None:
        """Sort one fetched batch into rows to apply, duplicates and rows out of order; commit
        the first, then acknowledge them and the duplicates; hand the rest back."""
        now = asyncio.get_running_loop().time()
        fresh: list[tuple[wire.WireEvent, Msg]] = []
        done: list[Msg] = []
        later: list[Msg] = []
        applied = {a: s.applied_seq for a, s in self.agents.items()}
        for msg in msgs:
            try:
                e = wire.WireEvent.decode(msg.data)
            except wire.WireError as exc:
                self._bad(msg, str(exc))
                done.append(msg)
                continue
            if msg.subject.split(".")[1:2] != [e.agent]:
                # Permissions tie a subject to an agent; a body naming another is refused.
                self._bad(msg, f"claims agent {e.agent}")
                done.append(msg)
                continue
            last = applied.get(e.agent, 0)
            if e.seq <= last:
                if e.agent in self.agents:
                    self.agents[e.agent].waiting.pop(e.seq, None)
                done.append(msg)
                continue
            state = self.agents.setdefault(e.agent, AgentState(e.agent))
            if e.prev != last and not self._give_up_waiting(state, e, last, now):
                state.waiting.setdefault(e.seq, now)
                later.append(msg)
                await self._ask_resend(state, last, now)
                continue
            state.waiting.pop(e.seq, None)
            applied[e.agent] = e.seq
            fresh.append((e, msg))
        if fresh:
            await self._commit([e for e, _ in fresh])
        for msg in [m for _, m in fresh] + done:
            await msg.ack()
        for msg in later:
            await msg.nak(delay=0.2)

    async def _ask_resend(self, state: AgentState, last: int, now: float) -> None:
        """Ask the agent (every 2 s at most) to publish again after ``last``: a row missing
        from the stream is still in its journal."""
        if now - state.asked < 2.0 or self._nc is None:
            return
        state.asked = now
        log.warning("desk: agent %s: rows after seq %d missing; asking for them", state.agent, last)
        with contextlib.suppress(nats.errors.Error):
            await self._nc.publish(wire.resend_subject(state.agent), wire.encode({"after": last}))

    def _give_up_waiting(self, state: AgentState, e: wire.WireEvent, last: int, now: float) -> bool:
        """Whether to apply ``e`` though its predecessor never came: after ``gap_timeout``
        while the agent is up (so it was asked, and could not resend), for the lowest row
        waiting, with the missing range recorded and shown. A down agent is waited for."""
        first = state.waiting.setdefault(e.seq, now)
        up = state.heard is not None and now - state.heard <= self.stale_after
        if not up or now - first < self.gap_timeout or e.seq != min(state.waiting):
            return False
        gap = f"rows after seq {last} up to {e.prev} never arrived; applied from {e.seq}"
        state.gaps.append(gap)
        log.error("desk: agent %s: %s (stream retention, or a replaced journal?)", e.agent, gap)
        if self._supervisor is not None:
            self._supervisor.report(f"desk {e.agent} gap", Disconnected(gap), permanent=False)
        return True

    async def _commit(self, rows: list[wire.WireEvent]) -> None:
        changed: dict[str, AgentState] = {}
        for e in rows:
            state = changed.get(e.agent)
            if state is None:
                base = self.agents.setdefault(e.agent, AgentState(e.agent))
                state = changed[e.agent] = dataclasses.replace(base, gaps=list(base.gaps))
            state.applied_seq = e.seq
            state.events += 1
            state.errors += e.kind == "error"
            state.event_at = e.at
        assert self._store is not None
        first = await asyncio.to_thread(self._store.commit, rows, list(changed.values()))
        for agent, state in changed.items():
            live = self.agents[agent]
            live.applied_seq, live.events, live.errors, live.event_at = (
                state.applied_seq, state.events, state.errors, state.event_at,
            )  # fmt: skip
        await self._queue.put([(first + i, e) for i, e in enumerate(rows)])

    def _bad(self, msg: Msg, why: str) -> None:
        self.bad_messages += 1
        log.warning("desk: message on %s refused: %s", msg.subject, why)

    # ----------------------------------------------------------------- health

    async def _watch(self) -> None:
        """Show a NATS outage and every silent agent in the session's status, and clear them."""
        while True:
            await asyncio.sleep(0.5)
            if self._supervisor is None:
                continue
            now = asyncio.get_running_loop().time()
            down = not self._connected()
            # A link still being made at the start is not an outage yet.
            self._down_since = (self._down_since or now) if down else None
            if down and now - (self._down_since or now) < 1.0:
                continue
            if down and not self._nats_shown:
                self._supervisor.report(
                    "desk", Disconnected(f"desk: NATS down ({self.error})"), permanent=False
                )
            elif not down and self._nats_shown:
                self._supervisor.clear("desk")
            self._nats_shown = down
            for state in self.agents.values():
                info = state.describe(now, self.stale_after)
                silent = info["state"] == "down"
                if silent and not state.shown_down:
                    since = info["last_heartbeat"] or "never heard"
                    self._supervisor.report(
                        f"desk {state.agent}",
                        Disconnected(
                            f"agent {state.agent} down (last heartbeat {since}); "
                            f"{info['unpublished']} unacknowledged, {info['behind']} behind"
                        ),
                        permanent=False,
                    )
                elif not silent and state.shown_down:
                    self._supervisor.clear(f"desk {state.agent}")
                state.shown_down = silent


def desk_totals(book: Book) -> dict[str, Any]:
    """Totals per account, per agent and overall (integer won) of a desk book."""
    fields = (
        "purchase_amount", "value", "pnl", "pnl_net", "realized_gross", "realized_net",
        "commission", "tax",
    )  # fmt: skip
    accounts: dict[str, dict[str, int]] = {}
    for name in sorted(book.accounts):
        acc = book.accounts[name]
        t = acc.totals
        line = {f: int(getattr(t, f)) for f in fields}
        line["deposit"], line["d2"] = acc.deposit, acc.d2
        line["rows"] = len(acc.rows)
        accounts[name] = line
    agents: dict[str, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for name, line in accounts.items():
        agent = name.partition(wire.SEP)[0]
        into = agents.setdefault(agent, {})
        for key, value in line.items():
            into[key] = into.get(key, 0) + value
            overall[key] = overall.get(key, 0) + value
    return {"accounts": accounts, "agents": agents, "overall": overall}


def _account_of(event: Event) -> str:
    return "" if isinstance(event, Tick) else event.account


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(KST)


def _error_text(body: str) -> str:
    try:
        return str(json.loads(body).get("error", body))
    except (ValueError, AttributeError):
        return body


def _split(name: str, what: str) -> tuple[str, str]:
    try:
        return wire.unqualify(name)
    except ValueError as exc:
        raise OrderRefused(f"{what} {exc}") from None


def _same(agent: str, owner: str, order_no: str) -> None:
    if agent != owner:
        raise OrderRefused(f"order {order_no} belongs to agent {owner}, not {agent}")
