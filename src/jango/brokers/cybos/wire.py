"""The one place CYBOS COM values become domain values (and order fields become COM inputs).

Pure functions over the plain values read from COM objects: ``char`` fields arrive as ints (or,
defensively, one-character strings), flag fields as strings, codes with the ``A`` prefix.
Unknown flag values become the domain's "unknown" members (``Credit.OTHER``, ``OrderType.OTHER``)
where one exists; a value the event cannot be understood without (체결플래그, 매매구분,
정정취소구분) raises :class:`WireError`, which the adapter turns into ``Undecodable``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, DecimalException

from jango.domain.model import (
    KST,
    BalanceRow,
    Code,
    Condition,
    Credit,
    DomainError,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    OrderType,
    Quote,
    Side,
    Tick,
    parse_code,
)

Values = Mapping[int, object]

# Fields the adapter reads; everything read goes into the raw payload.
STOCKCUR_FIELDS = (0, 1, 2, 3, 9, 13, 14, 17, 18, 19, 20, 22)
CONCLUSION_FIELDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)
STOCKMST_FIELDS = (0, 1, 8, 9, 10, 11, 12, 18, 27, 45, 58)
# 대비부호 (2) is requested with 전일대비 (3), as the help requires for a signed change.
MARKETEYE_FIELDS = (0, 2, 3, 4, 10, 17, 23, 33, 34)
BALANCE_FIELDS = (0, 1, 2, 7, 12, 15, 17)
BALANCE_HEADER_FIELDS = (0, 6, 7, 9)

OPEN_ORDERS = "CpTrade.CpTd5339"
DAILY_ORDERS = "CpTrade.CpTd5341"
# Data fields read from each order inquiry (every row's raw values are kept for errors).
ORDER_FIELDS: dict[str, tuple[int, ...]] = {
    OPEN_ORDERS: (1, 2, 3, 4, 6, 7, 8, 9, 11, 13, 17, 21),
    DAILY_ORDERS: (1, 2, 3, 4, 7, 8, 9, 10, 11, 24, 35, 36, 37, 38, 39, 42),
}
# Inputs beyond account and goods, and the header index of the row count. 5339: all codes, newest
# first, 20 a page; 5341: all codes, oldest first, 20 a page, one row per fill.
ORDER_INQUIRIES: dict[str, tuple[dict[int, object], int]] = {
    OPEN_ORDERS: ({3: "", 4: "0", 5: "0", 6: "0", 7: 20}, 5),
    DAILY_ORDERS: ({2: "", 3: 0, 4: ord("0"), 5: 20, 6: ord("2")}, 6),
}


class WireError(ValueError):
    """A COM value the adapter cannot turn into a domain value: the one error every decoder
    here raises, whatever it is given."""


# The widest integer a COM VARIANT carries (VT_I8 / VT_UI8); anything longer is not a COM value
# and is refused before Python's int-from-text digit limit could be reached.
_MAX_INTEGER = 2**64
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,20}")


# CpTd6033 data 1 신용구분 (char). Cash is ' ' (Daishin's sample); 0 is accepted too because the
# help does not list the cash value.
_BALANCE_CREDIT = {
    " ": Credit.CASH,
    "": Credit.CASH,
    "Y": Credit.MARGIN_KSFC,
    "I": Credit.MARGIN_SELF,
    "D": Credit.SHORT_KSFC,
    "B": Credit.STOCK_LOAN,
    "M": Credit.PURCHASE_LOAN,
}
# CpConclusion 15 신용대출구분.
_NOTICE_CREDIT = {
    "00": Credit.CASH,
    "01": Credit.MARGIN_KSFC,
    "02": Credit.MARGIN_SELF,
    "03": Credit.SHORT_KSFC,
    "04": Credit.SHORT_SELF,
    "05": Credit.STOCK_LOAN,
    "06": Credit.PURCHASE_LOAN,
}
_KIND = {
    "1": NoticeKind.FILLED,
    "2": NoticeKind.CONFIRMED,
    "3": NoticeKind.REJECTED,
    "4": NoticeKind.ACCEPTED,
}
_ACTION = {"1": OrderAction.NEW, "2": OrderAction.AMEND, "3": OrderAction.CANCEL}
_SIDE = {"1": Side.SELL, "2": Side.BUY}
ORDER_TYPE_CODES = {
    OrderType.LIMIT: "01",
    OrderType.MARKET: "03",
    OrderType.CONDITIONAL: "05",
    OrderType.BEST: "12",
    OrderType.PRIORITY: "13",
}
_ORDER_TYPE = {code: kind for kind, code in ORDER_TYPE_CODES.items()}
CONDITION_CODES = {Condition.NONE: "0", Condition.IOC: "1", Condition.FOK: "2"}
_CONDITION = {code: cond for cond, code in CONDITION_CODES.items()}
SIDE_CODES = {Side.SELL: "1", Side.BUY: "2"}
# CpTd0312 input 1 신용대출주문구분: 33 신용융자 (13 대용융자 is not ordered by the adapter).
CREDIT_ORDER_MARGIN = "33"
# StockMst 45 소속 (char).
_MARKET = {"1": Market.KOSPI, "5": Market.KOSDAQ, "6": Market.KONEX}


# CpCodeMgr.GetStockMarketKind and GetStockSectionKind (cybos.md §4).
_MARKET_KIND = {1: Market.KOSPI, 2: Market.KOSDAQ, 5: Market.KONEX}
# Section kinds are the type library's CPE_KSE_SECTION_KIND: 9 ELW, 10 ETF, 12 해외ETF, 17 ETN.
_SECTION_MARKET = {10: Market.ETF, 12: Market.ETF, 17: Market.ETN, 9: Market.ELW}


def market_from_kinds(market_kind: object, section_kind: object) -> Market:
    """A listing's market from the code manager: ETF/ETN/ELW by section kind (10 and 12 ETF,
    17 ETN, 9 ELW), else the market kind (1 KOSPI, 2 KOSDAQ, 5 KONEX); anything else is
    ``Market.UNKNOWN`` (the book then flags the row rather than guess a tax)."""
    section = integer(section_kind, "GetStockSectionKind")
    if section in _SECTION_MARKET:
        return _SECTION_MARKET[section]
    return _MARKET_KIND.get(integer(market_kind, "GetStockMarketKind"), Market.UNKNOWN)


def raw_json(values: Values) -> str:
    """The raw payload kept with every event: the COM values read, as JSON text."""
    return json.dumps({str(k): v for k, v in values.items()}, ensure_ascii=False, default=repr)


def char(value: object) -> str:
    """A COM ``char`` as text: pywin32 gives an int (the character code); 0 means empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not -128 <= value <= 0x10FFFF:
            raise WireError(f"a char out of range: {value!r}")
        return chr(value) if value > 0 else ""
    if isinstance(value, str):
        return value
    raise WireError(f"expected a char, got {value!r}")


