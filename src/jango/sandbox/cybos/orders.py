"""``CpTrade.CpTd0311`` (cash) / ``CpTd0312`` (credit) / ``CpTd0313`` / ``CpTd0314``: new,
amend and cancel orders (cybos.md §11; CpTd0312 from the help's page).

``CpTd0312`` 신용 주문: inputs 0 ``"1"`` 매도(상환) / ``"2"`` 매수(신규), 1 신용대출주문구분
(``"33"`` 신용융자, the default; ``"13"`` 대용융자), 2 계좌, 3 상품, 4 종목, 5 수량, 6 단가,
8 주문조건, 9 대출일 (long yyyymmdd; 상환 sells only), 10 주문호가구분. Header 0 side, 2–6 the
inputs, 8 대출일, 9 주문번호, 10 계좌명, 11 종목명, 13 주문조건, 14 주문호가구분,
15 신용대출구분 (``"02"`` 자기융자). The emulator's lender is the broker itself, so a 신용융자
is a 자기융자 (``Credit.MARGIN_SELF``); 대용융자 has no such row in the venue and is refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jango.domain.model import (
    Code,
    Condition,
    Credit,
    InvalidCode,
    OrderType,
    Side,
)
from jango.sandbox.cybos import frames
from jango.sandbox.cybos.base import (
    RQ_OK,
    TradeObject,
)
from jango.sandbox.cybos.listing import com_parse

_ORDER_TYPES = {
    "01": OrderType.LIMIT,
    "03": OrderType.MARKET,
    "05": OrderType.CONDITIONAL,
    "12": OrderType.BEST,
    "13": OrderType.PRIORITY,
}
_CONDITIONS = {"0": Condition.NONE, "1": Condition.IOC, "2": Condition.FOK}


class _OrderObject(TradeObject):
    service = "ordss.cststkord"

    def _is_order(self) -> bool:
        return True

    def _send(self, action: str, call: Any) -> str | None:
        """Run a venue call; a venue refusal becomes status -1 with its reason (``None``)."""
        try:
            return str(call())
        except Exception as exc:
            reason = getattr(exc, "reason_code", None)
            if reason is None:
                raise
            self._fail(RQ_OK, f"{action}: {getattr(exc, 'message', exc)}", str(reason))
            return None

    def _code(self, index: int) -> Code | None:
        try:
            return com_parse(self._inputs.get(index))
        except InvalidCode:
            return None


class CpTd0311(_OrderObject):
    """A new cash order."""

    progid = "CpTrade.CpTd0311"

    def _serve(self) -> int:
        account = self._account_goods(1, 2)
        code = self._code(3)
        side = {"1": Side.SELL, "2": Side.BUY}.get(str(self._inputs.get(0, "")))
        order_type = _ORDER_TYPES.get(str(self._inputs.get(8, "01")))
        condition = _CONDITIONS.get(str(self._inputs.get(7, "0")))
        if account is None or code is None or side is None:
            return self._refuse("주문 입력값을 확인하십시오", "0002")
        if order_type is None or condition is None:
            return self._refuse("지원하지 않는 주문호가구분 또는 주문조건입니다", "0003")
        qty = int(str(self._inputs.get(4, 0)))
        price = int(str(self._inputs.get(5, 0)))
        order_no = self._send(
            "주문거부",
            lambda: self._emu.venue.place(
                account,
                side,
                code,
                qty,
                price,
                order_type=order_type,
                condition=condition,
                credit=Credit.CASH,
                loan_date=None,
            ),
        )
        if order_no is None:
            return RQ_OK
        self._header = {i: self._inputs.get(i) for i in range(6)}
        self._header.update(
            {
                8: self._emu.order_no_int(order_no),
                9: self._emu.account_name,
                10: self._emu.name_of(code),
                12: self._inputs.get(7, "0"),
                13: self._inputs.get(8, "01"),
            }
        )
        word = "매도" if side is Side.SELL else "매수"
        return self._ok(f"{word}주문이 접수되었습니다", "10766")


class CpTd0313(_OrderObject):
    """A price amendment of an open order."""

    progid = "CpTrade.CpTd0313"
    service = "ordss.cststkmod"

    def _serve(self) -> int:
        account = self._account_goods(2, 3)
        code = self._code(4)
        if account is None or code is None:
            return self._refuse("정정 입력값을 확인하십시오", "0002")
        original = self._emu.order_no_str(int(str(self._inputs.get(1, 0))))
        qty = int(str(self._inputs.get(5, 0)))
        price = int(str(self._inputs.get(6, 0)))
        order_no = self._send(
            "정정거부",
            lambda: self._emu.venue.amend(account, original, price=price, qty=qty or None),
        )
        if order_no is None:
            return RQ_OK
        self._header = {
            7: self._emu.order_no_int(order_no),
            8: self._emu.account_name,
            9: self._emu.name_of(code),
        }
        return self._ok("정정주문이 접수되었습니다", "10766")


class CpTd0314(_OrderObject):
    """A cancellation of (part of) an open order."""

    progid = "CpTrade.CpTd0314"
    service = "ordss.cststkcan"

    def _serve(self) -> int:
        account = self._account_goods(2, 3)
        code = self._code(4)
        if account is None or code is None:
            return self._refuse("취소 입력값을 확인하십시오", "0002")
        original = self._emu.order_no_str(int(str(self._inputs.get(1, 0))))
        qty = int(str(self._inputs.get(5, 0)))
        order_no = self._send(
            "취소거부", lambda: self._emu.venue.cancel(account, original, qty=qty or None)
        )
        if order_no is None:
            return RQ_OK
        self._header = {
            6: self._emu.order_no_int(order_no),
            7: self._emu.account_name,
            8: self._emu.name_of(code),
        }
        return self._ok("취소주문이 접수되었습니다", "10766")


# CpTd0312 input 1 신용대출주문구분 → the credit of the order's row (see the module doc).
_CREDIT_ORDERS = {"33": Credit.MARGIN_SELF}


def _loan_date(value: object) -> date | None:
    text = str(value or "").strip()
    if not text or text == "0":
        return None
    if not text.isdigit() or len(text) != 8:
        raise ValueError(text)
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


class CpTd0312(_OrderObject):
    """A new credit order: a 신용융자 buy, or the sell that repays the loan of one date."""

    progid = "CpTrade.CpTd0312"
    service = "ordss.crdstkord"

    def _serve(self) -> int:
        account = self._account_goods(2, 3)
        code = self._code(4)
        side = {"1": Side.SELL, "2": Side.BUY}.get(str(self._inputs.get(0, "")))
        kind = str(self._inputs.get(1, "33")) or "33"
        order_type = _ORDER_TYPES.get(str(self._inputs.get(10, "01")))
        condition = _CONDITIONS.get(str(self._inputs.get(8, "0")))
        if account is None or code is None or side is None:
            return self._refuse("주문 입력값을 확인하십시오", "0002")
        if order_type is None or condition is None:
            return self._refuse("지원하지 않는 주문호가구분 또는 주문조건입니다", "0003")
        credit = _CREDIT_ORDERS.get(kind)
        if credit is None:
            return self._refuse(f"지원하지 않는 신용대출주문구분입니다 ({kind})", "0004")
        try:
            loan = _loan_date(self._inputs.get(9)) if side is Side.SELL else None
        except ValueError:
            return self._refuse("대출일을 확인하십시오 (YYYYMMDD)", "0005")
        qty = int(str(self._inputs.get(5, 0)))
        price = int(str(self._inputs.get(6, 0)))
        order_no = self._send(
            "주문거부",
            lambda: self._emu.venue.place(
                account, side, code, qty, price,
                order_type=order_type, condition=condition, credit=credit, loan_date=loan,
            ),
        )  # fmt: skip
        if order_no is None:
            return RQ_OK
        self._header = {i: self._inputs.get(i) for i in (0, 2, 3, 4, 5, 6)}
        self._header.update(
            {
                8: frames.yyyymmdd(loan),
                9: self._emu.order_no_int(order_no),
                10: self._emu.account_name,
                11: self._emu.name_of(code),
                13: self._inputs.get(8, "0"),
                14: self._inputs.get(10, "01"),
                15: frames.CREDIT_LOAN_CODE[credit],
            }
        )
        word = "신용매도" if side is Side.SELL else "신용매수"
        return self._ok(f"{word}주문이 접수되었습니다", "10766")
