"""A KIS Open API look-alike on loopback: REST (starlette + uvicorn) and WebSocket over a Venue.

It speaks the protocol of ``reference/kis.md``: tokens with the one-per-minute rule, approval
keys, paged balances with continuation keys and ``SYDB0050``, single and multi quotes, orders,
gateway errors as HTTP 500 and business errors as HTTP 200 with ``rt_cd`` ≠ "0", per-app-key rate
limits, one WebSocket session per app key with at most 41 registrations, PINGPONG, batched tick
frames and AES-encrypted fill notices with a fresh key per session.

Faults for tests, set in-process (:meth:`KisSandbox.set_faults`) or over ``POST /sandbox/faults``:
drop every socket, stall the push stream, send a malformed frame, expire every token, answer
the next balance continuations with ``SYDB0050``, answer the next requests with ``EGW00201``,
fail the product-info lookups.

The inquiry endpoints (orders of the day, pending orders, product info, charts, order book,
the full inquire-price) live in :mod:`jango.sandbox.kis_inquiry`, the order endpoints in
:mod:`jango.sandbox.kis_trading`; see ``docs/kis-sandbox.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    HoldingKey,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Tick,
)
from jango.sandbox import kis_frames as frames
from jango.sandbox.kis_inquiry import Inquiries
from jango.sandbox.kis_market import MarketData
from jango.sandbox.kis_orders import OrderLedger
from jango.sandbox.kis_trading import Trading
from jango.sandbox.venue import UnknownInstrument, Venue

Mode = Literal["real", "paper"]

MAX_REGISTRATIONS = 41
TICK_TR = "H0STCNT0"
SAME_TOKEN_WINDOW = 6 * 3600.0  # a re-issue within six hours returns the same token
BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"
MULTPRICE_PATH = "/uapi/domestic-stock/v1/quotations/intstock-multprice"

_CAPITALIZED = {b"content-type": b"Content-Type", b"content-length": b"Content-Length"}


@dataclass(frozen=True)
class SandboxUser:
    """One customer of the sandbox: app credentials, HTS ID and the accounts they reach."""

    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    hts_id: str
    accounts: tuple[str, ...]


DEMO_USER = SandboxUser(
    app_key="PSjangoSandboxDemoAppKey000000000000",  # 36 characters, like a real app key
    app_secret="jango-sandbox-demo-secret-" + "0" * 154,  # 180 characters
    hts_id="jangodemo",
    accounts=("5012345601",),
)


@dataclass
class Faults:
    """Fault switches. Counters are consumed one request at a time."""

    stall: bool = False
    data_changed: int = 0  # next N balance continuation pages answer SYDB0050
    rate_limited: int = 0  # next N /uapi requests answer EGW00201
    notice_layout: int = 26  # 23 sends the pre-2025 fill-notice layout
    product_info_down: bool = False  # search-info / search-stock-info answer EGW00002


@dataclass
class _Token:
    app_key: str
    value: str
    issued: float  # monotonic
    expires: datetime
    expired: bool = False


@dataclass(eq=False)
class _Session:
    ws: ServerConnection
    key: str
    iv: str
    outbox: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    registrations: set[tuple[str, str]] = field(default_factory=set)
    app_key: str = ""
    pongs: int = 0


@dataclass
class _Order:
    account: str
    qty: int
    price: int


class _GatewayError(Exception):
    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class KisSandbox:
    """The KIS protocol over ``venue`` on 127.0.0.1: ``await start()``, then use the URLs.

    ``tick_interval`` steps the venue on a timer (``None``: tests step it themselves);
    ``page_size`` defaults to 50 real / 20 paper; ``token_interval`` is the one-issue-per-minute
    rule; ``ping_interval`` paces PINGPONG.
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
        self.token_interval = token_interval
        self.token_lifetime = token_lifetime
        self.ping_interval = ping_interval
        self.rate_limit = rate_limit or (2 if mode == "paper" else 20)
        self.faults = Faults()
        self.branch = "00950" if mode == "paper" else "06010"
        self._port = port
        self._ws_port = ws_port
        self._users = {user.app_key: user for user in users}
        for user in users:
            for account in user.accounts:
                if account not in venue.accounts():
                    venue.open_demo_account(account)
        self._tokens: dict[str, _Token] = {}
        self._last_issue: dict[str, float] = {}
        self._approvals: dict[str, str] = {}  # approval key → app key
        self._requests: dict[str, deque[float]] = {}
        self._sessions: set[_Session] = set()
        self._owners: dict[str, _Session] = {}  # app key → its one live session
        self._orders: dict[str, _Order] = {}
        self.orders = OrderLedger()  # the day's orders, as KIS's order inquiries report them
        self.market = MarketData()  # today's bars, history and fundamentals per code
        self.costs = costs  # for inquire-psbl-order's quantities (the venue's own schedule)
        self._sold_out: dict[str, dict[HoldingKey, None]] = {}
        self._pending_ticks: list[Tick] = []
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._removers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._ws_server: Server | None = None
        self.stats: dict[str, int] = {"token_refused": 0, "rate_limited": 0, "data_changed": 0}
        self.requests: list[str] = []  # paths of /uapi requests that passed the gateway

    # ------------------------------------------------------------------ lifecycle

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self._ws_port}"

    @property
    def credentials(self) -> SandboxUser:
        """The first user's credentials (the demo user unless ``users`` was given)."""
        return next(iter(self._users.values()))

    async def start(self) -> None:
        """Bind both ports, start serving, and start the venue timer and PINGPONG."""
        self._loop = asyncio.get_running_loop()
        self._removers = [
            self.venue.add_tick_listener(self._tick_from_venue),
            self.venue.add_notice_listener(self._notice_from_venue),
        ]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
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
        self._ws_server = await serve(self._session, self.host, self._ws_port)
        self._ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self._tasks.append(asyncio.create_task(self._pinger()))
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

    # ------------------------------------------------------------------ faults

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
    ) -> None:
        """Apply faults: one-shot actions (drop, malformed, expire_tokens) and switches."""
        if product_info_down is not None:
            self.faults.product_info_down = product_info_down
        if stall is not None:
            self.faults.stall = stall
            if stall:
                self._unstalled.clear()
            else:
                self._unstalled.set()
        if data_changed is not None:
            self.faults.data_changed = data_changed
        if rate_limited is not None:
            self.faults.rate_limited = rate_limited
        if notice_layout is not None:
            if notice_layout not in (23, 26):
                raise ValueError("notice_layout must be 23 or 26")
            self.faults.notice_layout = notice_layout
        if expire_tokens:
            for token in self._tokens.values():
                token.expired = True
        if malformed is not None:
            for session in self._sessions:
                session.outbox.put_nowait(malformed)
        if drop:
            for session in list(self._sessions):
                self._forget(session)
                session.ws.transport.abort()

    @property
    def sessions(self) -> int:
        """Live WebSocket sessions."""
        return len(self._sessions)

    def registrations(self) -> list[tuple[str, str]]:
        """Every registration of every live session."""
        return [reg for session in self._sessions for reg in sorted(session.registrations)]

    def pongs(self) -> int:
        """PINGPONG echoes received from clients (both text echoes and pong frames count)."""
        return sum(session.pongs for session in self._sessions)

    # ------------------------------------------------------------------ REST

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/tokenP", self._token_issue, methods=["POST"]),
                Route("/oauth2/Approval", self._approval, methods=["POST"]),
                Route("/oauth2/revokeP", self._token_revoke, methods=["POST"]),
                Route("/uapi/hashkey", self._hashkey, methods=["POST"]),
                Route(BALANCE_PATH, self._balance, methods=["GET"]),
                Route(MULTPRICE_PATH, self._multprice, methods=["GET"]),
                *Trading(self).routes(),
                *Inquiries(self).routes(),
                Route("/sandbox/faults", self._faults_endpoint, methods=["POST"]),
                Route("/{path:path}", self.unsupported, methods=["GET", "POST"]),
            ]
        )

    def unsupported(self, request: Request) -> JSONResponse:
        """What KIS answers for a path it does not serve (or, on paper, a real-only service)."""
        body = {"rt_cd": "1", "msg_cd": "MCA00124", "msg1": "해당 서비스를 찾을수 없습니다."}
        return self._reply(body, tr_id=request.headers.get("tr_id", ""), status=500)

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _oauth_error(code: str, text: str) -> JSONResponse:
        return JSONResponse({"error_code": code, "error_description": text}, status_code=403)

    async def _token_issue(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        user = self._users.get(str(body.get("appkey", "")))
        if body.get("grant_type") != "client_credentials" or user is None:
            return self._oauth_error("EGW00103", "유효하지 않은 AppKey입니다.")
        if body.get("appsecret") != user.app_secret:
            return self._oauth_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        now = time.monotonic()
        last = self._last_issue.get(user.app_key)
        if last is not None and now - last < self.token_interval:
            self.stats["token_refused"] += 1
            return self._oauth_error("EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)")
        self._last_issue[user.app_key] = now
        current = next(
            (t for t in self._tokens.values() if t.app_key == user.app_key and not t.expired),
            None,
        )
        if current is None or now - current.issued > SAME_TOKEN_WINDOW:
            value = (
                "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9."
                + hashlib.sha256(uuid.uuid4().bytes).hexdigest() * 4
            )
            expires = (datetime.now(KST) + timedelta(seconds=self.token_lifetime)).replace(
                microsecond=0
            )
            current = _Token(user.app_key, value, now, expires)
            self._tokens[value] = current
        return JSONResponse(
            {
                "access_token": current.value,
                "access_token_token_expired": current.expires.strftime("%Y-%m-%d %H:%M:%S"),
                "token_type": "Bearer",
                "expires_in": int(self.token_lifetime),
            }
        )

    async def _approval(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        user = self._users.get(str(body.get("appkey", "")))
        if user is None:
            return self._oauth_error("EGW00103", "유효하지 않은 AppKey입니다.")
        # The secret travels as "secretkey" here; "appsecret" is the tokenP spelling.
        if body.get("secretkey") != user.app_secret:
            return self._oauth_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        key = str(uuid.uuid4())
        self._approvals[key] = user.app_key
        return JSONResponse({"approval_key": key})

    async def _token_revoke(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        token = self._tokens.get(str(body.get("token", "")))
        if token is not None and token.app_key == body.get("appkey"):
            del self._tokens[token.value]
        return JSONResponse({"code": "200", "message": "접근토큰 폐기에 성공하였습니다"})

    async def _hashkey(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return JSONResponse({"BODY": body, "HASH": digest})

    async def _faults_endpoint(self, request: Request) -> JSONResponse:
        body = await self._json(request)
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
            )
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "faults": self.faults.__dict__})

    def _gate(self, request: Request, tr_ids: Mapping[str, str]) -> tuple[SandboxUser, str]:
        """Check token, app key, rate and tr_id; return the user and the tr_id's meaning."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise _GatewayError("EGW00205", "credentials_type이 유효하지 않습니다.(Bearer)")
        token = self._tokens.get(auth[len("Bearer ") :].strip())
        if token is None:
            raise _GatewayError("EGW00121", "유효하지 않은 token 입니다.")
        if token.expired or token.expires <= datetime.now(KST):
            raise _GatewayError("EGW00123", "기간이 만료된 token 입니다.")
        user = self._users[token.app_key]
        if request.headers.get("appkey") != user.app_key:
            raise _GatewayError("EGW00103", "유효하지 않은 AppKey입니다.")
        if request.headers.get("appsecret") != user.app_secret:
            raise _GatewayError("EGW00105", "유효하지 않은 AppSecret입니다.")
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            self.stats["rate_limited"] += 1
            raise _GatewayError("EGW00201", "초당 거래건수를 초과하였습니다.")
        sent = self._requests.setdefault(user.app_key, deque())
        now = time.monotonic()
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            self.stats["rate_limited"] += 1
            raise _GatewayError("EGW00201", "초당 거래건수를 초과하였습니다.")
        sent.append(now)
        self.requests.append(request.url.path)
        tr_id = request.headers.get("tr_id", "")
        if tr_id not in tr_ids:
            wrong_domain = tr_id[:1] in ("T", "V") and tr_id[1:] in {t[1:] for t in tr_ids}
            text = (
                ("모의투자 TR 이 아닙니다." if self.mode == "paper" else "실전투자 TR 이 아닙니다.")
                if wrong_domain
                else "없는 서비스 코드 입니다"
            )
            raise _GatewayError("OPSQ0002", text)
        return user, tr_ids[tr_id]

    def _tr(self, real_id: str) -> str:
        return "V" + real_id[1:] if self.mode == "paper" else real_id

    @staticmethod
    def _reply(
        body: dict[str, Any], *, tr_id: str, tr_cont: str = "", status: int = 200
    ) -> JSONResponse:
        headers = {"tr_id": tr_id, "tr_cont": tr_cont, "gt_uid": uuid.uuid4().hex}
        response = JSONResponse(body, status_code=status, headers=headers)
        # KIS's gateway spells the standard headers capitalized and its own in lower case; the
        # official sample client keeps only the all-lower-case names (as namedtuple fields), so
        # a lower-case "content-type" would break it.
        response.raw_headers = [
            (_CAPITALIZED.get(name, name), value) for name, value in response.raw_headers
        ]
        return response

    def _business(self, tr_id: str, msg_cd: str, msg1: str, rt_cd: str = "1") -> JSONResponse:
        return self._reply({"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}, tr_id=tr_id)

    async def _guarded(self, request: Request, handler: Any, tr_ids: Mapping[str, str]) -> Any:
        try:
            user, meaning = self._gate(request, tr_ids)
        except _GatewayError as exc:
            body = {"rt_cd": "1", "msg_cd": exc.code, "msg1": exc.message}
            return self._reply(body, tr_id=request.headers.get("tr_id", ""), status=exc.status)
        return await handler(request, user, meaning)

    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        # Query keys are case-insensitive on the real server.
        return {key.upper(): value for key, value in request.query_params.items()}

    def _user_account(self, user: SandboxUser, cano: str, product: str) -> str | None:
        account = cano + product
        return account if account in user.accounts else None

    # balance ------------------------------------------------------------------------------

    async def _balance(self, request: Request) -> JSONResponse:
        return await self._guarded(  # type: ignore[no-any-return]
            request, self._balance_page, {self._tr("TTTC8434R"): "balance"}
        )

    async def _balance_page(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self._params(request)
        required = ("CANO", "ACNT_PRDT_CD", "INQR_DVSN", "CTX_AREA_FK100", "CTX_AREA_NK100")
        for name in required:
            if name not in params:
                return self._business(tr_id, "OPSQ2001", f"ERROR : INPUT FIELD NOT FOUND [{name}]")
        account = self._user_account(user, params["CANO"], params["ACNT_PRDT_CD"])
        if account is None:
            return self._business(tr_id, "OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
        snapshot = self.venue.balance(account)
        # Read together with the balance (no await in between), so they agree.
        traded = self.orders.traded_today(account)
        rows = list(snapshot.rows) + self._sold_out_rows(snapshot.rows)
        version = self._version(rows)
        continuation = request.headers.get("tr_cont", "") == "N"
        offset = 0
        if continuation:
            parts = params["CTX_AREA_NK100"].strip().split("^")
            if len(parts) != 3 or parts[0] != account or not parts[1].isdigit():
                return self._business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD_LENGTH")
            if self.faults.data_changed > 0 or parts[2] != version:
                self.faults.data_changed = max(0, self.faults.data_changed - 1)
                self.stats["data_changed"] += 1
                return self._business(
                    tr_id, "SYDB0050", "조회이후에 자료가 변경되었습니다.(다시 조회하세요)", "7"
                )
            offset = int(parts[1])
        page = rows[offset : offset + self.page_size]
        more = offset + self.page_size < len(rows)
        if more:
            tr_cont = "M" if continuation else "F"
            next_key = f"{account}^{offset + self.page_size}^{version}".ljust(100)
        else:
            tr_cont = "E" if continuation else "D"
            next_key = " " * 100
        fk = "^".join([params["CANO"], params["ACNT_PRDT_CD"], "N", "N", "01", "01", "N", ""])
        real = self.mode == "real"
        body = {
            "ctx_area_fk100": fk.ljust(100),
            "ctx_area_nk100": next_key,
            "output1": [frames.balance_item(row, *traded.get(row.key, (0, 0))) for row in page],
            "output2": [frames.balance_totals(list(snapshot.rows), snapshot.cash)],
            "rt_cd": "0",
            "msg_cd": ("KIOK0490" if more else "KIOK0510") if real else "20310000",
            "msg1": (
                ("조회가 계속됩니다" if more else "조회가 완료되었습니다")
                if real
                else "모의투자 조회가 완료되었습니다."
            ).ljust(80),
        }
        return self._reply(body, tr_id=tr_id, tr_cont=tr_cont)

    def _sold_out_rows(self, held: tuple[BalanceRow, ...]) -> list[BalanceRow]:
        # KIS keeps rows sold out today with hldg_qty 0 until settlement; clients must skip them.
        if not held:
            return []
        account = held[0].account
        keys = {row.key for row in held}
        return [
            BalanceRow(
                account,
                key.code,
                qty=0,
                sellable=0,
                purchase_amount=0,
                credit=key.credit,
                loan_date=key.loan_date,
                price=self.venue.quote(key.code).price,
            )
            for key in self._sold_out.get(account, {})
            if key not in keys
        ]

    @staticmethod
    def _version(rows: list[BalanceRow]) -> str:
        # Prices move all the time; the continuation only breaks when holdings changed.
        text = "|".join(f"{r.code}/{r.credit}/{r.loan_date}/{r.qty}/{r.sellable}" for r in rows)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # quotes -------------------------------------------------------------------------------

    async def _multprice(self, request: Request) -> JSONResponse:
        if self.mode == "paper":
            body = {"rt_cd": "1", "msg_cd": "MCA00124", "msg1": "해당 서비스를 찾을수 없습니다."}
            return self._reply(body, tr_id="FHKST11300006", status=500)
        return await self._guarded(  # type: ignore[no-any-return]
            request, self._multprice_reply, {"FHKST11300006": "multprice"}
        )

    async def _multprice_reply(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        params = self._params(request)
        items = []
        for number in range(1, 31):  # the API reads at most 30 pairs
            code = params.get(f"FID_INPUT_ISCD_{number}", "")
            if not code:
                continue
            try:
                items.append(frames.multprice_item(self.venue.quote(code)))
            except UnknownInstrument:
                continue
        if not items:
            return self._business("FHKST11300006", "OPSQ2001", "ERROR : INPUT FIELD NOT FOUND")
        body = {"output": items, "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
        return self._reply(body, tr_id="FHKST11300006")

    # orders -------------------------------------------------------------------------------

    # ------------------------------------------------------------------ venue → pushes

    def _tick_from_venue(self, tick: Tick) -> None:
        # Called under the venue's lock on whatever thread stepped it: hand over and return.
        self.market.on_tick(tick)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._queue_tick, tick)

    def _notice_from_venue(self, notice: OrderNotice) -> None:
        # The ledger is kept in step with the venue (under its lock), so an order inquiry always
        # agrees with the balance; pushing the notice waits for the event loop.
        self.orders.on_notice(notice)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._push_notice, notice)

    def _queue_tick(self, tick: Tick) -> None:
        if not self._pending_ticks and self._loop is not None:
            # Ticks queued behind this one (the rest of the step) go out in the same frame.
            self._loop.call_soon(self._flush_ticks)
        self._pending_ticks.append(tick)

    def _flush_ticks(self, batch: int = 20) -> None:
        ticks, self._pending_ticks = self._pending_ticks, []
        for session in self._sessions:
            records = [
                frames.tick_record(tick, tick.price - tick.diff)
                for tick in ticks
                if (TICK_TR, tick.code) in session.registrations
            ]
            for start in range(0, len(records), batch):
                session.outbox.put_nowait(frames.tick_frame(records[start : start + batch]))

    def _push_notice(self, notice: OrderNotice) -> None:
        if notice.kind is NoticeKind.ACCEPTED or (
            notice.kind is NoticeKind.CONFIRMED and notice.action is OrderAction.AMEND
        ):
            self._orders[notice.order_no] = _Order(notice.account, notice.qty, notice.price)
        if notice.kind is NoticeKind.FILLED and notice.post_qty == 0:
            self._sold_out.setdefault(notice.account, {})[notice.key] = None
        order = self._orders.get(notice.order_no, _Order(notice.account, notice.qty, notice.price))
        user = next((u for u in self._users.values() if notice.account in u.accounts), None)
        if user is None:
            return
        tr_id = "H0STCNI9" if self.mode == "paper" else "H0STCNI0"
        plain = frames.notice_record(
            notice,
            hts_id=user.hts_id,
            branch=self.branch,
            order_qty=order.qty,
            order_price=order.price,
            layout=self.faults.notice_layout,
        )
        for session in self._sessions:
            if (tr_id, user.hts_id) in session.registrations:
                payload = frames.encrypt(plain, session.key, session.iv)
                session.outbox.put_nowait(f"1|{tr_id}|001|{payload}")

    async def _stepper(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.venue.step()

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            for session in self._sessions:
                session.outbox.put_nowait(frames.pingpong(datetime.now(KST)))

    # ------------------------------------------------------------------ WebSocket

    async def _session(self, ws: ServerConnection) -> None:
        session = _Session(ws, frames.session_secret(32), frames.session_secret(16))
        self._sessions.add(session)
        writer = asyncio.create_task(self._write(session))
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self._on_message(session, text)
        except ConnectionClosed:
            pass
        finally:
            self._forget(session)
            writer.cancel()

    def _forget(self, session: _Session) -> None:
        self._sessions.discard(session)
        if self._owners.get(session.app_key) is session:
            del self._owners[session.app_key]

    async def _write(self, session: _Session) -> None:
        while True:
            frame = await session.outbox.get()
            await self._unstalled.wait()
            try:
                await session.ws.send(frame)
            except ConnectionClosed:
                return

    def _on_message(self, session: _Session, text: str) -> None:
        def answer(tr_id: str, tr_key: str, code: str, msg: str, ok: bool = False) -> None:
            session.outbox.put_nowait(frames.control(tr_id, tr_key, code, msg, ok=ok))

        try:
            message = json.loads(text)
            header = message["header"]
        except (ValueError, KeyError, TypeError):
            answer("", "", "OPSP9999", "JSON PARSING ERROR : invalid json")
            return
        if header.get("tr_id") == "PINGPONG":
            session.pongs += 1
            return
        try:
            body_input = message["body"]["input"]
            tr_id, tr_key = str(body_input["tr_id"]), str(body_input["tr_key"])
        except (KeyError, TypeError):
            answer("", "", "OPSP9998", "JSON PARSING ERROR : body.input not found")
            return
        app_key = self._approvals.get(str(header.get("approval_key", "")))
        if app_key is None:
            answer(tr_id, tr_key, "OPSP0011", "invalid approval : NOT FOUND")
            return
        owner = self._owners.get(app_key)
        if owner is not None and owner is not session:
            answer(tr_id, tr_key, "OPSP8996", "ALREADY IN USE appkey")
            return
        self._owners[app_key] = session
        session.app_key = app_key
        if header.get("custtype") not in ("P", "B"):
            answer(tr_id, tr_key, "OPSP8998", "invalid custtype")
            return
        notice_tr = "H0STCNI9" if self.mode == "paper" else "H0STCNI0"
        if tr_id not in (TICK_TR, notice_tr):
            answer(tr_id, tr_key, "OPSP8991", "invalid tr_id")
            return
        if tr_id == TICK_TR:
            try:
                self.venue.instrument(tr_key)
            except UnknownInstrument:
                answer(tr_id, tr_key, "OPSP8992", "invalid tr_key")
                return
        elif tr_key != self._users[app_key].hts_id:
            answer(tr_id, tr_key, "OPSP8992", "invalid tr_key")
            return
        registration = (tr_id, tr_key)
        tr_type = header.get("tr_type")
        if tr_type == "1":
            if registration in session.registrations:
                answer(tr_id, tr_key, "OPSP0002", "ALREADY IN SUBSCRIBE")
                return
            if len(session.registrations) >= MAX_REGISTRATIONS:
                answer(tr_id, tr_key, "OPSP0008", "MAX SUBSCRIBE OVER")
                return
            session.registrations.add(registration)
            session.outbox.put_nowait(
                frames.control(
                    tr_id,
                    tr_key,
                    "OPSP0000",
                    "SUBSCRIBE SUCCESS",
                    ok=True,
                    encrypt_flag="Y" if tr_id == notice_tr else "N",
                    key=session.key,
                    iv=session.iv,
                )
            )
        elif tr_type == "2":
            if registration not in session.registrations:
                answer(tr_id, tr_key, "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
                return
            session.registrations.discard(registration)
            answer(tr_id, tr_key, "OPSP0001", "UNSUBSCRIBE SUCCESS", ok=True)
        else:
            answer(tr_id, tr_key, "OPSP8997", "invalid tr_type")


# ---------------------------------------------------------------------------------------------
# command line


def main(
    argv: list[str] | None = None,
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> int:
    """``jango sandbox kis``: serve the KIS protocol over a seeded venue until interrupted."""
    from jango.config import PORT, SEED, argument

    parser = parser_class(prog="jango sandbox kis", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    port = argument(PORT, int)
    parser.add_argument("--port", type=port, default=0, help="REST port (0: any free port)")
    parser.add_argument("--ws-port", type=port, default=0, help="WebSocket port (0: any)")
    parser.add_argument("--seed", type=argument(SEED, int), default=0)
    parser.add_argument("--mode", choices=("real", "paper"), default="real")
    parser.add_argument("--tick-interval", type=float, default=0.5)
    args = parser.parse_args(argv)

    async def run() -> None:
        sandbox = KisSandbox(
            Venue(seed=args.seed),
            host=args.host,
            port=args.port,
            ws_port=args.ws_port,
            mode=args.mode,
            tick_interval=args.tick_interval,
        )
        await sandbox.start()
        user = sandbox.credentials
        print(f"KIS sandbox ({args.mode}) on {sandbox.rest_url} and {sandbox.ws_url}")
        print("Demo credentials (sandbox only) for the KIS adapter:")
        print(f"JANGO_KIS_APP_KEY={user.app_key}")
        print(f"JANGO_KIS_APP_SECRET={user.app_secret}")
        print(f"JANGO_KIS_ACCOUNT={user.accounts[0]}")
        print(f"JANGO_KIS_HTS_ID={user.hts_id}")
        print(f"JANGO_KIS_MODE={args.mode}")
        print(f"JANGO_KIS_REST_URL={sandbox.rest_url}")
        print(f"JANGO_KIS_WS_URL={sandbox.ws_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
