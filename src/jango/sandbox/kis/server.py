"""A KIS Open API look-alike on loopback: REST (starlette + uvicorn) and WebSocket over a Venue.

It speaks the protocol of ``reference/kis.md``: tokens with the one-per-minute rule, approval
keys, paged balances with continuation keys and ``SYDB0050``, quotes, charts, orders, gateway
errors as HTTP 500 and business errors as HTTP 200 with ``rt_cd`` ≠ "0", per-app-key rate
limits, one WebSocket session per app key with at most 41 registrations, PINGPONG, batched tick
frames and AES-encrypted fill notices with a fresh key per session. Several users (app keys and
their accounts) can be served at once.

Faults for tests, set in-process (:meth:`KisSandbox.set_faults`) or over ``POST /sandbox/faults``:
drop every socket, stall the push stream, send a malformed frame, expire every token, answer
the next balance continuations with ``SYDB0050``, answer the next requests with ``EGW00201``,
fail the product-info lookups, fail the approval service, forget every approval key.
``GET /sandbox/sessions`` tells how many WebSocket sessions each app key opened
(:meth:`KisSandbox.app_key_sessions` in-process). See ``docs/kis-sandbox.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from dataclasses import asdict
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.server import Server, serve

from jango.domain.costs import CostSchedule
from jango.domain.model import KST, NoticeKind, OrderNotice, Tick
from jango.sandbox.kis import book
from jango.sandbox.kis.auth import DEMO_USER, Auth, SandboxUser
from jango.sandbox.kis.balance import Balances
from jango.sandbox.kis.faults import Faults
from jango.sandbox.kis.gateway import Gateway, Mode
from jango.sandbox.kis.inquiry import Inquiries
from jango.sandbox.kis.market import MarketData
from jango.sandbox.kis.orders import OrderLedger
from jango.sandbox.kis.pnl import DayLedger
from jango.sandbox.kis.profit import Profits
from jango.sandbox.kis.quotes import Quotes
from jango.sandbox.kis.realtime import AppKeySessions, Realtime
from jango.sandbox.kis.trading import Trading
from jango.sandbox.venue import Venue


class KisSandbox:
    """The KIS protocol over ``venue`` on 127.0.0.1: ``await start()``, then use the URLs.

    ``tick_interval`` steps the venue on a timer (``None``: tests step it themselves);
    ``page_size`` defaults to 50 real / 20 paper; ``token_interval`` is the one-issue-per-minute
    rule; ``ping_interval`` paces PINGPONG; ``users`` are the customers served (each its own app
    key, HTS ID and accounts; their accounts are opened on the venue if it lacks them).
    """

    def __init__(
        self,
        venue: Venue,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        mode: Mode = "real",
        tick_interval: float | None = 0.5,
        page_size: int | None = None,
        token_interval: float = 60.0,
        token_lifetime: float = 86400.0,
        ping_interval: float = 10.0,
        rate_limit: int | None = None,
        users: tuple[SandboxUser, ...] = (DEMO_USER,),
        costs: CostSchedule = CostSchedule(),  # noqa: B008 - frozen value, safe as a default
    ) -> None:
        self.venue = venue
        self.host = host
        self.mode: Mode = mode
        self.tick_interval = tick_interval
        self.page_size = page_size or (20 if mode == "paper" else 50)
        self.ping_interval = ping_interval
        self.faults = Faults()
        self.branch = "00950" if mode == "paper" else "06010"
        self.stats: dict[str, int] = {"token_refused": 0, "rate_limited": 0, "data_changed": 0}
        self.auth = Auth(
            users,
            token_interval=token_interval,
            token_lifetime=token_lifetime,
            stats=self.stats,
            faults=self.faults,
        )
        self.gateway = Gateway(
            self.auth,
            self.faults,
            mode=mode,
            rate_limit=rate_limit or (2 if mode == "paper" else 20),
            stats=self.stats,
        )
        self.realtime = Realtime(
            venue,
            self.auth,
            self.faults,
            mode=mode,
            branch=self.branch,
            book_record=self.book_record,
        )
        self._port = port
        self._ws_port = ws_port
        for user in users:
            for account in user.accounts:
                if account not in venue.accounts():
                    venue.open_demo_account(account)
        self.orders = OrderLedger()  # the day's orders, as KIS's order inquiries report them
        self.market = MarketData()  # today's bars, history and fundamentals per code
        self.costs = costs  # for inquire-psbl-order's quantities (the venue's own schedule)
        self.day_ledger = DayLedger(costs)  # realized profit and costs of the day, per row
        self.balances = Balances(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._removers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._ws_server: Server | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self._ws_port}"

    @property
    def users(self) -> tuple[SandboxUser, ...]:
        """Every customer served, in the order given."""
        return tuple(self.auth.users.values())

    @property
    def credentials(self) -> SandboxUser:
        """The first user's credentials (the demo user unless ``users`` was given)."""
        return self.users[0]

    @property
    def requests(self) -> list[str]:
        """Paths of the ``/uapi`` requests that passed the gateway, in order."""
        return self.gateway.requests

    async def start(self) -> None:
        """Bind both ports, start serving, and start the venue timer and PINGPONG."""
        self._loop = asyncio.get_running_loop()
        for user in self.users:
            for account in user.accounts:
                self.day_ledger.seed(self.venue.balance(account).rows)
        self._removers = [
            self.venue.add_tick_listener(self._tick_from_venue),
            self.venue.add_notice_listener(self._notice_from_venue),
        ]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            _SingleSlashes(self._app()), log_level="warning", access_log=False, lifespan="off"
        )
        self._http = uvicorn.Server(config)
        http_task = asyncio.create_task(self._http.serve(sockets=[sock]))
        self._http_task = http_task
        for _ in range(1000):  # bounded wait for uvicorn to report it is serving
            if self._http.started or http_task.done():
                break
            await asyncio.sleep(0.01)
        if not self._http.started:
            await self.stop()
            raise RuntimeError("KIS sandbox REST server did not start")
        self._ws_server = await serve(self.realtime.serve, self.host, self._ws_port)
        self._ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self._tasks.append(asyncio.create_task(self.realtime.pinger(self.ping_interval)))
        if self.tick_interval:
            self._tasks.append(asyncio.create_task(self._stepper(self.tick_interval)))

    async def stop(self) -> None:
        """Stop the timers and both servers and detach from the venue. Safe to call twice."""
        for remove in self._removers:
            remove()
        self._removers = []
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        self._http = None
        self._http_task = None

    # ------------------------------------------------------------------ faults and counts

    def set_faults(
        self,
        *,
        drop: bool = False,
        stall: bool | None = None,
        malformed: str | bytes | None = None,
        expire_tokens: bool = False,
        data_changed: int | None = None,
        rate_limited: int | None = None,
        notice_layout: int | None = None,
        product_info_down: bool | None = None,
        approval_down: bool | None = None,
        forget_approvals: bool = False,
    ) -> None:
        """Apply faults: one-shot actions (drop, malformed, expire_tokens, forget_approvals)
        and switches."""
        if product_info_down is not None:
            self.faults.product_info_down = product_info_down
        if approval_down is not None:
            self.faults.approval_down = approval_down
        if forget_approvals:
            self.auth.forget_approvals()
        if stall is not None:
            self.faults.stall = stall
            self.realtime.set_stall(stall)
        if data_changed is not None:
            self.faults.data_changed = data_changed
        if rate_limited is not None:
            self.faults.rate_limited = rate_limited
        if notice_layout is not None:
            if notice_layout not in (23, 26):
                raise ValueError("notice_layout must be 23 or 26")
            self.faults.notice_layout = notice_layout
        if expire_tokens:
            self.auth.expire_all()
        if malformed is not None:
            self.realtime.send_all(malformed)
        if drop:
            self.realtime.drop_all()

    @property
    def sessions(self) -> int:
        """Live WebSocket sessions."""
        return len(self.realtime.sessions)

    def registrations(self) -> list[tuple[str, str]]:
        """Every registration of every live session."""
        return [reg for session in self.realtime.sessions for reg in sorted(session.registrations)]

    def pongs(self) -> int:
        """PINGPONG echoes received from clients (both text echoes and pong frames count)."""
        return sum(session.pongs for session in self.realtime.sessions)

    def app_key_sessions(self) -> dict[str, AppKeySessions]:
        """Per app key: WebSocket sessions opened, live now, and refused ``OPSP8996``."""
        return self.realtime.app_key_sessions()

    # ------------------------------------------------------------------ REST

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.auth.routes(),
                *self.balances.routes(),
                *Profits(self).routes(),
                *Quotes(self).routes(),
                *Trading(self).routes(),
                *Inquiries(self).routes(),
                Route("/sandbox/faults", self._faults_endpoint, methods=["POST"]),
                Route("/sandbox/sessions", self._sessions_endpoint, methods=["GET"]),
                Route("/{path:path}", self.gateway.unsupported, methods=["GET", "POST"]),
            ]
        )

    async def _faults_endpoint(self, request: Request) -> JSONResponse:
        body = await self.auth.json_body(request)
        try:
            self.set_faults(
                drop=bool(body.get("drop", False)),
                stall=body.get("stall"),
                malformed=body.get("malformed"),
                expire_tokens=bool(body.get("expire_tokens", False)),
                data_changed=body.get("data_changed"),
                rate_limited=body.get("rate_limited"),
                notice_layout=body.get("notice_layout"),
                product_info_down=body.get("product_info_down"),
                approval_down=body.get("approval_down"),
                forget_approvals=bool(body.get("forget_approvals", False)),
            )
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "faults": asdict(self.faults)})

    async def _sessions_endpoint(self, _request: Request) -> JSONResponse:
        counts = self.app_key_sessions()
        return JSONResponse({key: asdict(value) for key, value in counts.items()})

    # ------------------------------------------------------------------ venue → pushes

    def _tick_from_venue(self, tick: Tick) -> None:
        # Called under the venue's lock on whatever thread stepped it: hand over and return.
        self.market.on_tick(tick)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.realtime.queue_tick, tick)

    def _notice_from_venue(self, notice: OrderNotice) -> None:
        # The ledger is kept in step with the venue (under its lock), so an order inquiry always
        # agrees with the balance; pushing the notice waits for the event loop.
        self.orders.on_notice(notice)
        self.day_ledger.on_notice(notice)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._push_notice, notice)

    def _push_notice(self, notice: OrderNotice) -> None:
        self.balances.on_notice(notice)
        self.realtime.push_notice(notice)
        if notice.kind is not NoticeKind.REJECTED:  # an order came, went, or changed the book
            self.realtime.push_book(notice.code)

    def book_record(self, code: str) -> str:
        """``code``'s H0STASP0 record now: the same levels inquire-asking-price-exp-ccn gives."""
        quote = self.venue.quote(code)
        now = self.venue.now().astimezone(KST)
        levels = book.levels(quote, now.date(), now, book.resting_orders(self.venue, code))
        return book.asking_record(quote, levels, now)

    async def _stepper(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.venue.step()


class _SingleSlashes:
    """Serve ``//uapi/...`` as ``/uapi/...``: clients that join a base URL and a path that both
    carry the slash (mojito2 does, for charts and orderable cash) reach their endpoint on KIS,
    so its gateway is taken to collapse repeated slashes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)
