"""KIS wire formats → domain events. The one place KIS payloads become domain values.

Covers WebSocket control messages (subscribe acks, PINGPONG), data frames (``H0STCNT0`` ticks,
encrypted ``H0STCNI0``/``H0STCNI9`` fill notices in both the 23- and 26-field layouts), and the
REST bodies of balance, quotes, orders and tokens. Every malformed input raises :class:`WireError`
with a message that says what was wrong; no other exception type escapes these functions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jango.brokers.port import BrokerError
from jango.domain.model import (
    KST,
    BalanceRow,
    Cash,
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
from jango.domain.ticks import new_tick, new_ticks

TICK_TR = "H0STCNT0"
NOTICE_TR_REAL = "H0STCNI0"
NOTICE_TR_PAPER = "H0STCNI9"
NOTICE_TRS = frozenset({NOTICE_TR_REAL, NOTICE_TR_PAPER})
PINGPONG = "PINGPONG"

# Order replies whose msg_cd means "that order is not open". kis.md lists no such code; this one
# is our assumption, shared with the sandbox, until a live capture names the real one.
NO_SUCH_ORDER_CODES = frozenset({"APBK0656"})

TICK_FIELDS = 46  # minimum record width; a 2026 spec adds a 47th field, so width comes from count
# Bounds on what one frame may hold. KIS sends at most a few dozen records per frame (the count is
# three digits), fields of at most 40 characters and numbers that fit in 20 digits; anything
# beyond is refused before it is split or converted, so no input can cost unbounded work.
MAX_FRAME_CHARS = 1_000_000
MAX_RECORDS = 999
MAX_FIELDS = 200_000
MAX_DIGITS = 20
NOTICE_FIELDS_OLD = 23
NOTICE_FIELDS_NEW = 26


class WireError(BrokerError):
    """A KIS payload that cannot be decoded: truncated, wrong field count, bad number, bad key."""


# ---------------------------------------------------------------------------------------------
# WebSocket frames


@dataclass(frozen=True, slots=True)
class Control:
    """A JSON control message: subscribe/unsubscribe ack, error, or PINGPONG keep-alive."""

    tr_id: str
    tr_key: str
    rt_cd: str
    msg_cd: str
    msg1: str
    key: str = ""  # AES key for the TR's data frames, when the ack carries one
    iv: str = ""

    @property
    def is_ping(self) -> bool:
        return self.tr_id == PINGPONG

    @property
    def ok(self) -> bool:
        # OPSP0002 "ALREADY IN SUBSCRIBE" leaves the registration in place: treat it as success.
        return self.rt_cd == "0" or self.msg_cd in ("OPSP0000", "OPSP0001", "OPSP0002")


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A data frame ``<enc>|<tr_id>|<count>|<payload>`` split but not yet decoded."""

    encrypted: bool
    tr_id: str
    count: int
    payload: str


def parse_frame(text: str) -> Control | DataFrame:
    """Split one WebSocket text frame into a control message or a data frame."""
    if not text:
        raise WireError("empty frame")
    if len(text) > MAX_FRAME_CHARS:
        raise WireError(f"frame of {len(text)} characters exceeds {MAX_FRAME_CHARS}")
    if text[0] == "{":
        return _parse_control(text)
    if text[0] not in "01":
        raise WireError(f"frame starts with {text[0]!r}, expected '{{', '0' or '1'")
    parts = text.split("|", 3)
    if len(parts) != 4:
        raise WireError(f"data frame has {len(parts)} '|' sections, expected 4")
    enc, tr_id, count_text, payload = parts
    if enc not in ("0", "1"):
        raise WireError(f"data frame encryption flag {enc!r} is not 0 or 1")
    if (
        not (count_text.isascii() and count_text.isdigit())
        or len(count_text) > 4
        or not 1 <= int(count_text) <= MAX_RECORDS
    ):
        raise WireError(
            f"data frame record count {count_text[:10]!r} is not a number from 1 to {MAX_RECORDS}"
        )
    if not tr_id:
        raise WireError("data frame has no tr_id")
    return DataFrame(enc == "1", tr_id, int(count_text), payload)


