"""The KIS sandbox's gateway: what every ``/uapi`` request passes before its handler runs.

Token, app key and secret (:class:`~jango.sandbox.kis.auth.Auth`), the per-app-key rate limit
(``EGW00201``), the TR id for the mode (``OPSQ0002``), and the shapes of every answer: gateway
errors as HTTP 500, business errors as HTTP 200 with ``rt_cd`` ≠ "0", KIS's headers.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse

from jango.sandbox.kis.auth import Auth, GatewayError, SandboxUser
from jango.sandbox.kis.faults import Faults

Mode = Literal["real", "paper"]

Handler = Callable[[Request, SandboxUser, str], Awaitable[JSONResponse]]

_CAPITALIZED = {b"content-type": b"Content-Type", b"content-length": b"Content-Length"}


class Gateway:
    """Checks and answers for the handlers of one sandbox."""

    def __init__(
        self,
        auth: Auth,
        faults: Faults,
        *,
        mode: Mode,
        rate_limit: int,
        stats: dict[str, int],
    ) -> None:
        self.auth = auth
        self.faults = faults
        self.mode: Mode = mode
        self.rate_limit = rate_limit
        self.stats = stats
        self.requests: list[str] = []  # paths of /uapi requests that passed the gateway
        self._sent: dict[str, deque[float]] = {}

    # ------------------------------------------------------------------ checks

    def gate(self, request: Request, tr_ids: Mapping[str, str]) -> tuple[SandboxUser, str]:
        """Check token, app key, rate and tr_id; return the user and the tr_id's meaning."""
        user = self.auth.user_of(request)
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            self.stats["rate_limited"] += 1
            raise GatewayError("EGW00201", "초당 거래건수를 초과하였습니다.")
        sent = self._sent.setdefault(user.app_key, deque())
        now = time.monotonic()
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            self.stats["rate_limited"] += 1
            raise GatewayError("EGW00201", "초당 거래건수를 초과하였습니다.")
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
            raise GatewayError("OPSQ0002", text)
        return user, tr_ids[tr_id]

    async def guarded(self, request: Request, handler: Handler, tr_ids: Mapping[str, str]) -> Any:
        """Run ``handler`` if the request passes the gateway, else answer its refusal."""
        try:
            user, meaning = self.gate(request, tr_ids)
        except GatewayError as exc:
            body = {"rt_cd": "1", "msg_cd": exc.code, "msg1": exc.message}
            return self.reply(body, tr_id=request.headers.get("tr_id", ""), status=exc.status)
        return await handler(request, user, meaning)

    def tr(self, real_id: str) -> str:
        """The mode's spelling of an account or order TR id (paper: V instead of T)."""
        return "V" + real_id[1:] if self.mode == "paper" else real_id

    @staticmethod
    def params(request: Request) -> dict[str, str]:
        """Query parameters by upper-case name (query keys are case-insensitive on KIS)."""
        return {key.upper(): value for key, value in request.query_params.items()}

    @staticmethod
    def user_account(user: SandboxUser, cano: str, product: str) -> str | None:
        account = cano + product
        return account if account in user.accounts else None

    def missing(
        self, tr_id: str, params: Mapping[str, str], names: tuple[str, ...]
    ) -> JSONResponse | None:
        """KIS's answer for the first of ``names`` the request lacks, or ``None``."""
        for name in names:
            if name not in params:
                return self.business(tr_id, "OPSQ2001", f"ERROR : INPUT FIELD NOT FOUND [{name}]")
        return None

    def bad_account(self, tr_id: str) -> JSONResponse:
        return self.business(tr_id, "OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")

    def account_query(
        self, request: Request, user: SandboxUser, names: tuple[str, ...]
    ) -> tuple[str, dict[str, str], str] | JSONResponse:
        """An account inquiry's ``(tr_id, params, account)``, or KIS's answer for the first of
        ``names`` it lacks or for an account (``CANO`` + ``ACNT_PRDT_CD``) not the user's."""
        tr_id = request.headers["tr_id"]
        params = self.params(request)
        missing = self.missing(tr_id, params, names)
        if missing is not None:
            return missing
        account = self.user_account(user, params["CANO"], params["ACNT_PRDT_CD"])
        if account is None:
            return self.bad_account(tr_id)
        return tr_id, params, account

    # ------------------------------------------------------------------ answers

    def unsupported(self, request: Request) -> JSONResponse:
        """What KIS answers for a path it does not serve (or, on paper, a real-only service)."""
        body = {"rt_cd": "1", "msg_cd": "MCA00124", "msg1": "해당 서비스를 찾을수 없습니다."}
        return self.reply(body, tr_id=request.headers.get("tr_id", ""), status=500)

    @staticmethod
    def reply(
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

    def business(self, tr_id: str, msg_cd: str, msg1: str, rt_cd: str = "1") -> JSONResponse:
        return self.reply({"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}, tr_id=tr_id)

    def ok(self, tr_id: str, body: dict[str, Any], *, tr_cont: str = "") -> JSONResponse:
        """A success; an inquiry's "done" message is spelled the paper way on paper."""
        body.setdefault("rt_cd", "0")
        body.setdefault("msg_cd", "MCA00000")
        body.setdefault("msg1", "정상처리 되었습니다.")
        if self.mode == "paper" and body["msg_cd"] == "KIOK0510":
            body["msg_cd"], body["msg1"] = "20310000", "모의투자 조회가 완료되었습니다."
        return self.reply(body, tr_id=tr_id, tr_cont=tr_cont)

    def done(self, tr_id: str, body: dict[str, Any], *, more: bool, tr_cont: str) -> JSONResponse:
        """A page of an inquiry: "continues" while ``more``, else "complete"."""
        body["msg_cd"] = "KIOK0490" if more else "KIOK0510"
        body["msg1"] = "조회가 계속됩니다" if more else "조회가 완료되었습니다"
        return self.ok(tr_id, body, tr_cont=tr_cont)

    def endpoint(
        self, handler: Handler, tr_ids: Mapping[str, str], *, real_only: bool = False
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        """A route endpoint: ``handler`` behind the gateway (``real_only``: absent on paper)."""

        async def run(request: Request) -> JSONResponse:
            if real_only and self.mode == "paper":
                return self.unsupported(request)
            return await self.guarded(request, handler, tr_ids)  # type: ignore[no-any-return]

        return run