def flag(value: object) -> str:
    """A CYBOS flag field (documented as string) as stripped text."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise WireError(f"expected a flag string, got {value!r}")


def integer(value: object, what: str) -> int:
    """A COM integer (long, longlong; an integral double or digit text as COM converts)."""
    if isinstance(value, bool) or value is None:
        raise WireError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise WireError(f"{what}: expected an integer, got {_short(value)}")
    if abs(number) >= _MAX_INTEGER:
        raise WireError(f"{what}: {_short(number)} is wider than a COM integer")
    return number


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 80 else text[:77] + "..."


def text(value: object) -> str:
    """A COM string field (a name): ``None`` is empty; anything else must be text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WireError(f"expected text, got {_short(value)}")
    return value


# A book price (double) beyond this is not a price: refused before it could make a huge amount.
_MAX_BOOK_PRICE = Decimal(10) ** 12


def decimal(value: object, what: str) -> Decimal:
    """A COM double (or decimal text) as an exact, finite, bounded Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise WireError(f"{what}: expected a number, got {_short(value)}")
    if isinstance(value, str) and len(value) > 40:
        raise WireError(f"{what}: {_short(value)} is too long for a number")
    try:
        number = Decimal(str(value))
        plausible = number.is_finite() and abs(number) < _MAX_BOOK_PRICE
    except DecimalException:  # InvalidOperation, and Overflow for exponents such as 1E1000000
        raise WireError(f"{what}: invalid number {_short(value)}") from None
    if not plausible:
        raise WireError(f"{what}: {_short(value)} is not a plausible amount")
    return number


def code_of(value: object) -> Code:
    """A code as CYBOS sends it: ``A`` + six characters, or ``Q`` + six for an ETN."""
    if isinstance(value, str) and len(value.strip()) == 7 and value.strip()[:1].upper() == "Q":
        value = value.strip()[1:]
    try:
        return parse_code(value)
    except DomainError as exc:
        raise WireError(str(exc)) from None


def yyyymmdd(value: object) -> date | None:
    """A CYBOS date (long or string ``YYYYMMDD``; 0 or empty for none)."""
    if value is None:
        return None
    text = str(integer(value, "date")) if not isinstance(value, str) else value.strip()
    if text in ("", "0"):
        return None
    if not re.fullmatch(r"[0-9]{8}", text):
        raise WireError(f"invalid date {_short(value)}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise WireError(f"invalid date {_short(value)}") from None


def at_time(day: date, hhmmss: object) -> datetime:
    """``day`` at the time in a ``hhmmss`` field (KST)."""
    number = integer(hhmmss, "time")
    if not 0 <= number <= 235959:
        raise WireError(f"invalid time {_short(hhmmss)}")
    hours, rest = divmod(number, 10000)
    minutes, seconds = divmod(rest, 100)
    try:
        return datetime.combine(day, time(hours, minutes, seconds), KST)
    except ValueError:
        raise WireError(f"invalid time {_short(hhmmss)}") from None


def balance_credit(value: object) -> Credit:
    """CpTd6033 신용구분 → Credit; an unlisted char is ``Credit.OTHER``, not an error."""
    return _BALANCE_CREDIT.get(char(value), Credit.OTHER)


def notice_credit(value: object) -> Credit:
    """CpConclusion 신용대출구분 → Credit; an unlisted code is ``Credit.OTHER``."""
    return _NOTICE_CREDIT.get(flag(value), Credit.OTHER)


def tick_from_stockcur(values: Values, day: date) -> Tick:
    """A StockCur event; 예상체결 구분 (19) ``'1'`` marks an auction expected price."""
    try:
        return Tick(
            code=code_of(values.get(0)),
            price=integer(values.get(13), "현재가"),
            diff=integer(values.get(2), "전일대비"),
            volume=integer(values.get(9), "누적거래량"),
            time=at_time(day, values.get(18)),
            expected=char(values.get(19)) == "1",
        )
    except DomainError as exc:
        raise WireError(str(exc)) from None


def notice_from_conclusion(values: Values, at: datetime) -> OrderNotice:
    """A CpConclusion event. The post-event fields become broker truth: 매도가능수량 (22) on
    every notice; 체결기준잔고수량 (23) and 장부가 (21) on fills only, which is where the help
    and Daishin's sample say they describe the row."""
    kind = _KIND.get(flag(values.get(14)))
    if kind is None:
        raise WireError(f"unknown 체결플래그 (14) {values.get(14)!r}")
    action = _ACTION.get(flag(values.get(16)))
    if action is None:
        raise WireError(f"unknown 정정취소구분 (16) {values.get(16)!r}")
    side = _SIDE.get(flag(values.get(12)))
    if side is None:
        raise WireError(f"unknown 매매구분 (12) {values.get(12)!r}")
    orig = integer(values.get(6), "원주문번호")
    filled = kind is NoticeKind.FILLED
    try:
        return OrderNotice(
            account=flag(values.get(7)),
            kind=kind,
            action=action,
            side=side,
            code=code_of(values.get(9)),
            order_no=str(integer(values.get(5), "주문번호")),
            qty=integer(values.get(3), "수량"),
            price=integer(values.get(4), "가격"),
            time=at,
            orig_order_no=str(orig) if orig else "",
            credit=notice_credit(values.get(15)),
            loan_date=yyyymmdd(values.get(20)),
            order_type=_ORDER_TYPE.get(flag(values.get(18)), OrderType.OTHER),
            # Condition has no "unknown" member; an unlisted code reads as none (raw keeps it).
            condition=_CONDITION.get(flag(values.get(19)), Condition.NONE),
            name=text(values.get(2)),
            post_qty=integer(values.get(23), "체결기준잔고수량") if filled else None,
            post_sellable=integer(values.get(22), "매도가능수량"),
            post_book_price=Decimal(integer(values.get(21), "장부가")) if filled else None,
        )
    except DomainError as exc:
        raise WireError(str(exc)) from None


