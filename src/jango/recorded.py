"""The recorded event format: JSON Lines, one domain event per line (``docs/recorded-format.md``).

A file may start with a header ``{"type":"header","format":"jango-events","version":1}``; every
other line is a ``snapshot``, ``tick`` or ``notice`` object. Money and quantities are JSON
integers, codes are strings, dates ``YYYY-MM-DD``, times ISO-8601 with an offset (written as
``+09:00``), enums their value strings, and a book price a decimal string. Parsing is strict:
a wrong type, an unknown field or an unknown enum value is a :class:`RecordError` naming the
field, so a recording never changes meaning silently.

Input is bounded before it is trusted: a line's length, its JSON nesting depth (checked before
the decoder recurses), the digits of a number, the range of a date or time and the size of a
book price all have limits, and text must be valid UTF-8 without lone surrogates. Whatever the
input, the reader raises (or yields) only :class:`RecordError`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any, Literal, TypeVar

import msgspec

from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Condition,
    Credit,
    DomainError,
    Event,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    OrderType,
    Side,
    Tick,
    parse_code,
)
from jango.domain.ticks import new_tick

FORMAT = "jango-events"
VERSION = 1

# The limits below are far beyond anything a broker sends, and far below what would hurt: a
# snapshot of a thousand rows and orders is a few hundred KB; the format nests three levels
# (snapshot, rows, row) plus room for an annotation object; won amounts and share counts fit in
# 18 digits (and in SQLite's 64-bit integers); Python refuses integers over 4,300 digits.
MAX_LINE = 4 * 1024 * 1024
"""Longest line, in bytes of UTF-8 (a longer line is one :class:`RecordError`)."""
MAX_DEPTH = 8
"""Deepest nesting of JSON objects and lists on one line."""
MAX_DIGITS = 18
"""Most digits in a JSON integer; 19 and more are refused before conversion."""
FIRST_YEAR, LAST_YEAR = 1990, 2100
"""Dates and times outside these years are refused (they are typos or corrupted bytes)."""
MAX_OFFSET = timedelta(hours=14)
"""Largest UTC offset of a time (the widest real time zones are UTC-12 and UTC+14)."""
_MAX_NUMBER_TEXT = 64  # a float's text, which is never valid but must still be named

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A book price: at most 15 integer and 30 fraction digits, room for a Decimal division's 28
# significant digits (what brokers and the venue write) and no more.
_DECIMAL_RE = re.compile(r"^\d{1,15}(\.\d{1,30})?$")
# A JSON string (possibly unterminated) or a bracket; possessive, so scanning stays linear.
_TOKEN_RE = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class JournalMark:
    """Where an exported event stood in its journal: its sequence number (its identity on
    replay) and, for journals from before the order-state fence, whether a snapshot was judged
    to hold it already."""

    seq: int
    reflected: bool = False


class RecordError(ValueError):
    """A line that is not a valid recorded event; ``field`` names the offending field, if any.

    :func:`read_events` sets ``line`` to the (1-based) line number the error belongs to.
    """

    def __init__(self, message: str, field: str = "", line: int | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.line = line


class _Oversized:
    """A JSON number too long to convert; the field that holds it reports the error."""

    __slots__ = ("size",)

    def __init__(self, size: str) -> None:
        self.size = size


def _parse_int(text: str) -> int | _Oversized:
    digits = len(text) - text.startswith("-")
    return _Oversized(f"{digits} digits") if digits > MAX_DIGITS else int(text)


def _parse_float(text: str) -> float | _Oversized:
    if len(text) > _MAX_NUMBER_TEXT:
        return _Oversized(f"{len(text)} characters")
    return float(text)


def _printable(text: str) -> str:
    """``text`` with lone surrogates escaped, so a message about it can always be printed."""
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- reading ------------------------------------------------------------------------------


class _Fields:
    """Typed, checked access to one JSON object; refuses fields nobody asked for."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "", read: Iterable[str] = ()) -> None:
        self._raw = raw
        self._prefix = prefix
        self._seen: set[str] = set(read)

    def name(self, key: str) -> str:
        return self._prefix + key

    def _typed(self, key: str, kind: type, label: str, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._raw:
            if required:
                raise RecordError("missing", self.name(key))
            return None
        value = self._raw[key]
        if value is None:
            if required:
                raise RecordError(f"must be {label}, got null", self.name(key))
            return None
        if isinstance(value, _Oversized):
            raise RecordError(
                f"must be {label}, got a number of {value.size} (at most {MAX_DIGITS} digits)",
                self.name(key),
            )
        # bool is a subclass of int in Python but never a valid quantity or amount.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise RecordError(f"must be {label}, got {_json_type(value)}", self.name(key))
        if isinstance(value, str):
            surrogate = _SURROGATE_RE.search(value)
            if surrogate:
                raise RecordError(
                    f"lone surrogate \\u{ord(surrogate.group()):04x} is not text",
                    self.name(key),
                )
        return value

    def integer(self, key: str, *, minimum: int | None = 0) -> int:
        return self._at_least(key, self._typed(key, int, "an integer", True), minimum)

    def has(self, key: str) -> bool:
        return key in self._raw

    def value(self, key: str) -> Any:
        """The raw value of a field already read and checked."""
        return self._raw[key]

    def opt_signed(self, key: str) -> int | None:
        value: int | None = self._typed(key, int, "an integer", False)
        return value

    def opt_integer(self, key: str) -> int | None:
        value = self._typed(key, int, "an integer", False)
        return None if value is None else self._at_least(key, value, 0)

    def _at_least(self, key: str, value: int, minimum: int | None) -> int:
        if minimum is not None and value < minimum:
            raise RecordError(f"must be at least {minimum}, got {value}", self.name(key))
        return value

    def text(self, key: str, *, nonempty: bool = False) -> str:
        value: str = self._typed(key, str, "a string", True)
        if nonempty and not value:
            raise RecordError("must not be empty", self.name(key))
        return value

    def opt_text(self, key: str) -> str:
        value: str | None = self._typed(key, str, "a string", False)
        return value or ""

    def flag(self, key: str) -> bool:
        value: bool | None = self._typed(key, bool, "true or false", False)
        return bool(value)

    def code(self, key: str) -> Code:
        try:
            return parse_code(self._typed(key, str, "a string", True))
        except DomainError as exc:
            raise RecordError(str(exc), self.name(key)) from None

    def enum(self, key: str, kind: type[_E]) -> _E:
        return self._member(key, kind, self._typed(key, str, "a string", True))

    def opt_enum(self, key: str, kind: type[_E], default: _E) -> _E:
        value = self._typed(key, str, "a string", False)
        return default if value is None else self._member(key, kind, value)

    def _member(self, key: str, kind: type[_E], value: str) -> _E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise RecordError(
                f"unknown value {value!r} (one of {allowed})", self.name(key)
            ) from None

    def moment(self, key: str) -> datetime:
        value: str = self._typed(key, str, "a string", True)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(f"not an ISO-8601 time: {value!r}", self.name(key)) from None
        offset = moment.utcoffset()
        if offset is None:
            raise RecordError(f"time needs an offset such as +09:00: {value!r}", self.name(key))
        if abs(offset) > MAX_OFFSET:
            raise RecordError(f"offset beyond ±14:00: {value!r}", self.name(key))
        # Checked before converting: year 1 at +14:00 would overflow in astimezone.
        self._in_range(key, moment.year, value)
        return moment.astimezone(KST)

    def _in_range(self, key: str, year: int, value: str) -> None:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise RecordError(
                f"year {year} is outside {FIRST_YEAR}–{LAST_YEAR}: {value!r}", self.name(key)
            )

    def opt_day(self, key: str) -> date | None:
        value: str | None = self._typed(key, str, "a string", False)
        if value is None:
            return None
        try:
            # fromisoformat alone would also take 20260304; the format promises YYYY-MM-DD.
            if not _DATE_RE.match(value):
                raise ValueError(value)
            day = date.fromisoformat(value)
        except ValueError:
            raise RecordError(f"not a YYYY-MM-DD date: {value!r}", self.name(key)) from None
        self._in_range(key, day.year, value)
        return day

    def loan_date(self, credit: Credit) -> date | None:
        """The loan date of a holding or order; a cash one has none (a cash row is one row)."""
        day = self.opt_day("loan_date")
        if day is not None and credit is Credit.CASH:
            raise RecordError("a cash holding has no loan date", self.name("loan_date"))
        return day

    def opt_decimal(self, key: str) -> Decimal | None:
        value: str | None = self._typed(key, str, "a decimal string", False)
        if value is None:
            return None
        if not _DECIMAL_RE.match(value):
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise RecordError(
                "not a plain decimal such as '71350.5' (at most 15 digits, 30 after the point): "
                f"{shown!r}",
                self.name(key),
            )
        return Decimal(value)

    def child(self, key: str) -> _Fields:
        return _Fields(self._typed(key, dict, "an object", True), self.name(key) + ".")

    def children(self, key: str) -> list[_Fields]:
        items: list[Any] = self._typed(key, list, "a list", True)
        out = []
        for i, item in enumerate(items):
            name = f"{self.name(key)}[{i}]"
            if not isinstance(item, dict):
                raise RecordError(f"must be an object, got {_json_type(item)}", name)
            out.append(_Fields(item, name + "."))
        return out

    def done(self) -> None:
        """Refuse fields that were not read: a typo must not silently fall back to a default."""
        extra = sorted(set(self._raw) - self._seen)
        if extra:
            raise RecordError("unknown field", _printable(self.name(extra[0])))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, _Oversized):
        return f"a number of {value.size}"
    return "an object"


