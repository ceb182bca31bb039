"""The live web page: holdings, totals, orders, notices and differences over a WebSocket.

``create_app`` builds the Starlette app over a running :class:`~jango.engine.Session`;
``serve`` runs the session and uvicorn in one asyncio loop, so the book is only ever touched
on that loop and every request sees it between two events, never halfway through one.

Routes: ``/`` the page, ``/ws`` the live stream (a snapshot in parts, then numbered deltas of
changed cells, see :mod:`jango.views.web.grid`), ``/api/book`` the snapshot as JSON,
``/api/quote?code=`` a price with its limits and tick table (for the ticket's checks),
``POST /api/orders`` and ``/api/orders/{no}/amend|cancel`` to trade, ``/api/export.xlsx`` the
book as Excel. Accounts appear only masked (errors and downloads too), and the API names them by
opaque id (``a0`` …). Bodies are capped at :data:`BODY_LIMIT` and JSON nesting at
:data:`JSON_DEPTH_LIMIT`; errors come in the language of ``Accept-Language``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import uvicorn
from openpyxl import Workbook
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from jango.brokers.port import BrokerError, NoSuchOrder, OrderAck, OrderRefused, OrderRequest
from jango.domain import krx
from jango.domain.book import Book
from jango.domain.model import Code, Condition, Credit, DomainError, OrderType, Side, parse_code
from jango.engine import Session
from jango.views.export import sheet_title, workbook
from jango.views.web.grid import GridClient, GridHub, parse_view
from jango.views.web.guard import Guard, WeakToken, check_token, is_loopback
from jango.views.web.history import TotalsHistory
from jango.views.web.messages import known, language, mask_accounts, message
from jango.views.web.payload import page_labels, snapshot

STATIC = Path(__file__).parent / "static"
# Front-end libraries installed by npm (``npm ci`` in views/web/vendor), never committed.
VENDOR = Path(__file__).parent / "vendor"
UPLOT = VENDOR / "node_modules" / "uplot" / "dist"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = {"Cache-Control": "no-store"}  # the security headers are added by the Guard
# A request body is refused past this size, before it is read in full.
BODY_LIMIT = 64 * 1024
# JSON deeper than this is refused before it is parsed (an order is one flat object).
JSON_DEPTH_LIMIT = 16
# The largest number an order field may hold (a price or quantity beyond it is a typing slip).
NUMBER_LIMIT = 10**12

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """A request the API cannot act on; answered with ``status`` and a localised message."""

    def __init__(self, key: str, status: int = 400, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.status = status
        self.params = params


Handler = Callable[[Request], Awaitable[Response]]


def api_errors(handler: Handler, *, lang: str, accounts: Callable[[], list[str]]) -> Handler:
    """Turn the errors a request can cause into JSON answers with the right status, in the
    language the request asked for, with every account number masked."""

    async def wrapped(request: Request) -> Response:
        chosen = language(request.headers.get("accept-language"), lang)

        def answer(status: int, key: str, text: str, code: str = "") -> Response:
            body = {"error": mask_accounts(text, accounts()), "error_code": key}
            if code:
                body["code"] = code
            return JSONResponse(body, status_code=status, headers=HEADERS)

        try:
            return await handler(request)
        except BadRequest as exc:
            return answer(exc.status, exc.key, message(chosen, exc.key, **exc.params))
        except (DomainError, ValueError) as exc:
            return answer(400, "invalid", message(chosen, "invalid", detail=exc))
        except NoSuchOrder as exc:
            order_no = request.path_params.get("order_no", "")
            return answer(
                404, "no_such_order", message(chosen, "no_such_order", order_no=order_no), exc.code
            )
        except OrderRefused as exc:
            detail = message(chosen, exc.code) if known(exc.code) else str(exc)
            return answer(422, "refused", message(chosen, "refused", detail=detail), exc.code)
        except BrokerError as exc:
            detail = message(chosen, exc.code) if known(exc.code) else str(exc)
            return answer(
                502, "broker_error", message(chosen, "broker_error", detail=detail), exc.code
            )
        except Exception:
            # Logged with its traceback for the operator; the client gets one plain line.
            log.exception("web: %s %s failed", request.method, request.url.path)
            return answer(500, "internal", message(chosen, "internal"))

    return wrapped


def _json_depth(data: bytes) -> int:
    """The deepest nesting of brackets in ``data``, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > BODY_LIMIT):
        raise BadRequest("too_large", 413, limit=BODY_LIMIT)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            # Stop reading: the rest is never buffered.
            raise BadRequest("too_large", 413, limit=BODY_LIMIT)
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request) -> dict[str, Any]:
    # JSON only: a cross-site form post cannot send it without a CORS preflight we never grant.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("json_only", 415)
    data = await _read_limited(request)
    if _json_depth(data) > JSON_DEPTH_LIMIT:
        raise BadRequest("too_deep", limit=JSON_DEPTH_LIMIT)
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("not_json") from exc
    if not isinstance(body, dict):
        raise BadRequest("not_object")
    return body


