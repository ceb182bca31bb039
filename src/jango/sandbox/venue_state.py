"""The simulated venue's mutable state, and the SQLite file that makes a market last.

:class:`~jango.sandbox.venue.Venue` keeps its ledger in the plain records defined here. With a
state path it writes the whole state to a :class:`StateFile` at the end of every operation that
changed it, *before* it pushes that operation's notices to listeners: the saved state is never
behind a notice anyone has heard. A SIGKILL can only lose work nobody was told about yet (the
venue's own clock, prices and the last operation's not-yet-pushed events).

The file is SQLite in WAL mode with two tables:

* ``venue``: one row, the format number and the state as JSON (clock, trading day, prices and
  the instrument master, accounts with their unsettled cash, rows, the order and fill counters
  and the random generator's state);
* ``orders``: today's orders, one JSON row each, in the order they were made; a save writes only
  the orders that are new or were open since the last save (a closed order never changes);
* ``fills``: every fill the venue ever made, appended.

A save writes all three in one transaction.

The connection holds SQLite's exclusive lock while the venue lives, so a second process on the
same profile gets a clear error instead of a second market in one file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from jango.domain.model import (
    Code,
    Condition,
    Credit,
    HoldingKey,
    Instrument,
    Market,
    OrderType,
    Side,
    parse_code,
)

FORMAT = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE venue (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    format INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE orders (
    seq INTEGER PRIMARY KEY,
    order_no TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE fills (
    seq INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    order_no TEXT NOT NULL,
    fill_id TEXT NOT NULL UNIQUE,
    side TEXT NOT NULL,
    code TEXT NOT NULL,
    credit TEXT NOT NULL,
    loan_date TEXT,
    qty INTEGER NOT NULL,
    price INTEGER NOT NULL,
    time TEXT NOT NULL
);
"""


class VenueStateError(ValueError):
    """A venue state file that cannot be used; the one-line message names the file."""


# ---------------------------------------------------------------------------------------------
# The records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution the venue made: the venue's own record, independent of any notice."""

    account: str
    order_no: str
    fill_id: str
    side: Side
    code: Code
    credit: Credit
    loan_date: date | None
    qty: int
    price: int
    time: datetime


@dataclass(slots=True)
class OrderEntry:
    """An order of the trading day: open while ``remaining`` is above zero."""

    order_no: str
    account: str
    side: Side
    code: Code
    qty: int
    price: int
    order_type: OrderType
    condition: Condition
    credit: Credit
    loan_date: date | None
    time: datetime
    orig_order_no: str
    remaining: int
    filled: int = 0
    # Price a buy's cash is held at: its limit, or the day's upper limit for market types.
    hold_price: int = 0

    @property
    def key(self) -> HoldingKey:
        return HoldingKey(self.account, self.code, self.credit, self.loan_date)


@dataclass(slots=True)
class PriceEntry:
    """One instrument's price state for the trading day."""

    instrument: Instrument
    base: int
    upper: int
    lower: int
    price: int
    volume: int = 0


@dataclass(slots=True)
class RowEntry:
    """One balance row (account, code, credit, loan date) of the venue's ledger."""

    qty: int = 0
    held: int = 0  # shares tied up in open sell orders
    purchase_amount: int = 0
    loan_amount: int = 0  # the lender's part of a loan-funded row (대출금액)


@dataclass(slots=True)
class AccountEntry:
    """An account's cash: settled deposit and the fills still to settle."""

    deposit: int  # 예수금: settled cash
    # (settlement date, cash change) of each unsettled fill, in fill order.
    pending: list[tuple[date, int]] = field(default_factory=list)

    @property
    def d2(self) -> int:
        """Deposit after every unsettled fill has settled (D+2 예수금)."""
        return self.deposit + sum(cash for _, cash in self.pending)

    def by(self, day: date) -> int:
        """Deposit once everything settling on or before ``day`` has settled."""
        return self.deposit + sum(cash for when, cash in self.pending if when <= day)


@dataclass(slots=True)
class VenueState:
    """Everything a venue needs to continue where it stopped."""

    seed: int
    now: datetime
    session_open: time
    session_close: time
    day: date
    prices: dict[Code, PriceEntry]
    accounts: dict[str, AccountEntry]
    rows: dict[HoldingKey, RowEntry]
    # Order number -> order: today's orders in creation order (kept apart in the file).
    orders: dict[str, OrderEntry]
    order_seq: int
    fill_seq: int
    rng: tuple[Any, ...]  # random.Random.getstate()


# ---------------------------------------------------------------------------------------------
# JSON codec
# ---------------------------------------------------------------------------------------------