def _parse_snapshot(f: _Fields) -> BalanceSnapshot:
    account = f.text("account", nonempty=True)
    cash_fields = f.child("cash")
    cash = Cash(
        deposit=cash_fields.integer("deposit", minimum=None),
        d2=cash_fields.integer("d2", minimum=None),
        d1=cash_fields.opt_signed("d1"),
    )
    cash_fields.done()
    orders = None
    if f.has("orders"):
        orders = tuple(_parse_order(account, order) for order in f.children("orders"))
    return _build(
        f,
        lambda: BalanceSnapshot(
            account=account,
            rows=tuple(_parse_row(account, row) for row in f.children("rows")),
            cash=cash,
            time=f.moment("time"),
            source=f.opt_text("source"),
            orders=orders,
        ),
    )


def _parse_order(account: str, f: _Fields) -> OrderState:
    credit = f.opt_enum("credit", Credit, Credit.CASH)
    order = _build(
        f,
        lambda: OrderState(
            account=account,
            order_no=f.text("order_no", nonempty=True),
            code=f.code("code"),
            side=f.enum("side", Side),
            qty=f.integer("qty"),
            filled=f.integer("filled"),
            remaining=f.integer("remaining"),
            price=f.integer("price"),
            time=f.moment("time"),
            orig_order_no=f.opt_text("orig_order_no"),
            credit=credit,
            loan_date=f.loan_date(credit),
            order_type=f.opt_enum("order_type", OrderType, OrderType.LIMIT),
            condition=f.opt_enum("condition", Condition, Condition.NONE),
        ),
    )
    f.done()
    return order


