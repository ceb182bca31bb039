"""The KIS sandbox's inquiry endpoints: orders of the day, pending orders, product info, charts.

Each handler checks the request as KIS does (token, app key, TR id for the mode, required query
parameters), pages with ``tr_cont`` and the ``ctx_area_fk100``/``ctx_area_nk100`` keys, and
answers with every column KIS's official samples name. Quotations and charts are in
:mod:`jango.sandbox.kis.quotes`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain import krx
from jango.domain.costs import CostSchedule
from jango.domain.model import KST, OrderType, Side
from jango.sandbox.kis import orders as kis_orders
from jango.sandbox.kis import quote_frames
from jango.sandbox.kis.frames import ORDER_DIVISIONS
from jango.sandbox.kis.gateway import Handler
from jango.sandbox.kis.market import ymd
from jango.sandbox.kis.orders import DayOrder
from jango.sandbox.venue import UnknownInstrument

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"
DAILY_CCLD_PATH = T + "inquire-daily-ccld"
PSBL_RVSECNCL_PATH = T + "inquire-psbl-rvsecncl"
SEARCH_INFO_PATH = Q + "search-info"
SEARCH_STOCK_INFO_PATH = Q + "search-stock-info"
HOLIDAY_PATH = Q + "chk-holiday"
ORDERABLE_PATH = T + "inquire-psbl-order"
HOLIDAY_ROWS = 30

DAILY_PAGE = {"real": 100, "paper": 15}  # rows per inquire-daily-ccld call (KIS sample docstring)
PENDING_PAGE = 50


class Inquiries:
    """Route handlers over a running :class:`KisSandbox`."""

    def __init__(self, sandbox: KisSandbox) -> None:
        self.sb = sandbox
        self.gw = sandbox.gateway

    def routes(self) -> list[Route]:
        tr = self.gw.tr
        table: list[tuple[str, Handler, dict[str, str], bool]] = [
            # (path, handler, accepted TR ids, real only)
            (DAILY_CCLD_PATH, self._daily_ccld, {tr("TTTC0081R"): "", tr("TTTC8001R"): ""}, False),
            (PSBL_RVSECNCL_PATH, self._pending, {"TTTC0084R": "", "TTTC8036R": ""}, True),
            # KIS's sample client turns a leading C into V on paper, so both spellings come.
            (SEARCH_INFO_PATH, self._search_info, {"CTPF1604R": "", "VTPF1604R": ""}, False),
            (SEARCH_STOCK_INFO_PATH, self._stock_info, {"CTPF1002R": ""}, True),
            # chk-holiday is real only ("모의투자 미지원" is our reading of KIS's notes).
            (HOLIDAY_PATH, self._holiday, {"CTCA0903R": ""}, True),
            (ORDERABLE_PATH, self._orderable, {tr("TTTC8908R"): ""}, False),
        ]
        return [
            Route(path, self.gw.endpoint(handler, tr_ids, real_only=real_only), methods=["GET"])
            for path, handler, tr_ids, real_only in table
        ]

    # ------------------------------------------------------------------ helpers

    def _page(
        self,
        request: Request,
        tr_id: str,
        account: str,
        rows: list[DayOrder],
        size: int,
        fk: str,
    ) -> tuple[list[DayOrder], str, str, str] | JSONResponse:
        """(page rows, tr_cont, ctx_area_fk100, ctx_area_nk100), continuing after the last
        order number the previous page ended on (so new orders never shift a page)."""
        params = self.gw.params(request)
        start = 0
        continuation = request.headers.get("tr_cont", "") == "N"
        if continuation:
            parts = params.get("CTX_AREA_NK100", "").strip().split("^")
            if len(parts) != 2 or parts[0] != account:
                return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD_LENGTH")
            numbers = [row.order_no for row in rows]
            start = numbers.index(parts[1]) + 1 if parts[1] in numbers else len(rows)
        page = rows[start : start + size]
        more = start + size < len(rows)
        if more:
            tr_cont = "M" if continuation else "F"
            nk = f"{account}^{page[-1].order_no}".ljust(100)
        else:
            tr_cont = "E" if continuation else "D"
            nk = " " * 100
        return page, tr_cont, fk.ljust(100), nk

    # ------------------------------------------------------------------ orders of the day

    async def _daily_ccld(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        sb = self.sb
        required = (
            "CANO",
            "ACNT_PRDT_CD",
            "INQR_STRT_DT",
            "INQR_END_DT",
            "SLL_BUY_DVSN_CD",
            "INQR_DVSN",
            "PDNO",
            "CCLD_DVSN",
            "ORD_GNO_BRNO",
            "ODNO",
            "INQR_DVSN_3",
            "INQR_DVSN_1",
            "CTX_AREA_FK100",
            "CTX_AREA_NK100",
        )
        query = self.gw.account_query(request, user, required)
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        start, end = params["INQR_STRT_DT"].strip(), params["INQR_END_DT"].strip()
        if not (len(start) == len(end) == 8 and start.isdigit() and end.isdigit()):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : INQR_DT")
        side = {"00": None, "01": Side.SELL, "02": Side.BUY}.get(params["SLL_BUY_DVSN_CD"], "bad")
        if side == "bad":
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : SLL_BUY_DVSN_CD")
        # The venue's trading day answers to the calendar's today as well: a client asks for
        # "today" by the wall clock, while the simulated clock may sit on another business day.
        venue_day = sb.venue.now().astimezone(KST).date()
        wall_day = datetime.now(KST).date()

        def in_range(day: date) -> bool:
            days = {day, wall_day} if day == venue_day else {day}
            return any(start <= ymd(d) <= end for d in days)

        rows = [
            row
            for row in sb.orders.orders(account)
            if in_range(row.time.astimezone(KST).date())
            and (side is None or row.side is side)
            and (not params["PDNO"].strip() or row.code == params["PDNO"].strip())
            and (not params["ODNO"].strip() or row.order_no == params["ODNO"].strip().zfill(10))
            and _ccld_filter(row, params["CCLD_DVSN"])
            and _credit_filter(row, params["INQR_DVSN_3"])
        ]
        if params["INQR_DVSN"] != "01":  # 00: newest first
            rows.reverse()
        fk = "^".join(
            [params["CANO"], params["ACNT_PRDT_CD"], start, end, params["SLL_BUY_DVSN_CD"]]
        )
        paged = self._page(request, tr_id, account, rows, DAILY_PAGE[self.gw.mode], fk)
        if isinstance(paged, JSONResponse):
            return paged
        page, tr_cont, fk100, nk100 = paged
        body = {
            "ctx_area_fk100": fk100,
            "ctx_area_nk100": nk100,
            "output1": [
                kis_orders.daily_item(row, branch=sb.branch, division=_division(row))
                for row in page
            ],
            "output2": kis_orders.daily_totals(rows),
            "msg_cd": "KIOK0490" if tr_cont in ("F", "M") else "KIOK0510",
            "msg1": "조회가 계속됩니다" if tr_cont in ("F", "M") else "조회가 완료되었습니다",
        }
        return self.gw.ok(tr_id, body, tr_cont=tr_cont)

    async def _pending(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        sb = self.sb
        required = (
            "CANO",
            "ACNT_PRDT_CD",
            "INQR_DVSN_1",
            "INQR_DVSN_2",
            "CTX_AREA_FK100",
            "CTX_AREA_NK100",
        )
        query = self.gw.account_query(request, user, required)
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        side = {"0": None, "1": Side.SELL, "2": Side.BUY}.get(params["INQR_DVSN_2"], "bad")
        if side == "bad" or params["INQR_DVSN_1"] not in ("0", "1"):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : INQR_DVSN")
        rows = [
            row
            for row in sb.orders.orders(account)
            if row.remaining > 0
            and not row.is_cancel_request
            and (side is None or row.side is side)
        ]
        if params["INQR_DVSN_1"] == "1":  # by code, then order number
            rows.sort(key=lambda row: (row.code, row.order_no))
        fk = "^".join([params["CANO"], params["ACNT_PRDT_CD"], params["INQR_DVSN_1"]])
        paged = self._page(request, tr_id, account, rows, PENDING_PAGE, fk)
        if isinstance(paged, JSONResponse):
            return paged
        page, tr_cont, fk100, nk100 = paged
        body = {
            "ctx_area_fk100": fk100,
            "ctx_area_nk100": nk100,
            "output": [
                kis_orders.pending_item(row, branch=sb.branch, division=_division(row))
                for row in page
            ],
            "msg_cd": "KIOK0490" if tr_cont in ("F", "M") else "KIOK0510",
            "msg1": "조회가 계속됩니다" if tr_cont in ("F", "M") else "조회가 완료되었습니다",
        }
        return self.gw.ok(tr_id, body, tr_cont=tr_cont)

    # ------------------------------------------------------------------ product info

    def _product(self, request: Request, tr_id: str) -> Any:
        if self.gw.faults.product_info_down:
            body = {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서버 에러가 발생했습니다."}
            return self.gw.reply(body, tr_id=tr_id, status=500)
        params = self.gw.params(request)
        missing = self.gw.missing(tr_id, params, ("PDNO", "PRDT_TYPE_CD"))
        if missing is not None:
            return missing
        if params["PRDT_TYPE_CD"] != "300":  # 300 = stock/ETF/ETN/ELW; others are not modelled
            return self.gw.business(tr_id, "KIOK0560", "조회할 내용이 없습니다")
        code = params["PDNO"].strip()
        try:
            instrument = self.sb.venue.instrument(code)
            quote = self.sb.venue.quote(code)
        except UnknownInstrument:
            return self.gw.business(tr_id, "KIOK0560", "조회할 내용이 없습니다")
        day = self.sb.venue.now().astimezone(KST).date()
        history = self.sb.market.history(quote.code, quote.market, quote.base, day)
        return instrument, quote, history

    async def _search_info(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        found = self._product(request, tr_id)
        if isinstance(found, JSONResponse):
            return found
        instrument, _quote, history = found
        output = quote_frames.product_info(
            instrument.code, instrument.name, instrument.market, history
        )
        return self.gw.ok(
            tr_id, {"output": output, "msg_cd": "KIOK0510", "msg1": "조회가 완료되었습니다"}
        )

    async def _stock_info(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        found = self._product(request, tr_id)
        if isinstance(found, JSONResponse):
            return found
        instrument, quote, history = found
        info = self.sb.market.fundamentals(quote.code, quote.market, quote.base)
        output = quote_frames.stock_info(
            instrument.code, instrument.name, instrument.market, info, quote.base, history
        )
        return self.gw.ok(
            tr_id, {"output": output, "msg_cd": "KIOK0510", "msg1": "조회가 완료되었습니다"}
        )

    # ------------------------------------------------------------------ calendar and cash

    async def _holiday(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        """chk-holiday: from BASS_DT on, whether each day is a business, trading, open and
        settlement day, from the KRX calendar the venue trades by."""
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        missing = self.gw.missing(tr_id, params, ("BASS_DT", "CTX_AREA_FK", "CTX_AREA_NK"))
        if missing is not None:
            return missing
        try:
            start = datetime.strptime(params["BASS_DT"].strip(), "%Y%m%d").date()
        except ValueError:
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : BASS_DT")
        rows = []
        for offset in range(HOLIDAY_ROWS):
            day = start + timedelta(days=offset)
            open_ = krx.is_business_day(day)
            rows.append(
                {
                    "bass_dt": ymd(day),
                    "wday_dvsn_cd": f"{day.isoweekday() % 7 + 1:02d}",  # 01 Sunday … 07 Saturday
                    "bzdy_yn": _yn(open_),
                    "tr_day_yn": _yn(open_),
                    "opnd_yn": _yn(open_),
                    "sttl_day_yn": _yn(open_),
                }
            )
        body = {"ctx_area_fk": "".ljust(20), "ctx_area_nk": "".ljust(20), "output": rows}
        return self.gw.ok(tr_id, body, tr_cont="D")

    async def _orderable(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        """inquire-psbl-order: what a buy of PDNO at ORD_UNPR may use (the venue's orderable
        cash) and how many shares that buys with commission (market orders at the upper
        limit, where the venue holds them)."""
        names = (
            "CANO",
            "ACNT_PRDT_CD",
            "PDNO",
            "ORD_UNPR",
            "ORD_DVSN",
            "CMA_EVLU_AMT_ICLD_YN",
            "OVRS_ICLD_YN",
        )
        query = self.gw.account_query(request, user, names)
        if isinstance(query, JSONResponse):
            return query
        tr_id, params, account = query
        kind = ORDER_DIVISIONS.get(params["ORD_DVSN"])
        price_text = params["ORD_UNPR"].strip() or "0"
        if kind is None or not price_text.isdigit() or len(price_text) > 12:
            return self.gw.business(tr_id, "APBK1234", "주문구분 또는 단가를 확인해주세요.")
        cash = self.sb.venue.orderable_cash(account)
        price = int(price_text)
        code = params["PDNO"].strip()
        if code:
            try:
                quote = self.sb.venue.quote(code)
            except UnknownInstrument:
                return self.gw.business(tr_id, "APBK1234", "종목코드를 확인해주세요.")
            if kind[0] is not OrderType.LIMIT or not price:
                price = quote.upper
        qty = _affordable(max(0, cash), price, self.sb.costs)
        output = {
            "ord_psbl_cash": str(cash),
            "ord_psbl_sbst": "0",
            "ruse_psbl_amt": "0",
            "fund_rpch_chgs": "0",
            "psbl_qty_calc_unpr": str(price),
            "nrcvb_buy_amt": str(max(0, cash)),
            "nrcvb_buy_qty": str(qty),
            "max_buy_amt": str(max(0, cash)),
            "max_buy_qty": str(qty),
            "cma_evlu_amt": "0",
            "ovrs_re_use_amt_wcrc": "0",
            "ord_psbl_frcr_amt_wcrc": "0",
        }
        return self.gw.ok(
            tr_id, {"output": output, "msg_cd": "KIOK0510", "msg1": "조회가 완료되었습니다"}
        )


_DIVISION_CODES = {value: key for key, value in ORDER_DIVISIONS.items()}


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _division(row: DayOrder) -> str:
    return _DIVISION_CODES.get((row.order_type, row.condition), "00")


def _affordable(cash: int, price: int, costs: CostSchedule) -> int:
    """The most shares at ``price`` that ``cash`` pays for, commission included."""
    if price <= 0:
        return 0
    qty = cash // price
    while qty > 0 and qty * price + costs.commission(qty * price) > cash:
        qty -= 1
    return qty


def _ccld_filter(row: DayOrder, division: str) -> bool:
    if division == "01":  # filled (in part or in full)
        return row.filled > 0
    if division == "02":  # not (fully) filled: something still open
        return row.remaining > 0
    return True


def _credit_filter(row: DayOrder, division: str) -> bool:
    if division in ("", "00"):
        return True
    if division == "01":
        return not row.credit.is_loan
    return row.credit.is_loan
