"""The KIS sandbox's ``inquire-period-trade-profit`` (TTTC8715R): realized profit per day and row.

Rows come from the day ledger (:mod:`jango.sandbox.kis.pnl`), one per trading day and balance
row that traded, over ``INQR_STRT_DT``..``INQR_END_DT``; 50 rows a page with ``tr_cont`` and the
``ctx_area_*100`` keys. Real only (our reading: the sample sends the real TR id only, and the
other account-history services are real only too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import KST, HoldingKey
from jango.sandbox.kis.market import rate, ymd
from jango.sandbox.kis.pnl import RowDay
from jango.sandbox.venue import UnknownInstrument

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

PERIOD_PROFIT_PATH = "/uapi/domestic-stock/v1/trading/inquire-period-trade-profit"
PAGE = 50
_PARAMS = (
    "CANO",
    "ACNT_PRDT_CD",
    "SORT_DVSN",
    "INQR_STRT_DT",
    "INQR_END_DT",
    "CBLC_DVSN",
    "PDNO",
    "CTX_AREA_FK100",
    "CTX_AREA_NK100",
)


class Profits:
    """The period-profit route handler over a running :class:`KisSandbox`."""

    def __init__(self, sandbox: KisSandbox) -> None:
        self.sb = sandbox
        self.gw = sandbox.gateway

    def routes(self) -> list[Route]:
        endpoint = self.gw.endpoint(self._period, {"TTTC8715R": ""}, real_only=True)
        return [Route(PERIOD_PROFIT_PATH, endpoint, methods=["GET"])]

    async def _period(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        gw, sb = self.gw, self.sb
        query = gw.account_query(request, user, _PARAMS)
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        try:
            first = datetime.strptime(params["INQR_STRT_DT"].strip(), "%Y%m%d").date()
            last = datetime.strptime(params["INQR_END_DT"].strip(), "%Y%m%d").date()
        except ValueError:
            return gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : INQR_DT")
        code = params["PDNO"].strip()
        # As for the day's orders: the venue's trading day also answers to the calendar's today,
        # which a client asks for by the wall clock while the simulated clock may be elsewhere.
        venue_day = sb.venue.now().astimezone(KST).date()
        wall_day = datetime.now(KST).date()

        def asked(day: date) -> bool:
            days = {day, wall_day} if day == venue_day else {day}
            return any(first <= d <= last for d in days)

        rows = [
            item
            for item in sb.day_ledger.days(account, date.min, date.max)
            if asked(item[0]) and (not code or item[1].code == code)
        ]
        if params["SORT_DVSN"] != "01":  # 01: oldest first; 00 and 02: newest first
            rows.reverse()
        offset = 0
        continuation = request.headers.get("tr_cont", "") == "N"
        if continuation:
            parts = params["CTX_AREA_NK100"].strip().split("^")
            if len(parts) != 2 or parts[0] != account or not parts[1].isdigit():
                return gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD_LENGTH")
            offset = int(parts[1])
        page = rows[offset : offset + PAGE]
        more = offset + PAGE < len(rows)
        tr_cont = ("M" if continuation else "F") if more else ("E" if continuation else "D")
        held = {row.key: row.qty for row in sb.venue.balance(account).rows}
        fk = "^".join([params["CANO"], params["ACNT_PRDT_CD"], ymd(first), ymd(last)])
        body = {
            "ctx_area_fk100": fk.ljust(100),
            "ctx_area_nk100": (f"{account}^{offset + PAGE}" if more else "").ljust(100),
            "output1": [self._row(day, key, row, held.get(key, 0)) for day, key, row in page],
            "output2": _totals([row for _, _, row in rows]),
        }
        return gw.done(tr_id, body, more=more, tr_cont=tr_cont)

    def _row(self, day: date, key: HoldingKey, row: RowDay, held: int) -> dict[str, str]:
        try:
            name = self.sb.venue.instrument(key.code).name
        except UnknownInstrument:
            name = ""
        bought_price = row.bought_amount // row.bought_qty if row.bought_qty else 0
        return {
            "trad_dt": ymd(day),
            "pdno": key.code,
            "prdt_name": name,
            "trad_dvsn_name": key.credit.label_ko,
            "loan_dt": ymd(key.loan_date) if key.loan_date else "",
            "hldg_qty": str(held),
            # The purchase price of what was sold (whole won), else of what was bought.
            "pchs_unpr": str(row.sold_cost // row.sold_qty if row.sold_qty else bought_price),
            "buy_qty": str(row.bought_qty),
            "buy_amt": str(row.bought_amount),
            "sll_pric": str(row.sold_amount // row.sold_qty if row.sold_qty else 0),
            "sll_qty": str(row.sold_qty),
            "sll_amt": str(row.sold_amount),
            "rlzt_pfls": str(row.realized),
            "pfls_rt": rate(row.realized, row.sold_cost),
            "fee": str(row.buy_commission + row.sell_commission),
            "tl_tax": str(row.tax),
            "loan_int": "0",  # the venue charges no interest
        }


def _totals(rows: list[RowDay]) -> dict[str, str]:
    sold = sum(r.sold_amount for r in rows)
    bought = sum(r.bought_amount for r in rows)
    sell_fee = sum(r.sell_commission for r in rows)
    buy_fee = sum(r.buy_commission for r in rows)
    tax = sum(r.tax for r in rows)
    realized = sum(r.realized for r in rows)
    sell_settled = sold - sell_fee - tax
    buy_settled = bought + buy_fee
    totals = {
        "sll_qty_smtl": sum(r.sold_qty for r in rows),
        "sll_tr_amt_smtl": sold,
        "sll_fee_smtl": sell_fee,
        "sll_tltx_smtl": tax,
        "sll_excc_amt_smtl": sell_settled,
        "buyqty_smtl": sum(r.bought_qty for r in rows),
        "buy_tr_amt_smtl": bought,
        "buy_fee_smtl": buy_fee,
        "buy_tax_smtl": 0,  # KRX taxes sells only
        "buy_excc_amt_smtl": buy_settled,
        "tot_qty": sum(r.sold_qty + r.bought_qty for r in rows),
        "tot_tr_amt": sold + bought,
        "tot_fee": sell_fee + buy_fee,
        "tot_tltx": tax,
        "tot_excc_amt": sell_settled - buy_settled,
        "tot_rlzt_pfls": realized,
        "loan_int": 0,
    }
    result = {key: str(value) for key, value in totals.items()}
    result["tot_pftrt"] = rate(realized, sum(r.sold_cost for r in rows))
    return result
