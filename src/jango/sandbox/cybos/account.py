"""Emulated CYBOS account inquiries: the balance (``CpTrade.CpTd6033``), open orders, the day's
orders and fills, and orderable cash and quantities.

* ``CpTrade.CpTd5339`` 미체결 잔량: inputs 0 계좌, 1 상품, 3 종목코드 (blank: all), 5 정렬 ``"1"``
  newest first, 7 요청개수 (≤ 20). Header 5 = rows in the page. Data 1 주문번호 (long),
  2 원주문번호, 3 종목코드, 4 종목명, 5 주문구분내용, 6 주문수량, 7 주문단가, 8 체결수량,
  9 신용구분 (char), 11 정정취소가능수량, 13 매매구분 (``"1"`` 매도 ``"2"`` 매수),
  17 대출일, 19 주문호가구분 text, 21 주문호가구분 code.
* ``CpTrade.CpTd5341`` 주문/체결 내역: inputs 0 계좌, 1 상품, 2 종목코드, 3 시작주문번호,
  4 정렬 (char ``'0'`` oldest first / ``'1'`` newest first), 5 요청개수 (≤ 20), 6 조회구분
  (char ``'1'`` per order, ``'2'`` per fill). Header 6 = rows. Data 1 주문번호, 2 원주문번호,
  3 종목코드, 4 종목명, 5 주문내용, 7 주문수량, 8 주문단가, 9 총체결수량, 10 체결수량 (this
  row), 11 체결단가, 24 and 35 매매구분 (``"1"``/``"2"``; public scripts read either),
  36 정정취소구분 (``"1"`` 정상 ``"2"`` 정정 ``"3"`` 취소), 37 주문호가구분 code, 38 신용구분
  (char), 39 대출일, 40 정정취소가능수량, 42 시각 (hhmmss).
* ``CpTrade.CpTdNew5331A`` / ``CpTdNew5331B`` 매수/매도 가능.

Field positions follow public scripts written against the help (see ``docs/cybos-emulator.md``);
positions that only one source gives are marked there as assumptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jango.domain.model import (
    BalanceSnapshot,
    Code,
    Side,
)
from jango.sandbox.cybos import frames
from jango.sandbox.cybos.base import (
    TradeObject,
)
from jango.sandbox.cybos.listing import com_code, com_parse

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator
from collections.abc import Callable
from typing import TYPE_CHECKING

from jango.domain.model import OrderAction
from jango.sandbox.cybos.day import DayOrder

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator


BALANCE_PAGE_MAX = 50
BALANCE_PAGE_DEFAULT = 14


class CpTd6033(TradeObject):
    """The balance of one account, 50 rows per page at most, paged with ``Continue``."""

    progid = "CpTrade.CpTd6033"
    service = "ordsb.cststkbal"

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._snapshot: BalanceSnapshot | None = None
        self._cursor = 0

    def _inputs_changed(self) -> None:
        self._snapshot = None
        self._continue = 0

    def _serve(self) -> int:
        account = self._account_goods(0, 1)
        if account is None:
            return self._refuse("계좌번호 또는 상품관리구분코드를 확인하십시오", "0001")
        size = int(str(self._inputs.get(2, BALANCE_PAGE_DEFAULT)))
        size = max(1, min(size, BALANCE_PAGE_MAX))
        if self._snapshot is None or not self._continue:
            # A new inquiry: the server reads the balance once and pages through that reading.
            self._snapshot = self._emu.venue.balance(account)
            self._cursor = 0
        snapshot = self._snapshot
        rows = snapshot.rows[self._cursor : self._cursor + size]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(snapshot.rows) else 0
        prices = {row.code: self._price(row.code) for row in snapshot.rows}
        columns = [
            frames.balance_columns(row, self._name(row.code), prices[row.code]) for row in rows
        ]
        self._data = {i: [c[i] for c in columns] for i in range(20) if i not in (8, 14)}
        self._header = self._summary(snapshot, prices, len(rows))
        if self._continue:
            return self._ok("조회가 계속됩니다", "0030")
        return self._ok()

    def _price(self, code: Code) -> int:
        try:
            return self._emu.venue.quote(code).price
        except Exception:
            return 0

    def _name(self, code: Code) -> str:
        try:
            return self._emu.venue.instrument(code).name
        except Exception:
            return ""

    def _summary(
        self, snapshot: BalanceSnapshot, prices: dict[Code, int], page_rows: int
    ) -> dict[int, object]:
        valuation = sum(prices[r.code] * r.qty for r in snapshot.rows)
        cost = sum(r.purchase_amount for r in snapshot.rows)
        qty = sum(r.qty for r in snapshot.rows)
        return {
            0: self._emu.account_name,
            1: qty,
            2: qty,
            3: snapshot.cash.d2 + valuation,
            4: valuation - cost,
            6: sum(r.purchase_amount for r in snapshot.rows if r.credit.is_loan),
            7: page_rows,
            8: float((valuation - cost) * 100 / cost) if cost else 0.0,
            9: snapshot.cash.d2,
            10: 0,
            11: valuation,
            12: 0,
        }


ORDER_PAGE_MAX = 20
_TYPE_TEXT = {
    "01": "보통",
    "03": "시장가",
    "05": "조건부지정가",
    "12": "최유리지정가",
    "13": "최우선지정가",
}
_ACTION_TEXT = {OrderAction.NEW: "", OrderAction.AMEND: "정정", OrderAction.CANCEL: "취소"}


def _order_text(order: DayOrder) -> str:
    word = "매도" if order.side is Side.SELL else "매수"
    credit = "현금" if order.credit.value == "cash" else "신용"
    return f"{credit}{word}{_ACTION_TEXT[order.action]}"


def _char_input(value: object, default: str) -> str:
    """A char input as a one-letter string: scripts pass ``ord('1')`` or ``'1'`` (COM converts)."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return chr(value) if value > 9 else str(value)
    return str(value)[:1] or default