def quote_from_stockmst(values: Values) -> Quote:
    """A StockMst answer."""
    try:
        return Quote(
            code=code_of(values.get(0)),
            price=integer(values.get(11), "현재가"),
            diff=integer(values.get(12), "전일대비"),
            volume=integer(values.get(18), "거래량"),
            base=integer(values.get(27), "기준가"),
            upper=integer(values.get(8), "상한가"),
            lower=integer(values.get(9), "하한가"),
            name=text(values.get(1)),
            market=_MARKET.get(char(values.get(45)), Market.UNKNOWN),
        )
    except DomainError as exc:
        raise WireError(str(exc)) from None


def quotes_from_marketeye(
    fields: Sequence[int], columns: Mapping[int, Sequence[object]], count: int
) -> list[Quote]:
    """MarketEye rows. Column ``i`` holds the ``i``-th field of the request sorted ascending."""
    col = {f: i for i, f in enumerate(sorted(set(fields)))}
    quotes = []
    for row in range(count):

        def get(f: int, row: int = row) -> object:
            try:
                return columns[col[f]][row]
            except (KeyError, IndexError):
                raise WireError(f"MarketEye: no field {f} in row {row}") from None

        diff = integer(get(3), "전일대비")
        if char(get(2)) in ("4", "5") and diff > 0:
            diff = -diff  # 하한/하락 with an unsigned change
        try:
            quotes.append(
                Quote(
                    code=code_of(get(0)),
                    price=integer(get(4), "현재가"),
                    diff=diff,
                    volume=integer(get(10), "거래량"),
                    base=integer(get(23), "전일종가"),
                    upper=integer(get(33), "상한가"),
                    lower=integer(get(34), "하한가"),
                    name=text(get(17)),
                )
            )
        except DomainError as exc:
            raise WireError(str(exc)) from None
    return quotes


