"""The running session as a local service: one login, many screens.

``jango run`` and ``jango serve`` host the live session and listen on a Unix domain socket in
the profile's data dir (``<data dir>/<name>.sock``, mode 0600, owned by the user who runs it).
Every other command (``order``, ``amend``, ``cancel``, ``balance``, ``export``, ``status``) and
:func:`jango.connect` attach to that socket instead of opening a second broker session; KIS
allows one WebSocket per app key, and a second sim would be a second, private market.

The API over the socket is the web page's HTTP/JSON (:mod:`jango.views.web.app`: ``/api/book``,
``/api/quote``, ``POST /api/orders`` …) plus owner-only routes that name accounts unmasked
(``/api/status``, ``/api/accounts``, ``/api/report``, ``/api/export``, ``/api/orders/{no}``,
``/api/notices``, and ``/api/changes``, a stream of change sets). ``docs/api.md`` lists them.

Who may connect is decided by the file system: the socket is created 0600 inside the data dir,
and clients check that it belongs to them and is private before they speak to it
(:func:`check_socket`). A socket left by a process that died is found when connecting to it is
refused, removed, and said so (:func:`claim`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import logging
import os
import socket
import stat
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jango.config import data_dir
from jango.domain.model import KST

if TYPE_CHECKING:
    # The server's stack loads only in the process that serves: a command that attaches (or
    # just checks a socket) stays quick to start.
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from jango.domain.book import Changes
    from jango.domain.model import OrderNotice
    from jango.engine import Session

log = logging.getLogger(__name__)

SUFFIX = ".sock"
# sockaddr_un holds 108 bytes with the terminating NUL.
MAX_SOCKET_PATH = 107
NOTICES_KEPT = 1000
"""Order notices the service keeps for ``/api/notices`` (the session keeps fewer)."""
HEADERS = {"Cache-Control": "no-store"}


SUPPORTED = hasattr(socket, "AF_UNIX")
"""Whether this system has Unix domain sockets (Windows builds of Python have none)."""


def _noop() -> None:
    return None


class ServiceError(Exception):
    """A service that cannot be started or reached as asked; the message is one line."""


def socket_path(name: str, folder: Path | None = None) -> Path:
    """Where the session called ``name`` listens."""
    return (folder or data_dir()) / f"{name}{SUFFIX}"


def check_socket(path: Path) -> None:
    """Refuse a socket that is not a socket, not ours, or open to others: whoever owns it
    would see our orders, and could answer them."""
    info = path.lstat()
    if not stat.S_ISSOCK(info.st_mode):
        raise ServiceError(f"{path} is not a socket")
    if info.st_uid != os.getuid():
        raise ServiceError(f"socket {path} belongs to another user (uid {info.st_uid})")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise ServiceError(f"socket {path} is open to others (mode {mode:o}); refusing it")


def _alive(path: Path) -> bool:
    """Whether a process is listening on ``path`` (refused or absent: it is not)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2.0)
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise ServiceError(f"cannot reach the session at {path}: {exc.strerror}") from None
    finally:
        probe.close()
    return True


def remove_if_stale(path: Path) -> str:
    """Remove ``path`` if its process is gone, and say so; ``""`` if it is alive or absent."""
    if not SUPPORTED or (not path.exists() and not path.is_symlink()):
        return ""
    check_socket(path)
    if _alive(path):
        return ""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return f"removed stale socket {path} (the session that made it is gone)"


