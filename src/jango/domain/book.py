"""The Book: applies snapshots, ticks and order notices, and keeps every row and total exact.

Rules (DESIGN.md, krx-rules §5–§6):

* Cost basis is an integer purchase amount (매입금액). A buy fill adds price × qty; closing q of Q
  removes ``purchase_amount * q // Q`` (all of it when q == Q). Average price is derived.
* Accepted/confirmed/rejected notices change only order state and sellable quantity; fills change
  quantity, cost, cash and realized P&L.
* Broker-reported post-event values win; each difference is kept as a :class:`Discrepancy`.
* A fill's identity is the broker's fill id on its trade date where there is one, and otherwise
  its place in its order: the order's cumulative filled quantity after it (``filled_total``).
  Each order keeps a filled watermark; a fill at or below it is already counted (a duplicate,
  or a fill a snapshot's order list already holds) and changes nothing, and a fill that would
  take an order past its quantity is a recorded discrepancy, never silently applied. Two fills
  of the same content are two fills. Other notices apply once (the same content twice is one).
* A snapshot that lists the account's orders of the day sets each order's watermark: that is the
  startup fence, by order state and never by comparing clocks.
* Deposit (예수금) settles T+2 over the KRX calendar: a fill moves D+2 at once and the deposit
  on its settlement date. Open market buys hold cash at the day's upper limit (상한가).
* A loan-funded row carries its loan amount; selling q of Q repays ``loan_amount * q // Q``.
* A tick costs O(rows of that code): account totals are kept by deltas, never re-summed.
* Every ``apply`` returns :class:`Changes` naming what it touched, so views redraw only that.

Short (대주) rows work as mirror images: a sell opens them, a buy closes them, and they gain when
the price falls. Loan-funded rows (margin, short, loans) move cash only by costs and realized P&L,
because the principal is the lender's.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from jango.domain import krx
from jango.domain.costs import PPB, CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Condition,
    Credit,
    Discrepancy,
    DomainError,
    Event,
    HoldingKey,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    OrderType,
    Side,
    Tick,
)

FOUR_PLACES = Decimal("0.0001")


class PnlMode(StrEnum):
    """Which unrealized P&L the views show: KIS-style gross, or Kiwoom-style net of costs."""

    GROSS = "gross"
    NET = "net"


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    REPLACED = "replaced"  # amended: its remaining moved to a new order number


@dataclass(slots=True)
class Row:
    """One holding row. Mutated only by the Book; read it, don't write it."""

    key: HoldingKey
    name: str
    market: Market
    qty: int
    sellable: int
    purchase_amount: int
    price: int = 0  # 0 until the first price arrives
    diff: int = 0
    volume: int = 0
    value: int = 0
    pnl: int = 0
    pnl_net: int = 0
    loan_amount: int = 0  # what the lender funded (대출금액); 0 for cash rows
    # Kept by the Book so a tick is a handful of integer operations.
    totals: Totals = field(default_factory=lambda: Totals(), repr=False, compare=False)
    short: bool = field(default=False, repr=False, compare=False)
    tax_rate: int = field(default=0, repr=False, compare=False)  # ppb, sell tax at valuation day
    fixed_cost: int = field(default=0, repr=False, compare=False)  # costs set by the cost basis

    @property
    def avg_price(self) -> Decimal:
        """Average cost per share, exact to 4 decimals (truncated)."""
        if self.qty == 0:
            return Decimal(0)
        return (Decimal(self.purchase_amount) / self.qty).quantize(FOUR_PLACES, ROUND_DOWN)

    @property
    def priced(self) -> bool:
        return self.price > 0

    @property
    def market_known(self) -> bool:
        """False while the market is unknown: sell tax is then only an estimate (stock rate)."""
        return self.market is not Market.UNKNOWN

    def pnl_rate(self, mode: PnlMode = PnlMode.GROSS) -> Decimal:
        """Unrealized P&L as a percentage of the purchase amount, 2 decimals (truncated)."""
        if self.purchase_amount == 0 or not self.priced:
            return Decimal(0)
        pnl = self.pnl if mode is PnlMode.GROSS else self.pnl_net
        return (Decimal(pnl) * 100 / self.purchase_amount).quantize(Decimal("0.01"), ROUND_DOWN)


@dataclass(slots=True)
class Order:
    """An order as the notices have described it so far."""

    account: str
    order_no: str
    code: Code
    side: Side
    credit: Credit
    loan_date: date | None
    qty: int
    price: int
    order_type: OrderType
    condition: Condition
    time: datetime
    orig_order_no: str = ""
    filled: int = 0
    remaining: int = 0
    status: OrderStatus = OrderStatus.OPEN
    held: int = 0  # sellable quantity this order holds back (closing orders)
    cash_held: int = 0  # orderable cash this order holds back (opening buys)

    @property
    def key(self) -> HoldingKey:
        return HoldingKey(self.account, self.code, self.credit, self.loan_date)


@dataclass(slots=True)
class Totals:
    """Account totals, kept by deltas."""

    purchase_amount: int = 0
    value: int = 0
    pnl: int = 0
    pnl_net: int = 0
    realized_gross: int = 0
    realized_net: int = 0
    commission: int = 0
    tax: int = 0


@dataclass(slots=True)
class Account:
    """Everything the book keeps for one account."""

    account: str
    deposit: int = 0
    d2: int = 0
    buy_holds: int = 0
    synced: bool = False  # a broker snapshot has been applied at least once
    totals: Totals = field(default_factory=Totals)
    rows: dict[HoldingKey, Row] = field(default_factory=dict)
    # Cash still to settle: (settlement date, change to the deposit), in date order.
    pending: list[tuple[date, int]] = field(default_factory=list)
    day: date | None = None  # the book's trading day, for D+1

    @property
    def orderable(self) -> int:
        """D+2 cash less what open buy orders hold back."""
        return self.d2 - self.buy_holds

    @property
    def d1(self) -> int:
        """The deposit after what settles by the next business day (D+1 예수금)."""
        if self.day is None:
            return self.deposit
        by = krx.add_business_days(self.day, 1)
        return self.deposit + sum(amount for when, amount in self.pending if when <= by)

    @property
    def cash(self) -> Cash:
        return Cash(self.deposit, self.d2, self.d1)