class _OrderInquiry(TradeObject):
    """Paging over a list of rows computed once per inquiry (as a server reads once)."""

    count_header = 0

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._rows: list[dict[int, object]] | None = None
        self._cursor = 0

    def _inputs_changed(self) -> None:
        self._rows = None
        self._continue = 0

    def _page(self, size_input: int, build: Callable[[str], list[dict[int, object]]]) -> int:
        account = self._account_goods(0, 1)
        if account is None:
            return self._refuse("계좌번호 또는 상품관리구분코드를 확인하십시오", "0001")
        try:
            size = int(str(self._inputs.get(size_input, ORDER_PAGE_MAX)))
        except ValueError:
            size = ORDER_PAGE_MAX
        size = max(1, min(size, ORDER_PAGE_MAX))
        if self._rows is None or not self._continue:
            self._rows = build(account)
            self._cursor = 0
        rows = self._rows[self._cursor : self._cursor + size]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(self._rows) else 0
        keys = sorted({k for row in rows for k in row})
        self._data = {k: [row.get(k) for row in rows] for k in keys}
        self._header = {0: account, 1: frames.GOODS_STOCK, self.count_header: len(rows)}
        if self._continue:
            return self._ok("조회가 계속됩니다", "0030")
        return self._ok()

    def _code_filter(self, index: int) -> str:
        raw = self._inputs.get(index)
        if raw in (None, ""):
            return ""
        try:
            return com_code(com_parse(raw))
        except Exception:
            return str(raw)


class CpTd5339(_OrderInquiry):
    """Open orders (미체결) of one account, newest first unless input 5 is ``"0"``."""

    progid = "CpTrade.CpTd5339"
    service = "ordsb.cststkrmn"
    count_header = 5

    def _serve(self) -> int:
        return self._page(7, self._build)

    def _build(self, account: str) -> list[dict[int, object]]:
        code = self._code_filter(3)
        orders = [o for o in self._emu.orders_of(account) if o.remaining > 0]
        if code:
            orders = [o for o in orders if com_code(o.code) == code]
        if str(self._inputs.get(5, "1")) != "0":
            orders.reverse()
        return [self._row(o) for o in orders]

    def _row(self, order: DayOrder) -> dict[int, object]:
        type_code = frames.ORDER_TYPE_FLAG[order.order_type]
        return {
            1: self._emu.order_no_int(order.order_no),
            2: self._emu.order_no_int(order.orig_order_no) if order.orig_order_no else 0,
            3: com_code(order.code),
            4: order.name or self._emu.name_of(order.code),
            5: _order_text(order),
            6: order.qty,
            7: order.price,
            8: order.filled,
            9: frames.char(frames.CREDIT_CHAR[order.credit]),
            11: order.remaining,
            13: frames.SIDE_FLAG[order.side],
            17: str(frames.yyyymmdd(order.loan_date)) if order.loan_date else "",
            19: _TYPE_TEXT.get(type_code, ""),
            21: type_code,
        }


