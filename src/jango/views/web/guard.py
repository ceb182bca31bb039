"""Who may use the web server: an ASGI middleware in front of every route.

* With a token, every request but the static assets (code and styles, no data) must carry it,
  as ``?token=`` or ``Authorization: Bearer``; the page, the API, the download and the WebSocket
  alike. Compared in constant time.
* Without a token the server is only for this machine, so the ``Host`` header must name a
  loopback address: a hostile page that rebinds its DNS name to 127.0.0.1 is refused.
* A browser's cross-site request is refused whenever it could act or read a stream: orders
  (anything but GET) and the WebSocket must come from the page's own origin. Browsers send
  ``Origin`` on those; programs that send none are not a browser a hostile page can drive.
* Every HTTP answer, refusals and static files included, carries :data:`SECURITY_HEADERS`.
* A token must be strong (:func:`check_token`): at least 128 bits' worth of characters.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

OPEN_PREFIXES = ("/static/",)
POLICY_VIOLATION = 1008  # WebSocket close code
# The page may talk only to its own server; nothing inline, nothing from elsewhere, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_ENCODED_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
# 22 characters of the URL-safe base64 alphabet carry 132 bits when drawn at random.
TOKEN_MIN_LENGTH = 22
TOKEN_MIN_DISTINCT = 10


class WeakToken(ValueError):
    """A ``--token`` too short or too repetitive to stand in for a password."""


def check_token(token: str) -> str:
    """``token`` if it is strong enough, else :class:`WeakToken` saying what a good one is."""
    if len(token) < TOKEN_MIN_LENGTH or len(set(token)) < TOKEN_MIN_DISTINCT:
        raise WeakToken(
            f"the access token is too weak ({len(token)} characters): use at least "
            f"{TOKEN_MIN_LENGTH} random characters (128 bits), for example "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 with or without brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in _ENCODED_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _hostname(netloc: str) -> str:
    return urlsplit(f"//{netloc}").hostname or ""


class Guard:
    """Refuses requests without the token, from another site, or (tokenless) by another name."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = None if token is None else check_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            send = _with_headers(send)
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
