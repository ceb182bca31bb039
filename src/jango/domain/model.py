"""Value types of the holdings domain: codes, markets, credit types, ticks, notices, snapshots.

Everything here is immutable and free of I/O. Money and quantities are ``int`` (won, shares);
a per-share price that can carry a fraction (a broker's book price) is ``Decimal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import NewType

KST = timezone(timedelta(hours=9), "KST")

Code = NewType("Code", str)

_CODE_RE = re.compile(r"^[0-9][0-9A-Z]{5}$")


class DomainError(ValueError):
    """Base class of every error the domain raises for bad input."""


class InvalidCode(DomainError):
    """A stock code that is not six characters of the KRX short-code alphabet."""


class InvalidEvent(DomainError):
    """An event whose fields contradict each other or the domain's rules."""


def parse_code(raw: object) -> Code:
    """Return the 6-character stock code in ``raw``, stripping a CYBOS ``A`` prefix.

    Raises :class:`InvalidCode` for anything else (ints are refused: codes have leading zeros).
    """
    if not isinstance(raw, str):
        raise InvalidCode(f"stock code must be a string, got {type(raw).__name__}: {raw!r}")
    text = raw.strip().upper()
    if len(text) == 7 and text[0] == "A":
        text = text[1:]
    if not _CODE_RE.match(text):
        raise InvalidCode(f"invalid stock code {raw!r}: expected 6 characters like 005930")
    return Code(text)


def _require_aware(when: datetime) -> None:
    # Event times are instants; a naive time cannot be ordered against KST ones.
    if when.tzinfo is None:
        raise InvalidEvent(f"event time {when.isoformat()} has no UTC offset")


def cybos_code(code: Code) -> str:
    """The CYBOS form of a code (``A`` + 6 characters)."""
    return "A" + code


class Market(StrEnum):
    """Listing market (or product family, for ETF/ETN/ELW which list on KOSPI)."""

    KOSPI = "KOSPI"
    KOSDAQ = "KOSDAQ"
    KONEX = "KONEX"
    ETF = "ETF"
    ETN = "ETN"
    ELW = "ELW"
    UNKNOWN = "UNKNOWN"


class Credit(StrEnum):
    """Credit type (신용구분) of a holding row or an order."""

    CASH = "cash"  # 현금
    MARGIN_KSFC = "margin_ksfc"  # 유통융자
    MARGIN_SELF = "margin_self"  # 자기융자
    SHORT_KSFC = "short_ksfc"  # 유통대주
    SHORT_SELF = "short_self"  # 자기대주
    STOCK_LOAN = "stock_loan"  # 주식담보대출 (예탁증권담보융자)
    PURCHASE_LOAN = "purchase_loan"  # 매입담보대출
    OTHER = "other"  # any code the broker sent that we do not know

    @property
    def is_short(self) -> bool:
        """Short (대주) rows hold borrowed shares sold; they gain when the price falls."""
        return self in (Credit.SHORT_KSFC, Credit.SHORT_SELF)

    @property
    def is_loan(self) -> bool:
        """Rows funded by a loan have a principal the customer did not pay in cash."""
        return self not in (Credit.CASH, Credit.OTHER)

    @property
    def label_ko(self) -> str:
        return _CREDIT_KO[self]


_CREDIT_KO = {
    Credit.CASH: "현금",
    Credit.MARGIN_KSFC: "유통융자",
    Credit.MARGIN_SELF: "자기융자",
    Credit.SHORT_KSFC: "유통대주",
    Credit.SHORT_SELF: "자기대주",
    Credit.STOCK_LOAN: "주식담보",
    Credit.PURCHASE_LOAN: "매입담보",
    Credit.OTHER: "기타",
}


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class NoticeKind(StrEnum):
    """What an order notice reports (CYBOS 체결플래그, KIS CNTG_YN/ACPT_YN/RFUS_YN)."""

    ACCEPTED = "accepted"  # 접수
    CONFIRMED = "confirmed"  # 확인: an amend or cancel took effect
    REJECTED = "rejected"  # 거부
    FILLED = "filled"  # 체결


class OrderAction(StrEnum):
    NEW = "new"  # 정상주문
    AMEND = "amend"  # 정정주문
    CANCEL = "cancel"  # 취소주문


class OrderType(StrEnum):
    LIMIT = "limit"  # 지정가 (보통)
    MARKET = "market"  # 시장가
    CONDITIONAL = "conditional"  # 조건부지정가
    BEST = "best"  # 최유리
    PRIORITY = "priority"  # 최우선
    OTHER = "other"