def _parse_row(account: str, f: _Fields) -> BalanceRow:
    credit = f.opt_enum("credit", Credit, Credit.CASH)
    row = _build(
        f,
        lambda: BalanceRow(
            account=account,
            code=f.code("code"),
            qty=f.integer("qty"),
            sellable=f.integer("sellable"),
            purchase_amount=f.integer("purchase_amount"),
            credit=credit,
            loan_date=f.loan_date(credit),
            name=f.opt_text("name"),
            market=f.opt_enum("market", Market, Market.UNKNOWN),
            price=f.opt_integer("price") or 0,
            loan_amount=f.opt_integer("loan_amount") or 0,
        ),
    )
    f.done()
    return row


def _parse_tick(f: _Fields) -> Tick:
    tick = Tick(
        code=f.code("code"),
        price=f.integer("price", minimum=1),
        diff=f.integer("diff", minimum=None),
        volume=f.integer("volume"),
        time=f.moment("time"),
        expected=f.flag("expected"),
    )
    # Remembered for the fast path: the next line with the same code or time text needs no
    # checks of them (see _fast_tick).
    _remember(f.value("code"), tick.code, f.value("time"), tick.time)
    return tick


def _remember(code_text: str, code: Code, time_text: str, when: datetime) -> None:
    """Remember a code and a time text the strict checks took. Bounded; cleared when full."""
    if len(_SEEN_CODES) >= _SEEN_MAX or len(_SEEN_TIMES) >= _SEEN_MAX:
        _SEEN_CODES.clear()
        _SEEN_TIMES.clear()
    _SEEN_CODES[code_text] = code
    _SEEN_TIMES[time_text] = when


def _checked(code_text: str, time_text: str) -> tuple[Code, datetime] | None:
    """The code and time the strict reader's own field checks make of these texts (and then
    remembered), or ``None`` if it refuses either."""
    fields = _Fields({"code": code_text, "time": time_text})
    try:
        code, when = fields.code("code"), fields.moment("time")
    except RecordError:
        return None
    _remember(code_text, code, time_text, when)
    return code, when


# --- the fast path for tick lines ----------------------------------------------------------
#
# Ticks are nearly every line of a recording and a journal. A tick line is first decoded by
# msgspec into a typed struct (C speed, no dict walk); it is taken only if everything the strict
# reader checks is already known to pass: exact field set, integers in range, a code and a
# time text the strict reader accepted before. Anything else (a new code or time, a duplicate
# key, a journal mark of another shape, a float, null, an odd byte) goes the strict way, so the
# fast path never accepts a line the strict reader refuses, nor reads one differently.

Quote = tuple[Code, int, int, int, datetime]
"""A traded price as :meth:`~jango.domain.book.Book.apply_quotes` takes it: code, price,
diff, volume, time."""

_SEEN_CODES: dict[str, Code] = {}
_SEEN_TIMES: dict[str, datetime] = {}
_SEEN_MAX = 4096
_FAST_MAX_LINE = 1024  # a tick line is about 120 bytes
_LIMIT = 10**MAX_DIGITS  # integers of at most MAX_DIGITS digits are below this


class _Mark(msgspec.Struct, forbid_unknown_fields=True):
    seq: int
    reflected: bool | msgspec.UnsetType = msgspec.UNSET


