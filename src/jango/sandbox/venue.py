"""The simulated venue: one market (prices, matching, accounts) under every sandbox skin.

The in-process ``sim`` broker, the KIS-compatible server and the CYBOS COM emulator all sit on a
:class:`Venue`. It keeps its own ledger (independent of the engine's book) so the skins can report
the venue's truth, and it emits the notice sequences real brokers send:

* broker-side problems (unknown account or code, bad quantity, overselling, overbuying, amending
  or cancelling an order that is not open) raise :class:`VenueRefusal` at once: no order number,
  no notice;
* exchange-side problems (a price off the tick grid or outside the day's limits) give the order a
  number, then ACCEPTED and REJECTED notices;
* otherwise ACCEPTED, then FILLED (one or more partial fills, each with its own ``fill_id``);
  amend and cancel take effect with a CONFIRMED notice. A cancel the venue makes by itself (the
  unfilled part of an IOC/FOK order, or an order expiring at the close) is a CONFIRMED CANCEL
  whose ``order_no`` and ``orig_order_no`` both name the order.

Short (대주) credit types are out of scope: orders with them are refused (``SHORT_UNSUPPORTED``).
A margin buy is funded ``loan_percent`` by the lender (the row's 대출금액, ``loan_amount``) and
the rest by the deposit; selling ``q`` of a row's ``Q`` shares repays ``loan_amount * q // Q``,
so the sale moves D+2 by proceeds − repaid − commission − tax. Every fill settles T+2 over the
KRX calendar: D+2 moves at once, the deposit on the settlement date (D+1 is reported too).
Market-type orders (시장가, 최유리, 최우선) fill at the current price and a market buy holds cash at
the day's upper limit (상한가); 조건부지정가 behaves as a limit order because the simulated day
ends at 15:20.

Everything random comes from one generator seeded by ``seed``: the same seed and the same
sequence of calls give the same prices, fills and order numbers. With a ``state_path`` the
market lasts: the whole state, the generator's included, is saved before any notice of an
operation is pushed (see :mod:`jango.sandbox.venue_state`), and a venue opened on the same path
continues the same market with the same clock, accounts, open orders and counters.
"""

from __future__ import annotations

import functools
import itertools
import random
import sqlite3
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from jango.domain import krx
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Condition,
    Credit,
    HoldingKey,
    Instrument,
    InvalidCode,
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
from jango.domain.ticks import new_ticks
from jango.sandbox.clock import SimClock
from jango.sandbox.instruments import InstrumentSpec, load_instruments
from jango.sandbox.ladder import Ladder, Walker
from jango.sandbox.venue_state import (
    AccountEntry,
    OrderEntry,
    PriceEntry,
    RowEntry,
    StateFile,
    VenueFill,
    VenueState,
    VenueStateError,
)

TickListener = Callable[[Tick], None]
NoticeListener = Callable[[OrderNotice], None]
# Hears the events of one operation (a step's ticks and the notices its fills made) in one call.
BurstListener = Callable[[list[Tick | OrderNotice]], None]

_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.BEST, OrderType.PRIORITY})
_BUY_CREDITS = frozenset(
    {Credit.CASH, Credit.MARGIN_KSFC, Credit.MARGIN_SELF, Credit.PURCHASE_LOAN}
)
# One in 512 price moves (nine random bits all zero) is replaced by an auction's expected-price
# print; a power of two so that it takes bits of the step's draw, not a draw of its own.
_EXPECTED_MASK = 0x1FF
# Ticks a price moves per step, drawn uniformly: mostly small moves, often none.
_WALK = (-2, -1, -1, 0, 0, 1, 1, 2)
DEMO_ACCOUNT = "5012345601"


class RefusalReason(StrEnum):
    """Why the venue refused a request outright (:attr:`VenueRefusal.reason_code`)."""

    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_CODE = "UNKNOWN_CODE"
    BAD_QTY = "BAD_QTY"
    BAD_PRICE = "BAD_PRICE"
    BAD_CREDIT = "BAD_CREDIT"
    SHORT_UNSUPPORTED = "SHORT_UNSUPPORTED"
    LOAN_DATE_REQUIRED = "LOAN_DATE_REQUIRED"
    UNSUPPORTED_ORDER_TYPE = "UNSUPPORTED_ORDER_TYPE"
    INSUFFICIENT_SELLABLE = "INSUFFICIENT_SELLABLE"
    INSUFFICIENT_CASH = "INSUFFICIENT_CASH"
    NO_SUCH_ORDER = "NO_SUCH_ORDER"
    QTY_ABOVE_REMAINING = "QTY_ABOVE_REMAINING"
    ACCOUNT_EXISTS = "ACCOUNT_EXISTS"