def _int(body: dict[str, Any], name: str, *, minimum: int, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("required", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("whole_number", field=name)
    if isinstance(value, str) and (len(value) > 20 or not value.strip().lstrip("-").isdigit()):
        raise BadRequest("whole_number", field=name)
    number = int(value)
    if number < minimum:
        raise BadRequest("at_least", field=name, minimum=minimum)
    if number > NUMBER_LIMIT:
        raise BadRequest("too_big", field=name)
    return number


def _choice(kind: type[StrEnum], raw: object, key: str) -> Any:
    try:
        return kind(str(raw))
    except ValueError as exc:
        raise BadRequest(key) from exc


def _loan_date(raw: object) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise BadRequest("bad_loan_date") from exc


def masked_workbook(book: Book, *, lang: str) -> Workbook:
    """The export workbook with every account number masked, in sheet titles and cells."""
    wb = workbook(book, lang=lang)
    numbers = sorted(book.accounts)
    titles = {sheet_title(n): n for n in numbers}
    for ws in wb.worksheets:
        number = titles.get(ws.title)
        if number is not None:
            ws.title = sheet_title(("계좌 " if lang != "en" else "Account ") + number[-4:])
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and any(n in cell.value for n in numbers):
                    cell.value = mask_accounts(cell.value, numbers)
    return wb


def create_app(
    session: Session,
    *,
    token: str | None,
    lang: str = "ko",
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The page, API and WebSocket over ``session``, which must be started by the time the
    app's lifespan starts. ``token`` (if any) is required on every request but static assets,
    and must be strong (:class:`~jango.views.web.guard.WeakToken` otherwise). ``extra_routes``
    come first (the local service adds its owner-only routes, see :mod:`jango.service`).
    """
    if token is not None:
        check_token(token)
    hub = GridHub(session)
    history = TotalsHistory(session)
    if not (UPLOT / "uPlot.iife.min.js").is_file():
        log.warning(
            "the page's charts need uPlot: run `npm ci` in %s (Node.js and npm); "
            "the page works without them and says so",
            VENDOR,
        )
    labels = json.dumps(page_labels(), ensure_ascii=False).replace("</", "<\\/")
    page_html = (
        (STATIC / "index.html")
        .read_text(encoding="utf-8")
        .replace("__LANG__", "en" if lang == "en" else "ko")
        .replace("__LABELS__", labels)
    )

    def numbers() -> list[str]:
        return [*session.book.accounts, *session.accounts]

    def api(handler: Handler) -> Handler:
        return api_errors(handler, lang=lang, accounts=numbers)

    def account(body: dict[str, Any]) -> str:
        number = hub.ids.account(str(body.get("account", "")))
        if number is None:
            raise BadRequest("unknown_account")
        return number

    def code(raw: object) -> Code:
        try:
            return parse_code(raw)
        except DomainError as exc:
            raise BadRequest("bad_code") from exc

    def ack_payload(ack: OrderAck) -> dict[str, Any]:
        return {"order_no": ack.order_no, "message": mask_accounts(ack.message, numbers())}

    async def page(request: Request) -> Response:
        return HTMLResponse(page_html, headers=HEADERS)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204, headers=HEADERS)  # no icon, and no 404 in the console

    async def book(request: Request) -> Response:
        text = json.dumps(snapshot(hub.ids, session), ensure_ascii=False, separators=(",", ":"))
        # A number inside free text (a status detail, a discrepancy's reason) is masked too.
        body = mask_accounts(text, numbers())
        return Response(body, media_type="application/json", headers=HEADERS)

    async def history_points(request: Request) -> Response:
        return JSONResponse(history.payload(), headers=HEADERS)

    async def quote(request: Request) -> Response:
        """What the ticket needs to check an order: price, limits and the tick table."""
        q = await session.broker.quote(code(request.query_params.get("code", "")))
        market = q.market
        upper, lower = q.upper, q.lower
        if not upper and q.base and krx.has_price_limit(market):
            upper, lower = krx.price_limits(q.base, market)
        return JSONResponse(
            {
                "code": q.code,
                "name": q.name,
                "market": market.value,
                "price": q.price,
                "base": q.base,
                "upper": upper,
                "lower": lower,
                "ticks": [list(band) for band in krx.tick_table(market)],
            },
            headers=HEADERS,
        )

    async def place(request: Request) -> Response:
        body = await _body(request)
        price = _int(body, "price", minimum=0, required=False) or 0
        qty = _int(body, "qty", minimum=1)
        assert qty is not None
        kind = body.get("order_type") or (OrderType.LIMIT if price else OrderType.MARKET)
        order = OrderRequest(
            account=account(body),
            side=_choice(Side, body.get("side", ""), "bad_side"),
            code=code(body.get("code", "")),
            qty=qty,
            price=price,
            order_type=_choice(OrderType, kind, "bad_order_type"),
            condition=_choice(Condition, body.get("condition") or "none", "bad_condition"),
            credit=_choice(Credit, body.get("credit") or "cash", "bad_credit"),
            loan_date=_loan_date(body.get("loan_date")),
        )
        return JSONResponse(ack_payload(await session.place(order)), headers=HEADERS)

    async def amend(request: Request) -> Response:
        body = await _body(request)
        price = _int(body, "price", minimum=1)
        assert price is not None
        qty = _int(body, "qty", minimum=1, required=False)
        order_no = request.path_params["order_no"]
        ack = await session.amend(account(body), order_no, price=price, qty=qty)
        return JSONResponse(ack_payload(ack), headers=HEADERS)

    async def cancel(request: Request) -> Response:
        body = await _body(request)
        qty = _int(body, "qty", minimum=1, required=False)
        order_no = request.path_params["order_no"]
        ack = await session.cancel(account(body), order_no, qty=qty)
        return JSONResponse(ack_payload(ack), headers=HEADERS)

    async def export(request: Request) -> Response:
        chosen = "en" if request.query_params.get("lang", lang) == "en" else "ko"
        stream = io.BytesIO()
        # On the loop on purpose: the book cannot change while it is being written.
        masked_workbook(session.book, lang=chosen).save(stream)
        name = f"jango-{datetime.now():%Y%m%d-%H%M%S}.xlsx"
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(stream.getvalue(), media_type=XLSX, headers=headers)

    clients = itertools.count(1)

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        client = hub.join()
        name = f"web client {next(clients)}"
        supervisor = session.supervisor
        # The pusher is supervised like the session's own tasks: a bug in it is shown in every
        # view and journaled, and the restart sends this client a fresh snapshot.
        try:
            pusher = supervisor.spawn(name, lambda: _push(websocket, hub, client))
        except RuntimeError:
            hub.leave(client)
            await websocket.close(code=1012)  # the session is stopping: "service restart"
            return
        closed = asyncio.create_task(_listen(websocket, hub, client))
        try:
            assert pusher.task is not None
            await asyncio.wait({pusher.task, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not closed.done():
                # Given up: close with "internal error" so the page says so and reconnects.
                with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
                    await websocket.close(code=1011)
        finally:
            closed.cancel()
            await pusher.stop()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                await closed
            supervisor.retire(name)
            hub.leave(client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        history.sample()
        sampler = session.supervisor.spawn("web history", history.run)
        try:
            yield
        finally:
            await sampler.stop()
            history.close()
            await hub.stop()

    app = Starlette(
        routes=[
            *extra_routes,
            Route("/", page),
            Route("/favicon.ico", favicon),
            Route("/api/book", api(book)),
            Route("/api/quote", api(quote)),
            Route("/api/history", api(history_points)),
            Route("/api/orders", api(place), methods=["POST"]),
            Route("/api/orders/{order_no}/amend", api(amend), methods=["POST"]),
            Route("/api/orders/{order_no}/cancel", api(cancel), methods=["POST"]),
            Route("/api/export.xlsx", api(export)),
            WebSocketRoute("/ws", live),
            *vendor_mount(),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(Guard, token=token)],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


def vendor_mount() -> list[Mount]:
    """``/static/vendor`` serving the npm-installed chart library, when it is installed."""
    if not UPLOT.is_dir():
        return []
    return [Mount("/static/vendor", StaticFiles(directory=UPLOT), name="vendor")]


async def _push(websocket: WebSocket, hub: GridHub, client: GridClient) -> None:
    # A snapshot first (again after a restart), then one delta at a time: while a send waits for
    # a slow socket, the client's changes keep merging into its pending set, so the next delta
    # carries only the latest cells. A client that went away ends the pusher normally.
    try:
        for part in hub.snapshot_messages(client):
            await websocket.send_text(part)
        while True:
            await client.ready.wait()
            client.ready.clear()
            for text in hub.delta_messages(client):
                await websocket.send_text(text)
    except (WebSocketDisconnect, OSError):
        return


async def _listen(websocket: WebSocket, hub: GridHub, client: GridClient) -> None:
    # Until the close (or a dropped connection). The page says which rows are on its screen;
    # anything else it sends is read and dropped, never acted on.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        rows = parse_view(text) if isinstance(text, str) else None
        if rows is not None:
            hub.view_changed(client, rows)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host.strip("[]"), port), family=family)


class WebServer:
    """uvicorn serving ``app`` on the running loop. Binds at construction, so a busy port fails
    before anything else starts and ``port`` is known even when 0 was asked for."""

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.host = host
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,  # leave logging to the application
            log_level="warning",
            access_log=False,  # request lines would carry ?token=
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)

    def url(self, token: str | None = None) -> str:
        """The page's address, with the token if there is one."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        query = f"?token={token}" if token else ""
        return f"http://{host}:{self.port}/{query}"

    async def serve(self) -> None:
        """Serve until :meth:`stop` (or Ctrl-C when on the main thread)."""
        await self._server.serve(sockets=[self._socket])

    def stop(self) -> None:
        """Ask the server to close its connections and return from :meth:`serve`."""
        self._server.should_exit = True


def serve(
    session: Session,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    lang: str = "ko",
) -> int:
    """Run ``session`` and the web server until interrupted; returns the exit status.

    A server reachable from other machines needs a token: binding a non-loopback address
    without one generates it, and the printed URL carries it.
    """
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    try:
        app = create_app(session, token=token, lang=lang)
    except WeakToken as exc:
        print(f"jango: error: {exc}", file=sys.stderr)
        return 2
    try:
        server = WebServer(app, host=host, port=port)
    except OSError as exc:
        print(f"jango: error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with session:
            print(f"jango: serving {server.url(token)}", flush=True)
            await server.serve()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    # A task given up while serving (logged when it happened): say so in the exit status.
    return 1 if session.failures else 0
