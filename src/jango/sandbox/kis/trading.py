"""The KIS sandbox's order endpoints: order-cash, order-credit and order-rvsecncl.

Requests are checked as KIS checks them (upper-case JSON keys, the mode's TR ids, the account,
order division, quantity and price; for amend/cancel a non-empty order branch that matches the
one the order was given) and go to the venue; venue refusals become KIS's business errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import KST, Credit, Side
from jango.sandbox.kis import frames
from jango.sandbox.venue import VenueRefusal

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

T = "/uapi/domestic-stock/v1/trading/"
ORDER_PATH = T + "order-cash"
REVISE_PATH = T + "order-rvsecncl"
CREDIT_PATH = T + "order-credit"

# order-credit's CRDT_TYPE → (side, credit): 21/23 margin buys (new), 25/27 their repaying sells;
# 22/24 short sells (new), 26/28 their repaying buys (KIS's sample docstring).
_CREDIT_TYPES = {
    "21": (Side.BUY, Credit.MARGIN_SELF),
    "23": (Side.BUY, Credit.MARGIN_KSFC),
    "25": (Side.SELL, Credit.MARGIN_SELF),
    "27": (Side.SELL, Credit.MARGIN_KSFC),
    "22": (Side.SELL, Credit.SHORT_KSFC),
    "24": (Side.SELL, Credit.SHORT_SELF),
    "26": (Side.BUY, Credit.SHORT_KSFC),
    "28": (Side.BUY, Credit.SHORT_SELF),
}

# Venue refusal reasons → KIS msg_cd. APBK0656 ("order not open") is our assumption, shared
# with the adapter; the rest reuse the order-rejection codes kis.md names.
_REFUSALS = {
    "NO_SUCH_ORDER": "APBK0656",
    "QTY_ABOVE_REMAINING": "APBK0656",
    "INSUFFICIENT_CASH": "APBK0919",
    "INSUFFICIENT_SELLABLE": "APBK0919",
    "SHORT_UNSUPPORTED": "APBK1234",
    "LOAN_DATE_REQUIRED": "APBK1234",
    "BAD_CREDIT": "APBK1234",
}


class Trading:
    """Order route handlers over a running :class:`KisSandbox`."""

    def __init__(self, sandbox: KisSandbox) -> None:
        self.sb = sandbox
        self.gw = sandbox.gateway

    def routes(self) -> list[Route]:
        return [
            Route(ORDER_PATH, self._order_cash, methods=["POST"]),
            Route(REVISE_PATH, self._order_revise, methods=["POST"]),
            Route(CREDIT_PATH, self._order_credit, methods=["POST"]),
        ]

    async def _order_cash(self, request: Request) -> JSONResponse:
        tr_ids = {
            self.gw.tr("TTTC0011U"): "sell",
            self.gw.tr("TTTC0012U"): "buy",
            self.gw.tr("TTTC0801U"): "sell",  # old ids, still accepted
            self.gw.tr("TTTC0802U"): "buy",
        }
        return await self.gw.guarded(request, self._place, tr_ids)  # type: ignore[no-any-return]

    async def _order_credit(self, request: Request) -> JSONResponse:
        if self.gw.mode == "paper":  # "모의투자는 사용 불가합니다"
            return self.gw.unsupported(request)
        tr_ids = {"TTTC0052U": "buy", "TTTC0051U": "sell"}
        return await self.gw.guarded(request, self._place_credit, tr_ids)  # type: ignore[no-any-return]

    async def _place_credit(self, request: Request, user: SandboxUser, side: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        names = (
            "CANO",
            "ACNT_PRDT_CD",
            "PDNO",
            "CRDT_TYPE",
            "LOAN_DT",
            "ORD_DVSN",
            "ORD_QTY",
            "ORD_UNPR",
        )
        fields = self._order_fields(tr_id, await self.gw.auth.json_body(request), names)
        if isinstance(fields, JSONResponse):
            return fields
        account = self.gw.user_account(user, fields["CANO"], fields["ACNT_PRDT_CD"])
        if account is None:
            return self.gw.bad_account(tr_id)
        credit_type = _CREDIT_TYPES.get(fields["CRDT_TYPE"])
        wanted = Side.SELL if side == "sell" else Side.BUY
        if credit_type is None or credit_type[0] is not wanted:
            return self.gw.business(tr_id, "APBK1234", "신용유형을 확인해주세요.")
        kind = frames.ORDER_DIVISIONS.get(fields["ORD_DVSN"])
        loan = fields["LOAN_DT"].strip()
        if (
            kind is None
            or not fields["ORD_QTY"].isdigit()
            or not fields["ORD_UNPR"].isdigit()
            or not (len(loan) == 8 and loan.isdigit())
        ):
            return self.gw.business(
                tr_id, "APBK1234", "주문구분, 수량, 단가 또는 대출일자를 확인해주세요."
            )
        # A new loan is dated today (the venue's trading day); a repaying sell names its row's.
        opening = credit_type[0] is Side.BUY and not credit_type[1].is_short
        try:
            loan_date = None if opening else datetime.strptime(loan, "%Y%m%d").date()
        except ValueError:
            return self.gw.business(tr_id, "APBK1234", "대출일자를 확인해주세요.")
        try:
            order_no = self.sb.venue.place(
                account,
                wanted,
                fields["PDNO"],
                int(fields["ORD_QTY"]),
                int(fields["ORD_UNPR"]),
                order_type=kind[0],
                condition=kind[1],
                credit=credit_type[1],
                loan_date=loan_date,
            )
        except VenueRefusal as exc:
            return self._refused(tr_id, exc)
        return self._done(tr_id, order_no, side)

    async def _order_revise(self, request: Request) -> JSONResponse:
        tr_ids = {self.gw.tr("TTTC0013U"): "revise", self.gw.tr("TTTC0803U"): "revise"}
        return await self.gw.guarded(request, self._revise, tr_ids)  # type: ignore[no-any-return]

    def _order_fields(
        self, tr_id: str, body: dict[str, Any], names: tuple[str, ...]
    ) -> dict[str, str] | JSONResponse:
        values = {}
        for name in names:
            value = body.get(name)  # POST keys must be upper-case on KIS
            if not isinstance(value, str):
                return self.gw.business(
                    tr_id, "OPSQ2001", f"ERROR : INPUT FIELD NOT FOUND [{name}]"
                )
            values[name] = value
        exchange = body.get("EXCG_ID_DVSN_CD", "KRX") or "KRX"
        if exchange != "KRX" and (self.gw.mode == "paper" or exchange not in ("NXT", "SOR")):
            return self.gw.business(tr_id, "APBK1234", "거래소ID구분코드를 확인해주세요.")
        return values

    def _done(self, tr_id: str, order_no: str, side: str) -> JSONResponse:
        if self.gw.mode == "real":
            msg_cd, msg1 = "APBK0013", "주문 전송 완료 되었습니다."
        elif side == "sell":
            msg_cd, msg1 = "40590000", "모의투자 매도주문이 완료 되었습니다."
        else:
            msg_cd, msg1 = "40600000", "모의투자 매수주문이 완료 되었습니다."
        output = {
            "KRX_FWDG_ORD_ORGNO": self.sb.branch,
            "ODNO": order_no,
            "ORD_TMD": self.sb.venue.now().astimezone(KST).strftime("%H%M%S"),
        }
        body = {"rt_cd": "0", "msg_cd": msg_cd, "msg1": msg1, "output": output}
        return self.gw.reply(body, tr_id=tr_id)

    def _refused(self, tr_id: str, exc: VenueRefusal) -> JSONResponse:
        return self.gw.business(tr_id, _REFUSALS.get(exc.reason_code, "APBK0918"), exc.message)

    async def _place(self, request: Request, user: SandboxUser, side: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        names = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR")
        fields = self._order_fields(tr_id, await self.gw.auth.json_body(request), names)
        if isinstance(fields, JSONResponse):
            return fields
        account = self.gw.user_account(user, fields["CANO"], fields["ACNT_PRDT_CD"])
        if account is None:
            return self.gw.bad_account(tr_id)
        kind = frames.ORDER_DIVISIONS.get(fields["ORD_DVSN"])
        if kind is None or not fields["ORD_QTY"].isdigit() or not fields["ORD_UNPR"].isdigit():
            return self.gw.business(tr_id, "APBK1234", "주문구분, 수량 또는 단가를 확인해주세요.")
        try:
            order_no = self.sb.venue.place(
                account,
                Side.SELL if side == "sell" else Side.BUY,
                fields["PDNO"],
                int(fields["ORD_QTY"]),
                int(fields["ORD_UNPR"]),
                order_type=kind[0],
                condition=kind[1],
            )
        except VenueRefusal as exc:
            return self._refused(tr_id, exc)
        return self._done(tr_id, order_no, side)

    async def _revise(self, request: Request, user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        names = (
            "CANO",
            "ACNT_PRDT_CD",
            "KRX_FWDG_ORD_ORGNO",
            "ORGN_ODNO",
            "ORD_DVSN",
            "RVSE_CNCL_DVSN_CD",
            "ORD_QTY",
            "ORD_UNPR",
            "QTY_ALL_ORD_YN",
        )
        fields = self._order_fields(tr_id, await self.gw.auth.json_body(request), names)
        if isinstance(fields, JSONResponse):
            return fields
        account = self.gw.user_account(user, fields["CANO"], fields["ACNT_PRDT_CD"])
        if account is None:
            return self.gw.bad_account(tr_id)
        branch = fields["KRX_FWDG_ORD_ORGNO"].strip()
        if not branch:
            return self.gw.business(
                tr_id, "OPSQ2001", "ERROR : INPUT FIELD NOT FOUND [KRX_FWDG_ORD_ORGNO]"
            )
        if branch != self.sb.branch:
            return self.gw.business(tr_id, "APBK0634", "주문조직번호를 확인해주세요.")
        all_qty = fields["QTY_ALL_ORD_YN"] == "Y"
        if not fields["ORD_QTY"].isdigit() or not fields["ORD_UNPR"].isdigit():
            return self.gw.business(tr_id, "APBK1234", "수량 또는 단가를 확인해주세요.")
        qty = None if all_qty else int(fields["ORD_QTY"])
        order_no = fields["ORGN_ODNO"].strip().zfill(10)
        try:
            if fields["RVSE_CNCL_DVSN_CD"] == "01":
                new_no = self.sb.venue.amend(
                    account, order_no, price=int(fields["ORD_UNPR"]), qty=qty
                )
            elif fields["RVSE_CNCL_DVSN_CD"] == "02":
                new_no = self.sb.venue.cancel(account, order_no, qty=qty)
            else:
                return self.gw.business(tr_id, "APBK1234", "정정취소구분코드를 확인해주세요.")
        except VenueRefusal as exc:
            return self._refused(tr_id, exc)
        return self._done(tr_id, new_no, "revise")
