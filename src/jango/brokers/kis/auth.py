"""Access tokens (``/oauth2/tokenP``, cached on disk) and WebSocket approval keys."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from jango.brokers.kis.config import KisConfig, KisTuning, default_token_cache
from jango.brokers.kis.wire import IssuedToken, WireError, parse_token
from jango.brokers.port import StartupError
from jango.domain.model import KST

log = logging.getLogger(__name__)

TOKEN_LIMIT_CODE = "EGW00133"


class TokenManager:
    """Hands out a valid access token, issuing one only when neither memory nor disk has one.

    KIS allows one issue per minute per app key (HTTP 403 ``EGW00133``) and returns the same
    token for six hours, so tokens are cached on disk (mode 0600) until shortly before their
    stated expiry and shared by every process using the same app key and server.
    """

    def __init__(self, config: KisConfig, tuning: KisTuning, client: httpx.AsyncClient) -> None:
        self._config = config
        self._tuning = tuning
        self._client = client
        self._path = config.token_cache or default_token_cache()
        digest = hashlib.sha256(config.app_key.encode("utf-8")).hexdigest()[:32]
        self._cache_key = f"{digest}@{config.rest_url}"
        self._current: IssuedToken | None = None
        self._lock = asyncio.Lock()
        self._approval: str | None = None
        self.issued = 0  # tokens issued by this manager (for tests and diagnostics)

    async def token(self) -> str:
        """A token valid for at least the refresh margin; issue one if needed."""
        async with self._lock:
            if self._current is None or not self._fresh(self._current):
                cached = self._load()
                self._current = cached if cached and self._fresh(cached) else await self._issue()
            return self._current.token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the server called it expired or invalid) in memory and on disk."""
        if self._current is not None and self._current.token == token:
            self._current = None
        cached = self._load()
        if cached is not None and cached.token == token:
            self._store(None)

    async def approval_key(self, *, renew: bool = False) -> str:
        """The WebSocket approval key from ``/oauth2/Approval`` (kept in memory only)."""
        if self._approval is None or renew:
            body = {
                "grant_type": "client_credentials",
                "appkey": self._config.app_key,
                # KIS names the secret ``secretkey`` here, unlike tokenP's ``appsecret``.
                "secretkey": self._config.app_secret,
            }
            reply = await self._post("/oauth2/Approval", body)
            key = reply.get("approval_key")
            if not isinstance(key, str) or not key:
                raise StartupError("KIS approval reply has no approval_key")
            self._approval = key
        return self._approval

    def _fresh(self, token: IssuedToken) -> bool:
        margin = timedelta(seconds=self._tuning.token_refresh_margin)
        return token.expires - margin > datetime.now(KST)

    async def _issue(self) -> IssuedToken:
        body = {
            "grant_type": "client_credentials",
            "appkey": self._config.app_key,
            "appsecret": self._config.app_secret,
        }
        attempts = self._tuning.token_retries + 1
        for attempt in range(attempts):
            try:
                reply = await self._post("/oauth2/tokenP", body)
            except StartupError as exc:
                if exc.code != TOKEN_LIMIT_CODE or attempt == attempts - 1:
                    raise
                log.warning("KIS token issue limited (EGW00133); retrying after a wait")
                await asyncio.sleep(self._tuning.token_retry_wait)
                continue
            try:
                issued = parse_token(reply)
            except WireError as exc:
                raise StartupError(f"KIS token reply unreadable: {exc}") from exc
            self.issued += 1
            self._store(issued)
            log.info("KIS access token issued, valid until %s", issued.expires.isoformat())
            return issued
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _post(self, path: str, body: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.post(
                path, json=body, headers={"content-type": "application/json; charset=utf-8"}
            )
        except httpx.HTTPError as exc:
            raise StartupError(f"KIS {path} unreachable: {type(exc).__name__}") from exc
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise StartupError(f"KIS {path} answered HTTP {response.status_code} without JSON")
        if response.status_code != 200:
            # OAuth errors use error_code/error_description; gateway errors use msg_cd/msg1.
            code = str(reply.get("error_code") or reply.get("msg_cd") or "")
            text = str(reply.get("error_description") or reply.get("msg1") or "").strip()
            raise StartupError(
                f"KIS {path} refused (HTTP {response.status_code} {code}): {text}", code=code
            )
        return reply

    def _load(self) -> IssuedToken | None:
        try:
            entries = json.loads(self._path.read_text(encoding="utf-8"))
            entry = entries[self._cache_key]
            return IssuedToken(entry["token"], datetime.fromisoformat(entry["expires"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store(self, token: IssuedToken | None) -> None:
        try:
            entries = json.loads(self._path.read_text(encoding="utf-8"))
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError):
            entries = {}
        if token is None:
            entries.pop(self._cache_key, None)
        else:
            entries[self._cache_key] = {"token": token.token, "expires": token.expires.isoformat()}
        _write_private(self._path, json.dumps(entries))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file only its owner can read (it holds a bearer token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
