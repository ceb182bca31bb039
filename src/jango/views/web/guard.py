"""Who may use the web server: an ASGI middleware in front of every route.

* With a token, every request but the static assets (code and styles, no data) must carry it,
  as ``?token=`` or ``Authorization: Bearer``; the page, the API, the download and the WebSocket
  alike. Compared in constant time.
* Without a token the server is only for this machine, so the ``Host`` header must name a
  loopback address: a hostile page that rebinds its DNS name to 127.0.0.1 is refused.
* A browser's cross-site request is refused whenever it could act or read a stream: orders
  (anything but GET) and the WebSocket must come from the page's own origin. Browsers send
  ``Origin`` on those; programs that send none are not a browser a hostile page can drive.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

OPEN_PREFIXES = ("/static/",)
POLICY_VIOLATION = 1008  # WebSocket close code


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 with or without brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _hostname(netloc: str) -> str:
    return urlsplit(f"//{netloc}").hostname or ""


class Guard:
    """Refuses requests without the token, from another site, or (tokenless) by another name."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await WebSocketClose(POLICY_VIOLATION, message)(scope, receive, send)
            return
        response: Response
        if scope["path"].startswith("/api/"):
            response = JSONResponse({"error": message}, status_code=status)
        else:
            response = PlainTextResponse(message, status_code=status)
        await response(scope, receive, send)

    def problem(self, scope: Scope) -> tuple[int, str] | None:
        """Why this request is refused (HTTP status and message), or ``None`` to let it in."""
        headers = _headers(scope)
        host = headers.get("host", "")
        if scope["type"] == "websocket" or scope.get("method", "GET") != "GET":
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return 403, "cross-site request refused"
        if scope["path"].startswith(OPEN_PREFIXES):
            return None
        if self.token is None:
            if not is_loopback(_hostname(host)):
                return 403, "this server only answers to 127.0.0.1 or localhost"
            return None
        if not self._has_token(scope, headers):
            return 401, "access token required: open the URL printed when the server started"
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        expected = self.token.encode()
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given.append(credential.strip())
        return any(secrets.compare_digest(g.encode(), expected) for g in given)