class Condition(StrEnum):
    NONE = "none"
    IOC = "ioc"
    FOK = "fok"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A listed instrument as the venue or broker's code master describes it."""

    code: Code
    name: str
    market: Market


@dataclass(frozen=True, slots=True)
class HoldingKey:
    """Identity of a balance row: one cash row and one row per credit tranche (loan date).

    Keys sort by account, code, credit type and loan date, a row without a loan date first.
    """

    account: str
    code: Code
    credit: Credit = Credit.CASH
    loan_date: date | None = None

    def _order(self) -> tuple[str, str, str, date]:
        return (self.account, self.code, self.credit.value, self.loan_date or date.min)

    def __lt__(self, other: HoldingKey) -> bool:
        return self._order() < other._order()

    def __le__(self, other: HoldingKey) -> bool:
        return self._order() <= other._order()

    def __gt__(self, other: HoldingKey) -> bool:
        return self._order() > other._order()

    def __ge__(self, other: HoldingKey) -> bool:
        return self._order() >= other._order()


def _no_cash_loan_date(credit: Credit, loan_date: date | None, what: str) -> None:
    # A loan date names a credit tranche; on a cash row it would make a second "cash" row.
    if credit is Credit.CASH and loan_date is not None:
        raise InvalidEvent(f"{what}: a cash (현금) row has no loan date, got {loan_date}")


@dataclass(frozen=True, slots=True)
class Tick:
    """A trade print (or an auction's expected price, which must never revalue holdings)."""

    code: Code
    price: int
    diff: int
    volume: int  # cumulative volume of the day
    time: datetime
    expected: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.time)


@dataclass(frozen=True, slots=True)
class Quote:
    """A requested price (as opposed to a pushed :class:`Tick`), with the day's limits."""

    code: Code
    price: int
    diff: int
    volume: int
    base: int = 0  # 기준가
    upper: int = 0  # 상한가
    lower: int = 0  # 하한가
    name: str = ""
    market: Market = Market.UNKNOWN


