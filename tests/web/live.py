"""A real web server for the tests: a SimBroker session and the app on a loopback port.

The session and uvicorn run on one asyncio loop in a background thread, as ``jango serve`` runs
them; the tests drive the venue from their own thread (the venue is thread-safe and hands its
events to the loop) and talk to the server over real sockets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, TypeVar

from starlette.applications import Starlette

from jango.brokers.port import BrokerLimits
from jango.brokers.sim.broker import DEFAULT_LIMITS, SimBroker
from jango.domain.model import BalanceRow, Code, Credit
from jango.engine import Session
from jango.sandbox.venue import Venue
from jango.views.web.app import WebServer, create_app
from jango.views.web.hub import Hub

T = TypeVar("T")
CALL_TIMEOUT = 30.0

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def big_venue(accounts: int = 5) -> Venue:
    """A venue whose accounts hold every code as a cash row and two margin rows: 1,200 rows."""
    venue = Venue(seed=7)
    for n in range(accounts):
        account = f"77000{n:05d}"
        rows = []
        for i, inst in enumerate(venue.instruments()):
            base = venue.quote(inst.code).price
            for credit, loan in (
                (Credit.CASH, None),
                (Credit.MARGIN_SELF, date(2024, 3, 4)),
                (Credit.MARGIN_SELF, date(2024, 5, 7)),
            ):
                qty = 1 + (i * 7 + n) % 40
                rows.append(BalanceRow(account, inst.code, qty, qty, qty * base, credit, loan))
        venue.open_account(account, cash=100_000_000, holdings=rows)
    return venue


# A broker that pages a balance 500 rows at a time: a 5,000-row book loads in a second, not
# the ten that fifty-row pages at ten requests a second would take.
BIG_PAGES = replace(DEFAULT_LIMITS, balance_page_size=500)


def wide_venue(accounts: int = 3, loans: int = 20) -> Venue:
    """Every code as a cash row and ``loans`` margin rows in each account: 5,040 rows."""
    venue = Venue(seed=11)
    for n in range(accounts):
        account = f"78000{n:05d}"
        rows = []
        for i, inst in enumerate(venue.instruments()):
            base = venue.quote(inst.code).price
            qty = 1 + (i * 7 + n) % 40
            rows.append(BalanceRow(account, inst.code, qty, qty, qty * base, Credit.CASH))
            for d in range(loans):
                loan = date(2024, 1, 2) + timedelta(days=d)
                rows.append(
                    BalanceRow(account, inst.code, qty, qty, qty * base, Credit.MARGIN_SELF, loan)
                )
        venue.open_account(account, cash=1_000_000_000, holdings=rows)
    return venue


class LiveServer:
    """Start with ``with LiveServer(...) as server:``; ``server.url`` is the page's address."""

    def __init__(
        self,
        venue: Venue | None = None,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
        lang: str = "ko",
        tick_interval: float = 0,
        codes_per_step: int | None = None,
        limits: BrokerLimits | None = None,
    ) -> None:
        self.limits = limits
        self.venue = venue if venue is not None else Venue(seed=3)
        self.tick_interval = tick_interval
        self.codes_per_step = codes_per_step
        self.host = host
        self.token = token
        self.lang = lang
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: Session
        self.server: WebServer
        self.app: Starlette
        self._serving: asyncio.Task[None] | None = None

    def __enter__(self) -> LiveServer:
        self._thread.start()
        # tick_interval=0 (the default): the venue moves only when a test steps it.
        broker = SimBroker(
            self.venue,
            tick_interval=self.tick_interval,
            codes_per_step=self.codes_per_step,
            limits=self.limits,
        )
        self.session = Session(broker)
        self.call(self.session.start())
        self.call(self._serve())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop_serving())
        self.call(self.session.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CALL_TIMEOUT)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.hub
        return hub

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT)

    def restart(self) -> None:
        """Stop the web server (dropping every connection) and serve again on the same port."""
        self.call(self._stop_serving())
        self.call(self._serve())

    def account(self, index: int = 0) -> str:
        return self.session.accounts[index]

    def held(self) -> list[Code]:
        return sorted(self.session.book.held_codes())

    async def _serve(self) -> None:
        self.app = app = create_app(self.session, token=self.token, lang=self.lang)
        self.server = WebServer(app, host=self.host, port=self.port)
        self.port = self.server.port
        self._serving = asyncio.create_task(self.server.serve())

    async def _stop_serving(self) -> None:
        self.server.stop()
        if self._serving is not None:
            await self._serving
