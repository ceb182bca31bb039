"""How the CYBOS emulator writes venue state as COM field values (the adapter wire, reversed).

Field numbers and value types follow ``reference/cybos.md``: ``char`` fields are ints (what
pywin32 hands a Python program for VT_I1), flag fields documented as ``string`` are ``str``, and
codes carry the ``A`` prefix.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from jango.domain.model import (
    BalanceRow,
    Condition,
    Credit,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Quote,
    Side,
    Tick,
)
from jango.sandbox.cybos.listing import com_code

Header = dict[int, object]

GOODS_STOCK = "01"  # 상품관리구분코드 of the stock goods the emulator offers

# CpTd6033 data 1 신용구분 (a char). Cash rows are ' ' as the Daishin sample expects.
CREDIT_CHAR: dict[Credit, str] = {
    Credit.CASH: " ",
    Credit.MARGIN_KSFC: "Y",
    Credit.MARGIN_SELF: "I",
    Credit.SHORT_KSFC: "D",
    Credit.SHORT_SELF: "D",
    Credit.STOCK_LOAN: "B",
    Credit.PURCHASE_LOAN: "M",
    Credit.OTHER: "P",
}

# CpConclusion 15 신용대출구분.
CREDIT_LOAN_CODE: dict[Credit, str] = {
    Credit.CASH: "00",
    Credit.MARGIN_KSFC: "01",
    Credit.MARGIN_SELF: "02",
    Credit.SHORT_KSFC: "03",
    Credit.SHORT_SELF: "04",
    Credit.STOCK_LOAN: "05",
    Credit.PURCHASE_LOAN: "06",
    Credit.OTHER: "08",
}

KIND_FLAG = {
    NoticeKind.FILLED: "1",
    NoticeKind.CONFIRMED: "2",
    NoticeKind.REJECTED: "3",
    NoticeKind.ACCEPTED: "4",
}
ACTION_FLAG = {OrderAction.NEW: "1", OrderAction.AMEND: "2", OrderAction.CANCEL: "3"}
SIDE_FLAG = {Side.SELL: "1", Side.BUY: "2"}
ORDER_TYPE_FLAG = {
    OrderType.LIMIT: "01",
    OrderType.MARKET: "03",
    OrderType.CONDITIONAL: "05",
    OrderType.BEST: "12",
    OrderType.PRIORITY: "13",
    OrderType.OTHER: "02",
}
CONDITION_FLAG = {Condition.NONE: "0", Condition.IOC: "1", Condition.FOK: "2"}

# StockMst 45 소속 (char).
MARKET_CHAR = {
    Market.KOSPI: "1",
    Market.ETF: "1",
    Market.ETN: "1",
    Market.ELW: "1",
    Market.KOSDAQ: "5",
    Market.KONEX: "6",
}


def char(value: str) -> int:
    """A COM ``char`` field as pywin32 delivers it: the character's code as an int."""
    return ord(value)


def hhmm(moment: datetime) -> int:
    return moment.hour * 100 + moment.minute


def hhmmss(moment: datetime) -> int:
    return moment.hour * 10000 + moment.minute * 100 + moment.second


def yyyymmdd(day: date | None) -> int:
    return 0 if day is None else day.year * 10000 + day.month * 100 + day.day


def sign_flag(price: int, diff: int, upper: int, lower: int) -> str:
    """대비부호: '1' 상한, '2' 상승, '3' 보합, '4' 하한, '5' 하락."""
    if upper and price >= upper:
        return "1"
    if lower and price <= lower:
        return "4"
    if diff > 0:
        return "2"
    if diff < 0:
        return "5"
    return "3"


def stockcur_header(tick: Tick, name: str, instant_volume: int, quote: Quote | None) -> Header:
    """StockCur header fields for one venue tick."""
    upper = quote.upper if quote else 0
    lower = quote.lower if quote else 0
    return {
        0: com_code(tick.code),
        1: name,
        2: tick.diff,
        3: hhmm(tick.time),
        4: tick.price,
        5: tick.price,
        6: tick.price,
        7: tick.price,
        8: tick.price,
        9: tick.volume,
        10: 0,
        13: tick.price,
        14: char("1"),
        15: 0,
        16: 0,
        17: instant_volume,
        18: hhmmss(tick.time),
        19: char("1" if tick.expected else "2"),
        20: char("1" if tick.expected else "2"),
        21: 0,
        22: char(sign_flag(tick.price, tick.diff, upper, lower)),
        # 23–25 LP holdings (ELW only), 26–28 the 호가방식 state and running totals.
        23: 0,
        24: 0,
        25: 0.0,
        26: char("1"),
        27: 0,
        28: 0,
    }