def encode(state: VenueState) -> str:
    """The state as compact JSON text, without orders and fills (see :class:`StateFile`)."""
    version, internal, gauss = state.rng
    payload = {
        "seed": state.seed,
        "now": state.now.isoformat(),
        "session": [state.session_open.isoformat(), state.session_close.isoformat()],
        "day": state.day.isoformat(),
        "prices": [_price_fields(p) for p in state.prices.values()],
        "accounts": {
            account: [a.deposit, [[when.isoformat(), cash] for when, cash in a.pending]]
            for account, a in state.accounts.items()
        },
        "rows": [_row_fields(k, r) for k, r in state.rows.items()],
        "order_seq": state.order_seq,
        "fill_seq": state.fill_seq,
        "rng": [version, list(internal), gauss],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def decode(text: str, orders: Iterable[str]) -> VenueState:
    """A state from :func:`encode`'s text and today's orders, each from :func:`encode_order`.

    Raises ``ValueError``, ``KeyError``, ``TypeError`` or ``IndexError`` for bad input.
    """
    data = json.loads(text)
    opens, closes = data["session"]
    prices: dict[Code, PriceEntry] = {}
    for code, name, market, base, upper, lower, price, volume in data["prices"]:
        instrument = Instrument(parse_code(code), _text(name), Market(market))
        prices[instrument.code] = PriceEntry(
            instrument, _int(base), _int(upper), _int(lower), _int(price), _int(volume)
        )
    accounts = {
        _text(account): AccountEntry(
            _int(deposit), [(date.fromisoformat(when), _int(cash)) for when, cash in pending]
        )
        for account, (deposit, pending) in data["accounts"].items()
    }
    rows: dict[HoldingKey, RowEntry] = {}
    for account, code, credit, loan_date, qty, held, purchase, loan in data["rows"]:
        key = HoldingKey(_text(account), parse_code(code), Credit(credit), _day(loan_date))
        rows[key] = RowEntry(_int(qty), _int(held), _int(purchase), _int(loan))
    entries = [_order_entry(json.loads(body)) for body in orders]
    version, internal, gauss = data["rng"]
    state = VenueState(
        seed=_int(data["seed"]),
        now=_aware(data["now"]),
        session_open=time.fromisoformat(opens),
        session_close=time.fromisoformat(closes),
        day=date.fromisoformat(data["day"]),
        prices=prices,
        accounts=accounts,
        rows=rows,
        orders={o.order_no: o for o in entries},
        order_seq=_int(data["order_seq"]),
        fill_seq=_int(data["fill_seq"]),
        rng=(_int(version), tuple(_int(i) for i in internal), gauss),
    )
    _check_references(state)
    return state


def _price_fields(p: PriceEntry) -> list[object]:
    code, name, market = p.instrument.code, p.instrument.name, p.instrument.market
    return [code, name, market, p.base, p.upper, p.lower, p.price, p.volume]


def _row_fields(k: HoldingKey, r: RowEntry) -> list[object]:
    loan_date = _day_text(k.loan_date)
    return [k.account, k.code, k.credit, loan_date, r.qty, r.held, r.purchase_amount, r.loan_amount]


def encode_order(o: OrderEntry) -> str:
    """One order as compact JSON text."""
    fields = [
        o.order_no,
        o.account,
        o.side,
        o.code,
        o.qty,
        o.price,
        o.order_type,
        o.condition,
        o.credit,
        _day_text(o.loan_date),
        o.time.isoformat(),
        o.orig_order_no,
        o.remaining,
        o.filled,
        o.hold_price,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _order_entry(fields: Sequence[Any]) -> OrderEntry:
    (no, account, side, code, qty, price, kind, condition, credit, loan, when, orig) = fields[:12]
    remaining, filled, hold = fields[12:]
    return OrderEntry(
        order_no=_text(no),
        account=_text(account),
        side=Side(side),
        code=parse_code(code),
        qty=_int(qty),
        price=_int(price),
        order_type=OrderType(kind),
        condition=Condition(condition),
        credit=Credit(credit),
        loan_date=_day(loan),
        time=_aware(when),
        orig_order_no=_text(orig),
        remaining=_int(remaining),
        filled=_int(filled),
        hold_price=_int(hold),
    )


def _check_references(state: VenueState) -> None:
    for key in state.rows:
        if key.account not in state.accounts or key.code not in state.prices:
            raise ValueError(f"row {key.account}/{key.code} names an unknown account or code")
    for order in state.orders.values():
        if order.account not in state.accounts or order.code not in state.prices:
            raise ValueError(f"order {order.order_no} names an unknown account or code")
        if order.remaining and order.side is Side.SELL and order.key not in state.rows:
            raise ValueError(f"open sell order {order.order_no} has no row to sell from")


def _int(value: object) -> int:
    # bool is an int in Python, but never a quantity or an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _aware(value: object) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return moment


def _day(value: object) -> date | None:
    return None if value is None else date.fromisoformat(_text(value))


def _day_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------


class StateFile:
    """The SQLite file of one venue's state; opened by :meth:`open` or :meth:`create`.

    Not thread-safe by itself: the venue calls it under its own lock.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._durable = True

    @classmethod
    def create(cls, path: Path, state: VenueState) -> StateFile:
        """Write a new file with ``state`` and no fills, atomically, and open it.

        The file is built beside ``path`` and renamed into place only once complete, so a file
        at ``path`` is always a whole state: a kill during creation leaves no half a market.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        db = sqlite3.connect(partial, isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            db.execute("INSERT INTO venue VALUES (1, ?, ?)", (FORMAT, encode(state)))
            db.executemany(
                "INSERT INTO orders (order_no, body) VALUES (?, ?)",
                [(o.order_no, encode_order(o)) for o in state.orders.values()],
            )
            db.commit()
        finally:
            db.close()
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(path)
        _fsync_dir(path.parent)
        store = cls._attach(path)
        try:
            store._take()
        except sqlite3.Error as exc:
            store.close()
            raise VenueStateError(_unreadable(path, exc)) from exc
        return store

    @classmethod
    def open(cls, path: Path) -> tuple[StateFile, VenueState, list[VenueFill]]:
        """Open an existing file; returns it with the saved state and every saved fill.

        Raises :class:`VenueStateError` (one line, naming the file) for anything unreadable,
        before changing a byte of it.
        """
        store = cls._attach(path)
        try:
            row = store._db.execute("SELECT format, state FROM venue WHERE id = 1").fetchone()
            if row is None:
                raise ValueError("the venue row is missing")
            if row[0] != FORMAT:
                raise ValueError(f"format {row[0]!r}, this jango reads format {FORMAT}")
            orders = [body for (body,) in store._db.execute("SELECT body FROM orders ORDER BY seq")]
            state = decode(row[1], orders)
            fills = [_fill(r) for r in store._db.execute("SELECT * FROM fills ORDER BY seq")]
            check = store._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise ValueError(f"integrity check: {check}")
            store._take()
        except VenueStateError:
            store.close()
            raise
        except sqlite3.OperationalError as exc:
            store.close()
            if "locked" in str(exc):
                raise VenueStateError(_in_use(path)) from exc
            raise VenueStateError(_unreadable(path, exc)) from exc
        except (sqlite3.Error, ValueError, KeyError, TypeError, IndexError) as exc:
            store.close()
            raise VenueStateError(_unreadable(path, exc)) from exc
        return store, state, fills

    @classmethod
    def _attach(cls, path: Path) -> StateFile:
        try:
            with path.open("rb") as handle:
                magic = handle.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise VenueStateError(_unreadable(path, exc)) from exc
        if magic != _SQLITE_MAGIC:
            raise VenueStateError(_unreadable(path, ValueError("not an SQLite file")))
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
            # Every lock taken from now on is kept until close: reading first takes the shared
            # lock, so a file another process holds fails here, before anything is written.
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
        except sqlite3.Error as exc:
            raise VenueStateError(_unreadable(path, exc)) from exc
        return cls(path, db)

    def _take(self) -> None:
        """Switch to WAL and durable commits and take the write lock, for this process only."""
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("BEGIN EXCLUSIVE")
        self._db.execute("COMMIT")

    def save(
        self,
        state: VenueState,
        new_fills: Iterable[VenueFill],
        orders: Iterable[OrderEntry],
        *,
        new_day: bool,
        durable: bool,
    ) -> None:
        """Replace the state, write ``orders``, append ``new_fills``, in one transaction.

        ``orders`` are the orders that are new or changed since the last save; ``new_day``
        first drops the orders saved for an earlier trading day.

        Every commit survives the process being killed. ``durable`` also syncs it to disk
        (surviving power loss); the venue asks for it whenever notices are about to be pushed,
        and skips it for a step that only moved prices.
        """
        db = self._db
        if durable != self._durable:
            db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("UPDATE venue SET state = ? WHERE id = 1", (encode(state),))
            if new_day:
                db.execute("DELETE FROM orders")
            db.executemany(
                "INSERT INTO orders (order_no, body) VALUES (?, ?)"
                " ON CONFLICT (order_no) DO UPDATE SET body = excluded.body",
                [(o.order_no, encode_order(o)) for o in orders],
            )
            db.executemany(
                "INSERT INTO fills (account, order_no, fill_id, side, code, credit, loan_date,"
                " qty, price, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.account,
                        f.order_no,
                        f.fill_id,
                        f.side.value,
                        f.code,
                        f.credit.value,
                        _day_text(f.loan_date),
                        f.qty,
                        f.price,
                        f.time.isoformat(),
                    )
                    for f in new_fills
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close the file (releasing its lock). Safe to call twice."""
        self._db.close()


def _fill(row: Sequence[Any]) -> VenueFill:
    _, account, order_no, fill_id, side, code, credit, loan_date, qty, price, when = row
    return VenueFill(
        account=_text(account),
        order_no=_text(order_no),
        fill_id=_text(fill_id),
        side=Side(side),
        code=parse_code(code),
        credit=Credit(credit),
        loan_date=_day(loan_date),
        qty=_int(qty),
        price=_int(price),
        time=_aware(when),
    )


def _in_use(path: Path) -> str:
    return f"{path}: sim venue state is in use by another process (another jango on this profile?)"


def _unreadable(path: Path, exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return (
        f"{path}: unreadable sim venue state ({type(exc).__name__}: {reason}); "
        "move the file away to start a fresh market"
    )


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