class _TickLine(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    code: str
    price: int
    diff: int
    volume: int
    time: str
    expected: bool | msgspec.UnsetType = msgspec.UNSET
    journal: _Mark | msgspec.UnsetType = msgspec.UNSET


_TICK_DECODER = msgspec.json.Decoder(_TickLine)


def _fast_tick(line: str | bytes) -> tuple[Tick, JournalMark | None] | None:
    """The tick (and mark) of a plain tick line, or None: then the strict reader decides."""
    fast = fast_quote(line)
    if fast is None:
        return None
    (code, price, diff, volume, when), expected, mark = fast
    return new_tick(code, price, diff, volume, when, expected), mark


def fast_quote(line: str | bytes) -> tuple[Quote, bool, JournalMark | None] | None:
    """The price, ``expected`` flag and mark of a plain tick line, exactly as the strict reader
    would read them; ``None`` if the line is not one the fast path can take (then the strict
    reader decides)."""
    if len(line) > _FAST_MAX_LINE:
        return None
    try:
        t = _TICK_DECODER.decode(line)
    except (msgspec.DecodeError, UnicodeError):
        return None
    code = _SEEN_CODES.get(t.code)
    when = _SEEN_TIMES.get(t.time)
    if (
        code is None
        or when is None
        or t.type != "tick"
        or not 0 < t.price < _LIMIT
        or not -_LIMIT < t.diff < _LIMIT
        or not 0 <= t.volume < _LIMIT
    ):
        return None
    # A key given twice is refused by the strict reader, and msgspec keeps the last one: count
    # the quotes. Every key and string value of a tick is two of them (codes and times that
    # passed the strict reader hold none), so a repeated key shows as extra quotes.
    quotes = 18  # type, code, price, diff, volume, time and the values of type, code, time
    expected = False
    if t.expected is not msgspec.UNSET:
        quotes += 2
        expected = t.expected
    mark = None
    if t.journal is not msgspec.UNSET:
        marked = _fast_mark(t.journal)
        if marked is None:
            return None
        quotes += 2 + marked[0]  # "journal", then its own keys
        mark = marked[1]
    count = line.count(b'"') if isinstance(line, bytes) else line.count('"')
    if count != quotes:
        return None
    return (code, t.price, t.diff, t.volume, when), expected, mark


def _fast_mark(journal: _Mark) -> tuple[int, JournalMark] | None:
    """A decoded journal mark's quote count (its "seq" and "reflected" keys) and the mark, or
    None when its seq is out of range (the strict reader then decides)."""
    quotes, reflected = 2, False
    if journal.reflected is not msgspec.UNSET:
        quotes += 2
        reflected = journal.reflected
    if not 0 < journal.seq < _LIMIT:
        return None
    return quotes, JournalMark(journal.seq, reflected)


# --- the fast path for notice lines --------------------------------------------------------
#
# Notices are about one line in a hundred but cost the strict reader a hundred times a tick. A
# notice line is decoded by msgspec into a typed struct (enums by value, integers in range, no
# unknown field) and built here only when every field is one the strict reader takes as is: a
# code and time it took before, no loan date, a plain book price, non-empty account and order
# number, and exactly two quotes per key and string (no repeated key); a code or time not seen
# before is checked by the strict reader's own field checks first. The notice's own checks
# run in its constructor, as on the strict path; any refusal sends the line the strict way.

_Count = Annotated[int, msgspec.Meta(ge=0, lt=_LIMIT)]
_NOTICE_TEXTS = 8  # the struct's fields before its first integer: all strings (enums too)


class _NoticeLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["notice"]
    account: str
    kind: NoticeKind
    action: OrderAction
    side: Side
    code: str
    order_no: str
    time: str
    qty: _Count
    price: _Count
    # Optional fields: strings first (counted by position), then integers and the mark.
    orig_order_no: str | msgspec.UnsetType = msgspec.UNSET
    credit: Credit | msgspec.UnsetType = msgspec.UNSET
    order_type: OrderType | msgspec.UnsetType = msgspec.UNSET
    condition: Condition | msgspec.UnsetType = msgspec.UNSET
    fill_id: str | msgspec.UnsetType = msgspec.UNSET
    name: str | msgspec.UnsetType = msgspec.UNSET
    market: Market | msgspec.UnsetType = msgspec.UNSET
    post_book_price: str | msgspec.UnsetType = msgspec.UNSET
    post_qty: _Count | msgspec.UnsetType = msgspec.UNSET
    post_sellable: _Count | msgspec.UnsetType = msgspec.UNSET
    filled_total: _Count | msgspec.UnsetType = msgspec.UNSET
    journal: _Mark | msgspec.UnsetType = msgspec.UNSET


_NOTICE_DECODER = msgspec.json.Decoder(_NoticeLine)
_NOTICE_OPTIONAL_TEXTS = slice(10, 18)  # orig_order_no .. post_book_price in astuple order


def _fast_notice(line: str | bytes) -> tuple[OrderNotice, JournalMark | None] | None:
    """The notice (and mark) of a plain notice line, or None: then the strict reader decides."""
    if len(line) > _FAST_MAX_LINE:
        return None
    try:
        n = _NOTICE_DECODER.decode(line)
    except (msgspec.DecodeError, UnicodeError):
        return None
    if not n.account or not n.order_no:
        return None
    code = _SEEN_CODES.get(n.code)
    when = _SEEN_TIMES.get(n.time)
    if code is None or when is None:
        checked = _checked(n.code, n.time)
        if checked is None:
            return None
        code, when = checked
    unset = msgspec.UNSET
    fields = msgspec.structs.astuple(n)
    texts = fields[_NOTICE_OPTIONAL_TEXTS]
    present_texts = len(texts) - texts.count(unset)
    keys = len(fields) - fields.count(unset)  # "journal" is one of them if present
    quotes = 2 * (keys + _NOTICE_TEXTS + present_texts)
    mark = None
    if n.journal is not unset:  # "journal" is counted with the keys
        marked = _fast_mark(n.journal)
        if marked is None:
            return None
        quotes += marked[0]
        mark = marked[1]
    count = line.count(b'"') if isinstance(line, bytes) else line.count('"')
    if count != quotes:
        return None
    book_price = None
    if n.post_book_price is not unset:
        if not _DECIMAL_RE.match(n.post_book_price):
            return None
        book_price = Decimal(n.post_book_price)
    try:
        notice = OrderNotice(
            account=n.account,
            kind=n.kind,
            action=n.action,
            side=n.side,
            code=code,
            order_no=n.order_no,
            qty=n.qty,
            price=n.price,
            time=when,
            orig_order_no="" if n.orig_order_no is unset else n.orig_order_no,
            credit=Credit.CASH if n.credit is unset else n.credit,
            order_type=OrderType.LIMIT if n.order_type is unset else n.order_type,
            condition=Condition.NONE if n.condition is unset else n.condition,
            fill_id="" if n.fill_id is unset else n.fill_id,
            name="" if n.name is unset else n.name,
            market=Market.UNKNOWN if n.market is unset else n.market,
            post_qty=None if n.post_qty is unset else n.post_qty,
            post_sellable=None if n.post_sellable is unset else n.post_sellable,
            post_book_price=book_price,
            filled_total=None if n.filled_total is unset else n.filled_total,
        )
    except DomainError:
        return None
    return notice, mark


# --- many journal tick rows at once ---------------------------------------------------------
#
# A rebuild reads hundreds of thousands of tick bodies. SQLite hands them over joined, one
# ``[seq,body]`` line each, and msgspec decodes the whole block in one call; the ranges and the
# type the strict reader checks are the decoder's own constraints here. The block is trusted
# only as a whole, and only when each line provably holds exactly one row:
#
# * no body holds a newline (the block has one fewer than it has rows), so line i is row i;
# * as many values as rows: a line holds at least one value (``[seq,`` starts it) and none
#   spans two lines (inside a tick object only scalars may follow a key, so the ``]`` that ends
#   a line cannot sit inside one, nor can a newline sit inside a string), so equal counts mean
#   one value a line, and that value is ``[seq, body]`` with the body a single object;
# * the quotes count exactly two per key and string value of every row, so no row repeats a
#   key (msgspec keeps the last, the strict reader refuses);
# * the block is no longer than a line may be, so no body is over :data:`MAX_LINE`;
# * sequence numbers rise (the order SQLite concatenated in is the order of the rows).
#
# Then a row whose code and time text the strict reader took before is read here; any other row
# goes to :func:`parse_line`, which decides it as it would decide the body alone.


class _TickRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["tick"]
    code: str
    price: Annotated[int, msgspec.Meta(gt=0, lt=_LIMIT)]
    diff: Annotated[int, msgspec.Meta(gt=-_LIMIT, lt=_LIMIT)]
    volume: Annotated[int, msgspec.Meta(ge=0, lt=_LIMIT)]
    time: str
    expected: bool | msgspec.UnsetType = msgspec.UNSET


_ROWS_DECODER = msgspec.json.Decoder(tuple[int, _TickRow])


@dataclass(frozen=True, slots=True)
class TickRows:
    """Tick rows read by :func:`read_tick_rows`, in order: ``seqs[i]`` is the sequence number
    of ``quotes[i]`` (``None`` for an expected price, which values nothing); ``bad`` the rows
    the strict reader refused, with its error."""

    seqs: list[int]
    quotes: list[Quote | None]
    bad: list[tuple[int, RecordError]]


def read_tick_rows(block: bytes, count: int) -> TickRows | None:
    """The ``count`` journal tick rows in ``block`` (lines ``[seq,body]`` joined by newlines),
    each decided as :func:`parse_line` decides its body; ``None`` if the block as a whole cannot
    be trusted (then read the rows one by one)."""
    if count < 1 or len(block) > MAX_LINE or block.count(b"\n") != count - 1:
        return None
    try:
        items = _ROWS_DECODER.decode_lines(block)
    except (msgspec.DecodeError, UnicodeError):
        return None
    if len(items) != count:
        return None
    codes, times, unset = _SEEN_CODES, _SEEN_TIMES, msgspec.UNSET
    seqs: list[int] = []
    quotes: list[Quote | None] = []
    append_seq, append_quote = seqs.append, quotes.append
    bad: list[tuple[int, RecordError]] = []
    flags = 0  # rows that give "expected": two more quotes each
    previous = -(1 << 63)
    for seq, t in items:
        if seq <= previous:
            return None
        previous = seq
        expected = t.expected
        if expected is not unset:
            flags += 1
        code = codes.get(t.code)
        when = times.get(t.time)
        if code is None or when is None:
            # A code or time not seen yet: the strict reader's checks of those two fields.
            checked = _checked(t.code, t.time)
            if checked is None:  # refused: the strict reader decides the row, error and all
                try:
                    parse_line(_body_of(block, seq))
                except RecordError as exc:
                    bad.append((seq, exc))
                    continue
                return None  # it took what its own checks refused: never, but then trust nothing
            code, when = checked
        append_seq(seq)
        append_quote(None if expected is True else (code, t.price, t.diff, t.volume, when))
    if block.count(b'"') != 18 * count + 2 * flags:
        return None
    return TickRows(seqs, quotes, bad)


def _body_of(block: bytes, seq: int) -> str:
    """The body of row ``seq`` in a block of lines ``[seq,body]`` (a line starts only there)."""
    head = b"[%d," % seq
    start = 0 if block.startswith(head) else block.index(b"\n" + head) + 1
    end = block.find(b"\n", start)
    return block[start + len(head) : end - 1 if end >= 0 else len(block) - 1].decode()


def _parse_notice(f: _Fields) -> OrderNotice:
    credit = f.opt_enum("credit", Credit, Credit.CASH)
    return _build(
        f,
        lambda: OrderNotice(
            account=f.text("account", nonempty=True),
            kind=f.enum("kind", NoticeKind),
            action=f.enum("action", OrderAction),
            side=f.enum("side", Side),
            code=f.code("code"),
            order_no=f.text("order_no", nonempty=True),
            qty=f.integer("qty"),
            price=f.integer("price"),
            time=f.moment("time"),
            orig_order_no=f.opt_text("orig_order_no"),
            credit=credit,
            loan_date=f.loan_date(credit),
            order_type=f.opt_enum("order_type", OrderType, OrderType.LIMIT),
            condition=f.opt_enum("condition", Condition, Condition.NONE),
            fill_id=f.opt_text("fill_id"),
            name=f.opt_text("name"),
            market=f.opt_enum("market", Market, Market.UNKNOWN),
            post_qty=f.opt_integer("post_qty"),
            post_sellable=f.opt_integer("post_sellable"),
            post_book_price=f.opt_decimal("post_book_price"),
            filled_total=f.opt_integer("filled_total"),
        ),
    )


_T = TypeVar("_T")


def _build(f: _Fields, make: Callable[[], _T]) -> _T:
    """Run a model constructor, turning its own consistency checks into a RecordError."""
    try:
        return make()
    except RecordError:
        raise
    except DomainError as exc:
        raise RecordError(str(exc), f.name("").rstrip(".")) from None


_PARSERS: dict[str, Callable[[_Fields], Event]] = {
    "snapshot": _parse_snapshot,
    "tick": _parse_tick,
    "notice": _parse_notice,
}


def _decode(line: str | bytes) -> str:
    """The checked text of one line: bounded length, valid UTF-8, no lone surrogates."""
    if isinstance(line, bytes):
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if len(line) > MAX_LINE:
            raise RecordError(f"line longer than {MAX_LINE:,} bytes")
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"not valid UTF-8: byte 0x{line[exc.start]:02x} at column {exc.start + 1}"
            ) from None
    if len(line) > MAX_LINE:
        raise RecordError(f"line longer than {MAX_LINE:,} characters")
    # Text decoded with errors="surrogateescape" carries its bad bytes as lone surrogates.
    surrogate = _SURROGATE_RE.search(line)
    if surrogate:
        raise RecordError(
            f"not valid UTF-8 text: lone surrogate \\u{ord(surrogate.group()):04x} "
            f"at column {surrogate.start() + 1}"
        )
    return line


