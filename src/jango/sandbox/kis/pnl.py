"""The KIS sandbox's record of the day's trading per balance row: realized profit and costs.

KIS's ``inquire-balance-rlz-pl`` reports realized profit (``rlzt_pfls``), its totals report
today's buy and sell amounts and costs, and ``inquire-period-trade-profit`` lists them per day.
The venue keeps only current rows, so this ledger follows each row's quantity and purchase
amount from the venue's fill notices with the venue's own arithmetic (a sell removes
``purchase × sold // held``, the last share takes what is left), and books each sell's profit:
proceeds − purchase amount removed − commission − tax, per trading day.

It is fed synchronously by the venue's notice listener (under the venue's lock), so it agrees
with the venue's balance at every inquiry. Rows held before the sandbox started are seeded from
the venue's balance at start; a row sold that was never seen has an unknown cost and is logged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import date

from jango.domain.costs import CostSchedule
from jango.domain.model import KST, BalanceRow, HoldingKey, NoticeKind, OrderNotice, Side

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RowDay:
    """One row's trading today: amounts in won, quantities in shares."""

    bought_qty: int = 0
    bought_amount: int = 0
    sold_qty: int = 0
    sold_amount: int = 0
    sold_cost: int = 0  # purchase amount the sells removed
    buy_commission: int = 0
    sell_commission: int = 0
    tax: int = 0
    realized: int = 0  # sold_amount − sold_cost − the sells' commission and tax

    @property
    def fees(self) -> int:
        """Commission and tax of the day's fills."""
        return self.buy_commission + self.sell_commission + self.tax


class DayLedger:
    """Per account and row: the venue's cost basis and today's trading; thread-safe."""

    def __init__(self, costs: CostSchedule) -> None:
        self.costs = costs
        self._lock = threading.Lock()
        self._held: dict[HoldingKey, tuple[int, int]] = {}  # key → (qty, purchase amount)
        self._days: dict[tuple[date, HoldingKey], RowDay] = {}  # every trading day seen

    def seed(self, rows: tuple[BalanceRow, ...]) -> None:
        """Start from the venue's rows (what was held before any notice was heard)."""
        with self._lock:
            for row in rows:
                self._held.setdefault(row.key, (row.qty, row.purchase_amount))

    def on_notice(self, notice: OrderNotice) -> None:
        """Book one fill (other notices change no row)."""
        if notice.kind is not NoticeKind.FILLED:
            return
        with self._lock:
            day = notice.time.astimezone(KST).date()
            key = notice.key
            qty, purchase = self._held.get(key, (0, 0))
            today = self._days.setdefault((day, key), RowDay())
            amount = notice.qty * notice.price
            commission = self.costs.commission(amount)
            if notice.side is Side.BUY:
                qty, purchase = qty + notice.qty, purchase + amount
                today.bought_qty += notice.qty
                today.bought_amount += amount
                today.buy_commission += commission
            else:
                if qty < notice.qty:
                    log.warning(
                        "KIS sandbox: sell of %s %s without its cost basis; realized profit "
                        "counts its purchase amount as 0",
                        notice.qty,
                        notice.code,
                    )
                    qty = notice.qty
                removed = purchase * notice.qty // qty
                tax = self.costs.tax(amount, notice.market, day)
                qty, purchase = qty - notice.qty, purchase - removed
                today.sold_qty += notice.qty
                today.sold_amount += amount
                today.sold_cost += removed
                today.sell_commission += commission
                today.tax += tax
                today.realized += amount - removed - commission - tax
            if qty:
                self._held[key] = (qty, purchase)
            else:
                self._held.pop(key, None)

    def today(self, account: str) -> dict[HoldingKey, RowDay]:
        """Copies of ``account``'s rows traded on the latest trading day seen."""
        with self._lock:
            latest = max((day for day, _ in self._days), default=None)
            return {
                key: replace(row)
                for (day, key), row in self._days.items()
                if day == latest and key.account == account
            }

    def days(self, account: str, first: date, last: date) -> list[tuple[date, HoldingKey, RowDay]]:
        """Copies of ``account``'s rows traded from ``first`` to ``last``, in day order."""
        with self._lock:
            return sorted(
                (
                    (day, key, replace(row))
                    for (day, key), row in self._days.items()
                    if key.account == account and first <= day <= last
                ),
                key=lambda item: (item[0], item[1].code, item[1].loan_date or date.min),
            )
