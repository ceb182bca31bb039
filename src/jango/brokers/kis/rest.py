"""The KIS REST client: headers, rate limiting, gateway-error retries, token refresh."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from jango.brokers.kis.auth import TokenManager
from jango.brokers.kis.config import KisConfig, KisTuning
from jango.brokers.port import BrokerError, RateLimited
from jango.brokers.ratelimit import RateLimiter

log = logging.getLogger(__name__)

RATE_LIMIT_CODE = "EGW00201"
TOKEN_EXPIRED_CODES = frozenset({"EGW00121", "EGW00122", "EGW00123"})  # invalid/absent/expired


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP 200 reply: the JSON body and the paging header ``tr_cont``."""

    body: Mapping[str, Any]
    tr_cont: str

    @property
    def rt_cd(self) -> str:
        return str(self.body.get("rt_cd", ""))

    @property
    def msg_cd(self) -> str:
        return str(self.body.get("msg_cd", ""))

    @property
    def message(self) -> str:
        # msg1 comes right-padded with spaces.
        return str(self.body.get("msg1", "")).strip()

    @property
    def ok(self) -> bool:
        return self.rt_cd == "0"

    @property
    def more(self) -> bool:
        """Whether another page follows (``tr_cont`` F or M; D or E mark the last page)."""
        return self.tr_cont in ("F", "M")


class KisRest:
    """Sends ``/uapi`` requests. Business errors (HTTP 200, ``rt_cd`` ≠ "0") are returned for
    the caller to judge; gateway errors (HTTP 500 ``EGW…``) are retried or raised here."""

    def __init__(
        self,
        config: KisConfig,
        tuning: KisTuning,
        client: httpx.AsyncClient,
        tokens: TokenManager,
        limiter: RateLimiter,
    ) -> None:
        self._config = config
        self._tuning = tuning
        self._client = client
        self._tokens = tokens
        self._limiter = limiter

    async def get(
        self, path: str, tr_id: str, params: Mapping[str, str], *, tr_cont: str = ""
    ) -> Reply:
        """GET ``path`` with query ``params``; ``tr_cont="N"`` asks for the next page."""
        return await self._send("GET", path, tr_id, params=params, tr_cont=tr_cont)

    async def post(self, path: str, tr_id: str, body: Mapping[str, str]) -> Reply:
        """POST a JSON ``body`` (upper-case keys, string values)."""
        return await self._send("POST", path, tr_id, body=body)

    async def _send(
        self,
        method: str,
        path: str,
        tr_id: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
        tr_cont: str = "",
    ) -> Reply:
        rate_hits = 0
        token_refreshed = False
        # Bounded: each pass either returns, raises, or uses up one of the two retry budgets.
        for _ in range(self._tuning.rate_retries + 2):
            token = await self._tokens.token()
            headers = {
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {token}",
                "appkey": self._config.app_key,
                "appsecret": self._config.app_secret,
                "tr_id": tr_id,
                "custtype": "P",
                "tr_cont": tr_cont,
            }
            await self._limiter.acquire()
            try:
                response = await self._client.request(
                    method, path, params=params, json=body, headers=headers
                )
            except httpx.HTTPError as exc:
                raise BrokerError(f"KIS {path} unreachable: {type(exc).__name__}") from exc
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise BrokerError(f"KIS {path} answered HTTP {response.status_code} without JSON")
            if response.status_code == 200:
                return Reply(data, response.headers.get("tr_cont", "").strip().upper())
            code = str(data.get("msg_cd") or data.get("error_code") or "")
            text = str(data.get("msg1") or data.get("error_description") or "").strip()
            if code == RATE_LIMIT_CODE and rate_hits < self._tuning.rate_retries:
                rate_hits += 1
                await asyncio.sleep(self._tuning.rate_retry_wait * rate_hits)
                continue
            if code == RATE_LIMIT_CODE:
                raise RateLimited(f"KIS {path}: {text}", code=code)
            if code in TOKEN_EXPIRED_CODES and not token_refreshed:
                log.info("KIS token refused (%s); issuing a new one", code)
                self._tokens.invalidate(token)
                token_refreshed = True
                continue
            raise BrokerError(
                f"KIS {path} failed (HTTP {response.status_code} {code}): {text}", code=code
            )
        raise RateLimited(f"KIS {path}: retries exhausted", code=RATE_LIMIT_CODE)