def _parse_control(text: str) -> Control:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"control message is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise WireError("control message is not a JSON object")
    header = message.get("header")
    if not isinstance(header, dict):
        raise WireError("control message has no header object")
    body = message.get("body")
    body = body if isinstance(body, dict) else {}
    output = body.get("output")
    output = output if isinstance(output, dict) else {}
    return Control(
        tr_id=_text(header.get("tr_id")),
        tr_key=_text(header.get("tr_key")),
        rt_cd=_text(body.get("rt_cd")),
        msg_cd=_text(body.get("msg_cd")),
        msg1=_text(body.get("msg1")).strip(),
        key=_text(output.get("key")),
        iv=_text(output.get("iv")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def decrypt(payload: str, key: str, iv: str) -> str:
    """Decrypt a notice payload: base64 → AES-256-CBC (key/iv from the ack) → PKCS#7 → UTF-8."""
    key_bytes = key.encode("utf-8")
    iv_bytes = iv.encode("utf-8")
    if len(key_bytes) != 32 or len(iv_bytes) != 16:
        raise WireError(
            f"AES key/iv must be 32/16 bytes, got {len(key_bytes)}/{len(iv_bytes)} "
            "(no subscribe ack with a key seen for this TR?)"
        )
    try:
        data = base64.b64decode(payload.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise WireError(f"encrypted payload is not base64: {exc}") from exc
    if not data or len(data) % 16:
        raise WireError(f"encrypted payload is {len(data)} bytes, not a positive multiple of 16")
    decryptor = Cipher(algorithms.AES(key_bytes), modes.CBC(iv_bytes)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise WireError("bad PKCS#7 padding after decryption (wrong key or iv?)") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("decrypted payload is not UTF-8 (wrong key or iv?)") from exc


def _records(payload: str, count: int, minimum: int, what: str) -> list[list[str]]:
    fields, width = _fields(payload, count, minimum, what)
    return [fields[i * width : (i + 1) * width] for i in range(count)]


def _fields(payload: str, count: int, minimum: int, what: str) -> tuple[list[str], int]:
    """Every field of the payload, split once, and the width of one of its records."""
    if not 1 <= count <= MAX_RECORDS:
        raise WireError(f"{what}: record count {count} is not from 1 to {MAX_RECORDS}")
    if len(payload) > MAX_FRAME_CHARS or payload.count("^") >= MAX_FIELDS:
        raise WireError(f"{what}: payload of {len(payload)} characters is too large")
    fields = payload.split("^")
    if len(fields) % count:
        raise WireError(f"{what}: {len(fields)} fields do not split into {count} records")
    width = len(fields) // count
    if width < minimum:
        raise WireError(f"{what}: records of {width} fields, expected at least {minimum}")
    return fields, width


def parse_ticks(payload: str, count: int, *, today: date) -> list[Tick]:
    """Decode an ``H0STCNT0`` payload of ``count`` records (46 fields each, or more).

    The payload is split once; of each record only what the book uses is converted (code,
    time, price, change, volume, session), the other fields stay text and are not read. Plain
    fields take a fast path (a code and a time seen before, unsigned digits); anything else
    goes through the strict checks, so both paths accept and refuse the same records.
    """
    fields, width = _fields(payload, count, TICK_FIELDS, TICK_TR)
    codes = _SEEN_CODES
    times = _SEEN_TIMES.get(today) or {}
    batch = _clean_frame(fields, width, codes, times)
    if batch is not None:
        return batch
    ticks = []
    for base in range(0, count * width, width):
        code = codes.get(fields[base])
        when = times.get(fields[base + 33] + "^" + fields[base + 1])
        price_text = fields[base + 2]
        diff_text = fields[base + 4]
        volume_text = fields[base + 13]
        negative = diff_text[:1] == "-"
        diff_digits = diff_text[1:] if negative else diff_text
        # One check for all three numbers: ASCII digits only, each 1 to MAX_DIGITS long.
        numbers = price_text + diff_digits + volume_text
        if (
            code is None
            or when is None
            or not (numbers.isascii() and numbers.isdigit())
            or not 0 < len(price_text) <= MAX_DIGITS
            or not 0 < len(diff_digits) <= MAX_DIGITS
            or not 0 < len(volume_text) <= MAX_DIGITS
        ):
            ticks.append(_checked_tick(fields[base : base + width], today))
            continue
        price = int(price_text)
        if price <= 0:
            ticks.append(_checked_tick(fields[base : base + width], today))
            continue
        diff = int(diff_digits)
        session = fields[base + 43]
        ticks.append(
            new_tick(
                code,
                price,
                -diff if negative else diff,
                int(volume_text),
                when,
                session != "0" and session.strip() not in ("", "0"),
            )
        )
    return ticks


def _clean_frame(
    fields: list[str], width: int, codes: dict[str, Code], times: dict[str, datetime]
) -> list[Tick] | None:
    """Every record of the frame decoded column by column in C, or ``None`` (the caller then
    decodes the records one by one) unless every record is plain: a code and a time seen
    before, one business date, numbers the strict checks read exactly as ``int`` does and a
    positive price. On those the strict checks give the same ticks (differential test)."""
    code_texts = fields[0::width]
    found = list(map(codes.get, code_texts))
    if None in found:
        return None
    days = fields[33::width]
    if days.count(days[0]) != len(days):
        return None
    whens = list(map(times.get, map((days[0] + "^").__add__, fields[1::width])))
    if None in whens:
        return None
    count = len(code_texts)
    # Prices, volumes and changes in one column: each an optional "-" then 1 to MAX_DIGITS
    # ASCII digits (with the "-" removed, "^^" would mean an empty number). The strict checks
    # read every such text as int() does (a negative price is then refused below; a negative
    # volume the strict checks take too).
    numbers = fields[2::width] + fields[13::width] + fields[4::width]
    joined = ("^" + "^".join(numbers) + "^").replace("^-", "^")
    if not (
        joined.isascii()
        and "^^" not in joined
        and joined.replace("^", "").isdigit()
        and max(map(len, numbers)) <= MAX_DIGITS
    ):
        return None
    values = list(map(int, numbers))
    prices = values[:count]
    if min(prices) <= 0:
        return None
    sessions = fields[43::width]
    expected: list[bool] | bool = (
        False
        if sessions.count("0") == len(sessions)
        else [s != "0" and s.strip() not in ("", "0") for s in sessions]
    )
    return new_ticks(
        cast("list[Code]", found),  # no None in it (checked above)
        prices,
        values[2 * count :],
        values[count : 2 * count],
        cast("list[datetime]", whens),
        expected,
    )


# Codes, and times by today and "BSOP_DATE^STCK_CNTG_HOUR", that passed the strict checks once; most
# records repeat both. Bounded, so a stream of distinct garbage cannot grow them.
_SEEN_CODES: dict[str, Code] = {}
_SEEN_TIMES: dict[date, dict[str, datetime]] = {}
_SEEN_MAX = 4096


def _checked_tick(record: Sequence[str], today: date) -> Tick:
    """One tick record through every check, remembering its code and time for the fast path."""
    code = _code(record[0])
    price = _int(record[2], "STCK_PRPR")
    if price <= 0:
        raise WireError(f"{TICK_TR} {code}: price {price} is not positive")
    business_day = _date(record[33], "BSOP_DATE") if record[33].strip() else today
    diff = _int(record[4], "PRDY_VRSS")
    volume = _int(record[13], "ACML_VOL")
    when = datetime.combine(business_day, _hhmmss(record[1], "STCK_CNTG_HOUR"), KST)
    if len(_SEEN_CODES) >= _SEEN_MAX:
        _SEEN_CODES.clear()
    times = _SEEN_TIMES.get(today)
    if times is None or len(times) >= _SEEN_MAX:
        _SEEN_TIMES.clear()  # a new day: the old day's times are not asked for again
        times = _SEEN_TIMES[today] = {}
    _SEEN_CODES[record[0]] = code
    times[record[33] + "^" + record[1]] = when
    return Tick(
        code=code,
        price=price,
        diff=diff,
        volume=volume,
        time=when,
        # HOUR_CLS_CODE "0" is continuous trading; A–D are auction (expected) phases.
        expected=record[43].strip() not in ("", "0"),
    )


_NOTICE_CREDIT = {
    "": Credit.CASH,
    "00": Credit.CASH,
    "10": Credit.CASH,  # the spec's notice examples carry 10 on ordinary cash orders
    "21": Credit.MARGIN_SELF,
    "25": Credit.MARGIN_SELF,
    "23": Credit.MARGIN_KSFC,
    "27": Credit.MARGIN_KSFC,
    "24": Credit.SHORT_SELF,
    "28": Credit.SHORT_SELF,
    "22": Credit.SHORT_KSFC,
    "26": Credit.SHORT_KSFC,
}

_ORDER_KINDS: dict[str, tuple[OrderType, Condition]] = {
    "00": (OrderType.LIMIT, Condition.NONE),
    "01": (OrderType.MARKET, Condition.NONE),
    "02": (OrderType.CONDITIONAL, Condition.NONE),
    "03": (OrderType.BEST, Condition.NONE),
    "04": (OrderType.PRIORITY, Condition.NONE),
    "11": (OrderType.LIMIT, Condition.IOC),
    "12": (OrderType.LIMIT, Condition.FOK),
    "13": (OrderType.MARKET, Condition.IOC),
    "14": (OrderType.MARKET, Condition.FOK),
    "15": (OrderType.BEST, Condition.IOC),
    "16": (OrderType.BEST, Condition.FOK),
}
_ORDER_DIVISIONS = {value: key for key, value in _ORDER_KINDS.items()}


def notice_credit(code: str) -> Credit:
    """The credit type of a notice's CRDT_CLS code; unknown codes are ``Credit.OTHER``."""
    return _NOTICE_CREDIT.get(code.strip(), Credit.OTHER)


def order_division(order_type: OrderType, condition: Condition) -> str:
    """The ``ORD_DVSN`` code for an order type and condition; raise WireError if KIS has none."""
    try:
        return _ORDER_DIVISIONS[(order_type, condition)]
    except KeyError:
        raise WireError(f"KIS has no ORD_DVSN for {order_type} with {condition}") from None


def parse_notices(plain: str, count: int, *, today: date) -> list[OrderNotice]:
    """Decode a decrypted fill-notice payload (23- or 26-field records) into OrderNotices."""
    notices = []
    for record in _records(plain, count, NOTICE_FIELDS_OLD, "fill notice"):
        notices.append(_notice(record, today))
    return notices


def _notice(record: Sequence[str], today: date) -> OrderNotice:
    # Indices 0–17 are the same in both layouts; the trailing credit/name/price fields moved
    # when 2025 inserted four fields, so locate them from the end of the record.
    if len(record) >= NOTICE_FIELDS_NEW:
        credit_code, loan_text, name = record[22], record[23], record[24]
    else:
        credit_code, loan_text, name = record[19], record[20], record[21]
    side = {"01": Side.SELL, "02": Side.BUY}.get(record[4].strip())
    if side is None:
        raise WireError(f"SELN_BYOV_CLS {record[4]!r} is not 01 (sell) or 02 (buy)")
    action = {"0": OrderAction.NEW, "1": OrderAction.AMEND, "2": OrderAction.CANCEL}.get(
        record[5].strip()
    )
    if action is None:
        raise WireError(f"RCTF_CLS {record[5]!r} is not 0, 1 or 2")
    refused, filled, accept = record[12].strip(), record[13].strip(), record[14].strip()
    if refused not in ("0", "1") or filled not in ("1", "2"):
        raise WireError(f"RFUS_YN {refused!r} / CNTG_YN {filled!r} out of range")
    orig = record[3].strip()
    if refused == "1":
        kind = NoticeKind.REJECTED
    elif filled == "2":
        kind = NoticeKind.FILLED
    elif accept == "1":
        kind = NoticeKind.ACCEPTED
    elif accept == "2":
        kind = NoticeKind.CONFIRMED
    elif accept == "3":
        # An IOC/FOK remainder cancelled by the exchange: the order cancels itself.
        kind, action = NoticeKind.CONFIRMED, OrderAction.CANCEL
        orig = orig or record[2].strip()
    else:
        raise WireError(f"ACPT_YN {accept!r} is not 1, 2 or 3")
    order_type, kind_condition = _ORDER_KINDS.get(record[6].strip(), (OrderType.OTHER, None))
    condition = {"0": Condition.NONE, "1": Condition.IOC, "2": Condition.FOK}.get(
        record[7].strip(), kind_condition or Condition.NONE
    )
    qty = _int(record[9], "CNTG_QTY")
    if kind is not NoticeKind.FILLED and qty == 0:
        qty = _int(record[16], "ODER_QTY")
    try:
        return OrderNotice(
            account=_digits(record[1], "ACNT_NO"),
            kind=kind,
            action=action,
            side=side,
            code=_code(record[8]),
            order_no=record[2].strip(),
            qty=qty,
            price=_int(record[10], "CNTG_UNPR"),
            time=datetime.combine(today, _hhmmss(record[11], "STCK_CNTG_HOUR"), KST),
            orig_order_no=orig,
            credit=notice_credit(credit_code),
            loan_date=_loan_date(loan_text),
            order_type=order_type,
            condition=condition,
            name=name.strip(),
        )
    except DomainError as exc:
        raise WireError(f"fill notice: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# REST bodies


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token and the moment KIS says it expires (``access_token_token_expired``)."""

    token: str
    expires: datetime


def parse_token(body: Mapping[str, Any]) -> IssuedToken:
    """Decode a ``/oauth2/tokenP`` reply; expiry from the KST timestamp, not expires_in."""
    token = body.get("access_token")
    stamp = body.get("access_token_token_expired")
    if not isinstance(token, str) or not token or not isinstance(stamp, str):
        raise WireError("token reply lacks access_token or access_token_token_expired")
    try:
        expires = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
    except ValueError as exc:
        raise WireError(f"access_token_token_expired {stamp!r} is not YYYY-MM-DD HH:MM:SS") from exc
    return IssuedToken(token, expires)


_CREDIT_NAMES = (
    ("현금", Credit.CASH),
    ("보통", Credit.CASH),
    ("자기융자", Credit.MARGIN_SELF),
    ("유통융자", Credit.MARGIN_KSFC),
    ("자기대주", Credit.SHORT_SELF),
    ("유통대주", Credit.SHORT_KSFC),
    ("매입담보", Credit.PURCHASE_LOAN),
    ("주식담보", Credit.STOCK_LOAN),
    ("예탁담보", Credit.STOCK_LOAN),
    ("담보대출", Credit.STOCK_LOAN),
)


def balance_credit(name: str) -> Credit:
    """The credit type of a balance row's ``trad_dvsn_name``; unknown names are ``Credit.OTHER``."""
    text = name.strip()
    for prefix, credit in _CREDIT_NAMES:
        if text.startswith(prefix):
            return credit
    return Credit.OTHER


def parse_balance_rows(account: str, output1: object) -> list[BalanceRow]:
    """Decode ``output1`` of inquire-balance; rows with zero quantity (sold, unsettled) dropped."""
    rows = []
    for item in _objects(output1, "output1"):
        qty = _int(_field(item, "hldg_qty"), "hldg_qty")
        if qty == 0:
            continue
        try:
            rows.append(
                BalanceRow(
                    account=account,
                    code=_code(_field(item, "pdno")),
                    qty=qty,
                    sellable=_int(_field(item, "ord_psbl_qty"), "ord_psbl_qty"),
                    purchase_amount=_int(_field(item, "pchs_amt"), "pchs_amt"),
                    credit=balance_credit(_field(item, "trad_dvsn_name")),
                    loan_date=_loan_date(_text(item.get("loan_dt"))),
                    name=_text(item.get("prdt_name")).strip(),
                    price=_int(_text(item.get("prpr")) or "0", "prpr"),
                    loan_amount=_int(_text(item.get("loan_amt")) or "0", "loan_amt"),
                )
            )
        except DomainError as exc:
            raise WireError(f"balance row: {exc}") from exc
    return rows


def parse_cash(output2: object) -> Cash:
    """Cash from ``output2`` (repeated on every page: the first element is used, never summed).

    ``nxdy_excc_amt`` is D+1 (익일정산금액), ``prvs_rcdl_excc_amt`` D+2 (가수도정산금액)."""
    items = _objects(output2, "output2")
    if not items:
        raise WireError("output2 is empty: no account totals in the balance reply")
    first = items[0]
    d1 = _text(first.get("nxdy_excc_amt"))
    return Cash(
        deposit=_int(_field(first, "dnca_tot_amt"), "dnca_tot_amt"),
        d2=_int(_field(first, "prvs_rcdl_excc_amt"), "prvs_rcdl_excc_amt"),
        d1=_int(d1, "nxdy_excc_amt") if d1.strip() else None,
    )


def _market(name: str) -> Market:
    text = name.upper()
    for key, market in (
        ("KOSDAQ", Market.KOSDAQ),
        ("KSQ", Market.KOSDAQ),
        ("KONEX", Market.KONEX),
        ("ETF", Market.ETF),
        ("ETN", Market.ETN),
        ("ELW", Market.ELW),
        ("KOSPI", Market.KOSPI),
        ("KRX", Market.KOSPI),
    ):
        if key in text:
            return market
    return Market.UNKNOWN


def parse_price(output: object, code: Code) -> Quote:
    """Decode ``output`` of inquire-price. KIS sends no stock name there, so ``name`` is empty."""
    if not isinstance(output, Mapping):
        raise WireError("inquire-price output is not an object")
    return Quote(
        code=code,
        price=_int(_field(output, "stck_prpr"), "stck_prpr"),
        diff=_int(_field(output, "prdy_vrss"), "prdy_vrss"),
        volume=_int(_field(output, "acml_vol"), "acml_vol"),
        base=_int(_text(output.get("stck_sdpr")) or "0", "stck_sdpr"),
        upper=_int(_text(output.get("stck_mxpr")) or "0", "stck_mxpr"),
        lower=_int(_text(output.get("stck_llam")) or "0", "stck_llam"),
        market=_market(_text(output.get("rprs_mrkt_kor_name"))),
    )


def parse_multprice(output: object) -> list[Quote]:
    """Decode ``output`` of intstock-multprice: one object per code (an array in practice)."""
    items = [output] if isinstance(output, Mapping) else _objects(output, "output")
    return [
        Quote(
            code=_code(_field(item, "inter_shrn_iscd")),
            price=_int(_field(item, "inter2_prpr"), "inter2_prpr"),
            diff=_int(_field(item, "inter2_prdy_vrss"), "inter2_prdy_vrss"),
            volume=_int(_field(item, "acml_vol"), "acml_vol"),
            base=_int(_text(item.get("inter2_sdpr")) or "0", "inter2_sdpr"),
            upper=_int(_text(item.get("inter2_mxpr")) or "0", "inter2_mxpr"),
            lower=_int(_text(item.get("inter2_llam")) or "0", "inter2_llam"),
            name=_text(item.get("inter_kor_isnm")).strip(),
            market=_market(_text(item.get("kospi_kosdaq_cls_name"))),
        )
        for item in items
    ]


@dataclass(frozen=True, slots=True)
class OrderReply:
    """The ``output`` of order-cash / order-rvsecncl."""

    branch: str  # KRX_FWDG_ORD_ORGNO, needed to amend or cancel the order later
    order_no: str  # ODNO
    time: datetime


def parse_order_reply(output: object, *, today: date) -> OrderReply:
    """Decode an order reply's ``output`` (upper-case keys)."""
    if not isinstance(output, Mapping):
        raise WireError("order reply output is not an object")
    order_no = _field(output, "ODNO").strip()
    if not order_no:
        raise WireError("order reply has an empty ODNO")
    stamp = _text(output.get("ORD_TMD"))
    moment = _hhmmss(stamp, "ORD_TMD") if stamp.strip() else time(0, 0)
    return OrderReply(
        branch=_text(output.get("KRX_FWDG_ORD_ORGNO")).strip(),
        order_no=order_no,
        time=datetime.combine(today, moment, KST),
    )


# ---------------------------------------------------------------------------------------------
# Field helpers


def _objects(value: object, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise WireError(f"{what} is not a list of objects")
    return value


def _field(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise WireError(f"field {name} missing or not a string")
    return value


def _int(text: str, name: str) -> int:
    value = text.strip()
    if len(value) > 2 * MAX_DIGITS:
        raise WireError(f"{name} has {len(value)} characters; a number has at most {MAX_DIGITS}")
    body = value[1:] if value[:1] in "+-" else value
    if not body or not (body.isascii() and body.isdigit()):
        # KIS sends whole won and shares; "12.00"-style decimals only ever carry zeros.
        whole, dot, fraction = body.partition(".")
        if not (dot and whole.isascii() and whole.isdigit() and fraction.strip("0") == ""):
            raise WireError(f"{name} {text[:30]!r} is not a whole number")
        body = whole
    if len(body.lstrip("0")) > MAX_DIGITS:
        raise WireError(f"{name} {text[:30]!r}… has more than {MAX_DIGITS} digits")
    number = int(body)
    return -number if value.startswith("-") else number


def _digits(text: str, name: str) -> str:
    value = text.strip()
    if len(value) > MAX_DIGITS:
        raise WireError(f"{name} has {len(value)} characters, more than {MAX_DIGITS}")
    if not value or not (value.isascii() and value.isdigit()):
        raise WireError(f"{name} {text!r} is not digits")
    return value


def _code(text: str) -> Code:
    try:
        return parse_code(text.strip())
    except DomainError as exc:
        raise WireError(str(exc)) from exc


def _hhmmss(text: str, name: str) -> time:
    value = text.strip()
    if len(value) != 6 or not (value.isascii() and value.isdigit()):
        raise WireError(f"{name} {text!r} is not HHMMSS")
    try:
        return time(int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError as exc:
        raise WireError(f"{name} {text!r} is not a time of day") from exc


def _date(text: str, name: str) -> date:
    value = text.strip()
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        raise WireError(f"{name} {text!r} is not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise WireError(f"{name} {text!r} is not a calendar date") from exc


def _loan_date(text: str) -> date | None:
    value = text.strip()
    if not value or value.strip("0") == "":
        return None
    return _date(value, "loan date")


# ---------------------------------------------------------------------------------------------
# Orders of the day and product info


@dataclass(frozen=True, slots=True)
class DayOrderRow:
    """One row of inquire-daily-ccld (or inquire-psbl-rvsecncl): an order number of the day."""

    state: OrderState
    branch: str  # ord_gno_brno: the KRX_FWDG_ORD_ORGNO an amend or cancel must name
    cancel_request: bool  # a cancel order's own row (cncl_yn Y), not an order that trades


_SIDES = {"01": Side.SELL, "02": Side.BUY}


def parse_daily_orders(account: str, output1: object, *, today: date) -> list[DayOrderRow]:
    """Decode ``output1`` of inquire-daily-ccld: filled watermark ``tot_ccld_qty``, remaining
    ``rmn_qty``; the credit type comes from the side name (현금매수, 자기융자매도, …)."""
    rows = []
    for item in _objects(output1, "output1"):
        side = _SIDES.get(_field(item, "sll_buy_dvsn_cd").strip())
        if side is None:
            raise WireError(f"sll_buy_dvsn_cd {item.get('sll_buy_dvsn_cd')!r} is not 01 or 02")
        stamp = _text(item.get("ord_dt")).strip()
        day = _date(stamp, "ord_dt") if stamp else today
        kind = _text(item.get("ord_dvsn_cd")).strip()
        order_type, condition = _ORDER_KINDS.get(kind, (OrderType.OTHER, Condition.NONE))
        qty = _int(_field(item, "ord_qty"), "ord_qty")
        filled = _int(_field(item, "tot_ccld_qty"), "tot_ccld_qty")
        remaining = _int(_text(item.get("rmn_qty")) or "0", "rmn_qty")
        try:
            state = OrderState(
                account=account,
                order_no=_digits(_field(item, "odno"), "odno"),
                code=_code(_field(item, "pdno")),
                side=side,
                qty=qty,
                filled=filled,
                remaining=min(remaining, max(0, qty - filled)),
                price=_int(_text(item.get("ord_unpr")) or "0", "ord_unpr"),
                time=datetime.combine(day, _hhmmss(_field(item, "ord_tmd"), "ord_tmd"), KST),
                orig_order_no=_text(item.get("orgn_odno")).strip(),
                credit=balance_credit(_text(item.get("sll_buy_dvsn_cd_name"))),
                loan_date=_loan_date(_text(item.get("loan_dt"))),
                order_type=order_type,
                condition=condition,
            )
        except DomainError as exc:
            raise WireError(f"daily order row: {exc}") from exc
        rows.append(
            DayOrderRow(
                state,
                _text(item.get("ord_gno_brno")).strip(),
                _text(item.get("cncl_yn")).strip().upper() == "Y",
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """One row of inquire-psbl-rvsecncl: an order that can still be amended or cancelled."""

    order_no: str
    branch: str
    amendable: int  # psbl_qty
    filled: int


def parse_pending(output: object) -> list[PendingOrder]:
    """Decode ``output`` of inquire-psbl-rvsecncl."""
    return [
        PendingOrder(
            order_no=_digits(_field(item, "odno"), "odno"),
            branch=_field(item, "ord_gno_brno").strip(),
            amendable=_int(_field(item, "psbl_qty"), "psbl_qty"),
            filled=_int(_text(item.get("tot_ccld_qty")) or "0", "tot_ccld_qty"),
        )
        for item in _objects(output, "output")
    ]


_GROUP_MARKETS = {"EF": Market.ETF, "EN": Market.ETN, "EW": Market.ELW}
_MARKET_IDS = {"STK": Market.KOSPI, "KSQ": Market.KOSDAQ, "KNX": Market.KONEX}


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What a product-info lookup says about a code: its name and market (UNKNOWN if unsaid)."""

    name: str
    market: Market


def parse_stock_info(output: object) -> ProductInfo:
    """Decode ``output`` of search-stock-info (CTPF1002R): the security group (ETF/ETN/ELW)
    wins over the listing market (an ETF lists on KOSPI but is untaxed)."""
    if not isinstance(output, Mapping):
        raise WireError("search-stock-info output is not an object")
    group = _text(output.get("scty_grp_id_cd")).strip().upper()
    market = _GROUP_MARKETS.get(group)
    if market is None and _text(output.get("etf_dvsn_cd")).strip() not in ("", "0"):
        market = Market.ETF
    if market is None:
        market = _MARKET_IDS.get(_text(output.get("mket_id_cd")).strip().upper(), Market.UNKNOWN)
    name = _text(output.get("prdt_abrv_name")).strip() or _text(output.get("prdt_name")).strip()
    return ProductInfo(name, market)


def parse_product_info(output: object) -> ProductInfo:
    """Decode ``output`` of search-info (CTPF1604R): the product class names ETF/ETN/ELW; a
    plain stock (주권) says nothing of KOSPI or KOSDAQ, so its market stays UNKNOWN here."""
    if not isinstance(output, Mapping):
        raise WireError("search-info output is not an object")
    text = _text(output.get("prdt_clsf_name")).upper()
    market = Market.UNKNOWN
    for key, value in (("ETF", Market.ETF), ("ETN", Market.ETN), ("ELW", Market.ELW)):
        if key in text:
            market = value
    name = _text(output.get("prdt_abrv_name")).strip() or _text(output.get("prdt_name")).strip()
    return ProductInfo(name, market)


TradedKey = tuple[Code, Credit, date | None]


def parse_traded_today(output1: object) -> dict[TradedKey, tuple[int, int]]:
    """Today's filled shares per balance row (``thdt_buyqty``, ``thdt_sll_qty``), rows sold out
    today included: what the balance holds of today's fills, to check order watermarks by."""
    traded: dict[TradedKey, tuple[int, int]] = {}
    for item in _objects(output1, "output1"):
        key = (
            _code(_field(item, "pdno")),
            balance_credit(_text(item.get("trad_dvsn_name"))),
            _loan_date(_text(item.get("loan_dt"))),
        )
        bought = _int(_text(item.get("thdt_buyqty")) or "0", "thdt_buyqty")
        sold = _int(_text(item.get("thdt_sll_qty")) or "0", "thdt_sll_qty")
        before = traded.get(key, (0, 0))
        traded[key] = (before[0] + bought, before[1] + sold)
    return traded
