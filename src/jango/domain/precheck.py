"""Checks an order ticket makes before sending, from what the book knows.

The exchange refuses an order off the tick grid or outside the day's price limits, and the
broker one above the sellable quantity or the orderable cash; saying so before sending is what an
HTS ticket does. Each check returns a :class:`Refusal` with a reason code and the numbers a view
needs to say it in its own language, or ``None`` when the book sees nothing wrong. A check the
book cannot make (no 기준가 yet, so no limits) is skipped: the broker still has the last word.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jango.domain import krx
from jango.domain.book import Book, OrderStatus
from jango.domain.model import Code, Credit, HoldingKey, OrderType, Side


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a ticket should not be sent: ``reason`` is one of the codes below; ``limit`` is the
    bound that was crossed (a price, a quantity or an amount of won)."""

    reason: str
    limit: int = 0


# The reasons, for views that translate them.
QTY_NOT_POSITIVE = "qty_not_positive"
PRICE_NOT_POSITIVE = "price_not_positive"
OFF_TICK = "off_tick"  # limit: the tick of the price's band
ABOVE_UPPER = "above_upper"  # limit: 상한가
BELOW_LOWER = "below_lower"  # limit: 하한가
OVER_SELLABLE = "over_sellable"  # limit: the row's sellable quantity
OVER_ORDERABLE = "over_orderable"  # limit: the account's orderable cash
NOT_OPEN = "not_open"
OVER_REMAINING = "over_remaining"  # limit: the order's remaining quantity


def check_price(book: Book, code: Code, price: int, on: date | None = None) -> Refusal | None:
    """A limit price: positive, on its band's tick, within today's limits where known."""
    if price <= 0:
        return Refusal(PRICE_NOT_POSITIVE)
    market = book.market_of(code)
    if not krx.is_valid_price(price, market, on):
        return Refusal(OFF_TICK, krx.tick_size(price, market, on))
    limits = book.price_limits(code)
    if limits is not None:
        upper, lower = limits
        if price > upper:
            return Refusal(ABOVE_UPPER, upper)
        if price < lower:
            return Refusal(BELOW_LOWER, lower)
    return None


def check_new(
    book: Book,
    *,
    account: str,
    code: Code,
    side: Side,
    qty: int,
    price: int,
    order_type: OrderType = OrderType.LIMIT,
    credit: Credit = Credit.CASH,
    loan_date: date | None = None,
) -> Refusal | None:
    """A new order: its price (for a limit order), then the sellable quantity of the row it
    sells or the orderable cash a cash buy needs (a market buy is held at the 상한가)."""
    if qty <= 0:
        return Refusal(QTY_NOT_POSITIVE)
    if order_type is OrderType.LIMIT:
        refusal = check_price(book, code, price)
        if refusal is not None:
            return refusal
    if side is Side.SELL:
        row = book.row(HoldingKey(account, code, credit, loan_date))
        sellable = row.sellable if row is not None else 0
        return Refusal(OVER_SELLABLE, sellable) if qty > sellable else None
    acc = book.accounts.get(account)
    if acc is None or credit is not Credit.CASH:
        return None  # a margin buy's cash is the lender's call
    at = price if order_type is OrderType.LIMIT else book.upper_limit(code)
    if not at:
        return None
    amount = at * qty
    need = amount + book.costs.commission(amount)
    return Refusal(OVER_ORDERABLE, acc.orderable) if need > acc.orderable else None


def check_amend(book: Book, order_no: str, *, price: int, qty: int | None = None) -> Refusal | None:
    """An amend: the order is open, the new price is good, the quantity at most what remains."""
    order = book.orders.get(order_no)
    if order is None or order.status is not OrderStatus.OPEN:
        return Refusal(NOT_OPEN)
    if qty is not None and qty <= 0:
        return Refusal(QTY_NOT_POSITIVE)
    if qty is not None and qty > order.remaining:
        return Refusal(OVER_REMAINING, order.remaining)
    return check_price(book, order.code, price)


def check_cancel(book: Book, order_no: str, *, qty: int | None = None) -> Refusal | None:
    """A cancel: the order is open and ``qty`` (if given) at most what remains."""
    order = book.orders.get(order_no)
    if order is None or order.status is not OrderStatus.OPEN:
        return Refusal(NOT_OPEN)
    if qty is not None and not 0 < qty <= order.remaining:
        return Refusal(OVER_REMAINING, order.remaining)
    return None