def _check_depth(text: str) -> None:
    """Refuse deep nesting before ``json.loads``, whose recursion it would otherwise exhaust."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for token in _TOKEN_RE.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecordError(
                    f"nested deeper than {MAX_DEPTH} levels at column {token.start() + 1}"
                )
        elif mark in ("]", "}"):
            depth -= 1


def _load(text: str) -> dict[str, Any]:
    fast = _fast_load(text)
    if fast is not None:
        return fast
    _check_depth(text)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise RecordError(f"a line must be a JSON object, got {_json_type(value)}")
    return value


_ANY_DECODER = msgspec.json.Decoder()


def _fast_load(text: str) -> dict[str, Any] | None:
    """The object ``json.loads`` with the strict hooks makes of ``text``, decoded by msgspec in C;
    ``None`` where the two might differ (then the strict decoder decides, error and all).

    They agree on an object holding only strings, booleans, null, integers of at most
    :data:`MAX_DIGITS` digits and, within the depth limit, lists and objects of those, with no
    key given twice: msgspec keeps the last of a repeated key, so the quotes are counted, two
    per key and string (an escaped quote adds one, a repeated key at least two).
    """
    try:
        value = _ANY_DECODER.decode(text)
    except (msgspec.DecodeError, UnicodeError, RecursionError):  # deep: msgspec's own guard
        return None
    if not isinstance(value, dict):
        return None
    strings = _strings_in(value, 1)
    if strings is None or text.count('"') != 2 * strings:
        return None
    return value


def _strings_in(value: dict[str, Any] | list[Any], depth: int) -> int | None:
    """Keys and strings in ``value`` (nested at ``depth``), or ``None`` if it holds anything the
    strict hooks would read otherwise (a float, a long integer) or nests too deep."""
    if depth > MAX_DEPTH:
        return None
    count = 0
    items: Iterable[Any]
    if isinstance(value, dict):
        count = len(value)
        items = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is int:
            if not -_LIMIT < item < _LIMIT:
                return None
        elif kind is dict or kind is list:
            inner = _strings_in(item, depth + 1)
            if inner is None:
                return None
            count += inner
        elif item is not None and kind is not bool:
            return None
    return count


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RecordError(f"field appears twice: {_printable(key)!r}", _printable(key))
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise RecordError(f"{name} is not a JSON number")


def _type_of(raw: Mapping[str, Any]) -> str:
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise RecordError("missing or not a string", "type")
    return kind


def parse_line(text: str | bytes) -> Event:
    """Parse one recorded line into a :class:`BalanceSnapshot`, :class:`Tick` or
    :class:`OrderNotice`.

    ``text`` may be ``str`` or UTF-8 ``bytes`` (a trailing newline is ignored). Raises
    :class:`RecordError` naming the field and the problem, and nothing else, whatever the input.
    A header line is refused here: it describes a file, not an event (see :func:`read_events`).
    """
    fast = _fast_tick(text) or _fast_notice(text)
    if fast is not None:
        return fast[0]
    return _parse_event(_load(_decode(text)))[0]


def _parse_event(raw: Mapping[str, Any]) -> tuple[Event, JournalMark | None]:
    kind = _type_of(raw)
    if kind == "header":
        raise RecordError("a header is allowed only as the first line of a file", "type")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise RecordError(f"unknown value {kind!r} (one of snapshot, tick, notice)", "type")
    fields = _Fields(raw, read=("type", "journal"))
    event = parser(fields)
    fields.done()
    mark = None
    if "journal" in raw:
        marked = fields.child("journal")
        mark = JournalMark(marked.integer("seq", minimum=1), marked.flag("reflected"))
        marked.done()
    return event, mark


def _check_header(raw: Mapping[str, Any]) -> None:
    fields = _Fields(raw, read=("type",))
    found = fields.text("format")
    if found != FORMAT:
        raise RecordError(f"must be {FORMAT!r}, got {found!r}", "format")
    version = fields.integer("version")
    if version != VERSION:
        raise RecordError(f"unsupported version {version} (this reader knows {VERSION})", "version")
    fields.done()


def read_events(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Event | RecordError]]:
    """Yield ``(line number, event or error)`` for each non-blank line; numbers start at 1.

    Lines may be ``str`` or UTF-8 ``bytes`` (as from a file opened in binary mode); a UTF-8
    byte-order mark before the first line is skipped. Errors are yielded, not raised, so one bad
    line never hides the rest of a recording; each carries its line number in ``.line``. An
    optional header on the first non-blank line is checked and yielded only if it is bad.
    """
    for number, item in read_records(lines):
        yield number, item if isinstance(item, RecordError) else item[0]


def read_records(
    lines: Iterable[str | bytes],
) -> Iterator[tuple[int, tuple[Event, JournalMark | None] | RecordError]]:
    """Like :func:`read_events`, with each event's :class:`JournalMark` (``None`` on lines
    that were not exported from a journal)."""
    reader = LineReader()
    for number, line in enumerate(lines, start=1):
        if not reader.first:
            fast = _fast_tick(line)
            if fast is not None:
                yield number, fast
                continue
        item = reader.read(number, line)
        if item is not None:
            yield number, item


class LineReader:
    """The strict reader of one file's lines, in order: it knows whether a header may still come
    (only on the first line that is not blank)."""

    def __init__(self) -> None:
        self.first = True
        """No line but blank ones read yet."""

    def read(
        self, number: int, line: str | bytes
    ) -> tuple[Event, JournalMark | None] | RecordError | None:
        """The event and mark on line ``number``, its error, or ``None`` (blank, a good header)."""
        if not self.first:
            fast = _fast_notice(line)
            if fast is not None:
                return fast
        try:
            text = _decode(line)
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                return None
            raw = _load(text)
            if self.first and raw.get("type") == "header":
                self.first = False
                _check_header(raw)
                return None
            self.first = False
            return _parse_event(raw)
        except RecordError as exc:
            self.first = False
            exc.line = number
            return exc


def read_file(path: Path) -> Iterator[tuple[int, Event | RecordError]]:
    """:func:`read_events` over a file, reading at most :data:`MAX_LINE` bytes per line.

    Only ``\\n`` ends a line (not the other characters ``str.splitlines`` splits on, which may
    sit inside a JSON string). Raises :class:`OSError` if the file cannot be opened or read.
    """
    with path.open("rb") as stream:
        yield from read_events(bounded_lines(stream))


def bounded_lines(stream: IO[bytes], block: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a binary stream, holding at most :data:`MAX_LINE` bytes of any one.

    Read a block at a time and split in C: a line longer than the limit is yielded as its first
    ``MAX_LINE + 2`` bytes (which the reader refuses by length) and the rest of it is dropped
    as it is read.
    """
    cap = MAX_LINE + 2
    head = b""  # the start of a line that goes on in the next block
    over = False  # that line is already longer than the limit
    while data := stream.read(block):
        parts = data.split(b"\n")
        rest = parts.pop()  # after the last newline: a line not yet ended
        if parts:
            first = parts[0]
            if over:
                yield head
            elif head:
                line = head + first + b"\n"
                yield line if len(line) <= cap else line[:cap]
            else:
                yield first + b"\n" if len(first) < cap else first[:cap]
            head, over = b"", False
            for part in itertools.islice(parts, 1, None):
                yield part + b"\n" if len(part) < cap else part[:cap]
        if not over:
            head += rest
            if len(head) >= cap:
                head, over = head[:cap], True
    if head:
        yield head