def claim(path: Path) -> tuple[socket.socket, str]:
    """Bind and listen on ``path`` for a new session, before any broker is touched.

    Returns the listening socket and a note (a stale socket removed, or ``""``). A session
    already running there is a :class:`ServiceError`: a second one would open a second broker
    session.
    """
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ServiceError(
            f"socket path {path} is longer than {MAX_SOCKET_PATH} bytes; "
            "set JANGO_DATA_DIR to a shorter folder"
        )
    note = remove_if_stale(path)
    if path.exists():
        raise ServiceError(
            f"a session is already running on {path.name.removesuffix(SUFFIX)} "
            f"(socket {path}); its commands attach to it (see jango status)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Created private: no moment exists in which another user could connect.
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError as exc:
        listener.close()
        raise ServiceError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.setblocking(False)
    return listener, note


@dataclass
class ServiceInfo:
    """What ``jango status`` shows about a running session."""

    name: str
    command: str
    pid: int = field(default_factory=os.getpid)
    started: datetime = field(default_factory=lambda: datetime.now(KST))


def _key_payload(changes: Changes) -> dict[str, Any]:
    def key(k: Any) -> dict[str, Any]:
        return {
            "account": k.account,
            "code": k.code,
            "credit": k.credit.value,
            "loan_date": k.loan_date.isoformat() if k.loan_date else None,
        }

    return {
        "rows": [key(k) for k in sorted(changes.rows)],
        "removed": [key(k) for k in sorted(changes.removed)],
        "accounts": sorted(changes.accounts),
        "orders": sorted(changes.orders),
        "discrepancies": len(changes.discrepancies),
    }


def _notice_payload(seq: int, n: OrderNotice) -> dict[str, Any]:
    return {
        "seq": seq,
        "kind": n.kind.value,
        "action": n.action.value,
        "side": n.side.value,
        "account": n.account,
        "code": n.code,
        "order_no": n.order_no,
        "orig_order_no": n.orig_order_no,
        "qty": n.qty,
        "price": n.price,
        "time": n.time.isoformat(),
    }


class NoticeLog:
    """Every order notice the session applied, numbered, the latest :data:`NOTICES_KEPT`.

    Fed from the session's change sets: a notice the book applied is appended to
    ``session.notices``; this follows that deque by identity, so nothing is counted twice.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self.entries: deque[tuple[int, OrderNotice]] = deque(maxlen=NOTICES_KEPT)
        self._last: OrderNotice | None = None
        self._seq = 0
        self.follow()

    def follow(self, changes: Changes | None = None) -> None:
        """Take the notices appended since the last call (a change listener)."""
        recent = list(self._session.notices)
        start = 0
        if self._last is not None:
            for i in range(len(recent) - 1, -1, -1):
                if recent[i] is self._last:
                    start = i + 1
                    break
        for notice in recent[start:]:
            self._seq += 1
            self.entries.append((self._seq, notice))
        if recent:
            self._last = recent[-1]


def _status_payload(session: Session, info: ServiceInfo) -> dict[str, Any]:
    from jango.fanin import broker_statuses
    from jango.views.report import status_report

    return {
        "name": info.name,
        "command": info.command,
        "pid": info.pid,
        "started": info.started.isoformat(),
        "brokers": broker_statuses(session),
        "accounts": len(session.accounts),
        **status_report(session.status),
    }


def local_routes(
    session: Session, info: ServiceInfo, *, lang: str, closing: asyncio.Event
) -> list[BaseRoute]:
    """The owner-only routes: accounts unmasked, the report, the export, orders, notices, the
    stream of change sets. Errors are answered as the web page's are (one JSON error each)."""
    from rich.console import Console
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from jango.fanin import account_brokers, grand_totals
    from jango.views.report import book_report, book_table, order_report, status_report
    from jango.views.web.app import BadRequest, api_errors

    notices = NoticeLog(session)
    session.on_change(notices.follow)

    def numbers() -> list[str]:
        return [*session.book.accounts, *session.accounts]

    def api(handler: Callable[[Request], Any]) -> Any:
        return api_errors(handler, lang=lang, accounts=numbers)

    def choose(request: Request, allowed: tuple[str, ...]) -> str:
        fmt = request.query_params.get("format", allowed[0])
        if fmt not in allowed:
            raise BadRequest("bad_format", allowed=", ".join(allowed))
        return fmt

    def chosen_lang(request: Request) -> str:
        return "en" if request.query_params.get("lang", lang) == "en" else "ko"

    async def status(request: Request) -> Response:
        return JSONResponse(_status_payload(session, info), headers=HEADERS)

    async def accounts(request: Request) -> Response:
        hub_ids = request.app.state.hub.ids
        brokers = account_brokers(session)
        # The session's own order first: the first is the default account, as for commands.
        listed = list(dict.fromkeys([*session.accounts, *sorted(session.book.accounts)]))
        return JSONResponse(
            [
                {"id": hub_ids.id(n), "account": n, "broker": brokers.get(n, session.broker.name)}
                for n in listed
            ],
            headers=HEADERS,
        )

    async def report(request: Request) -> Response:
        fmt = choose(request, ("json", "table", "csv"))
        if fmt == "json":
            body = book_report(session.book, status=session.status)
            body["brokers"] = account_brokers(session)
            body["grand"] = grand_totals(session)
            return JSONResponse(body, headers=HEADERS)
        text = io.StringIO()
        if fmt == "csv":
            from jango.views.export import write_csv

            write_csv(session.book, text, lang=chosen_lang(request), bom=False)
        else:
            width = request.query_params.get("width", "")
            out = Console(
                file=text, width=int(width) if width.isdigit() else 200, color_system=None
            )
            out.print(book_table(session.book, lang=chosen_lang(request), status=session.status))
        return Response(text.getvalue(), media_type="text/plain; charset=utf-8", headers=HEADERS)

    async def export(request: Request) -> Response:
        fmt = choose(request, ("xlsx", "csv"))
        stream = io.BytesIO()
        if fmt == "csv":
            from jango.views.export import write_csv

            text = io.StringIO()
            write_csv(session.book, text, lang=chosen_lang(request))
            stream.write(text.getvalue().encode("utf-8"))
        else:
            from jango.views.export import workbook

            workbook(session.book, lang=chosen_lang(request)).save(stream)
        return Response(stream.getvalue(), headers=HEADERS)

    async def order(request: Request) -> Response:
        order_no = request.path_params["order_no"]
        known = session.book.orders.get(order_no)
        if known is None:
            raise BadRequest("no_such_order_here", 404, order_no=order_no)
        return JSONResponse({**order_report(known), "account": known.account}, headers=HEADERS)

    async def notice_list(request: Request) -> Response:
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            raise BadRequest("whole_number", field="after")
        wanted = request.query_params.get("order_no", "")
        body = [
            _notice_payload(seq, n)
            for seq, n in notices.entries
            if seq > int(after) and (not wanted or wanted in (n.order_no, n.orig_order_no))
        ]
        return JSONResponse(body, headers=HEADERS)

    async def changes(request: Request) -> Response:
        async def lines() -> AsyncIterator[bytes]:
            stream = session.changes()
            # The first line is the status: a reader knows at once it is attached.
            yield (json.dumps({"status": status_report(session.status)}) + "\n").encode()
            waiting_close = asyncio.ensure_future(closing.wait())
            try:
                while not closing.is_set():
                    step = asyncio.ensure_future(anext(stream))
                    done, _ = await asyncio.wait(
                        {step, waiting_close}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if step not in done:
                        step.cancel()
                        break
                    try:
                        change = step.result()
                    except StopAsyncIteration:
                        break
                    yield (json.dumps(_key_payload(change)) + "\n").encode()
            finally:
                waiting_close.cancel()
                await stream.aclose()

        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=HEADERS)

    return [
        Route("/api/status", api(status)),
        Route("/api/accounts", api(accounts)),
        Route("/api/report", api(report)),
        Route("/api/export", api(export)),
        Route("/api/orders/{order_no}", api(order)),
        Route("/api/notices", api(notice_list)),
        Route("/api/changes", api(changes)),
    ]


def _quiet_server(config: Any) -> Any:
    """uvicorn that leaves signals to the command hosting it (the terminal view, ``serve``)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return Server(config)


def service_app(
    session: Session, info: ServiceInfo, *, lang: str, closing: asyncio.Event
) -> Starlette:
    """The web page's app plus the owner-only routes, for the socket."""
    from jango.views.web.app import create_app

    routes = local_routes(session, info, lang=lang, closing=closing)
    return create_app(session, token=None, lang=lang, extra_routes=routes)


def host(
    session: Session, name: str, *, command: str, lang: str = "ko"
) -> tuple[str, Callable[[], None]]:
    """Make ``session`` the running session called ``name``: claim its socket now (refusing a
    second session before any broker is touched) and serve it once the session has started,
    as one of its supervised tasks.

    Returns a note to show (a stale socket removed, or ``""``) and the release: the socket is
    closed and removed when the session stops, or by calling it when the session never starts.
    """
    if not SUPPORTED:
        # Windows (CYBOS's home) has no AF_UNIX in Python: the session runs unshared.
        return f"this system has no Unix sockets: other commands cannot attach to {name}", _noop
    path = socket_path(name)
    listener, note = claim(path)
    info = ServiceInfo(name=name, command=command)

    released: list[bool] = []

    def release() -> None:
        if released:
            return
        released.append(True)
        listener.close()  # uvicorn may have closed it already; closing twice is harmless
        with contextlib.suppress(FileNotFoundError):
            # Only our own socket: a new session may have claimed the name since.
            if path.lstat().st_ino == inode:
                path.unlink()

    inode = path.lstat().st_ino
    session.add_closer(release)

    async def serve() -> None:
        import uvicorn

        closing = asyncio.Event()
        app = service_app(session, info, lang=lang, closing=closing)
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="on",
        )
        server = _quiet_server(config)
        task = asyncio.ensure_future(server.serve(sockets=[listener]))
        try:
            await asyncio.shield(task)
        finally:
            closing.set()
            server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)

    session.run_alongside("service", serve)
    return note, release
