"""A :class:`~jango.domain.book.Book`'s whole state as plain JSON data, and back, exactly.

The journal writes this as a checkpoint so a rebuild can start there instead of at the first
event. Everything the book needs to go on applying events is kept: accounts with cash, totals and
rows (every derived value too, so nothing is recomputed differently), orders in their order, the
dedupe keys of notices already seen, names, last prices and the valuation day. Discrepancies are
not part of the state: the journal keeps them as events of their own. Money and quantities stay
``int``; the only fractions (book prices inside seen notices) are decimal strings.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

import msgspec

from jango.domain.book import Book, Order, OrderStatus, PnlMode, Row
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Condition,
    Credit,
    Market,
    OrderNotice,
    OrderType,
    Side,
)
from jango.recorded import parse_line, to_record

STATE_VERSION = 2

# Row fields saved and restored exactly (the book's private caches are rebuilt by the book).
_ROW_INTS = (
    "qty",
    "sellable",
    "purchase_amount",
    "price",
    "diff",
    "volume",
    "value",
    "pnl",
    "pnl_net",
    "loan_amount",
)
_TOTAL_FIELDS = (
    "purchase_amount",
    "value",
    "pnl",
    "pnl_net",
    "realized_gross",
    "realized_net",
    "commission",
    "tax",
)


class BookStateError(ValueError):
    """A saved book state this code cannot read."""


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _dump_row(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": row.key.code,
        "credit": row.key.credit.value,
        "loan_date": _day(row.key.loan_date),
        "name": row.name,
        "market": row.market.value,
    }
    out.update((name, getattr(row, name)) for name in _ROW_INTS)
    return out


def _dump_order(o: Order) -> dict[str, Any]:
    return {
        "account": o.account,
        "order_no": o.order_no,
        "code": o.code,
        "side": o.side.value,
        "credit": o.credit.value,
        "loan_date": _day(o.loan_date),
        "qty": o.qty,
        "price": o.price,
        "order_type": o.order_type.value,
        "condition": o.condition.value,
        "time": o.time.astimezone(KST).isoformat(),
        "orig_order_no": o.orig_order_no,
        "filled": o.filled,
        "remaining": o.remaining,
        "status": o.status.value,
        "held": o.held,
        "cash_held": o.cash_held,
    }


def _dump_seen(key: object) -> Any:
    # The book's dedupe keys are ("fill", account, date, fill_id) tuples or whole notices.
    if isinstance(key, OrderNotice):
        return {"notice": to_record(key)}
    if isinstance(key, tuple):
        return list(key)
    raise BookStateError(f"unknown dedupe key {key!r}")


def dump_book(book: Book) -> dict[str, Any]:
    """Everything needed to rebuild ``book``, as JSON-ready data; deterministic for equal books."""
    seen = [msgspec.json.decode(key) for key in _sorted_seen(book, {})]
    return _state(book, seen)


class StateEncoder:
    """Encodes one book's successive states as checkpoint text: ``json.loads`` of it is
    :func:`dump_book`'s data.

    The dedupe keys are most of a state and a day's keys only grow, so each is encoded once and
    kept between calls (only while the book still has it). The text is built by msgspec, about
    ten times faster than ``json`` here: a journal checkpoints every few thousand events.
    """

    def __init__(self) -> None:
        self._seen: dict[object, bytes] = {}

    def encode(self, book: Book) -> str:
        """The state of ``book`` now, as one line of JSON."""
        seen = _sorted_seen(book, self._seen)
        if len(self._seen) > len(seen):  # the book dropped keys (a new day): so do we
            self._seen = {key: self._seen[key] for key in book._seen}
        state = _state(book, [msgspec.Raw(key) for key in seen])
        return _ENCODER.encode(state).decode()


_ENCODER = msgspec.json.Encoder(order="sorted")


def _sorted_seen(book: Book, known: dict[object, bytes]) -> list[bytes]:
    """The book's dedupe keys, each as sorted-key JSON, in byte order (a set has no order)."""
    out = []
    for key in book._seen:
        encoded = known.get(key)
        if encoded is None:
            encoded = known[key] = _ENCODER.encode(_dump_seen(key))
        out.append(encoded)
    out.sort()
    return out