# --- writing ------------------------------------------------------------------------------


def _time(moment: datetime) -> str:
    return moment.astimezone(KST).isoformat()


def _put(out: dict[str, object], key: str, value: object, default: object) -> None:
    """Write optional fields only when they differ from the default, keeping lines short."""
    if value != default:
        out[key] = value


def to_record(event: Event) -> dict[str, object]:
    """The JSON object for ``event`` (plain types only, ready for ``json.dumps``)."""
    if isinstance(event, BalanceSnapshot):
        return _snapshot_record(event)
    if isinstance(event, Tick):
        out: dict[str, object] = {
            "type": "tick",
            "code": event.code,
            "price": event.price,
            "diff": event.diff,
            "volume": event.volume,
            "time": _time(event.time),
        }
        _put(out, "expected", event.expected, False)
        return out
    return _notice_record(event)


def _snapshot_record(snap: BalanceSnapshot) -> dict[str, object]:
    rows: list[dict[str, object]] = []
    for row in snap.rows:
        item: dict[str, object] = {
            "code": row.code,
            "qty": row.qty,
            "sellable": row.sellable,
            "purchase_amount": row.purchase_amount,
        }
        _put(item, "credit", row.credit.value, Credit.CASH.value)
        _put(item, "loan_date", row.loan_date and row.loan_date.isoformat(), None)
        _put(item, "name", row.name, "")
        _put(item, "market", row.market.value, Market.UNKNOWN.value)
        _put(item, "price", row.price, 0)
        _put(item, "loan_amount", row.loan_amount, 0)
        rows.append(item)
    out: dict[str, object] = {
        "type": "snapshot",
        "account": snap.account,
        "time": _time(snap.time),
    }
    _put(out, "source", snap.source, "")
    cash: dict[str, object] = {"deposit": snap.cash.deposit, "d2": snap.cash.d2}
    _put(cash, "d1", snap.cash.d1, None)
    out["cash"] = cash
    out["rows"] = rows
    if snap.orders is not None:
        out["orders"] = [_order_record(o) for o in snap.orders]
    return out