class CpTd5341(_OrderInquiry):
    """Today's orders and fills of one account: per order (input 6 ``'1'``) or per fill
    (``'2'``, the default), oldest first (input 4 ``'0'``, the default) or newest first."""

    progid = "CpTrade.CpTd5341"
    service = "ordsb.cststkconc"
    count_header = 6

    def _serve(self) -> int:
        return self._page(5, self._build)

    def _build(self, account: str) -> list[dict[int, object]]:
        code = self._code_filter(2)
        per_fill = _char_input(self._inputs.get(6), "2") == "2"
        orders = self._emu.orders_of(account)
        if code:
            orders = [o for o in orders if com_code(o.code) == code]
        rows: list[dict[int, object]] = []
        for order in orders:
            if per_fill and order.fills:
                rows.extend(
                    self._row(order, fill.qty, fill.price, fill.total, fill.time)
                    for fill in order.fills
                )
            else:
                last = order.fills[-1] if order.fills else None
                rows.append(
                    self._row(
                        order,
                        order.filled,
                        last.price if last else 0,
                        order.filled,
                        last.time if last else order.time,
                    )
                )
        if _char_input(self._inputs.get(4), "0") == "1":
            rows.reverse()
        start = int(str(self._inputs.get(3, 0) or 0))
        if start:
            # 시작주문번호: list from that order number on (in the chosen direction).
            keep = [i for i, row in enumerate(rows) if row[1] == start]
            rows = rows[keep[0] :] if keep else []
        return rows

    def _row(
        self, order: DayOrder, qty: int, price: int, total: int, at: object
    ) -> dict[int, object]:
        side = frames.SIDE_FLAG[order.side]
        type_code = frames.ORDER_TYPE_FLAG[order.order_type]
        when = at if hasattr(at, "hour") else order.time
        return {
            1: self._emu.order_no_int(order.order_no),
            2: self._emu.order_no_int(order.orig_order_no) if order.orig_order_no else 0,
            3: com_code(order.code),
            4: order.name or self._emu.name_of(order.code),
            5: _order_text(order),
            7: order.qty,
            8: order.price,
            9: total,
            10: qty,
            11: price,
            24: side,
            35: side,
            36: frames.ACTION_FLAG[order.action],
            37: type_code,
            38: frames.char(frames.CREDIT_CHAR[order.credit]),
            39: str(frames.yyyymmdd(order.loan_date)) if order.loan_date else "",
            40: order.remaining,
            42: frames.hhmmss(when),  # type: ignore[arg-type]
        }


class CpTdNew5331A(TradeObject):
    """Orderable cash and, given a code and price (input 6 ``'2'``), orderable quantity.

    Header 10 현금주문가능금액 and 47 가능예수금 are the venue's orderable cash (D+2 less what open
    buys hold); 3–9 (증거금 20–100%) follow from it by the 증거금율; 45 예수금 is the settled
    deposit; 9/11/12 are filled so scripts that read them see the same amounts.
    """

    progid = "CpTrade.CpTdNew5331A"
    service = "ordsb.cststkordable"

    def _serve(self) -> int:
        account = self._account_goods(0, 1)
        if account is None:
            return self._refuse("계좌번호 또는 상품관리구분코드를 확인하십시오", "0001")
        venue = self._emu.venue
        cash = venue.balance(account).cash
        orderable = self._emu.orderable_cash(account)
        header: dict[int, object] = {
            0: "",
            1: "",
            2: frames.char("1"),
            45: cash.deposit,
            46: 0,
            47: orderable,
            48: 0,
        }
        for index, rate in zip(range(3, 10), (20, 30, 40, 50, 60, 70, 100), strict=True):
            header[index] = orderable * 100 // rate if rate < 100 else orderable
        header[10] = orderable
        price = 0
        raw_code = self._inputs.get(2)
        if raw_code not in (None, ""):
            try:
                code = com_parse(raw_code)
                quote = venue.quote(code)
            except Exception:
                return self._refuse("종목코드를 확인하십시오", "0041")
            header[0] = com_code(code)
            header[1] = quote.name
            price = int(str(self._inputs.get(4, 0) or 0)) or quote.upper
        for index, amount_index in zip(range(11, 19), range(3, 11), strict=True):
            amount = int(header[amount_index])  # type: ignore[call-overload]
            header[index] = amount // price if price else 0
        for index in range(19, 45):
            header.setdefault(index, 0)
        for index in range(49, 54):
            header[index] = 0
        header[54] = "100"
        header[55] = "증거금100%"
        self._header = header
        return self._ok()


class CpTdNew5331B(TradeObject):
    """Sellable quantity per balance row: inputs 0 계좌, 1 상품, 2 종목코드 (blank: all); header
    0 = rows; data 0 종목코드, 1 종목명, 2 신용구분 (char), 3 대출일, 11 매도가능수량."""

    progid = "CpTrade.CpTdNew5331B"
    service = "ordsb.cststksellable"

    def _serve(self) -> int:
        account = self._account_goods(0, 1)
        if account is None:
            return self._refuse("계좌번호 또는 상품관리구분코드를 확인하십시오", "0001")
        wanted = ""
        raw = self._inputs.get(2)
        if raw not in (None, ""):
            try:
                wanted = com_code(com_parse(raw))
            except Exception:
                return self._refuse("종목코드를 확인하십시오", "0041")
        rows = [
            r
            for r in self._emu.venue.balance(account).rows
            if not wanted or com_code(r.code) == wanted
        ]
        self._data = {
            0: [com_code(r.code) for r in rows],
            1: [r.name for r in rows],
            2: [frames.char(frames.CREDIT_CHAR[r.credit]) for r in rows],
            3: [str(frames.yyyymmdd(r.loan_date)) if r.loan_date else "" for r in rows],
            11: [r.sellable for r in rows],
        }
        self._header = {0: len(rows)}
        return self._ok()