def balance_row(account: str, values: Values) -> BalanceRow:
    """One CpTd6033 row. 매입금액 = 체결장부단가 (17, a double) × 체결잔고수량 (7), rounded to won,
    as Daishin's sample computes it; 평가금액/손익 (9/10) are truncated to 천원 and not used."""
    qty = integer(values.get(7), "체결잔고수량")
    book = decimal(values.get(17), "체결장부단가")
    amount = int((book * qty).to_integral_value(ROUND_HALF_UP))
    try:
        return BalanceRow(
            account=account,
            code=code_of(values.get(12)),
            qty=qty,
            sellable=integer(values.get(15), "매도가능수량"),
            purchase_amount=amount,
            credit=balance_credit(values.get(1)),
            loan_date=yyyymmdd(values.get(2)),
            name=text(values.get(0)),
        )
    except DomainError as exc:
        raise WireError(str(exc)) from None


def filled_totals(rows: Sequence[Values]) -> dict[str, int]:
    """Each order's cumulative filled quantity in CpTd5341 rows (one row per fill or per order):
    the largest 총체결수량 (9) of its rows, or the sum of their 체결수량 (10) where 9 is absent."""
    biggest: dict[str, int] = {}
    summed: dict[str, int] = {}
    for row in rows:
        if flag(row.get(36) or "1") == "3":
            continue  # a cancel request's own number never fills
        order_no = str(integer(row.get(1), "주문번호"))
        if row.get(9) is not None:
            biggest[order_no] = max(biggest.get(order_no, 0), integer(row.get(9), "총체결수량"))
        summed[order_no] = summed.get(order_no, 0) + integer(row.get(10) or 0, "체결수량")
    return {order_no: biggest.get(order_no, total) for order_no, total in summed.items()}


