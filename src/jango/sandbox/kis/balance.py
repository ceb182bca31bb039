"""The KIS sandbox's balance inquiries over the venue's accounts.

``inquire-balance`` pages rows (50 real, 20 paper) with ``tr_cont`` and the ``ctx_area_*100``
keys; a continuation after the holdings changed answers ``SYDB0050`` as KIS does. Rows sold out
today stay in the list with ``hldg_qty`` 0 until settlement, as on KIS.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import BalanceRow, HoldingKey, NoticeKind, OrderNotice
from jango.sandbox.kis import frames

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"


class Balances:
    """Balance route handlers over a running :class:`KisSandbox`."""

    def __init__(self, sandbox: KisSandbox) -> None:
        self.sb = sandbox
        self.gw = sandbox.gateway
        self._sold_out: dict[str, dict[HoldingKey, None]] = {}

    def routes(self) -> list[Route]:
        gw = self.gw
        return [
            Route(
                BALANCE_PATH,
                gw.endpoint(self._balance_page, {gw.tr("TTTC8434R"): "balance"}),
                methods=["GET"],
            ),
        ]

    def on_notice(self, notice: OrderNotice) -> None:
        """Remember rows sold out today (KIS keeps them listed with quantity 0)."""
        if notice.kind is NoticeKind.FILLED and notice.post_qty == 0:
            self._sold_out.setdefault(notice.account, {})[notice.key] = None

    async def _balance_page(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        gw, sb = self.gw, self.sb
        tr_id = request.headers["tr_id"]
        params = gw.params(request)
        required = ("CANO", "ACNT_PRDT_CD", "INQR_DVSN", "CTX_AREA_FK100", "CTX_AREA_NK100")
        missing = gw.missing(tr_id, params, required)
        if missing is not None:
            return missing
        account = gw.user_account(user, params["CANO"], params["ACNT_PRDT_CD"])
        if account is None:
            return gw.bad_account(tr_id)
        snapshot = sb.venue.balance(account)
        # Read together with the balance (no await in between), so they agree.
        traded = sb.orders.traded_today(account)
        rows = list(snapshot.rows) + self._sold_out_rows(snapshot.rows)
        version = self._version(rows)
        continuation = request.headers.get("tr_cont", "") == "N"
        offset = 0
        if continuation:
            parts = params["CTX_AREA_NK100"].strip().split("^")
            if len(parts) != 3 or parts[0] != account or not parts[1].isdigit():
                return gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD_LENGTH")
            if gw.faults.data_changed > 0 or parts[2] != version:
                gw.faults.data_changed = max(0, gw.faults.data_changed - 1)
                sb.stats["data_changed"] += 1
                return gw.business(
                    tr_id, "SYDB0050", "조회이후에 자료가 변경되었습니다.(다시 조회하세요)", "7"
                )
            offset = int(parts[1])
        page = rows[offset : offset + sb.page_size]
        more = offset + sb.page_size < len(rows)
        if more:
            tr_cont = "M" if continuation else "F"
            next_key = f"{account}^{offset + sb.page_size}^{version}".ljust(100)
        else:
            tr_cont = "E" if continuation else "D"
            next_key = " " * 100
        fk = "^".join([params["CANO"], params["ACNT_PRDT_CD"], "N", "N", "01", "01", "N", ""])
        real = gw.mode == "real"
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
        return gw.reply(body, tr_id=tr_id, tr_cont=tr_cont)

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
                price=self.sb.venue.quote(key.code).price,
            )
            for key in self._sold_out.get(account, {})
            if key not in keys
        ]

    @staticmethod
    def _version(rows: list[BalanceRow]) -> str:
        # Prices move all the time; the continuation only breaks when holdings changed.
        text = "|".join(f"{r.code}/{r.credit}/{r.loan_date}/{r.qty}/{r.sellable}" for r in rows)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