@dataclass(frozen=True, slots=True)
class Changes:
    """What one apply touched: views redraw these and nothing else."""

    rows: frozenset[HoldingKey] = frozenset()
    removed: frozenset[HoldingKey] = frozenset()
    accounts: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    discrepancies: tuple[Discrepancy, ...] = ()
    applied: bool = True

    def __bool__(self) -> bool:
        return bool(self.rows or self.removed or self.accounts or self.orders)


NOTHING = Changes(applied=False)


def _closing_side(credit: Credit) -> Side:
    return Side.BUY if credit.is_short else Side.SELL


class Book:
    """Holdings of one or more accounts, exact to the won. Deterministic: same events, same book."""

    def __init__(self, costs: CostSchedule | None = None, *, pnl_mode: PnlMode = PnlMode.GROSS):
        self.costs = costs or CostSchedule()
        self.pnl_mode = pnl_mode
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.discrepancies: list[Discrepancy] = []
        self.names: dict[Code, tuple[str, Market]] = {}
        self._by_code: dict[Code, list[Row]] = {}
        self._tick_changes: dict[Code, Changes] = {}
        self._prices: dict[Code, int] = {}
        self._seen: set[object] = set()
        # Fill watermarks of orders the book never saw accepted: (account, order_no) → filled.
        self._unknown_filled: dict[tuple[str, str], int] = {}
        self._bases: dict[Code, int] = {}  # 기준가 per code: last price less its day's change
        self.reflected_fills = 0  # fills found already counted (duplicates, snapshot-held)
        self.last_seq = 0  # the journal sequence number of the last event applied, if any
        self._day: date | None = None
        self._next_day = datetime.min.replace(tzinfo=KST)
        self._tax_rates: dict[Market, int] = {}
        self._cppb = self.costs.commission_ppb
        self._cunit = self.costs.commission_unit
        self._tunit = self.costs.tax_unit

    # ----------------------------------------------------------------- reading

    def rows(self, account: str | None = None) -> Iterator[Row]:
        """Rows of one account, or of every account, in key order."""
        accounts = [self.accounts[account]] if account in self.accounts else []
        if account is None:
            accounts = [self.accounts[a] for a in sorted(self.accounts)]
        for acc in accounts:
            for key in sorted(acc.rows):
                yield acc.rows[key]

    def row(self, key: HoldingKey) -> Row | None:
        acc = self.accounts.get(key.account)
        return acc.rows.get(key) if acc else None

    def open_orders(self, account: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.status is OrderStatus.OPEN and (account is None or o.account == account)
        ]

    def held_codes(self) -> set[Code]:
        """Codes with at least one row in any account."""
        return set(self._by_code)

    def code_value(self, code: Code) -> int:
        """Value of every row of ``code``, across accounts."""
        return sum(r.value for r in self._by_code.get(code, ()))

    def last_price(self, code: Code) -> int:
        return self._prices.get(code, 0)

    # ----------------------------------------------------------------- applying

    def apply(self, event: Event) -> Changes:
        """Apply any event; dispatches on its type."""
        if isinstance(event, Tick):
            return self.apply_tick(event)
        if isinstance(event, OrderNotice):
            return self.apply_notice(event)
        return self.apply_snapshot(event)

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply_tick(self, tick: Tick) -> Changes:
        """Revalue the rows of ``tick.code``. Expected (auction) prices never revalue."""
        if tick.expected or tick.price <= 0:
            return NOTHING
        price = tick.price
        self._prices[tick.code] = price
        self._bases[tick.code] = price - tick.diff
        rows = self._by_code.get(tick.code)
        if rows is None:
            return NOTHING
        if tick.time >= self._next_day:
            self._day_of(tick.time)
        for row in rows:
            row.diff = tick.diff
            row.volume = tick.volume
            if row.price != price:
                self._revalue(row, price)
        return self._tick_changes[tick.code]

    def apply_ticks(self, ticks: Sequence[Tick]) -> Changes:
        """Apply a burst of ticks in order, as ``apply_tick`` on each would; one merged result.

        The book ends exactly as after applying them one by one. The result holds every row and
        account any of them revalued (``NOTHING`` when none touched a held code): a view that
        redraws after the burst shows what one that redrew after each tick shows last.
        """
        prices, bases, by_code = self._prices, self._bases, self._by_code
        cached, revalue = self._tick_changes, self._revalue
        # The cached change set of each code a tick revalued, repeats and all: a code's rows
        # change only through a notice or snapshot, never inside a burst.
        changed: list[Changes] = []
        for tick in ticks:
            if tick.expected:
                continue
            price = tick.price
            if price <= 0:
                continue
            code = tick.code
            prices[code] = price
            bases[code] = price - tick.diff
            rows = by_code.get(code)
            if rows is None:
                continue
            if tick.time >= self._next_day:
                self._day_of(tick.time)
            diff, volume = tick.diff, tick.volume
            for row in rows:
                row.diff = diff
                row.volume = volume
                if row.price != price:
                    revalue(row, price)
            changed.append(cached[code])
        if not changed:
            return NOTHING
        first = changed[0]
        if len(changed) == 1:
            return first
        return Changes(
            rows=first.rows.union(*[c.rows for c in changed]),
            accounts=first.accounts.union(*[c.accounts for c in changed]),
        )

    def apply_quotes(self, quotes: Iterable[tuple[Code, int, int, int, datetime] | None]) -> None:
        """Apply traded prices ``(code, price, diff, volume, time)`` in order, as ``apply_tick``
        on a tick of each would; ``None`` (an expected price) changes nothing.

        For bulk replays that redraw nothing: no change set, and no tick objects to build.
        """
        prices, bases, by_code, revalue = self._prices, self._bases, self._by_code, self._revalue
        for quote in quotes:
            if quote is None:
                continue
            code, price, diff, volume, when = quote
            if price <= 0:
                continue
            prices[code] = price
            bases[code] = price - diff
            rows = by_code.get(code)
            if rows is None:
                continue
            if when >= self._next_day:
                self._day_of(when)
            for row in rows:
                row.diff = diff
                row.volume = volume
                if row.price != price:
                    revalue(row, price)

    def apply_snapshot(self, snap: BalanceSnapshot) -> Changes:
        """Adopt the broker's whole balance for one account.

        If the account was already in the book, every difference from the broker's truth is
        recorded as a ``snapshot`` discrepancy before the broker's values are adopted.
        """
        self._day_of(snap.time)
        acc = self.accounts.get(snap.account)
        found: list[Discrepancy] = []
        if acc is None:
            acc = self.accounts[snap.account] = Account(snap.account)
        old_rows = dict(acc.rows)
        reconciling = acc.synced
        acc.synced = True
        if reconciling and (acc.deposit, acc.d2) != (snap.cash.deposit, snap.cash.d2):
            found.append(
                self._discrepancy(
                    snap.account,
                    "",
                    "cash",
                    f"deposit={acc.deposit} d2={acc.d2}",
                    f"deposit={snap.cash.deposit} d2={snap.cash.d2}",
                    "snapshot",
                    snap.time,
                )
            )
        new_keys = {row.key for row in snap.rows if row.qty > 0}
        for key, old in old_rows.items():
            if reconciling and key not in new_keys:
                found.append(
                    self._discrepancy(
                        key.account,
                        key.code,
                        "qty",
                        str(old.qty),
                        "0",
                        "snapshot",
                        snap.time,
                        key=key,
                    )
                )
        for key in list(acc.rows):
            self._remove_row(acc, key)
        acc.deposit, acc.d2 = snap.cash.deposit, snap.cash.d2
        self._adopt_pending(acc, snap)
        touched = set()
        for brow in snap.rows:
            if brow.qty == 0:
                continue
            prev: Row | None = old_rows.get(brow.key) if reconciling else None
            if prev is not None:
                for name, mine, theirs in (
                    ("qty", prev.qty, brow.qty),
                    ("sellable", prev.sellable, brow.sellable),
                    ("purchase_amount", prev.purchase_amount, brow.purchase_amount),
                ):
                    if mine != theirs:
                        found.append(
                            self._discrepancy(
                                brow.account,
                                brow.code,
                                name,
                                str(mine),
                                str(theirs),
                                "snapshot",
                                snap.time,
                                key=brow.key,
                            )
                        )
            elif reconciling:
                found.append(
                    self._discrepancy(
                        brow.account,
                        brow.code,
                        "qty",
                        "0",
                        str(brow.qty),
                        "snapshot",
                        snap.time,
                        key=brow.key,
                    )
                )
            if brow.key in touched:
                found.append(
                    self._discrepancy(
                        brow.account,
                        brow.code,
                        "row",
                        "one row",
                        "duplicate row merged",
                        "snapshot",
                        snap.time,
                        key=brow.key,
                    )
                )
                self._merge_balance_row(acc, brow)
            else:
                self._add_balance_row(acc, brow)
            touched.add(brow.key)
        orders: set[str] = set()
        if snap.orders is not None:
            orders = self._adopt_orders(acc, snap, found)
        self._recompute_buy_holds(acc)
        return Changes(
            rows=frozenset(touched),
            removed=frozenset(set(old_rows) - touched),
            accounts=frozenset({snap.account}),
            orders=frozenset(orders),
            discrepancies=tuple(found),
        )

    def _adopt_pending(self, acc: Account, snap: BalanceSnapshot) -> None:
        """Dates for what the snapshot's cash has still to settle (D+2 − deposit).

        The book's own dated entries are kept when they account for exactly that amount;
        otherwise D+1 (where the broker reports it) splits it, and the rest settles at D+2.
        """
        day = snap.time.astimezone(KST).date()
        acc.day = day if acc.day is None or day > acc.day else acc.day
        due = snap.cash.d2 - snap.cash.deposit
        mine = [(when, amount) for when, amount in acc.pending if when > day]
        if sum(amount for _, amount in mine) == due:
            acc.pending = mine
            return
        d1, d2 = krx.add_business_days(day, 1), krx.add_business_days(day, 2)
        acc.pending = []
        if snap.cash.d1 is not None and snap.cash.d1 != snap.cash.deposit:
            acc.pending.append((d1, snap.cash.d1 - snap.cash.deposit))
            due -= snap.cash.d1 - snap.cash.deposit
        if due:
            acc.pending.append((d2, due))

    def _adopt_orders(
        self, acc: Account, snap: BalanceSnapshot, found: list[Discrepancy]
    ) -> set[str]:
        """The broker's orders of the day replace the book's: their filled quantities become the
        watermarks fills are counted from, and their open quantities the holds."""
        states = {o.order_no: o for o in snap.orders or ()}
        replaced = {o.orig_order_no for o in states.values() if o.orig_order_no}
        touched: set[str] = set()
        for order in [o for o in self.orders.values() if o.account == acc.account]:
            if order.order_no in states:
                continue
            if order.status is OrderStatus.OPEN:
                found.append(
                    self._discrepancy(
                        acc.account,
                        order.code,
                        "order",
                        f"open {order.remaining}",
                        "not in the broker's orders",
                        "snapshot: the broker lists no such order; closed",
                        snap.time,
                        order.order_no,
                    )
                )
                order.status, order.remaining = OrderStatus.CANCELLED, 0
            order.held = order.cash_held = 0
            touched.add(order.order_no)
        for st in states.values():
            known = self.orders.get(st.order_no)
            if (
                known is not None
                and known.account == acc.account
                and known.filled != st.filled
                and acc.synced
                and known.filled
            ):
                found.append(
                    self._discrepancy(
                        acc.account,
                        st.code,
                        "filled",
                        str(order.filled),
                        str(st.filled),
                        "snapshot: the broker's filled quantity adopted",
                        snap.time,
                        st.order_no,
                    )
                )
            order = self._order_from_state(st)
            if st.remaining:
                order.status = OrderStatus.OPEN
            elif st.order_no in replaced:
                order.status = OrderStatus.REPLACED
            elif st.filled == st.qty:
                order.status = OrderStatus.FILLED
            else:
                order.status = OrderStatus.CANCELLED
            self._unknown_filled.pop((acc.account, st.order_no), None)
            if order.status is OrderStatus.OPEN:
                if order.side is _closing_side(order.credit):
                    # The snapshot's sellable quantity already leaves this order's shares out.
                    order.held = order.remaining
                elif order.side is Side.BUY:
                    self._set_cash_hold(acc, order)
            touched.add(order.order_no)
        return touched

    def _order_from_state(self, st: OrderState) -> Order:
        order = Order(
            account=st.account,
            order_no=st.order_no,
            code=st.code,
            side=st.side,
            credit=st.credit,
            loan_date=st.loan_date,
            qty=st.qty,
            price=st.price,
            order_type=st.order_type,
            condition=st.condition,
            time=st.time,
            orig_order_no=st.orig_order_no,
            filled=st.filled,
            remaining=st.remaining,
        )
        self.orders[st.order_no] = order
        return order

    def upper_limit(self, code: Code) -> int:
        """Today's upper price limit (상한가) of ``code`` from its 기준가, or 0 if not known."""
        limits = self.price_limits(code)
        return limits[0] if limits is not None else 0

    def price_limits(self, code: Code) -> tuple[int, int] | None:
        """Today's (상한가, 하한가) of ``code`` from its 기준가; None if no price has given the
        기준가 yet or the market has no limit."""
        base = self._bases.get(code, 0)
        market = self.market_of(code)
        if base <= 0 or not krx.has_price_limit(market):
            return None
        try:
            return krx.price_limits(base, market, self._day)
        except DomainError:
            return None

    def market_of(self, code: Code) -> Market:
        """The market ``code`` trades on, as far as the book knows."""
        return self.names.get(code, ("", Market.UNKNOWN))[1]

    def apply_notice(self, n: OrderNotice) -> Changes:
        """Apply one order notice. One already counted (a duplicate, or a fill inside its
        order's watermark) changes nothing and returns ``applied=False``."""
        self._day_of(n.time)
        dedupe = self.dedupe_key(n)
        if dedupe is not None:
            if dedupe in self._seen:
                if n.kind is NoticeKind.FILLED:
                    self.reflected_fills += 1
                return NOTHING
            self._seen.add(dedupe)
        if n.kind is NoticeKind.FILLED and self._counted(n):
            self.reflected_fills += 1
            return NOTHING
        if n.kind is not NoticeKind.FILLED and self._already_reflected(n):
            return NOTHING
        if n.name or n.market is not Market.UNKNOWN:
            self.names.setdefault(n.code, (n.name, n.market))
        acc = self.accounts.get(n.account)
        if acc is None:
            acc = self.accounts[n.account] = Account(n.account)
        ch = _Collector(n.account)
        if n.kind is NoticeKind.FILLED:
            self._fill(acc, n, ch)
        elif n.kind is NoticeKind.ACCEPTED:
            if n.action is OrderAction.NEW:
                self._accept(acc, n, ch)
        elif n.kind is NoticeKind.CONFIRMED:
            if n.action is OrderAction.AMEND:
                self._confirm_amend(acc, n, ch)
            elif n.action is OrderAction.CANCEL:
                self._confirm_cancel(acc, n, ch)
            else:
                ch.found.append(
                    self._discrepancy(
                        n.account,
                        n.code,
                        "action",
                        "amend or cancel",
                        "new",
                        "a confirmation of a new order changes nothing",
                        n.time,
                        n.order_no,
                    )
                )
        elif n.kind is NoticeKind.REJECTED:
            self._reject(acc, n, ch)
        self._adopt_broker_truth(acc, n, ch)
        return ch.changes()

    # ----------------------------------------------------------------- notices

    def _counted(self, n: OrderNotice) -> bool:
        """Whether fill ``n`` is inside its order's filled watermark (already counted)."""
        if n.filled_total is None:
            return False
        order = self.orders.get(n.order_no)
        if order is not None and order.account == n.account:
            return n.filled_total <= order.filled
        return n.filled_total <= self._unknown_filled.get((n.account, n.order_no), 0)

    def _already_reflected(self, n: OrderNotice) -> bool:
        """A notice the order state already shows: the same acceptance again, or one that
        arrives after a snapshot whose order list held the order (open or done), or a
        confirmation of a cancel or amend the list already shows. Applying it, with post
        values from before the snapshot, would undo the snapshot."""
        if n.kind is NoticeKind.ACCEPTED and n.action is OrderAction.NEW:
            known = self.orders.get(n.order_no)
            return known is not None and (known.account, known.side, known.code, known.qty) == (
                n.account,
                n.side,
                n.code,
                n.qty,
            )
        if n.kind is not NoticeKind.CONFIRMED:
            return False
        if n.action is OrderAction.CANCEL:
            orig = self.orders.get(n.orig_order_no or n.order_no)
            return orig is not None and orig.remaining == 0 and orig.status is not OrderStatus.OPEN
        if n.action is OrderAction.AMEND:
            return n.order_no in self.orders
        return False

    def _accept(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        known = self.orders.get(n.order_no)
        if known is not None:
            # Brokers reuse numbers (daily, or a restarted venue): the new order replaces it.
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "order",
                    known.order_no,
                    n.order_no,
                    "order number reused; the new order replaces the old one",
                    n.time,
                    n.order_no,
                )
            )
            self._expire(acc, known, ch)
        order = self._new_order(n, n.order_no, n.qty, n.price)
        self._take_holds(acc, order, ch)
        ch.orders.add(order.order_no)

    def _new_order(self, n: OrderNotice, order_no: str, qty: int, price: int) -> Order:
        order = Order(
            account=n.account,
            order_no=order_no,
            code=n.code,
            side=n.side,
            credit=n.credit,
            loan_date=n.loan_date,
            qty=qty,
            price=price,
            order_type=n.order_type,
            condition=n.condition,
            time=n.time,
            orig_order_no=n.orig_order_no,
            remaining=qty,
        )
        self.orders[order_no] = order
        return order

    def _take_holds(self, acc: Account, order: Order, ch: _Collector) -> None:
        """A closing order holds back sellable quantity; an opening cash buy holds cash."""
        if order.side is _closing_side(order.credit):
            row = acc.rows.get(order.key)
            available = row.sellable if row else 0
            order.held = min(order.remaining, available)
            if order.held < order.remaining:
                ch.found.append(
                    self._discrepancy(
                        order.account,
                        order.code,
                        "sellable",
                        str(available),
                        str(order.remaining),
                        "order above sellable quantity; held what there is",
                        order.time,
                        order.order_no,
                        key=order.key,
                    )
                )
            if row is not None and order.held:
                row.sellable -= order.held
                ch.rows.add(row.key)
        elif order.side is Side.BUY:
            self._set_cash_hold(acc, order)
            ch.accounts.add(acc.account)
            if not order.price and not self.upper_limit(order.code):
                ch.found.append(
                    self._discrepancy(
                        order.account,
                        order.code,
                        "cash_hold",
                        str(order.cash_held),
                        "",
                        "market buy: upper limit unknown (no 기준가 yet); held at the last "
                        "price, the next snapshot's cash is the broker's",
                        order.time,
                        order.order_no,
                    )
                )

    def _set_cash_hold(self, acc: Account, order: Order) -> None:
        price = order.price
        if not price:
            # An open market buy holds at the day's upper limit (krx-rules §5); until that is
            # known, at the last price, which the next snapshot's cash corrects.
            price = self.upper_limit(order.code) or self._prices.get(order.code, 0)
        amount = price * order.remaining if order.status is OrderStatus.OPEN else 0
        hold = amount + self.costs.commission(amount) if amount else 0
        if order.credit.is_loan:
            hold = self.costs.commission(amount)
        acc.buy_holds += hold - order.cash_held
        order.cash_held = hold

    def _release(self, acc: Account, order: Order, qty: int, ch: _Collector) -> None:
        """Give back up to ``qty`` of what ``order`` holds (sellable quantity or cash)."""
        if order.held:
            back = min(qty, order.held)
            order.held -= back
            row = acc.rows.get(order.key)
            if row is not None and back:
                row.sellable += back
                ch.rows.add(row.key)
        if order.cash_held:
            self._set_cash_hold(acc, order)
            ch.accounts.add(acc.account)

    def _within_remaining(self, orig: Order, n: OrderNotice, what: str, ch: _Collector) -> int:
        """The quantity an amend or cancel takes from ``orig`` (all when the notice says 0),
        never more than remains; a larger claim is recorded."""
        qty = n.qty or orig.remaining
        if qty > orig.remaining:
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "remaining",
                    str(orig.remaining),
                    str(qty),
                    f"{what} above remaining; took what remained",
                    n.time,
                    orig.order_no,
                )
            )
        return min(qty, orig.remaining)

    def _confirm_cancel(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        orig = self.orders.get(n.orig_order_no or n.order_no)
        if orig is None:
            ch.found.append(self._unknown_order(n, "cancel of an unknown order"))
            return
        qty = self._within_remaining(orig, n, "cancel", ch)
        orig.remaining -= qty
        if orig.remaining == 0:
            orig.status = OrderStatus.FILLED if orig.filled == orig.qty else OrderStatus.CANCELLED
        self._release(acc, orig, orig.held - min(orig.held, orig.remaining), ch)
        ch.orders.add(orig.order_no)

    def _confirm_amend(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        orig = self.orders.get(n.orig_order_no)
        if n.order_no in self.orders:
            return
        if orig is None:
            ch.found.append(self._unknown_order(n, "amend of an unknown order"))
            new = self._new_order(n, n.order_no, n.qty, n.price)
            self._take_holds(acc, new, ch)
            ch.orders.add(new.order_no)
            return
        qty = self._within_remaining(orig, n, "amend", ch)
        new = self._new_order(n, n.order_no, qty, n.price or orig.price)
        new.side, new.credit, new.loan_date = orig.side, orig.credit, orig.loan_date
        new.order_type, new.condition, new.orig_order_no = n.order_type, n.condition, orig.order_no
        # The hold moves to the new order; a lower quantity releases the difference.
        new.held = min(orig.held, qty)
        orig.held -= new.held
        orig.remaining = 0
        orig.status = OrderStatus.REPLACED
        self._release(acc, orig, orig.held, ch)
        if orig.cash_held or (new.side is Side.BUY and not new.credit.is_short):
            self._set_cash_hold(acc, orig)
            self._set_cash_hold(acc, new)
            ch.accounts.add(acc.account)
        ch.orders.update((orig.order_no, new.order_no))

    def _reject(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        if n.action is not OrderAction.NEW:
            return  # a refused amend or cancel leaves the original as it was
        order = self.orders.get(n.order_no)
        if order is None:
            order = self._new_order(n, n.order_no, n.qty, n.price)
        order.status = OrderStatus.REJECTED
        order.remaining = 0
        self._release(acc, order, order.held, ch)
        ch.orders.add(order.order_no)

    def _fill(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        order = self.orders.get(n.order_no)
        if order is not None and order.account != n.account:
            order = None
        closing = n.side is _closing_side(n.credit)
        if order is None:
            ch.found.append(
                self._unknown_order(n, "fill for an unknown order; applied to holdings")
            )
            if n.filled_total is not None:
                self._unknown_filled[(n.account, n.order_no)] = n.filled_total
            held = 0
        else:
            if n.filled_total is not None and n.filled_total - n.qty != order.filled:
                ch.found.append(
                    self._discrepancy(
                        n.account,
                        n.code,
                        "filled",
                        str(order.filled),
                        str(n.filled_total - n.qty),
                        "fill continues from another filled quantity than the book's; "
                        "the broker's count adopted",
                        n.time,
                        n.order_no,
                    )
                )
                if n.filled_total - n.qty > order.filled:
                    # Fills were missed; the next reconcile brings their rows and cash.
                    missed = n.filled_total - n.qty - order.filled
                    order.filled += missed
                    order.remaining = max(0, order.remaining - missed)
                else:
                    # Part of this fill is already counted: apply only what is new.
                    n = _with_qty(n, n.filled_total - order.filled)
            if n.filled_total is None and order.filled + n.qty > order.qty:
                ch.found.append(
                    self._discrepancy(
                        n.account,
                        n.code,
                        "filled",
                        str(order.filled),
                        str(order.filled + n.qty),
                        f"fill would take the order past its quantity {order.qty}; not applied",
                        n.time,
                        n.order_no,
                    )
                )
                ch.orders.add(order.order_no)
                return
            if n.qty > order.remaining:
                ch.found.append(
                    self._discrepancy(
                        n.account,
                        n.code,
                        "remaining",
                        str(order.remaining),
                        str(n.qty),
                        "fill above the order's remaining quantity",
                        n.time,
                        n.order_no,
                    )
                )
            order.filled += n.qty
            order.remaining = max(0, order.remaining - n.qty)
            if order.remaining == 0:
                order.status = OrderStatus.FILLED
            held = min(order.held, n.qty)
            order.held -= held
            if order.cash_held:
                self._set_cash_hold(acc, order)
                ch.accounts.add(acc.account)
            ch.orders.add(order.order_no)
        if closing:
            self._close(acc, n, held, ch)
        else:
            self._open(acc, n, ch)

    def _open(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        amount = n.price * n.qty
        commission = self.costs.commission(amount)
        market = self._market(n)
        tax = self.costs.tax(amount, market, n.time.date()) if n.side is Side.SELL else 0
        if tax and market is Market.UNKNOWN:
            ch.found.append(self._tax_estimated(n, tax))
        row = acc.rows.get(n.key)
        if row is None:
            name, market = self.names.get(n.code, (n.name, n.market))
            row = Row(n.key, name, market, 0, 0, 0)
            self._insert_row(acc, row)
            self._revalue(row, self._prices.get(n.code) or n.price)
        self._shift(row, d_qty=n.qty, d_sellable=n.qty, d_amount=amount)
        t = acc.totals
        t.commission += commission
        t.tax += tax
        if n.credit.is_short:
            # A short sale's proceeds stay with the lender as collateral.
            cash = -(commission + tax)
        elif n.credit.is_loan:
            loan = amount * self.costs.margin_loan_ppb // PPB
            row.loan_amount += loan
            cash = -(amount - loan + commission)
        else:
            cash = -(amount + commission)
        self._settle_later(acc, n, cash)
        ch.rows.add(row.key)
        ch.accounts.add(acc.account)

    def _settle_later(self, acc: Account, n: OrderNotice, cash: int) -> None:
        """D+2 moves now; the deposit moves on the fill's settlement date (T+2)."""
        acc.d2 += cash
        if cash:
            when = krx.settlement_date(n.time.astimezone(KST).date())
            # Fills arrive in time order, so this lands at the end; no re-sort per fill.
            insort(acc.pending, (when, cash), key=_settle_day)

    def _tax_estimated(self, n: OrderNotice, tax: int) -> Discrepancy:
        return self._discrepancy(
            n.account,
            n.code,
            "tax",
            str(tax),
            "",
            "market unknown: sell tax estimated at the stock rate",
            n.time,
            n.order_no,
            key=n.key,
        )

    def _close(self, acc: Account, n: OrderNotice, held: int, ch: _Collector) -> None:
        row = acc.rows.get(n.key)
        qty = n.qty
        if row is None or row.qty < qty:
            have = row.qty if row else 0
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "qty",
                    str(have),
                    str(qty),
                    "fill closes more than is held; closed what was held",
                    n.time,
                    n.order_no,
                    key=n.key,
                )
            )
            qty = have
            held = min(held, qty)
        if row is None or qty == 0:
            return
        removed = row.purchase_amount if qty == row.qty else row.purchase_amount * qty // row.qty
        repaid = row.loan_amount if qty == row.qty else row.loan_amount * qty // row.qty
        amount = n.price * qty
        commission = self.costs.commission(amount)
        tax = self.costs.tax(amount, row.market, n.time.date()) if n.side is Side.SELL else 0
        if tax and row.market is Market.UNKNOWN:
            ch.found.append(self._tax_estimated(n, tax))
        gross = removed - amount if n.credit.is_short else amount - removed
        net = gross - commission - tax
        # Quantity beyond what the order held back comes out of sellable now.
        self._shift(row, d_qty=-qty, d_sellable=-(qty - held), d_amount=-removed)
        t = acc.totals
        t.realized_gross += gross
        t.realized_net += net
        t.commission += commission
        t.tax += tax
        row.loan_amount -= repaid
        if n.credit.is_short:
            self._settle_later(acc, n, net)
        else:
            self._settle_later(acc, n, amount - repaid - commission - tax)
        ch.accounts.add(acc.account)
        if row.qty == 0:
            self._remove_row(acc, row.key)
            ch.removed.add(row.key)
        else:
            ch.rows.add(row.key)

    def _adopt_broker_truth(self, acc: Account, n: OrderNotice, ch: _Collector) -> None:
        """Where the broker reports the row after the event, its values win; differences kept."""
        if n.post_qty is None and n.post_sellable is None and n.post_book_price is None:
            return
        row = acc.rows.get(n.key)
        if n.post_qty is not None and n.post_qty != (row.qty if row else 0):
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "qty",
                    str(row.qty if row else 0),
                    str(n.post_qty),
                    "broker's post-event quantity adopted",
                    n.time,
                    n.order_no,
                    key=n.key,
                )
            )
            if n.post_qty == 0:
                if row is not None:
                    self._remove_row(acc, row.key)
                    ch.removed.add(row.key)
                    ch.accounts.add(acc.account)
                return
            if row is None:
                name, market = self.names.get(n.code, (n.name, n.market))
                row = Row(n.key, name, market, 0, 0, 0)
                self._insert_row(acc, row)
                self._revalue(row, self._prices.get(n.code) or n.price)
            book_price = n.post_book_price if n.post_book_price is not None else row.avg_price
            amount = int(book_price * n.post_qty)
            sellable = min(row.sellable, n.post_qty)
            self._shift(
                row,
                d_qty=n.post_qty - row.qty,
                d_sellable=sellable - row.sellable,
                d_amount=amount - row.purchase_amount,
            )
            ch.rows.add(row.key)
            ch.accounts.add(acc.account)
        if row is None or row.qty == 0:
            return
        if n.post_sellable is not None and n.post_sellable != row.sellable:
            reported = min(n.post_sellable, row.qty)
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "sellable",
                    str(row.sellable),
                    str(n.post_sellable),
                    "broker's post-event sellable quantity adopted",
                    n.time,
                    n.order_no,
                    key=n.key,
                )
            )
            self._shift(row, d_qty=0, d_sellable=reported - row.sellable, d_amount=0)
            ch.rows.add(row.key)
        # Brokers round the book price; only a difference of a won or more is real.
        if (
            n.post_book_price is not None
            and n.post_book_price > 0
            and abs(Decimal(row.purchase_amount) / row.qty - n.post_book_price) >= 1
        ):
            amount = int(n.post_book_price * row.qty)
            ch.found.append(
                self._discrepancy(
                    n.account,
                    n.code,
                    "avg_price",
                    str(row.avg_price),
                    str(n.post_book_price),
                    "broker's book price adopted",
                    n.time,
                    n.order_no,
                    key=n.key,
                )
            )
            self._shift(row, d_qty=0, d_sellable=0, d_amount=amount - row.purchase_amount)
            ch.rows.add(row.key)
            ch.accounts.add(acc.account)

    # ----------------------------------------------------------------- rows

    def _add_balance_row(self, acc: Account, b: BalanceRow) -> None:
        name, market = b.name, b.market
        if name or market is not Market.UNKNOWN:
            self.names[b.code] = (name, market)
        else:
            name, market = self.names.get(b.code, (name, market))
        row = Row(b.key, name, market, 0, 0, 0)
        row.loan_amount = self._loan_of(b)
        self._insert_row(acc, row)
        self._shift(row, d_qty=b.qty, d_sellable=b.sellable, d_amount=b.purchase_amount)
        price = b.price or self._prices.get(b.code, 0)
        if b.price:
            self._prices[b.code] = b.price
        self._revalue(row, price)

    def _loan_of(self, b: BalanceRow) -> int:
        """The row's loan: as the broker reports it, else the configured margin rate's share."""
        if b.loan_amount or not b.credit.is_loan or b.credit.is_short:
            return b.loan_amount
        return b.purchase_amount * self.costs.margin_loan_ppb // PPB

    def _merge_balance_row(self, acc: Account, b: BalanceRow) -> None:
        row = acc.rows[b.key]
        row.loan_amount += self._loan_of(b)
        self._shift(row, d_qty=b.qty, d_sellable=b.sellable, d_amount=b.purchase_amount)

    def _insert_row(self, acc: Account, row: Row) -> None:
        row.totals = acc.totals
        row.short = row.key.credit.is_short
        row.tax_rate = self._tax_rate(row.market)
        acc.rows[row.key] = row
        self._by_code.setdefault(row.key.code, []).append(row)
        self._refresh_tick_changes(row.key.code)

    def _remove_row(self, acc: Account, key: HoldingKey) -> None:
        row = acc.rows.pop(key)
        t = acc.totals
        t.purchase_amount -= row.purchase_amount
        t.value -= row.value
        t.pnl -= row.pnl
        t.pnl_net -= row.pnl_net
        rows = self._by_code[key.code]
        rows.remove(row)
        if not rows:
            del self._by_code[key.code]
        self._refresh_tick_changes(key.code)

    def _refresh_tick_changes(self, code: Code) -> None:
        rows = self._by_code.get(code)
        if rows is None:
            self._tick_changes.pop(code, None)
        else:
            self._tick_changes[code] = Changes(
                rows=frozenset(r.key for r in rows),
                accounts=frozenset(r.key.account for r in rows),
            )

    def _shift(self, row: Row, *, d_qty: int, d_sellable: int, d_amount: int) -> None:
        """Change quantity, sellable and cost, keeping the row's value and the totals in step."""
        row.qty += d_qty
        row.sellable = max(0, min(row.qty, row.sellable + d_sellable))
        row.purchase_amount += d_amount
        row.totals.purchase_amount += d_amount
        self._set_fixed_cost(row)
        self._revalue(row, row.price)

    def _set_fixed_cost(self, row: Row) -> None:
        """The part of the Kiwoom-style closing costs that depends only on the cost basis."""
        amount = row.purchase_amount
        row.fixed_cost = self.costs.commission(amount)
        if row.short:
            # A short row's sell leg is its opening, taxed on the purchase (sale) amount.
            row.fixed_cost += self.costs.tax_at(amount, row.tax_rate)

    def _revalue(self, row: Row, price: int) -> None:
        """Set the row's price; value, P&L and the account totals follow by deltas.

        Net P&L is Kiwoom-style: less both commissions and the sell tax of whichever leg sells,
        each truncated as the broker does (the arithmetic of CostSchedule, inlined: hot path).
        """
        value = row.qty * price
        if price:
            c = value * self._cppb // PPB
            c -= c % self._cunit
            if row.short:
                pnl = row.purchase_amount - value
                pnl_net = pnl - row.fixed_cost - c
            else:
                pnl = value - row.purchase_amount
                tax = value * row.tax_rate // PPB
                tax -= tax % self._tunit
                pnl_net = pnl - row.fixed_cost - c - tax
        else:
            pnl = pnl_net = 0
        t = row.totals
        t.value += value - row.value
        t.pnl += pnl - row.pnl
        t.pnl_net += pnl_net - row.pnl_net
        row.price, row.value, row.pnl, row.pnl_net = price, value, pnl, pnl_net

    def _tax_rate(self, market: Market) -> int:
        rate = self._tax_rates.get(market)
        if rate is None:
            # _day is set by every apply before any row exists.
            assert self._day is not None
            rate = self._tax_rates[market] = self.costs.tax_rate(market, self._day)
        return rate

    @staticmethod
    def dedupe_key(n: OrderNotice) -> object:
        """What makes two notices the same by identity: a fill's broker fill id on its trade
        date; any other notice's whole content. ``None`` for a fill without a fill id: its
        identity is its place in its order's filled quantity (see :meth:`apply_notice`).

        The date matters because brokers restart fill ids and order numbers every day.
        """
        if n.kind is NoticeKind.FILLED:
            if n.fill_id:
                return ("fill", n.account, n.time.astimezone(KST).date().isoformat(), n.fill_id)
            return None
        return n

    def _expire(self, acc: Account, order: Order, ch: _Collector) -> None:
        """Close an order the broker will report no more about, releasing what it holds."""
        if order.status is OrderStatus.OPEN:
            order.status = OrderStatus.CANCELLED
            order.remaining = 0
            self._release(acc, order, order.held, ch)
        del self.orders[order.order_no]
        ch.orders.add(order.order_no)

    def _new_trading_day(self, day: date) -> None:
        """Unfilled orders expire at the close; earlier days' orders and dedupe keys are dropped
        (numbers and fill ids restart daily)."""
        ch = _Collector("")
        for order in [o for o in self.orders.values() if o.time.date() < day]:
            acc = self.accounts.get(order.account)
            if acc is not None:
                self._expire(acc, order, ch)
        iso = day.isoformat()

        def current(key: object) -> bool:
            if isinstance(key, OrderNotice):
                return key.time.date() >= day
            return isinstance(key, tuple) and str(key[2]) >= iso

        self._seen = {key for key in self._seen if current(key)}
        self._unknown_filled.clear()
        for acc in self.accounts.values():
            acc.day = day
            due = [amount for when, amount in acc.pending if when <= day]
            if due:
                acc.deposit += sum(due)
                acc.pending = [(when, amount) for when, amount in acc.pending if when > day]

    def _set_day(self, day: date) -> None:
        """A new trading day can change the tax rate of the unrealized estimate: revalue all."""
        if day == self._day:
            return
        if self._day is not None:
            self._new_trading_day(day)
        self._day = day
        self._next_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=KST)
        self._tax_rates.clear()
        for rows in self._by_code.values():
            for row in rows:
                row.tax_rate = self._tax_rate(row.market)
                self._set_fixed_cost(row)
                self._revalue(row, row.price)

    def _day_of(self, when: datetime) -> None:
        """Move the valuation day forward (never back: late events must not flip it)."""
        day = when.date()
        if self._day is None or day > self._day:
            self._set_day(day)

    def _recompute_buy_holds(self, acc: Account) -> None:
        acc.buy_holds = sum(
            o.cash_held for o in self.orders.values() if o.account == acc.account and o.cash_held
        )

    def _market(self, n: OrderNotice) -> Market:
        if n.market is not Market.UNKNOWN:
            return n.market
        return self.names.get(n.code, ("", Market.UNKNOWN))[1]

    # ----------------------------------------------------------------- discrepancies

    def _discrepancy(
        self,
        account: str,
        code: str,
        field_name: str,
        computed: str,
        reported: str,
        reason: str,
        when: datetime | None,
        order_no: str = "",
        *,
        key: HoldingKey | None = None,
    ) -> Discrepancy:
        extra: tuple[tuple[str, str], ...] = ()
        if key is not None:
            extra = (("credit", key.credit.value), ("loan_date", str(key.loan_date or "")))
        d = Discrepancy(
            account, code, field_name, computed, reported, reason, when, order_no, extra
        )
        self.discrepancies.append(d)
        return d

    def _unknown_order(self, n: OrderNotice, reason: str) -> Discrepancy:
        return self._discrepancy(
            n.account, n.code, "order", "", n.order_no, reason, n.time, n.order_no, key=n.key
        )


def _settle_day(item: tuple[date, int]) -> date:
    return item[0]


def _with_qty(n: OrderNotice, qty: int) -> OrderNotice:
    return replace(n, qty=qty)


@dataclass(slots=True)
class _Collector:
    """Gathers what one notice touched."""

    account: str
    rows: set[HoldingKey] = field(default_factory=set)
    removed: set[HoldingKey] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    found: list[Discrepancy] = field(default_factory=list)

    def changes(self) -> Changes:
        self.rows -= self.removed
        if self.found:
            self.accounts.add(self.account)
        return Changes(
            frozenset(self.rows),
            frozenset(self.removed),
            frozenset(self.accounts),
            frozenset(self.orders),
            tuple(self.found),
        )
