"""A real SimBroker behind a link that can go down: a fault injector, not a stand-in.

While the link is down, pushed items are either lost (what a dropped WebSocket does) or held
back and delivered after the reconnect status (events that were in flight while the engine
re-read the balance). Requests still reach the venue: the broker is real, only its push channel
is interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from jango.brokers.port import (
    ConnectionStatus,
    OrderAck,
    OrderRequest,
    PushItem,
    Received,
    TickBurst,
)
from jango.brokers.sim.broker import SimBroker
from jango.domain.model import BalanceSnapshot, Code, Quote


class FlakyLink:
    """``SimBroker`` whose push stream can be cut with :meth:`drop` and restored."""

    def __init__(self, inner: SimBroker) -> None:
        self.inner = inner
        self.name = inner.name
        self.limits = inner.limits
        self.down = False
        self.lose = True
        self.held: list[PushItem] = []
        self._queue: asyncio.Queue[PushItem | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.inner.connect()
        self._task = asyncio.create_task(self._forward())

    async def _forward(self) -> None:
        async for item in self.inner.events():
            if self.down and isinstance(item, Received | TickBurst):
                if not self.lose:
                    self.held.append(item)
                continue
            self._queue.put_nowait(item)
        self._queue.put_nowait(None)

    def drop(self, *, lose: bool) -> None:
        self.down, self.lose = True, lose
        self._queue.put_nowait(ConnectionStatus(False, "link dropped", self.inner.venue.now()))

    def restore(self) -> None:
        self.down = False
        now = self.inner.venue.now()
        self._queue.put_nowait(ConnectionStatus(True, "link back", now, reconnected=True))
        for item in self.held:
            self._queue.put_nowait(item)
        self.held = []

    async def events(self) -> AsyncIterator[PushItem]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def close(self) -> None:
        await self.inner.close()
        if self._task is not None:
            await self._task

    async def accounts(self) -> list[str]:
        return await self.inner.accounts()

    async def balance(self, account: str) -> BalanceSnapshot:
        return await self.inner.balance(account)

    async def quote(self, code: Code) -> Quote:
        return await self.inner.quote(code)

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        return await self.inner.quotes(codes)

    async def subscribe(self, code: Code) -> None:
        await self.inner.subscribe(code)

    async def unsubscribe(self, code: Code) -> None:
        await self.inner.unsubscribe(code)

    async def place(self, order: OrderRequest) -> OrderAck:
        return await self.inner.place(order)

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        return await self.inner.amend(account, order_no, price=price, qty=qty)

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        return await self.inner.cancel(account, order_no, qty=qty)