def stockmst_header(quote: Quote, moment: datetime) -> Header:
    """StockMst header fields for one quote."""
    return {
        0: com_code(quote.code),
        1: quote.name,
        4: hhmm(moment),
        8: quote.upper,
        9: quote.lower,
        10: quote.base,
        11: quote.price,
        12: quote.diff,
        13: quote.price,
        14: quote.price,
        15: quote.price,
        16: quote.price,
        17: quote.price,
        18: quote.volume,
        27: quote.base,
        43: 1,
        45: char(MARKET_CHAR.get(quote.market, "1")),
        55: 0,
        56: 0,
        57: 0,
        58: char("0"),
        59: char("2"),
    }


MARKETEYE_NAMES = {
    0: "종목코드",
    1: "시간",
    2: "대비부호",
    3: "전일대비",
    4: "현재가",
    5: "시가",
    6: "고가",
    7: "저가",
    8: "매도호가",
    9: "매수호가",
    10: "거래량",
    11: "거래대금",
    12: "장구분",
    17: "종목명",
    23: "전일종가",
    33: "상한가",
    34: "하한가",
    35: "매매수량단위",
}


def marketeye_value(field: int, quote: Quote, moment: datetime, *, signed_diff: bool) -> object:
    """One MarketEye field of one code. 전일대비 (3) carries its sign only when 대비부호 (2) was
    requested with it — the reason the help says to request them together (an emulator
    assumption of what happens otherwise)."""
    values: dict[int, object] = {
        0: com_code(quote.code),
        1: hhmm(moment),
        2: char(sign_flag(quote.price, quote.diff, quote.upper, quote.lower)),
        3: quote.diff if signed_diff else abs(quote.diff),
        4: quote.price,
        5: quote.price,
        6: quote.price,
        7: quote.price,
        8: quote.price,
        9: quote.price,
        10: quote.volume,
        11: 0,
        12: char("2"),
        17: quote.name,
        23: quote.base,
        33: quote.upper,
        34: quote.lower,
        35: 1,
    }
    return values.get(field, 0)


def balance_columns(row: BalanceRow, name: str, price: int) -> dict[int, object]:
    """CpTd6033 data fields of one balance row, valued at ``price``."""
    book = Decimal(row.purchase_amount) / row.qty if row.qty else Decimal(0)
    valuation = price * row.qty
    pnl = valuation - row.purchase_amount
    rate = float(pnl * 100 / row.purchase_amount) if row.purchase_amount else 0.0
    return {
        0: name,
        1: char(CREDIT_CHAR[row.credit]),
        2: "" if row.loan_date is None else str(yyyymmdd(row.loan_date)),
        3: row.qty,
        4: int(book.to_integral_value(ROUND_HALF_UP)),
        5: row.qty,
        6: 0,
        7: row.qty,
        # 평가금액 and 평가손익 come truncated to 천원 (toward zero).
        9: valuation // 1000 * 1000,
        10: int(pnl / 1000) * 1000,
        11: rate,
        12: com_code(row.code),
        13: char("0"),
        15: row.sellable,
        16: "",
        17: float(book),
        18: int(book.to_integral_value(ROUND_HALF_UP)),
        19: "N",
    }


def conclusion_header(
    notice: OrderNotice,
    *,
    account_name: str,
    order_no: int,
    orig_order_no: int,
    post_qty: int,
    post_sellable: int,
    post_book_price: Decimal,
) -> Header:
    """Every CpConclusion header field of the current layout for one venue notice."""
    cash_or_credit = "1" if notice.credit is Credit.CASH else "2"
    return {
        1: account_name,
        2: notice.name,
        3: notice.qty,
        4: notice.price,
        5: order_no,
        6: orig_order_no,
        7: notice.account,
        8: GOODS_STOCK,
        9: com_code(notice.code),
        12: SIDE_FLAG[notice.side],
        14: KIND_FLAG[notice.kind],
        15: CREDIT_LOAN_CODE[notice.credit],
        16: ACTION_FLAG[notice.action],
        17: cash_or_credit,
        18: ORDER_TYPE_FLAG[notice.order_type],
        19: CONDITION_FLAG[notice.condition],
        20: yyyymmdd(notice.loan_date),
        21: int(post_book_price.to_integral_value(ROUND_HALF_UP)),
        22: post_sellable,
        23: post_qty,
    }