class VenueRefusal(Exception):
    """The venue refused a request before it reached the (simulated) exchange."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


class UnknownInstrument(KeyError):
    """A code that is not in the venue's instrument master."""

    def __init__(self, code: object) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"unknown instrument {self.code!r}: not in the venue's instrument master"


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An open order as the venue sees it."""

    order_no: str
    account: str
    side: Side
    code: Code
    qty: int  # quantity of this order number (after an amend: the amended quantity)
    price: int  # 0 for market-type orders
    remaining: int
    filled: int
    order_type: OrderType
    condition: Condition
    credit: Credit
    loan_date: date | None
    time: datetime
    orig_order_no: str = ""  # the order this one amended, if any


class Venue:
    """One simulated market with its accounts; thread-safe.

    Listeners are called synchronously, in event order, on the thread that caused the event,
    after the venue's state has been updated and while the venue's lock is held: they must be
    quick, must not raise, and must not wait on another thread that uses the venue.

    ``codes_per_step`` is how many codes :meth:`step` moves by default (a quarter of the master
    if ``None``); ``step_seconds`` is the simulated time one step takes; ``depth_won`` bounds
    how much (in won) one match can fill, which is what makes large orders fill in pieces.
    ``loan_percent`` is the lender's share of a margin buy (보증금률 40% lends 60%).

    ``state_path`` makes the market last (see :mod:`jango.sandbox.venue_state`). If the file
    exists, the venue continues the state in it and ``instruments`` and ``seed`` are not used
    (the saved master and generator win); a given ``clock`` is moved to the saved time. If it
    does not exist, a fresh venue is made from the arguments and saved there. A file that cannot
    be read raises :class:`VenueStateError` naming it; it is never replaced by a fresh market.
    Call :meth:`close` to release the file.

    ``listing`` lists codes beyond ``instruments`` (every KRX listing, for a skin whose scripts
    may name any real code): a code it answers joins the market at its 기준가 on first use.
    """

    def __init__(
        self,
        instruments: Sequence[InstrumentSpec] | None = None,
        *,
        seed: int = 0,
        clock: SimClock | None = None,
        costs: CostSchedule = CostSchedule(),  # noqa: B008 - frozen value, safe as a default
        codes_per_step: int | None = None,
        step_seconds: float = 1.0,
        depth_won: int = 20_000_000,
        loan_percent: int = 60,
        state_path: Path | None = None,
        listing: Callable[[Code], InstrumentSpec | None] | None = None,
    ) -> None:
        if depth_won <= 0:
            raise ValueError(f"depth_won must be positive, got {depth_won}")
        if not 0 <= loan_percent < 100:
            raise ValueError(f"loan_percent must be from 0 to 99, got {loan_percent}")
        self._lock = threading.RLock()
        self._listing = listing
        self._costs = costs
        self._step_seconds = step_seconds
        self._depth_won = depth_won
        self._loan_percent = loan_percent
        self._accounts: dict[str, AccountEntry] = {}
        self._rows: dict[HoldingKey, RowEntry] = {}
        # Open orders by order number, oldest first; ``_today`` also keeps the closed ones.
        self._orders: dict[str, OrderEntry] = {}
        self._today: dict[str, OrderEntry] = {}
        self._fills: list[VenueFill] = []
        self._order_seq = 0
        self._fill_seq = 0
        self._tick_listeners: dict[int, TickListener] = {}
        self._notice_listeners: dict[int, NoticeListener] = {}
        self._burst_listeners: dict[int, BurstListener] = {}
        self._listener_seq = 0
        self._outbox: deque[Tick | OrderNotice] = deque()
        # The walk's state of every code for the trading day ``_walkers_day`` (see _day_walkers).
        self._walkers: list[Walker] = []
        self._walkers_day: date | None = None
        self._store: StateFile | None = None
        # What the file already holds: how many fills and of today's orders, which orders were
        # open (only those can have changed since), and whether the day rolled since.
        self._saved_fills = 0
        self._saved_orders = 0
        self._saved_open: set[str] = set()
        self._new_day = False
        self._dirty = False
        self._closed = False
        if state_path is not None and state_path.exists():
            store, state, saved = StateFile.open(state_path)
            try:
                self._clock = self._resume_clock(state, clock, state_path)
            except BaseException:
                store.close()
                raise
            self._seed = state.seed
            self._rng = random.Random()
            self._restore(state, saved)
            self._store = store
        else:
            self._seed = seed
            self._rng = random.Random(seed)
            self._clock = clock if clock is not None else SimClock()
            self._day = self._clock.trading_day()
            self._prices: dict[Code, PriceEntry] = {}
            specs = list(load_instruments() if instruments is None else instruments)
            if not specs:
                raise ValueError("a venue needs at least one instrument")
            for spec in specs:
                if spec.code in self._prices:
                    raise ValueError(f"instrument {spec.code} listed twice")
                upper, lower = self._limits(spec.base_price, spec.market)
                self._prices[spec.code] = PriceEntry(
                    spec.instrument(), spec.base_price, upper, lower, spec.base_price
                )
            if state_path is not None:
                self._store = StateFile.create(state_path, self._state_now())
        self._codes = list(self._prices)
        self._codes_per_step = (
            max(1, len(self._codes) // 4) if codes_per_step is None else codes_per_step
        )

    @property
    def loan_percent(self) -> int:
        """The lender's share of a margin buy, in percent (the broker's configured margin rate)."""
        return self._loan_percent

    @property
    def state_path(self) -> Path | None:
        """The file this venue's market is saved in, or ``None`` for a market of one run."""
        return None if self._store is None else self._store.path

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` released the state file (the venue can then change no more)."""
        return self._closed

    def close(self) -> None:
        """Release the state file (the state is already saved). Safe to call twice."""
        with self._lock:
            self._closed = True
            if self._store is not None:
                self._store.close()

    # ---------------------------------------------------------------- instruments and prices

    def instruments(self) -> list[Instrument]:
        """Every instrument of the venue, in master order."""
        return [state.instrument for state in self._prices.values()]

    def instrument(self, code: str) -> Instrument:
        """The instrument of ``code``; raises :class:`UnknownInstrument`."""
        return self._state(code).instrument

    def now(self) -> datetime:
        """The venue's (simulated) time."""
        return self._clock.now()

    @property
    def clock(self) -> SimClock:
        """The simulated clock; a skin may advance it (the venue rolls the day on its next call)."""
        return self._clock

    def quote(self, code: str) -> Quote:
        """Current price, change from 기준가, volume and the day's limits of ``code``."""
        with self._operation(write=False):
            state = self._state(code)
            return Quote(
                code=state.instrument.code,
                price=state.price,
                diff=state.price - state.base,
                volume=state.volume,
                base=state.base,
                upper=state.upper,
                lower=state.lower,
                name=state.instrument.name,
                market=state.instrument.market,
            )

    def add_tick_listener(self, callback: TickListener) -> Callable[[], None]:
        """Call ``callback`` for every tick; returns a function that removes it."""
        with self._lock:
            self._listener_seq += 1
            token = self._listener_seq
            self._tick_listeners[token] = callback
        return lambda: self._remove_listener(token)

    def add_notice_listener(self, callback: NoticeListener) -> Callable[[], None]:
        """Call ``callback`` for every order notice of every account; returns a remover."""
        with self._lock:
            self._listener_seq += 1
            token = self._listener_seq
            self._notice_listeners[token] = callback
        return lambda: self._remove_listener(token)

    def add_burst_listener(
        self, callback: BurstListener, *, first: bool = False
    ) -> Callable[[], None]:
        """Call ``callback`` once per operation with every tick and notice it produced, in
        order (a feed's burst); returns a remover. Costs one call per step, not one per tick,
        while no per-event listener is attached; with one, bursts are single events so that
        every listener hears the same order. ``first`` puts it before the burst listeners
        added earlier (a benchmark stamping when a burst was made, before an adapter has it).
        """
        with self._lock:
            self._listener_seq += 1
            # Listeners are called in token order, tick, notice and burst listeners alike.
            token = -self._listener_seq if first else self._listener_seq
            self._burst_listeners[token] = callback
        return lambda: self._remove_listener(token)

    def settle(self) -> None:
        """Return once no operation is in progress: everything the last one made has been
        handed to the listeners (they are called before an operation lets go of the venue)."""
        with self._lock:
            pass

    def step(self, n_codes: int | None = None) -> list[Tick]:
        """Advance the clock one step, move ``n_codes`` prices, emit ticks, match orders.

        Prices walk a few ticks at a time on the tick grid of their band, clamped to the day's
        limits. Rarely a code prints an auction expected price (``expected=True``) instead, which
        moves nothing and fills nothing. Returns the ticks emitted.
        """
        with self._operation():
            self._clock.advance(self._step_seconds)
            self._sync_day()
            count = self._codes_per_step if n_codes is None else n_codes
            walkers = self._day_walkers()
            n = len(walkers)
            k = max(0, min(count, n))
            # One draw for the whole step, unpacked in C: two 64-bit words per code moved. The
            # first picks the code (a partial Fisher-Yates shuffle: k distinct codes in random
            # order, as ``random.sample`` would); of the second, bits 0-2 pick the move, 3-11
            # whether it is an expected price (one in 512) and the rest the volume traded.
            words = struct.unpack(f"<{2 * k}Q", self._rng.randbytes(16 * k))
            pool = walkers[:]
            depth_won = self._depth_won
            now = self._clock.now()
            # The ticks' fields by column, built into ticks in one call (see new_ticks).
            codes: list[Code] = []
            prices: list[int] = []
            diffs: list[int] = []
            volumes: list[int] = []
            expected_at: list[int] = []  # positions of the expected-price prints
            for i, pick, bits in zip(range(k), words[:k], words[k:], strict=True):
                j = i + pick % (n - i)
                walker = pool[j]
                pool[j] = pool[i]
                state = walker.state
                walk = walker.prices
                if walk is None:  # off the day's grid: one tick at a time
                    at = 0
                    price = self._walk(state, _WALK[bits & 7])
                else:
                    at = walker.at + _WALK[bits & 7]
                    if at > walker.upper_at:
                        at = walker.upper_at
                    elif at < walker.lower_at:
                        at = walker.lower_at
                    price = walk[at]
                if (bits >> 3) & _EXPECTED_MASK:
                    walker.at = at
                    state.price = price
                    state.volume += 1 + (bits >> 12) % (depth_won // price or 1)
                else:
                    expected_at.append(i)
                codes.append(walker.code)
                prices.append(price)
                diffs.append(price - state.base)
                volumes.append(state.volume)
            ticks = new_ticks(codes, prices, diffs, volumes, now, False)
            for i in expected_at:
                ticks[i] = replace(ticks[i], expected=True)
            self._outbox.extend(ticks)
            if self._orders:
                moved = {tick.code for tick in ticks if not tick.expected}
                for order in list(self._orders.values()):
                    if order.code in moved or order.order_type in _MARKET_TYPES:
                        self._try_fill(order)
            return ticks

    # ---------------------------------------------------------------- accounts

    def open_account(self, account: str, *, cash: int, holdings: Sequence[BalanceRow] = ()) -> None:
        """Open ``account`` with ``cash`` won settled and the given holdings.

        Each holding's ``qty``, ``purchase_amount`` and ``loan_amount`` are taken; its sellable
        quantity is the whole quantity, since a new account has no open orders. Rows with the
        same key add up. Only loan-funded (credit) rows may carry a loan amount.
        """
        with self._operation():
            if account in self._accounts:
                raise VenueRefusal(RefusalReason.ACCOUNT_EXISTS, f"account {account} exists")
            if cash < 0:
                raise ValueError(f"opening cash must not be negative, got {cash}")
            rows: dict[HoldingKey, RowEntry] = {}
            for holding in holdings:
                if holding.account != account:
                    raise ValueError(f"holding for {holding.account} given to account {account}")
                self._state(holding.code)
                if holding.credit.is_short or holding.credit is Credit.OTHER:
                    raise ValueError(f"credit type {holding.credit} is not supported by the venue")
                if (holding.credit is Credit.CASH) != (holding.loan_date is None):
                    raise ValueError(f"{holding.code}: a credit row needs a loan date, cash none")
                if holding.credit is Credit.CASH and holding.loan_amount:
                    raise ValueError(f"{holding.code}: a cash row has no loan amount")
                row = rows.setdefault(holding.key, RowEntry())
                row.qty += holding.qty
                row.purchase_amount += holding.purchase_amount
                row.loan_amount += holding.loan_amount
            self._accounts[account] = AccountEntry(cash)
            self._rows.update({key: row for key, row in rows.items() if row.qty > 0})

    def open_demo_account(self, account: str = DEMO_ACCOUNT) -> None:
        """Open a demo account: 50,000,000 won and about six holdings with a margin row.

        The margin (자기융자) row is on the same code as a cash row, so the two-rows-per-code
        case shows from the start; its loan amount is ``loan_percent`` of its purchase amount.
        Average prices sit within ±15% of the base price.
        """
        preferred = ("005930", "000660", "035420", "005380", "069500", "247540")
        codes = [Code(c) for c in preferred if c in self._prices]
        codes += [c for c in self._codes if c not in codes][: max(0, 6 - len(codes))]
        # A generator of its own, so opening the demo account does not shift the price paths.
        rng = random.Random(f"demo-account-{self._seed}")
        with self._operation():
            rows: list[BalanceRow] = []
            for code in codes:
                rows.append(self._demo_row(account, code, Credit.CASH, None, rng))
            loan_date = krx.add_business_days(self._day, -20)
            margin = self._demo_row(account, codes[0], Credit.MARGIN_SELF, loan_date, rng)
            loan = self._loan_part(margin.credit, margin.purchase_amount)
            rows.append(replace(margin, loan_amount=loan))
            self.open_account(account, cash=50_000_000, holdings=rows)

    def accounts(self) -> list[str]:
        """Account numbers open at the venue."""
        with self._lock:
            return list(self._accounts)

    def balance(self, account: str) -> BalanceSnapshot:
        """The venue's truth for ``account``: rows at current prices, cash, today's orders.

        Every non-empty row, with its loan amount; cash as deposit (settled), D+1 and D+2;
        ``orders`` are the account's orders of the trading day, oldest first, with their
        cumulative filled quantity (a cancel request is not an order of its own here: it shows
        as the cancelled order's smaller remaining quantity; an amend is the new order number
        that replaced the original, whose remaining is then 0).
        """
        with self._operation(write=False):
            acct = self._account(account)
            rows = []
            for key, row in self._rows.items():
                if key.account != account or row.qty == 0:
                    continue
                state = self._prices[key.code]
                rows.append(
                    BalanceRow(
                        account=account,
                        code=key.code,
                        qty=row.qty,
                        sellable=row.qty - row.held,
                        purchase_amount=row.purchase_amount,
                        credit=key.credit,
                        loan_date=key.loan_date,
                        name=state.instrument.name,
                        market=state.instrument.market,
                        price=state.price,
                        loan_amount=row.loan_amount,
                    )
                )
            rows.sort(key=lambda r: (r.code, r.credit, r.loan_date or date.min))
            d1 = acct.by(krx.add_business_days(self._day, 1))
            orders = tuple(_order_state(o) for o in self._today.values() if o.account == account)
            return BalanceSnapshot(
                account,
                tuple(rows),
                Cash(acct.deposit, acct.d2, d1),
                self._clock.now(),
                "sim",
                orders,
            )

    def fills(self, account: str) -> list[VenueFill]:
        """Every fill the venue ever made for ``account``, in order (kept with the state)."""
        with self._lock:
            self._account(account)
            return [f for f in self._fills if f.account == account]

    def orderable_cash(self, account: str) -> int:
        """Cash a new buy may use: D+2 cash minus what open buys hold (주문가능금액)."""
        with self._operation(write=False):
            return self._orderable(account)

    # ---------------------------------------------------------------- orders

    def place(
        self,
        account: str,
        side: Side,
        code: str,
        qty: int,
        price: int = 0,
        *,
        order_type: OrderType = OrderType.LIMIT,
        condition: Condition = Condition.NONE,
        credit: Credit = Credit.CASH,
        loan_date: date | None = None,
    ) -> str:
        """Place a new order and return its order number (ten digits).

        Raises :class:`VenueRefusal` for broker-side problems; exchange-side problems come as
        ACCEPTED then REJECTED notices. A marketable order starts filling at once; IOC and FOK
        orders never rest (the unfilled part is cancelled with a CONFIRMED CANCEL notice).
        """
        with self._operation():
            self._account(account)
            try:
                state = self._state(code)
            except UnknownInstrument as exc:
                raise VenueRefusal(RefusalReason.UNKNOWN_CODE, str(exc)) from None
            stock = state.instrument.code
            if qty <= 0:
                raise VenueRefusal(RefusalReason.BAD_QTY, f"quantity must be positive, got {qty}")
            self._check_type_and_price(order_type, price)
            loan_date = self._check_credit(side, credit, loan_date)
            key = HoldingKey(account, stock, credit, loan_date)
            hold_price = 0
            if side is Side.SELL:
                row = self._rows.get(key)
                sellable = 0 if row is None else row.qty - row.held
                if qty > sellable:
                    raise VenueRefusal(
                        RefusalReason.INSUFFICIENT_SELLABLE,
                        f"selling {qty} of {stock} ({credit}) but only {sellable} sellable",
                    )
            else:
                hold_price = state.upper if order_type in _MARKET_TYPES else price
                self._check_cash(account, self._hold(credit, qty * hold_price), released=0)
            order = OrderEntry(
                order_no=self._next_order_no(),
                account=account,
                side=side,
                code=stock,
                qty=qty,
                price=price,
                order_type=order_type,
                condition=condition,
                credit=credit,
                loan_date=loan_date,
                time=self._clock.now(),
                orig_order_no="",
                remaining=qty,
                hold_price=hold_price,
            )
            if side is Side.SELL:
                self._rows[key].held += qty
            self._orders[order.order_no] = order
            self._today[order.order_no] = order
            self._notify(order, NoticeKind.ACCEPTED, OrderAction.NEW, qty, price)
            if order_type not in _MARKET_TYPES and not self._exchange_accepts(state, price):
                self._close(order, order.remaining)
                self._notify(order, NoticeKind.REJECTED, OrderAction.NEW, qty, price)
                return order.order_no
            self._try_fill(order, all_or_none=condition is Condition.FOK)
            if condition is not Condition.NONE and order.remaining:
                self._expire(order)
            return order.order_no

    def amend(self, account: str, order_no: str, *, price: int, qty: int | None = None) -> str:
        """Replace all of an open order's remaining quantity with ``qty`` at ``price``.

        ``qty`` defaults to the remaining quantity; a lower one releases the difference. Returns
        the new order number; the CONFIRMED AMEND notice carries it with ``orig_order_no``. A
        new price off the tick grid or outside the limits gives a REJECTED AMEND notice and
        leaves the original order as it was. ``price`` 0 keeps a market-type order at market; a
        positive price turns it into a limit order.
        """
        with self._operation():
            order = self._open_order(account, order_no)
            new_qty = order.remaining if qty is None else qty
            if new_qty <= 0:
                raise VenueRefusal(RefusalReason.BAD_QTY, f"quantity must be positive: {new_qty}")
            if new_qty > order.remaining:
                raise VenueRefusal(
                    RefusalReason.QTY_ABOVE_REMAINING,
                    f"amending {new_qty} but order {order_no} has {order.remaining} remaining",
                )
            if price == 0 and order.order_type in _MARKET_TYPES:
                order_type = order.order_type
            else:
                order_type = (
                    OrderType.LIMIT if order.order_type in _MARKET_TYPES else order.order_type
                )
            self._check_type_and_price(order_type, price)
            state = self._prices[order.code]
            hold_price = 0
            if order.side is Side.BUY:
                hold_price = state.upper if order_type in _MARKET_TYPES else price
                released = self._hold(order.credit, order.remaining * order.hold_price)
                self._check_cash(account, self._hold(order.credit, new_qty * hold_price), released)
            new_no = self._next_order_no()
            amended = replace(
                order,
                order_no=new_no,
                qty=new_qty,
                price=price,
                order_type=order_type,
                time=self._clock.now(),
                orig_order_no=order_no,
                remaining=new_qty,
                filled=0,
                hold_price=hold_price,
            )
            if order_type not in _MARKET_TYPES and not self._exchange_accepts(state, price):
                # Listed among the day's orders as what it was: a request the exchange refused.
                amended.remaining = 0
                self._today[new_no] = amended
                self._notify(amended, NoticeKind.REJECTED, OrderAction.AMEND, new_qty, price)
                return new_no
            # The new order number takes over the original's hold; only the difference is freed.
            if order.side is Side.SELL:
                self._rows[order.key].held -= order.remaining - new_qty
            del self._orders[order_no]
            order.remaining = 0
            self._orders[new_no] = amended
            self._today[new_no] = amended
            self._notify(amended, NoticeKind.CONFIRMED, OrderAction.AMEND, new_qty, price)
            self._try_fill(amended)
            return new_no

    def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> str:
        """Cancel ``qty`` (default: all) of an open order's remaining quantity.

        Returns the cancel's own order number; the CONFIRMED CANCEL notice carries it with
        ``orig_order_no`` and the quantity cancelled. A partial cancel leaves the rest open.
        """
        with self._operation():
            order = self._open_order(account, order_no)
            cancelled = order.remaining if qty is None else qty
            if cancelled <= 0:
                raise VenueRefusal(RefusalReason.BAD_QTY, f"quantity must be positive: {cancelled}")
            if cancelled > order.remaining:
                raise VenueRefusal(
                    RefusalReason.QTY_ABOVE_REMAINING,
                    f"cancelling {cancelled} but order {order_no} has {order.remaining} remaining",
                )
            cancel_no = self._next_order_no()
            self._close(order, cancelled)
            self._notify(
                order,
                NoticeKind.CONFIRMED,
                OrderAction.CANCEL,
                cancelled,
                order.price,
                order_no=cancel_no,
                orig_order_no=order_no,
            )
            return cancel_no

    def open_orders(self, account: str) -> list[VenueOrder]:
        """Open orders of ``account``, oldest first."""
        with self._operation(write=False):
            self._account(account)
            return [_public(o) for o in self._orders.values() if o.account == account]

    # ---------------------------------------------------------------- internals: plumbing

    @contextmanager
    def _operation(self, *, write: bool = True) -> Iterator[None]:
        # Every public call first catches up with the clock (another skin may have advanced a
        # shared clock into a new day), then saves what it changed, and last delivers the
        # events it produced, in order: no listener hears of a state the file does not hold.
        with self._lock:
            try:
                self._sync_day()
                self._dirty |= write
                yield
            finally:
                self._persist()
                self._flush()

    def _persist(self) -> None:
        if self._store is None or not self._dirty:
            return
        if self._closed:
            raise VenueStateError(f"{self._store.path}: the venue was closed; it saves no more")
        try:
            # Synced to disk whenever someone is about to hear of the change.
            durable = any(isinstance(event, OrderNotice) for event in self._outbox)
            new = itertools.islice(self._today.values(), self._saved_orders, None)
            changed = {o.order_no: o for o in new}
            for order_no in self._saved_open | set(self._orders):
                if order_no in self._today:
                    changed.setdefault(order_no, self._today[order_no])
            self._store.save(
                self._state_now(),
                self._fills[self._saved_fills :],
                changed.values(),
                new_day=self._new_day,
                durable=durable,
            )
        except sqlite3.Error as exc:
            # The events stay in the outbox, unheard: the next operation saves and pushes them.
            raise VenueStateError(
                f"{self._store.path}: cannot save the sim venue state ({exc})"
            ) from exc
        self._saved_fills = len(self._fills)
        self._saved_orders = len(self._today)
        self._saved_open = set(self._orders)
        self._new_day = False
        self._dirty = False

    def _state_now(self) -> VenueState:
        return VenueState(
            seed=self._seed,
            now=self._clock.now(),
            session_open=self._clock.session_open,
            session_close=self._clock.session_close,
            day=self._day,
            prices=self._prices,
            accounts=self._accounts,
            rows=self._rows,
            orders=self._today,
            order_seq=self._order_seq,
            fill_seq=self._fill_seq,
            rng=self._rng.getstate(),
        )

    def _restore(self, state: VenueState, fills: list[VenueFill]) -> None:
        self._day = state.day
        self._prices = state.prices
        self._accounts = state.accounts
        self._rows = state.rows
        self._today = state.orders
        self._orders = {no: o for no, o in state.orders.items() if o.remaining > 0}
        self._order_seq = state.order_seq
        self._fill_seq = state.fill_seq
        self._rng.setstate(state.rng)
        self._fills = fills
        self._saved_fills = len(fills)
        self._saved_orders = len(self._today)
        self._saved_open = set(self._orders)
        self._walkers_day = None

    def _flush(self) -> None:
        # Popping one at a time keeps the order right when a listener calls back into the venue
        # (the nested call saves and flushes what is left, then its own events).
        while self._outbox:
            bursts = sorted(self._burst_listeners.items())
            if bursts and not self._tick_listeners and not self._notice_listeners:
                burst = list(self._outbox)
                self._outbox.clear()
                for _, burst_listener in bursts:
                    burst_listener(burst)
                continue
            event = self._outbox.popleft()
            # Every listener in the order it was added, each event alone.
            calls: list[tuple[int, Callable[[], None]]]
            if isinstance(event, Tick):
                calls = [
                    (t, functools.partial(cb, event)) for t, cb in self._tick_listeners.items()
                ]
            else:
                calls = [
                    (t, functools.partial(cb, event)) for t, cb in self._notice_listeners.items()
                ]
            calls += [(token, functools.partial(b, [event])) for token, b in bursts]
            for _, call in sorted(calls, key=_first):
                call()

    @staticmethod
    def _resume_clock(state: VenueState, clock: SimClock | None, path: Path) -> SimClock:
        if clock is None:
            return SimClock(
                state.now, session_open=state.session_open, session_close=state.session_close
            )
        if (clock.session_open, clock.session_close) != (state.session_open, state.session_close):
            raise ValueError(
                f"{path}: the saved market's session is {state.session_open}-"
                f"{state.session_close}, the given clock's {clock.session_open}-"
                f"{clock.session_close}"
            )
        clock.restore(state.now)
        return clock

    def _remove_listener(self, token: int) -> None:
        with self._lock:
            self._tick_listeners.pop(token, None)
            self._notice_listeners.pop(token, None)
            self._burst_listeners.pop(token, None)

    def _state(self, code: str) -> PriceEntry:
        try:
            key = parse_code(code)
        except InvalidCode:
            raise UnknownInstrument(code) from None
        state = self._prices.get(key)
        if state is not None:
            return state
        spec = self._listing(key) if self._listing is not None else None
        if spec is None:
            raise UnknownInstrument(code)
        with self._lock:
            if key not in self._prices:
                upper, lower = self._limits(spec.base_price, spec.market)
                self._prices[key] = PriceEntry(
                    spec.instrument(), spec.base_price, upper, lower, spec.base_price
                )
                self._codes.append(key)
            return self._prices[key]

    def _account(self, account: str) -> AccountEntry:
        acct = self._accounts.get(account)
        if acct is None:
            raise VenueRefusal(RefusalReason.UNKNOWN_ACCOUNT, f"unknown account {account!r}")
        return acct

    def _open_order(self, account: str, order_no: str) -> OrderEntry:
        self._account(account)
        order = self._orders.get(order_no)
        if order is None or order.account != account:
            raise VenueRefusal(
                RefusalReason.NO_SUCH_ORDER,
                f"order {order_no} is not open in {account} (unknown, filled, cancelled, expired)",
            )
        return order

    def _next_order_no(self) -> str:
        self._order_seq += 1
        return f"{self._order_seq:010d}"

    def _limits(self, base: int, market: Market) -> tuple[int, int]:
        if krx.has_price_limit(market):
            return krx.price_limits(base, market, self._day)
        # ELW has no daily limit; bound the walk anyway so prices stay plausible.
        tick = krx.tick_size(base, market, self._day)
        return base * 10 - base * 10 % tick, tick

    def _depth(self, price: int) -> int:
        return max(1, self._depth_won // price)

    # ---------------------------------------------------------------- internals: checks

    @staticmethod
    def _check_type_and_price(order_type: OrderType, price: int) -> None:
        if order_type is OrderType.OTHER:
            raise VenueRefusal(RefusalReason.UNSUPPORTED_ORDER_TYPE, "order type 'other'")
        if order_type in _MARKET_TYPES and price != 0:
            raise VenueRefusal(RefusalReason.BAD_PRICE, f"{order_type} orders take price 0")
        if order_type not in _MARKET_TYPES and price <= 0:
            raise VenueRefusal(RefusalReason.BAD_PRICE, f"limit price must be positive: {price}")

    def _check_credit(self, side: Side, credit: Credit, loan_date: date | None) -> date | None:
        """Validate the credit type and return the loan date the order's row is keyed by."""
        if credit.is_short:
            raise VenueRefusal(RefusalReason.SHORT_UNSUPPORTED, "short (대주) orders: no matching")
        if credit is Credit.OTHER or (side is Side.BUY and credit not in _BUY_CREDITS):
            raise VenueRefusal(RefusalReason.BAD_CREDIT, f"cannot {side} with credit {credit}")
        if credit is Credit.CASH:
            if loan_date is not None:
                raise VenueRefusal(RefusalReason.BAD_CREDIT, "cash orders take no loan date")
            return None
        if side is Side.SELL and loan_date is None:
            raise VenueRefusal(
                RefusalReason.LOAN_DATE_REQUIRED, f"a {credit} sell must name the loan date"
            )
        return loan_date if loan_date is not None else self._day

    def _check_cash(self, account: str, need: int, released: int) -> None:
        """Refuse a buy whose cash hold ``need`` exceeds what is orderable plus ``released``."""
        available = self._orderable(account) + released
        if need > available:
            raise VenueRefusal(
                RefusalReason.INSUFFICIENT_CASH,
                f"order needs {need:,} won with commission; {available:,} won orderable",
            )

    def _exchange_accepts(self, state: PriceEntry, price: int) -> bool:
        market = state.instrument.market
        return krx.is_valid_price(price, market, self._day) and (
            state.lower <= price <= state.upper
        )

    def _loan_part(self, credit: Credit, amount: int) -> int:
        """The lender's part of a buy of ``amount`` won with ``credit`` (0 for cash)."""
        return amount * self._loan_percent // 100 if credit is not Credit.CASH else 0

    def _hold(self, credit: Credit, amount: int) -> int:
        """Cash a buy of ``amount`` won needs from the account: its own part and commission."""
        return amount - self._loan_part(credit, amount) + self._costs.commission(amount)

    def _orderable(self, account: str) -> int:
        held = sum(
            self._hold(o.credit, o.remaining * o.hold_price)
            for o in self._orders.values()
            if o.side is Side.BUY and o.account == account
        )
        return self._account(account).d2 - held

    # ---------------------------------------------------------------- internals: matching

    def _day_walkers(self) -> list[Walker]:
        """One walker per code in master order, on the ladders of the trading day (made again
        after a day roll, a restore or a new listing, the only times bases and limits move)."""
        if self._walkers_day == self._day and len(self._walkers) == len(self._codes):
            return self._walkers
        tallest: dict[Market, int] = {}
        for state in self._prices.values():
            market = state.instrument.market
            tallest[market] = max(tallest.get(market, 0), state.upper)
        ladders = {
            market: Ladder.build(krx.tick_table(market, self._day), top)
            for market, top in tallest.items()
        }
        walkers = []
        for code in self._codes:
            state = self._prices[code]
            walkers.append(Walker.on(code, state, ladders[state.instrument.market]))
        self._walkers = walkers
        self._walkers_day = self._day
        return walkers

    def _walk(self, state: PriceEntry, moves: int) -> int:
        """``state``'s price moved ``moves`` ticks one at a time (for a price off the grid)."""
        market = state.instrument.market
        price = state.price
        # One tick at a time: a move can cross into a band with a different tick.
        for _ in range(abs(moves)):
            if moves > 0 and price < state.upper:
                price += krx.tick_size(price, market, self._day)
            elif moves < 0 and price > state.lower:
                price -= krx.tick_size(price - 1, market, self._day)
        return min(max(price, state.lower), state.upper)

    def _try_fill(self, order: OrderEntry, *, all_or_none: bool = False) -> None:
        state = self._prices[order.code]
        price = state.price
        if order.order_type not in _MARKET_TYPES and (
            (order.side is Side.BUY and price > order.price)
            or (order.side is Side.SELL and price < order.price)
        ):
            return
        available = self._rng.randint(1, self._depth(price))
        if all_or_none and available < order.remaining:
            return
        self._fill(order, min(available, order.remaining), price)

    def _fill(self, order: OrderEntry, qty: int, price: int) -> None:
        state = self._prices[order.code]
        acct = self._accounts[order.account]
        row = self._rows.setdefault(order.key, RowEntry())
        amount = qty * price
        commission = self._costs.commission(amount)
        if order.side is Side.BUY:
            # A margin buy's loan part is the lender's money: only the rest leaves the deposit.
            loan = self._loan_part(order.credit, amount)
            row.qty += qty
            row.purchase_amount += amount
            row.loan_amount += loan
            cash = -(amount - loan) - commission
        else:
            # Moving-average cost and a pro-rata loan repayment: the sold part takes its share
            # (truncated), so the last share takes whatever is left and no won is stranded.
            removed = row.purchase_amount * qty // row.qty
            repaid = row.loan_amount * qty // row.qty
            row.qty -= qty
            row.held -= qty
            row.purchase_amount -= removed
            row.loan_amount -= repaid
            tax = self._costs.tax(amount, state.instrument.market, self._day)
            cash = amount - repaid - commission - tax
        acct.pending.append((krx.settlement_date(self._day), cash))
        if row.qty == 0:
            del self._rows[order.key]
        order.remaining -= qty
        order.filled += qty
        if order.remaining == 0:
            del self._orders[order.order_no]
        self._fill_seq += 1
        fill_id = f"{self._fill_seq:012d}"
        now = self._clock.now()
        self._fills.append(
            VenueFill(
                order.account,
                order.order_no,
                fill_id,
                order.side,
                order.code,
                order.credit,
                order.loan_date,
                qty,
                price,
                now,
            )
        )
        self._notify(order, NoticeKind.FILLED, OrderAction.NEW, qty, price, fill_id=fill_id)

    def _close(self, order: OrderEntry, qty: int) -> None:
        """Take ``qty`` off an order's remaining quantity without a fill, releasing its holds."""
        order.remaining -= qty
        if order.side is Side.SELL:
            self._rows[order.key].held -= qty
        if order.remaining == 0:
            self._orders.pop(order.order_no, None)

    def _expire(self, order: OrderEntry, at: datetime | None = None) -> None:
        """The venue cancels what is left of ``order`` (IOC/FOK remainder, end of day)."""
        qty = order.remaining
        self._close(order, qty)
        self._notify(
            order,
            NoticeKind.CONFIRMED,
            OrderAction.CANCEL,
            qty,
            order.price,
            orig_order_no=order.order_no,
            at=at,
        )

    def _notify(
        self,
        order: OrderEntry,
        kind: NoticeKind,
        action: OrderAction,
        qty: int,
        price: int,
        *,
        order_no: str = "",
        orig_order_no: str | None = None,
        fill_id: str = "",
        at: datetime | None = None,
    ) -> None:
        row = self._rows.get(order.key)
        instrument = self._prices[order.code].instrument
        self._outbox.append(
            OrderNotice(
                account=order.account,
                kind=kind,
                action=action,
                side=order.side,
                code=order.code,
                order_no=order_no or order.order_no,
                qty=qty,
                price=price,
                time=at if at is not None else self._clock.now(),
                orig_order_no=order.orig_order_no if orig_order_no is None else orig_order_no,
                credit=order.credit,
                loan_date=order.loan_date,
                order_type=order.order_type,
                condition=order.condition,
                fill_id=fill_id,
                filled_total=order.filled if kind is NoticeKind.FILLED else None,
                name=instrument.name,
                market=instrument.market,
                post_qty=0 if row is None else row.qty,
                post_sellable=0 if row is None else row.qty - row.held,
                post_book_price=(
                    Decimal(0) if row is None else Decimal(row.purchase_amount) / row.qty
                ),
            )
        )

    # ---------------------------------------------------------------- internals: the day

    def _sync_day(self) -> None:
        today = self._clock.trading_day()
        if today == self._day:
            return
        # Unfilled regular-session orders expire at the close (krx-rules §3).
        self._dirty = True
        close = self._clock.close_of(self._day)
        for order in list(self._orders.values()):
            self._expire(order, at=close)
        self._today = {}
        self._saved_orders = 0
        self._new_day = True
        self._day = today
        for state in self._prices.values():
            state.base = state.price
            state.upper, state.lower = self._limits(state.base, state.instrument.market)
            state.volume = 0
        for acct in self._accounts.values():
            acct.deposit = acct.by(today)
            acct.pending = [(when, cash) for when, cash in acct.pending if when > today]

    def _demo_row(
        self,
        account: str,
        code: Code,
        credit: Credit,
        loan_date: date | None,
        rng: random.Random,
    ) -> BalanceRow:
        state = self._prices[code]
        qty = max(1, 3_000_000 // state.base) * rng.randint(1, 4)
        average = state.base * rng.randint(85, 115) // 100
        return BalanceRow(
            account=account,
            code=code,
            qty=qty,
            sellable=qty,
            purchase_amount=qty * average,
            credit=credit,
            loan_date=loan_date,
        )


def _first(call: tuple[int, Callable[[], None]]) -> int:
    return call[0]


def _public(order: OrderEntry) -> VenueOrder:
    return VenueOrder(
        order.order_no,
        order.account,
        order.side,
        order.code,
        order.qty,
        order.price,
        order.remaining,
        order.filled,
        order.order_type,
        order.condition,
        order.credit,
        order.loan_date,
        order.time,
        order.orig_order_no,
    )


def _order_state(order: OrderEntry) -> OrderState:
    return OrderState(
        account=order.account,
        order_no=order.order_no,
        code=order.code,
        side=order.side,
        qty=order.qty,
        filled=order.filled,
        remaining=order.remaining,
        price=order.price,
        time=order.time,
        orig_order_no=order.orig_order_no,
        credit=order.credit,
        loan_date=order.loan_date,
        order_type=order.order_type,
        condition=order.condition,
    )
