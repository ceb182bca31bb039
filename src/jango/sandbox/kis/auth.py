"""The KIS sandbox's customers and their credentials: app keys, tokens and WebSocket approvals.

``/oauth2/tokenP`` issues a bearer token with KIS's rules (one issue per minute per app key,
``EGW00133`` otherwise; a re-issue within six hours returns the same token), ``/oauth2/Approval``
an approval key for the WebSocket (the secret travels as ``secretkey`` there),
``/oauth2/revokeP`` drops a token and ``/uapi/hashkey`` digests an order body.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import KST
from jango.sandbox.kis.faults import Faults

SAME_TOKEN_WINDOW = 6 * 3600.0  # a re-issue within six hours returns the same token


@dataclass(frozen=True)
class SandboxUser:
    """One customer of the sandbox: app credentials, HTS ID and the accounts they reach."""

    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    hts_id: str
    accounts: tuple[str, ...]


def demo_user(index: int = 0) -> SandboxUser:
    """The ``index``-th demo customer: its own app key (36 characters, like a real one), secret
    (180), HTS ID and account. Index 0 is :data:`DEMO_USER`; the rest differ in every field."""
    if not 0 <= index < 100:
        raise ValueError(f"demo user index must be from 0 to 99, got {index}")
    suffix = f"{index:02d}" if index else "00"
    return SandboxUser(
        app_key="PSjangoSandboxDemoAppKey0000000000" + suffix,
        app_secret="jango-sandbox-demo-secret-" + "0" * 152 + suffix,
        hts_id="jangodemo" if index == 0 else f"jangodemo{index + 1}",
        accounts=(f"{50123456 + index}01",),
    )


DEMO_USER = demo_user(0)


class GatewayError(Exception):
    """A request refused at KIS's gateway (before any business logic): HTTP 500 by default."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class _Token:
    app_key: str
    value: str
    issued: float  # monotonic
    expires: datetime
    expired: bool = False


class Auth:
    """Tokens and approval keys of the sandbox's users."""

    def __init__(
        self,
        users: tuple[SandboxUser, ...],
        *,
        token_interval: float,
        token_lifetime: float,
        stats: dict[str, int],
        faults: Faults,
    ) -> None:
        if not users:
            raise ValueError("the sandbox needs at least one user")
        keys = [user.app_key for user in users]
        if len(set(keys)) != len(keys):
            raise ValueError("two sandbox users share an app key")
        self.users = {user.app_key: user for user in users}
        self.token_interval = token_interval
        self.token_lifetime = token_lifetime
        self.stats = stats  # the sandbox's counters; "token_refused" is counted here
        self.faults = faults
        self._tokens: dict[str, _Token] = {}
        self._last_issue: dict[str, float] = {}
        self._approvals: dict[str, str] = {}  # approval key → app key

    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/tokenP", self._token_issue, methods=["POST"]),
            Route("/oauth2/Approval", self._approval, methods=["POST"]),
            Route("/oauth2/revokeP", self._token_revoke, methods=["POST"]),
            Route("/uapi/hashkey", self._hashkey, methods=["POST"]),
        ]

    def expire_all(self) -> None:
        """Make every issued token answer ``EGW00123`` from now on."""
        for token in self._tokens.values():
            token.expired = True

    def forget_approvals(self) -> None:
        """Make every approval key unknown (``OPSP0011`` on its next use), as when they expire."""
        self._approvals.clear()

    def app_key_of_approval(self, approval_key: str) -> str | None:
        return self._approvals.get(approval_key)

    def user_of(self, request: Request) -> SandboxUser:
        """The user whose token, app key and secret the request's headers carry."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise GatewayError("EGW00205", "credentials_type이 유효하지 않습니다.(Bearer)")
        token = self._tokens.get(auth[len("Bearer ") :].strip())
        if token is None:
            raise GatewayError("EGW00121", "유효하지 않은 token 입니다.")
        if token.expired or token.expires <= datetime.now(KST):
            raise GatewayError("EGW00123", "기간이 만료된 token 입니다.")
        user = self.users[token.app_key]
        if request.headers.get("appkey") != user.app_key:
            raise GatewayError("EGW00103", "유효하지 않은 AppKey입니다.")
        if request.headers.get("appsecret") != user.app_secret:
            raise GatewayError("EGW00105", "유효하지 않은 AppSecret입니다.")
        return user

    @staticmethod
    async def json_body(request: Request) -> dict[str, Any]:
        """The request's JSON object, or ``{}`` for anything else (KIS then names the field)."""
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _oauth_error(code: str, text: str) -> JSONResponse:
        return JSONResponse({"error_code": code, "error_description": text}, status_code=403)

    async def _token_issue(self, request: Request) -> JSONResponse:
        body = await self.json_body(request)
        user = self.users.get(str(body.get("appkey", "")))
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
        if self.faults.approval_down:
            body = {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서버 에러가 발생했습니다."}
            return JSONResponse(body, status_code=500)
        body = await self.json_body(request)
        user = self.users.get(str(body.get("appkey", "")))
        if user is None:
            return self._oauth_error("EGW00103", "유효하지 않은 AppKey입니다.")
        # The secret travels as "secretkey" here; "appsecret" is the tokenP spelling.
        if body.get("secretkey") != user.app_secret:
            return self._oauth_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        key = str(uuid.uuid4())
        self._approvals[key] = user.app_key
        return JSONResponse({"approval_key": key})

    async def _token_revoke(self, request: Request) -> JSONResponse:
        body = await self.json_body(request)
        token = self._tokens.get(str(body.get("token", "")))
        if token is not None and token.app_key == body.get("appkey"):
            del self._tokens[token.value]
        return JSONResponse({"code": "200", "message": "접근토큰 폐기에 성공하였습니다"})

    async def _hashkey(self, request: Request) -> JSONResponse:
        body = await self.json_body(request)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return JSONResponse({"BODY": body, "HASH": digest})