def _state(book: Book, seen: list[Any]) -> dict[str, Any]:
    accounts = []
    for name in sorted(book.accounts):
        acc = book.accounts[name]
        accounts.append(
            {
                "account": acc.account,
                "deposit": acc.deposit,
                "d2": acc.d2,
                "buy_holds": acc.buy_holds,
                "synced": acc.synced,
                "pending": [[when.isoformat(), amount] for when, amount in acc.pending],
                "cash_day": _day(acc.day),
                "totals": {f: getattr(acc.totals, f) for f in _TOTAL_FIELDS},
                "rows": [_dump_row(acc.rows[key]) for key in sorted(acc.rows)],
            }
        )
    return {
        "version": STATE_VERSION,
        "pnl_mode": book.pnl_mode.value,
        "day": _day(book._day),
        "accounts": accounts,
        "orders": [_dump_order(o) for o in book.orders.values()],
        "names": {code: [n, m.value] for code, (n, m) in sorted(book.names.items())},
        "prices": dict(sorted(book._prices.items())),
        "bases": dict(sorted(book._bases.items())),
        "unknown_filled": sorted([a, o, f] for (a, o), f in book._unknown_filled.items()),
        "reflected_fills": book.reflected_fills,
        "last_seq": book.last_seq,
        "seen": seen,
    }


def _opt_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _load_order(data: dict[str, Any]) -> Order:
    return Order(
        account=data["account"],
        order_no=data["order_no"],
        code=Code(data["code"]),
        side=Side(data["side"]),
        credit=Credit(data["credit"]),
        loan_date=_opt_day(data["loan_date"]),
        qty=data["qty"],
        price=data["price"],
        order_type=OrderType(data["order_type"]),
        condition=Condition(data["condition"]),
        time=datetime.fromisoformat(data["time"]).astimezone(KST),
        orig_order_no=data["orig_order_no"],
        filled=data["filled"],
        remaining=data["remaining"],
        status=OrderStatus(data["status"]),
        held=data["held"],
        cash_held=data["cash_held"],
    )


def _load_seen(item: Any) -> object:
    if isinstance(item, dict):
        return parse_line(json.dumps(item["notice"]))
    return tuple(item)


def _balance_row(account: str, data: dict[str, Any]) -> BalanceRow:
    return BalanceRow(
        account=account,
        code=Code(data["code"]),
        qty=data["qty"],
        sellable=data["sellable"],
        purchase_amount=data["purchase_amount"],
        credit=Credit(data["credit"]),
        loan_date=_opt_day(data["loan_date"]),
        name=data["name"],
        market=Market(data["market"]),
        price=data["price"],
        loan_amount=data["loan_amount"],
    )


def _load_account(book: Book, day: date, item: dict[str, Any]) -> None:
    name = item["account"]
    rows = tuple(_balance_row(name, r) for r in item["rows"])
    # The book builds its rows (and the caches it keeps beside them) the way it always does;
    # then every saved number is put back exactly.
    snap = BalanceSnapshot(
        name, rows, Cash(item["deposit"], item["d2"]), datetime.combine(day, time(0), KST)
    )
    book.apply_snapshot(snap)
    acc = book.accounts[name]
    acc.synced, acc.buy_holds = item["synced"], item["buy_holds"]
    acc.pending = [(date.fromisoformat(when), amount) for when, amount in item["pending"]]
    acc.day = _opt_day(item["cash_day"])
    for brow, saved in zip(rows, item["rows"], strict=True):
        row = acc.rows[brow.key]
        for field in _ROW_INTS:
            setattr(row, field, saved[field])
    for field in _TOTAL_FIELDS:
        setattr(acc.totals, field, item["totals"][field])


def load_book(data: dict[str, Any], costs: CostSchedule | None = None) -> Book:
    """A book in exactly the state :func:`dump_book` saved, using ``costs`` from here on."""
    if data.get("version") != STATE_VERSION:
        raise BookStateError(f"book state version {data.get('version')!r} is not {STATE_VERSION}")
    try:
        book = Book(costs, pnl_mode=PnlMode(data["pnl_mode"]))
        day = _opt_day(data["day"])
        if data["accounts"] and day is None:
            raise BookStateError("book state has accounts but no valuation day")
        for item in data["accounts"]:
            assert day is not None
            _load_account(book, day, item)
        book.discrepancies.clear()
        for order_data in data["orders"]:
            order = _load_order(order_data)
            book.orders[order.order_no] = order
        book.names = {Code(c): (n, Market(m)) for c, (n, m) in data["names"].items()}
        book._prices = {Code(c): p for c, p in data["prices"].items()}
        book._bases = {Code(c): p for c, p in data["bases"].items()}
        book._unknown_filled = {(a, o): f for a, o, f in data["unknown_filled"]}
        book.reflected_fills = data["reflected_fills"]
        book.last_seq = data["last_seq"]
        book._seen = {_load_seen(item) for item in data["seen"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise BookStateError(f"unreadable book state: {exc!r}") from exc
    return book