def order_states(
    account: str, daily: Sequence[Values], open_rows: Sequence[Values], day: date
) -> tuple[OrderState, ...]:
    """The day's orders of ``account`` from CpTd5341 rows (quantities, fills) and CpTd5339 rows
    (what is still open: 정정취소가능수량, 11). An order in 5339 and not (yet) in 5341 comes from
    5339 alone. Cancel requests (5341 36 ``'3'``) are left out: they never fill."""
    totals = filled_totals(daily)
    remaining: dict[str, int] = {}
    open_by_no: dict[str, Values] = {}
    for row in open_rows:
        order_no = str(integer(row.get(1), "주문번호"))
        remaining[order_no] = integer(row.get(11), "정정취소가능수량")
        open_by_no[order_no] = row
    states: dict[str, OrderState] = {}
    try:
        for row in daily:
            order_no = str(integer(row.get(1), "주문번호"))
            if flag(row.get(36) or "1") == "3" or order_no in states:
                continue
            side = _SIDE.get(flag(row.get(35) or row.get(24) or ""))
            if side is None:
                raise WireError(f"order {order_no}: unknown 매매구분 {row.get(35)!r}")
            qty = integer(row.get(7), "주문수량")
            filled = totals.get(order_no, 0)
            orig = integer(row.get(2) or 0, "원주문번호")
            states[order_no] = OrderState(
                account=account,
                order_no=order_no,
                code=code_of(row.get(3)),
                side=side,
                qty=qty,
                filled=filled,
                remaining=min(remaining.get(order_no, 0), max(0, qty - filled)),
                price=integer(row.get(8) or 0, "주문단가"),
                time=at_time(day, row.get(42) or 0),
                orig_order_no=str(orig) if orig else "",
                credit=balance_credit(row.get(38) if row.get(38) is not None else " "),
                loan_date=yyyymmdd(row.get(39)),
                order_type=_ORDER_TYPE.get(flag(row.get(37) or "01"), OrderType.OTHER),
            )
        for order_no, row in open_by_no.items():
            if order_no in states:
                continue
            side = _SIDE.get(flag(row.get(13) or ""))
            if side is None:
                raise WireError(f"open order {order_no}: unknown 매매구분 {row.get(13)!r}")
            orig = integer(row.get(2) or 0, "원주문번호")
            states[order_no] = OrderState(
                account=account,
                order_no=order_no,
                code=code_of(row.get(3)),
                side=side,
                qty=integer(row.get(6), "주문수량"),
                filled=integer(row.get(8) or 0, "체결수량"),
                remaining=remaining[order_no],
                price=integer(row.get(7) or 0, "주문단가"),
                time=at_time(day, 0),
                orig_order_no=str(orig) if orig else "",
                credit=balance_credit(row.get(9) if row.get(9) is not None else " "),
                loan_date=yyyymmdd(row.get(17)),
                order_type=_ORDER_TYPE.get(flag(row.get(21) or "01"), OrderType.OTHER),
            )
    except DomainError as exc:
        raise WireError(str(exc)) from None
    return tuple(states.values())


def with_loan_amounts(rows: Sequence[BalanceRow], total: int) -> list[BalanceRow]:
    """Spread CpTd6033 header 6 대출금액 (the account's loans) over its loan rows.

    The help gives the loan amount per account, not per row. One loan row takes it all (exact);
    several share it in proportion to their 매입금액, the last taking the remainder so the rows
    add up to the header exactly (an estimate per row, exact in total). No loan row: rows as given.
    """
    loans = [i for i, r in enumerate(rows) if r.credit.is_loan]
    result = list(rows)
    if not loans or total <= 0:
        return result
    weight = sum(rows[i].purchase_amount for i in loans)
    given = 0
    for n, i in enumerate(loans):
        if n == len(loans) - 1:
            share = total - given
        elif weight:
            share = total * rows[i].purchase_amount // weight
        else:
            share = total // len(loans)
        given += share
        result[i] = dataclasses.replace(rows[i], loan_amount=share)
    return result
