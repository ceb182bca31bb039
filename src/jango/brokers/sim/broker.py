"""The ``sim`` broker: the :class:`~jango.brokers.port.Broker` protocol over an in-process venue.

The venue calls its listeners on whatever thread caused the event (the stepping thread, or the
caller of ``place``), once per operation with everything it produced. :class:`SimBroker` hands
each such burst to its asyncio loop with one ``call_soon_threadsafe`` (one wake-up per venue
step, as a real feed's frame), as :class:`~jango.brokers.port.TickBurst` items split by the
notices between them, into one queue which :meth:`SimBroker.events` drains in order. Ticks are
their own wire payload: nothing is encoded for them until the journal writes them. It
keeps the same limits a real broker imposes (subscription capacity, quote batch size, request
rates) so the engine is exercised against them offline.

With a ``state_path`` the market lasts across runs: the broker's venue saves its whole state
there (see :mod:`jango.sandbox.venue_state`) and the next broker on the same path continues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import operator
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

from jango.brokers.port import (
    BrokerError,
    BrokerLimits,
    ConnectionStatus,
    Disconnected,
    NoSuchOrder,
    OrderAck,
    OrderRefused,
    OrderRequest,
    PushItem,
    Received,
    StartupError,
    TickBurst,
    taken,
)
from jango.brokers.ratelimit import RateLimiter
from jango.brokers.sim.demo import DemoTrader
from jango.domain.model import (
    BalanceSnapshot,
    Code,
    InvalidCode,
    OrderNotice,
    Quote,
    Tick,
    parse_code,
)
from jango.sandbox.venue import RefusalReason, UnknownInstrument, Venue, VenueRefusal
from jango.sandbox.venue_state import VenueStateError
from jango.supervisor import Supervised, Supervisor

DEFAULT_LIMITS = BrokerLimits(
    subscription_capacity=200,
    quote_batch=50,
    quote_requests=20,
    trade_requests=10,
    window_seconds=1.0,
    balance_page_size=50,
)
SOURCE = "sim"
# How often (in real seconds) the demo trader acts when enabled.
DEMO_PERIOD = 2.0


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """What a :class:`SimBroker` has been asked so far, for tests and benchmarks."""

    quote_requests: int  # quote() and quotes() calls, one per batch
    trade_requests: int  # accounts, balance pages, place, amend, cancel
    subscriptions: int  # tick subscriptions open now
    rate_waits: int  # times a request had to wait for the rate limiter


class SimBroker:
    """The in-process simulated broker over a :class:`Venue`.

    ``tick_interval`` is the real time between venue steps while connected; 0 or less means the
    broker never steps the venue itself (a test, or another skin, drives it). With
    ``demo_trader`` a :class:`DemoTrader` trades the first account every ``demo_period`` seconds.

    ``loan_percent`` is the margin rate of the broker's own venue (the lender's share of a
    margin buy). ``state_path`` (not together with ``venue``) keeps that venue in a file: the
    first run creates it from ``seed``, later runs continue its market. An unreadable file
    raises :class:`~jango.brokers.port.StartupError` naming it. :meth:`close` releases the file
    and :meth:`connect` opens it again.
    """

    name = SOURCE

    def __init__(
        self,
        venue: Venue | None = None,
        *,
        seed: int = 0,
        tick_interval: float = 0.05,
        codes_per_step: int | None = None,
        limits: BrokerLimits | None = None,
        demo_trader: bool = False,
        demo_period: float = DEMO_PERIOD,
        state_path: Path | None = None,
        loan_percent: int = 60,
    ) -> None:
        if venue is not None and state_path is not None:
            raise ValueError("give a venue or a state path for the broker's own venue, not both")
        self._state_path = state_path
        self._loan_percent = loan_percent
        self.venue = venue if venue is not None else self._own_venue(seed)
        self._demo_period = demo_period
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self._seed = seed
        self._tick_interval = tick_interval
        self._codes_per_step = codes_per_step
        self._demo_trader = demo_trader
        self._quote_limiter = RateLimiter(self.limits.quote_requests, self.limits.window_seconds)
        self._trade_limiter = RateLimiter(self.limits.trade_requests, self.limits.window_seconds)
        # Replaced, never mutated: the venue's threads read it without a lock.
        self._subscribed: frozenset[Code] = frozenset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[PushItem | None] | None = None
        self._removers: list[Callable[[], None]] = []
        self._supervisor: Supervisor | None = None
        self._stepper: Supervised | None = None
        self._quote_requests = 0
        self._trade_requests = 0

    # ---------------------------------------------------------------- lifecycle

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Step the venue under ``supervisor`` (the session's), so a failing step shows there."""
        self._supervisor = supervisor

    async def connect(self) -> None:
        """Attach to the venue, open the demo account if it has none, and start stepping."""
        if self._queue is not None:
            return
        if self._state_path is not None and self.venue.closed:
            self.venue = self._own_venue(self._seed)
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        if not self.venue.accounts():
            self.venue.open_demo_account()
        self._removers = [self.venue.add_burst_listener(self._on_burst)]
        self._queue.put_nowait(ConnectionStatus(True, "sim venue attached", self.venue.now()))
        if self._tick_interval > 0:
            trader = None
            if self._demo_trader:
                # The venue's time joins the seed, so a resumed market does not replay the
                # decisions of the previous run.
                seed = f"{self._seed}-{self.venue.now().isoformat()}"
                trader = DemoTrader(self.venue, self.venue.accounts()[0], seed=seed)
            if self._supervisor is None:
                # Used on its own, the broker still restarts and reports a failing step.
                self._supervisor = Supervisor()
            self._stepper = self._supervisor.spawn("sim venue steps", lambda: self._run(trader))

    async def quiet(self) -> None:
        """Stop the market and wait until what it made has been taken from :meth:`events`.

        The session calls this first when it stops, so its book at the end is the market's at
        the end: a step left running while the session stops listening would fill orders that
        only the next start's reconcile would hear of.
        """
        if self._stepper is not None:
            await self._stepper.stop()
            self._stepper = None
        # A step cancelled while in its thread still finishes there; wait for it.
        await asyncio.to_thread(self.venue.settle)
        if self._queue is not None:
            await taken(self._queue)

    async def close(self) -> None:
        """Stop stepping, detach from the venue and end :meth:`events`. Safe to call twice."""
        queue, loop = self._queue, self._loop
        if queue is None or loop is None:
            return
        if self._stepper is not None:
            await self._stepper.stop()
            self._stepper = None
        for remove in self._removers:
            remove()
        self._removers = []
        self._subscribed = frozenset()
        # Scheduled, not put now: events already handed over by venue threads land first.
        detached = ConnectionStatus(False, "sim venue detached", self.venue.now())
        loop.call_soon(queue.put_nowait, detached)
        loop.call_soon(queue.put_nowait, None)
        self._queue = None
        if self._state_path is not None:
            self.venue.close()

    def _own_venue(self, seed: int) -> Venue:
        try:
            return Venue(seed=seed, state_path=self._state_path, loan_percent=self._loan_percent)
        except VenueStateError as exc:
            raise StartupError(str(exc), code="SIM_STATE") from exc

    @property
    def loan_percent(self) -> int:
        """The lender's share of a margin buy on this broker, in percent."""
        return self.venue.loan_percent

    async def _run(self, trader: DemoTrader | None) -> None:
        demo_every = max(1, round(self._demo_period / self._tick_interval))
        steps = 0
        while True:
            # Off the loop: a step over thousands of codes must not stall the engine.
            await asyncio.to_thread(self.venue.step, self._codes_per_step)
            steps += 1
            if trader is not None and steps % demo_every == 0:
                await asyncio.to_thread(trader.act)
            await asyncio.sleep(self._tick_interval)

    # ---------------------------------------------------------------- push stream

    def events(self) -> AsyncIterator[PushItem]:
        """Ticks of subscribed codes, every account's notices and connection changes, in order.

        Ends after :meth:`close`.
        """
        queue = self._queue
        if queue is None:
            raise Disconnected("sim broker is not connected; call connect() first")
        return _drain(queue)

    def _on_burst(self, events: list[Tick | OrderNotice]) -> None:
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            return
        subscribed = self._subscribed
        at = self.venue.now()
        if set(map(type, events)) == _ONLY_TICKS:
            # A step with no fills (the common case), checked in C: one burst of its ticks.
            if subscribed.issuperset(map(_code_of, events)):
                ticks = tuple(cast("list[Tick]", events))
            else:
                ticks = tuple(e for e in cast("list[Tick]", events) if e.code in subscribed)
            if ticks:
                burst: list[PushItem] = [TickBurst(ticks, (), SOURCE, at)]
                loop.call_soon_threadsafe(_put_all, queue, burst)
            return
        items: list[PushItem] = []
        run: list[Tick] = []
        for event in events:
            if type(event) is Tick:
                if event.code in subscribed:
                    run.append(event)
                continue
            if run:
                items.append(TickBurst(tuple(run), (), SOURCE, at))
                run = []
            assert isinstance(event, OrderNotice)
            items.append(Received(event, _raw(event), SOURCE, at))
        if run:
            items.append(TickBurst(tuple(run), (), SOURCE, at))
        if items:
            loop.call_soon_threadsafe(_put_all, queue, items)

    # ---------------------------------------------------------------- requests

    @property
    def request_count(self) -> RequestCounts:
        """Requests made so far and subscriptions open now."""
        return RequestCounts(
            quote_requests=self._quote_requests,
            trade_requests=self._trade_requests,
            subscriptions=len(self._subscribed),
            rate_waits=self._quote_limiter.waits + self._trade_limiter.waits,
        )

    @property
    def subscriptions(self) -> frozenset[Code]:
        """Codes whose ticks are pushed."""
        return self._subscribed

    async def accounts(self) -> list[str]:
        """Every account open at the venue."""
        await self._trade()
        return self.venue.accounts()

    async def balance(self, account: str) -> BalanceSnapshot:
        """The venue's balance of ``account``; each page of rows counts as one request."""
        await self._trade()
        try:
            snapshot = self.venue.balance(account)
        except VenueRefusal as exc:
            raise BrokerError(exc.message, code=exc.reason_code) from exc
        pages = max(1, -(-len(snapshot.rows) // self.limits.balance_page_size))
        for _ in range(pages - 1):
            await self._trade()
        return snapshot

    async def quote(self, code: Code) -> Quote:
        """One current price."""
        await self._quote()
        return self._venue_quote(code)

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        """Current prices of up to ``limits.quote_batch`` codes, as one request."""
        if len(codes) > self.limits.quote_batch:
            raise BrokerError(
                f"{len(codes)} codes in one quote request; the limit is {self.limits.quote_batch}",
                code="BATCH_LIMIT",
            )
        await self._quote()
        return [self._venue_quote(code) for code in codes]

    async def subscribe(self, code: Code) -> None:
        """Push ticks of ``code``; raises :class:`BrokerError` when capacity is full."""
        stock = self._known(code)
        if stock in self._subscribed:
            return
        if len(self._subscribed) >= self.limits.subscription_capacity:
            raise BrokerError(
                f"cannot subscribe {stock}: all {self.limits.subscription_capacity} "
                "subscriptions are in use",
                code="CAPACITY",
            )
        self._subscribed = self._subscribed | {stock}

    async def unsubscribe(self, code: Code) -> None:
        """Stop pushing ticks of ``code``; codes not subscribed are ignored."""
        with contextlib.suppress(InvalidCode):
            self._subscribed = self._subscribed - {parse_code(code)}

    async def place(self, order: OrderRequest) -> OrderAck:
        """Send a new order; venue refusals become :class:`OrderRefused` with its reason code."""
        await self._trade()
        with _refusals():
            order_no = self.venue.place(
                order.account,
                order.side,
                order.code,
                order.qty,
                order.price,
                order_type=order.order_type,
                condition=order.condition,
                credit=order.credit,
                loan_date=order.loan_date,
            )
        return OrderAck(order_no, self.venue.now(), "order sent")

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        """Replace an open order's remaining quantity; returns the new order number."""
        await self._trade()
        with _refusals():
            new_no = self.venue.amend(account, order_no, price=price, qty=qty)
        return OrderAck(new_no, self.venue.now(), f"amend of {order_no} sent")

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        """Cancel an open order (or ``qty`` of it); returns the cancel's order number."""
        await self._trade()
        with _refusals():
            cancel_no = self.venue.cancel(account, order_no, qty=qty)
        return OrderAck(cancel_no, self.venue.now(), f"cancel of {order_no} sent")

    async def _quote(self) -> None:
        await self._quote_limiter.acquire()
        self._quote_requests += 1

    async def _trade(self) -> None:
        await self._trade_limiter.acquire()
        self._trade_requests += 1

    def _venue_quote(self, code: Code) -> Quote:
        try:
            return self.venue.quote(code)
        except UnknownInstrument as exc:
            raise BrokerError(str(exc), code=RefusalReason.UNKNOWN_CODE) from exc

    def _known(self, code: Code) -> Code:
        try:
            return self.venue.instrument(code).code
        except UnknownInstrument as exc:
            raise BrokerError(str(exc), code=RefusalReason.UNKNOWN_CODE) from exc


_ONLY_TICKS: set[type] = {Tick}
_code_of = operator.attrgetter("code")


def _put_all(queue: asyncio.Queue[PushItem | None], items: list[PushItem]) -> None:
    for item in items:
        queue.put_nowait(item)


async def _drain(queue: asyncio.Queue[PushItem | None]) -> AsyncIterator[PushItem]:
    while (item := await queue.get()) is not None:
        yield item


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except VenueRefusal as exc:
        if exc.reason_code == RefusalReason.NO_SUCH_ORDER:
            raise NoSuchOrder(exc.message, code=exc.reason_code) from exc
        raise OrderRefused(exc.message, code=exc.reason_code) from exc


def _raw(event: Tick | OrderNotice) -> str:
    """The event as the JSON text the journal keeps (the sim's "wire" payload)."""
    payload: dict[str, object] = {"type": "tick" if isinstance(event, Tick) else "notice"}
    payload.update(dataclasses.asdict(event))
    return json.dumps(payload, ensure_ascii=False, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
