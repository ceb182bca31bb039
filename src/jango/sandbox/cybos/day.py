"""The emulated CYBOS server's record of the day's orders, kept from the venue's own notices.

CpTd5339 (미체결) and CpTd5341 (주문/체결 내역) answer from it. The venue only keeps *open*
orders; a server also remembers the filled, cancelled, replaced and rejected ones until the day
ends, with every fill. The log listens to the venue's notices (it is fed by the emulator's notice
listener) and merges in the venue's open orders, so orders placed before the emulator started are
still listed (with the fills the venue counted, as one fill of their total).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import date, datetime

from jango.domain.model import (
    Code,
    Condition,
    Credit,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Side,
)


@dataclass(slots=True)
class Fill:
    """One fill of an order: quantity, price, time and the order's total after it."""

    qty: int
    price: int
    time: datetime
    total: int


@dataclass(slots=True)
class DayOrder:
    """One order number of the day as the server's order inquiry lists it."""

    order_no: str
    account: str
    code: Code
    side: Side
    qty: int
    price: int
    time: datetime
    action: OrderAction = OrderAction.NEW
    orig_order_no: str = ""
    credit: Credit = Credit.CASH
    loan_date: date | None = None
    order_type: OrderType = OrderType.LIMIT
    condition: Condition = Condition.NONE
    name: str = ""
    filled: int = 0
    remaining: int = 0
    cancelled: int = 0
    rejected: bool = False
    fills: list[Fill] = field(default_factory=list)


class DayOrders:
    """Orders of the day per account, in the order the server received them; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, DayOrder] = {}
        self._day: date | None = None

    def on_notice(self, notice: OrderNotice) -> None:
        """Apply one venue notice (called from the venue's listener: quick, never raises)."""
        with self._lock:
            day = notice.time.date()
            if self._day is not None and day > self._day:
                # A new trading day: yesterday's orders are gone from the inquiries.
                self._orders.clear()
            self._day = day if self._day is None else max(self._day, day)
            order = self._orders.get(notice.order_no)
            if notice.kind is NoticeKind.ACCEPTED:
                if order is None:
                    self._orders[notice.order_no] = self._new(notice)
            elif notice.kind is NoticeKind.FILLED:
                if order is None:
                    order = self._orders[notice.order_no] = self._new(notice)
                order.filled += notice.qty
                order.remaining = max(0, order.remaining - notice.qty)
                order.fills.append(Fill(notice.qty, notice.price, notice.time, order.filled))
            elif notice.kind is NoticeKind.CONFIRMED:
                self._confirmed(notice)
            elif notice.kind is NoticeKind.REJECTED:
                if order is None:
                    order = self._orders[notice.order_no] = self._new(notice)
                order.rejected = True
                order.remaining = 0

    def _confirmed(self, notice: OrderNotice) -> None:
        original = self._orders.get(notice.orig_order_no or notice.order_no)
        if notice.action is OrderAction.AMEND:
            if original is not None:
                original.remaining = 0  # replaced by the amending order number
            self._orders.setdefault(notice.order_no, self._new(notice))
            return
        if original is not None:
            original.remaining = max(0, original.remaining - notice.qty)
            original.cancelled += notice.qty
        if notice.order_no != (notice.orig_order_no or notice.order_no):
            # A cancel request has its own order number and is listed as an order of its own.
            cancel = self._new(notice)
            cancel.remaining = 0
            self._orders.setdefault(notice.order_no, cancel)

    @staticmethod
    def _new(notice: OrderNotice) -> DayOrder:
        return DayOrder(
            order_no=notice.order_no,
            account=notice.account,
            code=notice.code,
            side=notice.side,
            qty=notice.qty,
            price=notice.price,
            time=notice.time,
            action=notice.action,
            orig_order_no=notice.orig_order_no,
            credit=notice.credit,
            loan_date=notice.loan_date,
            order_type=notice.order_type,
            condition=notice.condition,
            name=notice.name,
            remaining=notice.qty if notice.action is not OrderAction.CANCEL else 0,
        )

    def merge_open(self, open_orders: list[DayOrder]) -> None:
        """Add open orders the log has not seen (placed before it started listening)."""
        with self._lock:
            for order in open_orders:
                known = self._orders.get(order.order_no)
                if known is None:
                    if order.filled:
                        order.fills.append(
                            Fill(order.filled, order.price, order.time, order.filled)
                        )
                    self._orders[order.order_no] = order

    def of(self, account: str) -> list[DayOrder]:
        """The account's orders of the day, oldest first (copies of the fills lists)."""
        with self._lock:
            result = []
            for order in self._orders.values():
                if order.account == account:
                    result.append(dataclasses.replace(order, fills=list(order.fills)))
            return result
