"""The live web page: holdings, totals, orders, notices and differences over a WebSocket.

``create_app`` builds the Starlette app over a running :class:`~jango.engine.Session`;
``serve`` runs the session and uvicorn in one asyncio loop, so the book is only ever touched
on that loop and every request sees it between two events, never halfway through one.

Routes: ``/`` the page, ``/ws`` the live stream (a snapshot, then numbered deltas),
``/api/book`` the snapshot as JSON, ``POST /api/orders`` and ``/api/orders/{no}/amend|cancel``
to trade, ``/api/export.xlsx`` the book as Excel. Accounts appear only masked, and the API names
them by opaque id (``a0`` …).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from jango.brokers.port import BrokerError, NoSuchOrder, OrderRefused, OrderRequest
from jango.domain.model import DomainError, OrderType, Side, parse_code
from jango.engine import Session
from jango.views.web.guard import Guard, is_loopback
from jango.views.web.hub import Client, Hub
from jango.views.web.payload import page_labels, snapshot

STATIC = Path(__file__).parent / "static"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The page may talk only to its own server; nothing inline, nothing from elsewhere.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class BadRequest(Exception):
    """A request the API cannot act on; answered with 400 and the message."""


Handler = Callable[[Request], Awaitable[Response]]


def _api(handler: Handler) -> Handler:
    """Turn the errors a request can cause into JSON answers with the right status."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except (BadRequest, DomainError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=HEADERS)
        except NoSuchOrder as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, 404, headers=HEADERS)
        except OrderRefused as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, 422, headers=HEADERS)
        except BrokerError as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, 502, headers=HEADERS)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    # JSON only: a cross-site form post cannot send it without a CORS preflight we never grant.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("send the order as application/json")
    try:
        body = json.loads(await request.body())
    except json.JSONDecodeError as exc:
        raise BadRequest(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object")
    return body


def _int(body: dict[str, Any], name: str, *, minimum: int, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"{name} must be a whole number")
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    return number


def create_app(session: Session, *, token: str | None, lang: str = "ko") -> Starlette:
    """The page, API and WebSocket over ``session``, which must be started by the time the
    app's lifespan starts. ``token`` (if any) is required on every request but static assets.
    """
    hub = Hub(session)
    labels = json.dumps(page_labels(), ensure_ascii=False).replace("</", "<\\/")
    page_html = (
        (STATIC / "index.html")
        .read_text(encoding="utf-8")
        .replace("__LANG__", "en" if lang == "en" else "ko")
        .replace("__LABELS__", labels)
    )

    def account(body: dict[str, Any]) -> str:
        number = hub.ids.account(str(body.get("account", "")))
        if number is None:
            raise BadRequest("unknown account")
        return number

    async def page(request: Request) -> Response:
        return HTMLResponse(page_html, headers=HEADERS)

    async def book(request: Request) -> Response:
        return JSONResponse(snapshot(hub.ids, session), headers=HEADERS)

    async def place(request: Request) -> Response:
        body = await _body(request)
        price = _int(body, "price", minimum=0, required=False) or 0
        qty = _int(body, "qty", minimum=1)
        assert qty is not None
        kind = body.get("order_type") or (OrderType.LIMIT if price else OrderType.MARKET)
        order = OrderRequest(
            account=account(body),
            side=Side(str(body.get("side", ""))),
            code=parse_code(str(body.get("code", ""))),
            qty=qty,
            price=price,
            order_type=OrderType(kind),
        )
        ack = await session.place(order)
        return JSONResponse({"order_no": ack.order_no, "message": ack.message}, headers=HEADERS)

    async def amend(request: Request) -> Response:
        body = await _body(request)
        price = _int(body, "price", minimum=1)
        assert price is not None
        qty = _int(body, "qty", minimum=1, required=False)
        order_no = request.path_params["order_no"]
        ack = await session.amend(account(body), order_no, price=price, qty=qty)
        return JSONResponse({"order_no": ack.order_no, "message": ack.message}, headers=HEADERS)

    async def cancel(request: Request) -> Response:
        body = await _body(request)
        qty = _int(body, "qty", minimum=1, required=False)
        order_no = request.path_params["order_no"]
        ack = await session.cancel(account(body), order_no, qty=qty)
        return JSONResponse({"order_no": ack.order_no, "message": ack.message}, headers=HEADERS)

    async def export(request: Request) -> Response:
        from jango.views.export import export_book

        chosen = request.query_params.get("lang", lang)
        with tempfile.TemporaryDirectory(prefix="jango-web-") as tmp:
            path = Path(tmp) / "book.xlsx"
            # On the loop on purpose: the book cannot change while it is being written.
            export_book(session.book, path, lang="en" if chosen == "en" else "ko")
            data = path.read_bytes()
        name = f"jango-{datetime.now():%Y%m%d-%H%M%S}.xlsx"
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=XLSX, headers=headers)

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        client = hub.join()
        try:
            await websocket.send_text(hub.snapshot(client))
            sender = asyncio.create_task(_send_deltas(websocket, hub, client))
            closed = asyncio.create_task(_until_closed(websocket))
            _, pending = await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in (sender, closed):
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                    await task
        except (WebSocketDisconnect, OSError):
            pass  # the client went away; nothing is owed to it
        finally:
            hub.leave(client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/book", _api(book)),
            Route("/api/orders", _api(place), methods=["POST"]),
            Route("/api/orders/{order_no}/amend", _api(amend), methods=["POST"]),
            Route("/api/orders/{order_no}/cancel", _api(cancel), methods=["POST"]),
            Route("/api/export.xlsx", _api(export)),
            WebSocketRoute("/ws", stream),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(Guard, token=token)],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


async def _send_deltas(websocket: WebSocket, hub: Hub, client: Client) -> None:
    while True:
        await client.ready.wait()
        client.ready.clear()
        message = hub.delta(client)
        if message is not None:
            await websocket.send_text(message)


async def _until_closed(websocket: WebSocket) -> None:
    # The page sends nothing; this only notices the close (or a dropped connection).
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host.strip("[]"), port), family=family)


class WebServer:
    """uvicorn serving ``app`` on the running loop. Binds at construction, so a busy port fails
    before anything else starts and ``port`` is known even when 0 was asked for."""

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.host = host
        self._socket = _listen(host, port)
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
        server = WebServer(create_app(session, token=token, lang=lang), host=host, port=port)
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
