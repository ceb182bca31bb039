"""The broker port: the one protocol every adapter (sim, KIS, CYBOS) implements.

Adapters translate their wire formats into domain events and nothing else. Everything they push
(ticks, order notices, connection changes, frames they could not decode) arrives through one
async stream of :class:`Received` / :class:`Undecodable` / :class:`ConnectionStatus` items, each
carrying the raw payload so the journal can keep it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from jango.domain.model import (
    BalanceSnapshot,
    Code,
    Condition,
    Credit,
    OrderNotice,
    OrderType,
    Quote,
    Side,
    Tick,
)


class BrokerError(Exception):
    """Base of every error an adapter raises; ``code`` is the broker's own code when it has one."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class StartupError(BrokerError):
    """A startup check failed (not connected, not logged in, wrong mode, bad credentials)."""


class OrderRefused(BrokerError):
    """The broker refused an order request before it reached the exchange."""


class NoSuchOrder(OrderRefused):
    """An amend or cancel named an order the broker does not know or that is no longer open."""


class RateLimited(BrokerError):
    """The broker's request limit was hit and retries did not get through."""


class NotSupported(BrokerError):
    """The broker (or its mode) does not offer this operation."""


class Disconnected(BrokerError):
    """The connection to the broker is down."""


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """What the engine must respect: subscription capacity and request rates."""

    subscription_capacity: int  # tick subscriptions that may be open at once
    quote_batch: int  # codes per multi-quote request (1 if the broker has none)
    quote_requests: int  # quote requests allowed per window
    trade_requests: int  # order/account requests allowed per window
    window_seconds: float
    balance_page_size: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order. ``price`` is 0 for market-type orders."""

    account: str
    side: Side
    code: Code
    qty: int
    price: int = 0
    order_type: OrderType = OrderType.LIMIT
    condition: Condition = Condition.NONE
    credit: Credit = Credit.CASH
    loan_date: date | None = None


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The broker's synchronous answer to an order, amend or cancel request."""

    order_no: str
    time: datetime
    message: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    """A pushed event decoded into the domain, with the raw wire payload it came from."""

    event: Tick | OrderNotice
    raw: str
    source: str  # adapter name, e.g. "kis", "cybos", "sim"
    at: datetime  # when it arrived


@dataclass(frozen=True, slots=True)
class TickBurst:
    """Ticks that arrived together (one frame, one venue step) with nothing between them.

    The engine applies a burst in one call and journals it as one batch; a notice that arrived
    in the middle splits it into two bursts around the notice. ``raws[i]`` is tick ``i``'s wire
    payload; empty ``raws`` means the ticks are their own payload (the sim's), so nothing is
    encoded until the journal writes them.
    """

    ticks: tuple[Tick, ...]
    raws: tuple[str, ...]
    source: str
    at: datetime  # when it arrived


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A pushed frame the adapter could not decode; kept whole with the error."""

    raw: str
    error: str
    source: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The push channel went down or came (back) up. ``reconnected`` asks for reconciliation."""

    connected: bool
    detail: str
    at: datetime
    reconnected: bool = False


PushItem = Received | TickBurst | Undecodable | ConnectionStatus


@runtime_checkable
class Broker(Protocol):
    """What the engine needs from a broker. All methods run on the engine's asyncio loop."""

    name: str
    limits: BrokerLimits

    async def connect(self) -> None:
        """Run startup checks and open connections; raise :class:`StartupError` clearly."""

    async def close(self) -> None:
        """Unsubscribe everything and release connections. Safe to call twice."""

    async def accounts(self) -> list[str]:
        """Account numbers this login can see."""

    async def balance(self, account: str) -> BalanceSnapshot:
        """The whole balance of ``account``: every page, every credit row, and cash."""

    async def quote(self, code: Code) -> Quote:
        """One current price."""

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        """Current prices for at most ``limits.quote_batch`` codes in one request."""

    async def subscribe(self, code: Code) -> None:
        """Open tick pushes for ``code``; raise :class:`BrokerError` when capacity is full."""

    async def unsubscribe(self, code: Code) -> None:
        """Close tick pushes for ``code``; unknown codes are ignored."""

    def events(self) -> AsyncIterator[PushItem]:
        """Ticks, order notices, connection changes and undecodable frames, in arrival order."""

    async def place(self, order: OrderRequest) -> OrderAck:
        """Send a new order; raise :class:`OrderRefused` if the broker refuses it outright."""

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        """Replace all of an open order's remaining quantity with ``qty`` (default: the same) at
        ``price``; a lower ``qty`` releases the difference."""

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        """Cancel the remaining quantity of an open order (or ``qty`` of it)."""


@runtime_checkable
class OwnMarket(Protocol):
    """A broker that makes its own market (the sim): it can stop it on request."""

    async def quiet(self) -> None:
        """Stop making events and return once what was made has been taken from the stream."""


async def taken(queue: asyncio.Queue[Any], *, wait_s: float = 2.0) -> None:
    """Return once ``queue`` (a broker's push queue) is empty and the item taken last has had
    a few loop turns to be applied; at most ``wait_s`` (a pump that died takes nothing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    await asyncio.sleep(0)  # items handed over from other threads land in the queue
    while not queue.empty() and loop.time() < deadline:
        await asyncio.sleep(0.001)
    for _ in range(3):
        await asyncio.sleep(0)