@dataclass(frozen=True, slots=True)
class OrderNotice:
    """One order/fill notice for an account (CYBOS CpConclusion, KIS H0STCNI0, sim).

    ``qty`` and ``price`` mean, by kind:
      * ACCEPTED/NEW: the order's quantity and price (0 for market orders);
      * CONFIRMED/AMEND: the new order's quantity (which replaces all of the original's
        remaining quantity) and its price; ``orig_order_no`` names the original;
      * CONFIRMED/CANCEL: the quantity cancelled from ``orig_order_no``;
      * REJECTED: the quantity of the rejected request;
      * FILLED: this execution's quantity and price.
    ``post_qty``, ``post_sellable`` and ``post_book_price`` are the broker's own view of the row
    after the event (CYBOS sends them); when present they win over the computed values.

    ``filled_total`` (fills only) is the order's cumulative filled quantity after this fill, when
    the broker (or the adapter, counting from the order inquiry) knows it. With the trade date,
    account and order number it is the fill's identity where the broker gives no fill id.
    """

    account: str
    kind: NoticeKind
    action: OrderAction
    side: Side
    code: Code
    order_no: str
    qty: int
    price: int
    time: datetime
    orig_order_no: str = ""
    credit: Credit = Credit.CASH
    loan_date: date | None = None
    order_type: OrderType = OrderType.LIMIT
    condition: Condition = Condition.NONE
    fill_id: str = ""
    name: str = ""
    market: Market = Market.UNKNOWN
    post_qty: int | None = None
    post_sellable: int | None = None
    post_book_price: Decimal | None = None
    filled_total: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.time)
        _no_cash_loan_date(self.credit, self.loan_date, f"notice for order {self.order_no}")
        if self.filled_total is not None and self.filled_total < self.qty:
            raise InvalidEvent(
                f"filled_total {self.filled_total} is below this fill's quantity {self.qty}"
            )
        if self.qty < 0:
            raise InvalidEvent(f"notice quantity is negative: {self.qty}")
        if self.price < 0:
            raise InvalidEvent(f"notice price is negative: {self.price}")
        if self.kind is NoticeKind.FILLED and (self.qty == 0 or self.price == 0):
            raise InvalidEvent("a fill needs a positive quantity and price")
        if not self.order_no:
            raise InvalidEvent("a notice needs an order number")

    @property
    def key(self) -> HoldingKey:
        return HoldingKey(self.account, self.code, self.credit, self.loan_date)


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One row of a broker balance snapshot."""

    account: str
    code: Code
    qty: int
    sellable: int
    purchase_amount: int  # 매입금액, won
    credit: Credit = Credit.CASH
    loan_date: date | None = None
    name: str = ""
    market: Market = Market.UNKNOWN
    price: int = 0  # current price if the broker sent one, else 0
    loan_amount: int = 0  # 대출금액 of a loan-funded row (KIS loan_amt, CYBOS 6033 field 6)

    def __post_init__(self) -> None:
        _no_cash_loan_date(self.credit, self.loan_date, f"balance row {self.code}")
        if self.loan_amount < 0:
            raise InvalidEvent(f"negative loan amount in balance row {self.code}")
        if self.qty < 0 or self.sellable < 0 or self.purchase_amount < 0:
            raise InvalidEvent(f"negative quantity or amount in balance row {self.code}")
        if self.sellable > self.qty:
            raise InvalidEvent(
                f"sellable {self.sellable} above quantity {self.qty} for {self.code}"
            )

    @property
    def key(self) -> HoldingKey:
        return HoldingKey(self.account, self.code, self.credit, self.loan_date)


@dataclass(frozen=True, slots=True)
class Cash:
    """Cash of an account: deposit (예수금), D+2 estimated deposit (D+2 예수금) and, where the
    broker reports it, D+1 (D+1 예수금)."""

    deposit: int
    d2: int
    d1: int | None = None


@dataclass(frozen=True, slots=True)
class OrderState:
    """One order of the day as the broker's order inquiry reports it (KIS daily fills and
    pending orders, CYBOS open and daily orders, the sim's venue).

    ``filled`` is the order's cumulative filled quantity at the snapshot: the watermark beyond
    which a fill notice is new. ``remaining`` is what is still open (0 once filled, cancelled,
    rejected or replaced).
    """

    account: str
    order_no: str
    code: Code
    side: Side
    qty: int
    filled: int
    remaining: int
    price: int
    time: datetime
    orig_order_no: str = ""
    credit: Credit = Credit.CASH
    loan_date: date | None = None
    order_type: OrderType = OrderType.LIMIT
    condition: Condition = Condition.NONE

    def __post_init__(self) -> None:
        _require_aware(self.time)
        _no_cash_loan_date(self.credit, self.loan_date, f"order {self.order_no}")
        if not self.order_no:
            raise InvalidEvent("an order state needs an order number")
        if min(self.qty, self.filled, self.remaining, self.price) < 0:
            raise InvalidEvent(f"negative quantity or price in order {self.order_no}")
        if self.filled + self.remaining > self.qty:
            raise InvalidEvent(
                f"order {self.order_no}: filled {self.filled} + remaining {self.remaining} "
                f"exceed its quantity {self.qty}"
            )

    @property
    def key(self) -> HoldingKey:
        return HoldingKey(self.account, self.code, self.credit, self.loan_date)


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """The broker's whole balance of one account at one moment (every page joined)."""

    account: str
    rows: tuple[BalanceRow, ...]
    cash: Cash
    time: datetime
    source: str = ""
    # The account's orders of the day, with their filled watermarks; None when the broker's
    # adapter did not read them (then no startup fence is possible and the book says so).
    orders: tuple[OrderState, ...] | None = None

    def __post_init__(self) -> None:
        _require_aware(self.time)
        for row in self.rows:
            if row.account != self.account:
                raise InvalidEvent(f"row for account {row.account} in snapshot of {self.account}")
        for order in self.orders or ():
            if order.account != self.account:
                raise InvalidEvent(
                    f"order for account {order.account} in snapshot of {self.account}"
                )


Event = BalanceSnapshot | Tick | OrderNotice


def mask_account(account: str) -> str:
    """An account number safe for logs: the last four characters kept, the rest starred."""
    if len(account) <= 4:
        return "*" * len(account)
    return "*" * (len(account) - 4) + account[-4:]


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A difference between what the book computed and what the broker (or input) said.

    Kept, never dropped: ``field`` names what differed, ``computed`` and ``reported`` hold both
    values as text, and ``reason`` says what was done.
    """

    account: str
    code: str
    field: str
    computed: str
    reported: str
    reason: str
    time: datetime | None = None
    order_no: str = ""
    extra: tuple[tuple[str, str], ...] = ()
