"""The KIS sandbox's balance inquiries over the venue's accounts.

``inquire-balance`` and ``inquire-balance-rlz-pl`` (the same rows, with today's realized profit
in the totals) page rows (50 real, 20 paper) with ``tr_cont`` and the ``ctx_area_*100`` keys; a
continuation after the holdings changed answers ``SYDB0050`` as KIS does. Rows sold out today
stay in the list with ``hldg_qty`` 0 until settlement, as on KIS. ``inquire-psbl-sell`` answers
what one code's cash row may sell.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import (
    BalanceRow,
    BalanceSnapshot,
    Credit,
    HoldingKey,
    NoticeKind,
    OrderNotice,
)
from jango.sandbox.kis import frames
from jango.sandbox.kis.market import rate
from jango.sandbox.kis.pnl import RowDay
from jango.sandbox.venue import UnknownInstrument

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

T = "/uapi/domestic-stock/v1/trading/"
BALANCE_PATH = T + "inquire-balance"
RLZ_PL_PATH = T + "inquire-balance-rlz-pl"
PSBL_SELL_PATH = T + "inquire-psbl-sell"
_RLZ_PL_PARAMS = (
    "CANO",
    "ACNT_PRDT_CD",
    "AFHR_FLPR_YN",
    "OFL_YN",
    "INQR_DVSN",
    "UNPR_DVSN",
    "FUND_STTL_ICLD_YN",
    "FNCG_AMT_AUTO_RDPT_YN",
    "PRCS_DVSN",
    "COST_ICLD_YN",
    "CTX_AREA_FK100",
    "CTX_AREA_NK100",
)


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
            # Real only: "모의투자 미지원" for both, by kis.md (psbl-sell) and our reading of
            # KIS's notes (rlz-pl, whose sample sends the real TR id only).
            Route(
                RLZ_PL_PATH,
                gw.endpoint(self._balance_page, {"TTTC8494R": "rlz-pl"}, real_only=True),
                methods=["GET"],
            ),
            Route(
                PSBL_SELL_PATH,
                gw.endpoint(self._sellable, {"TTTC8408R": ""}, real_only=True),
                methods=["GET"],
            ),
        ]

    def on_notice(self, notice: OrderNotice) -> None:
        """Remember rows sold out today (KIS keeps them listed with quantity 0)."""
        if notice.kind is NoticeKind.FILLED and notice.post_qty == 0:
            self._sold_out.setdefault(notice.account, {})[notice.key] = None

    async def _balance_page(
        self, request: Request, user: SandboxUser, meaning: str
    ) -> JSONResponse:
        gw, sb = self.gw, self.sb
        required = (
            _RLZ_PL_PARAMS
            if meaning == "rlz-pl"
            else ("CANO", "ACNT_PRDT_CD", "INQR_DVSN", "CTX_AREA_FK100", "CTX_AREA_NK100")
        )
        query = gw.account_query(request, user, required)
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        snapshot = sb.venue.balance(account)
        # Read together with the balance (no await in between), so they agree.
        traded = sb.orders.traded_today(account)
        day = sb.day_ledger.today(account)
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
            "output2": [self._totals(list(snapshot.rows), snapshot, day, meaning, params)],
            "rt_cd": "0",
            "msg_cd": ("KIOK0490" if more else "KIOK0510") if real else "20310000",
            "msg1": (
                ("조회가 계속됩니다" if more else "조회가 완료되었습니다")
                if real
                else "모의투자 조회가 완료되었습니다."
            ).ljust(80),
        }
        return gw.reply(body, tr_id=tr_id, tr_cont=tr_cont)

    @staticmethod
    def _totals(
        rows: list[BalanceRow],
        snapshot: BalanceSnapshot,
        day: dict[HoldingKey, RowDay],
        meaning: str,
        params: dict[str, str],
    ) -> dict[str, str]:
        totals = frames.balance_totals(
            rows,
            snapshot.cash,
            bought_today=sum(d.bought_amount for d in day.values()),
            sold_today=sum(d.sold_amount for d in day.values()),
            fees_today=sum(d.fees for d in day.values()),
        )
        if meaning != "rlz-pl":
            return totals
        # COST_ICLD_YN "Y": realized profit net of commission and tax; otherwise before them.
        with_costs = params.get("COST_ICLD_YN", "") == "Y"
        realized = sum(
            d.realized if with_costs else d.sold_amount - d.sold_cost for d in day.values()
        )
        sold_cost = sum(d.sold_cost for d in day.values())
        evaluation = int(totals["evlu_pfls_smtl_amt"])
        purchase = int(totals["pchs_amt_smtl_amt"])
        totals.update(
            {
                "rlzt_pfls": str(realized),
                "rlzt_erng_rt": rate(realized, sold_cost, "0.00000000"),
                # 실평가손익: the open rows' evaluation profit plus today's realized profit.
                "real_evlu_pfls": str(evaluation + realized),
                "real_evlu_pfls_erng_rt": rate(
                    evaluation + realized, purchase + sold_cost, "0.00000000"
                ),
            }
        )
        return totals

    async def _sellable(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        """inquire-psbl-sell: the cash row of PDNO (credit rows are sold by loan date through
        order-credit), with today's buys and sells of it."""
        gw, sb = self.gw, self.sb
        query = gw.account_query(request, user, ("CANO", "ACNT_PRDT_CD", "PDNO"))
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        try:
            quote = sb.venue.quote(params["PDNO"].strip())
        except UnknownInstrument:
            return gw.business(tr_id, "KIOK0560", "조회할 내용이 없습니다")
        code, price = quote.code, quote.price
        key = HoldingKey(account, code, Credit.CASH, None)
        snapshot = sb.venue.balance(account)
        row = next((r for r in snapshot.rows if r.key == key), None)
        today = sb.day_ledger.today(account).get(key, RowDay())
        held = row if row is not None else BalanceRow(account, code, 0, 0, 0, price=price)
        item = frames.balance_item(held)
        output = {
            "pdno": code,
            "buy_qty": str(today.bought_qty),
            "sll_qty": str(today.sold_qty),
            "cblc_qty": str(held.qty),
            "nsvg_qty": str(held.qty),  # 비저축수량: the venue has no savings-account shares
            "ord_psbl_qty": str(held.sellable),
            "pchs_avg_pric": item["pchs_avg_pric"],
            "pchs_amt": str(held.purchase_amount),
            "now_pric": str(held.price or price),
            "evlu_amt": item["evlu_amt"],
            "evlu_pfls_amt": item["evlu_pfls_amt"],
            "evlu_pfls_rt": item["evlu_pfls_rt"],
        }
        return gw.done(tr_id, {"output": output}, more=False, tr_cont="D")

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