def _order_record(o: OrderState) -> dict[str, object]:
    out: dict[str, object] = {
        "order_no": o.order_no,
        "code": o.code,
        "side": o.side.value,
        "qty": o.qty,
        "filled": o.filled,
        "remaining": o.remaining,
        "price": o.price,
        "time": _time(o.time),
    }
    _put_order_terms(out, o)
    return out


def _put_order_terms(out: dict[str, object], o: OrderState | OrderNotice) -> None:
    """The optional terms an order state and a notice share, written the same way."""
    _put(out, "orig_order_no", o.orig_order_no, "")
    _put(out, "credit", o.credit.value, Credit.CASH.value)
    _put(out, "loan_date", o.loan_date and o.loan_date.isoformat(), None)
    _put(out, "order_type", o.order_type.value, OrderType.LIMIT.value)
    _put(out, "condition", o.condition.value, Condition.NONE.value)


def _notice_record(n: OrderNotice) -> dict[str, object]:
    out: dict[str, object] = {
        "type": "notice",
        "account": n.account,
        "kind": n.kind.value,
        "action": n.action.value,
        "side": n.side.value,
        "code": n.code,
        "order_no": n.order_no,
        "qty": n.qty,
        "price": n.price,
        "time": _time(n.time),
    }
    _put_order_terms(out, n)
    _put(out, "fill_id", n.fill_id, "")
    _put(out, "name", n.name, "")
    _put(out, "market", n.market.value, Market.UNKNOWN.value)
    _put(out, "post_qty", n.post_qty, None)
    _put(out, "post_sellable", n.post_sellable, None)
    if n.post_book_price is not None:
        # Fixed-point text, never an exponent, so the value reads the way brokers print it.
        out["post_book_price"] = format(n.post_book_price, "f")
    _put(out, "filled_total", n.filled_total, None)
    return out


def header_line() -> str:
    """The optional first line of a recording."""
    return json.dumps(
        {"type": "header", "format": FORMAT, "version": VERSION}, separators=(",", ":")
    )


def dump_line(event: Event, mark: JournalMark | None = None) -> str:
    """One line of JSON (no trailing newline) for ``event``, with its journal ``mark`` if
    given; :func:`parse_line` and :func:`read_records` read it back."""
    record = to_record(event)
    if mark is not None:
        journal: dict[str, object] = {"seq": mark.seq}
        _put(journal, "reflected", mark.reflected, False)
        record["journal"] = journal
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
