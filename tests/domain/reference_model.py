"""A deliberately naive holdings model for property tests: it keeps the event list and recomputes
every row, order, cash figure and total from scratch, with no deltas and no caches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jango.domain.costs import CostSchedule
from jango.domain.model import (
    BalanceSnapshot,
    Event,
    HoldingKey,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)


@dataclass
class RefRow:
    qty: int
    sellable: int
    purchase_amount: int
    price: int
    value: int
    pnl: int
    pnl_net: int


@dataclass
class RefResult:
    rows: dict[HoldingKey, RefRow]
    d2: int
    orderable: int
    realized_gross: int
    realized_net: int
    commission: int
    tax: int
    totals: dict[str, int]


def recompute(events: list[Event], costs: CostSchedule, markets: dict[str, Market]) -> RefResult:
    """Cash-credit, long-only sequences for one account (what the generator produces)."""
    seen: set[object] = set()
    notices: list[OrderNotice] = []
    snapshot: BalanceSnapshot | None = None
    last_day: date | None = None
    quoted: dict[str, int] = {}
    for e in events:
        if isinstance(e, Tick):
            if not e.expected:
                quoted[e.code] = e.price
                last_day = max(last_day or e.time.date(), e.time.date())
        elif isinstance(e, OrderNotice):
            k: object = ("fill", e.account, e.fill_id) if e.fill_id else e
            if k not in seen:
                seen.add(k)
                notices.append(e)
                last_day = max(last_day or e.time.date(), e.time.date())
        else:
            snapshot = e
            notices.clear()
            last_day = max(last_day or e.time.date(), e.time.date())
            for r in e.rows:
                if r.price:
                    quoted[r.code] = r.price
    assert snapshot is not None and last_day is not None

    holdings: dict[HoldingKey, list[int]] = {}  # qty, amount, opening fill price
    for r in snapshot.rows:
        holdings[r.key] = [r.qty, r.purchase_amount, 0]
    d2 = snapshot.cash.d2
    realized_gross = realized_net = commission = tax = 0
    orders: dict[str, dict[str, object]] = {}
    for n in notices:
        if n.kind is NoticeKind.ACCEPTED and n.action is OrderAction.NEW:
            orders[n.order_no] = {"n": n, "remaining": n.qty, "open": True, "price": n.price}
        elif n.kind is NoticeKind.CONFIRMED and n.action is OrderAction.CANCEL:
            o = orders[n.orig_order_no]
            o["remaining"] = int(str(o["remaining"])) - n.qty
            o["open"] = o["remaining"] != 0
        elif n.kind is NoticeKind.CONFIRMED and n.action is OrderAction.AMEND:
            o = orders[n.orig_order_no]
            o["remaining"], o["open"] = 0, False
            orders[n.order_no] = {
                "n": o["n"],
                "remaining": n.qty,
                "open": n.qty > 0,
                "price": n.price,
            }
        elif n.kind is NoticeKind.REJECTED:
            o = orders[n.order_no]
            o["remaining"], o["open"] = 0, False
        elif n.kind is NoticeKind.FILLED:
            o = orders[n.order_no]
            o["remaining"] = int(str(o["remaining"])) - n.qty
            o["open"] = o["remaining"] != 0
            amount = n.price * n.qty
            c = costs.commission(amount)
            commission += c
            h = holdings.setdefault(n.key, [0, 0, n.price])
            if n.side is Side.BUY:
                if h[0] == 0:
                    h[2] = n.price
                h[0] += n.qty
                h[1] += amount
                d2 -= amount + c
            else:
                removed = h[1] if n.qty == h[0] else h[1] * n.qty // h[0]
                t = costs.tax(amount, markets[n.code], n.time.date())
                tax += t
                h[0] -= n.qty
                h[1] -= removed
                realized_gross += amount - removed
                realized_net += amount - removed - c - t
                d2 += amount - c - t

    rows: dict[HoldingKey, RefRow] = {}
    for key, (qty, amount, opened_at) in holdings.items():
        if qty == 0:
            continue
        held = sum(
            int(str(o["remaining"]))
            for o in orders.values()
            if o["open"]
            and isinstance(o["n"], OrderNotice)
            and o["n"].side is Side.SELL
            and o["n"].key == key
        )
        price = quoted.get(key.code, opened_at)
        value = qty * price
        rate = costs.tax_rate(markets[key.code], last_day)
        pnl = value - amount if price else 0  # an unpriced row shows no P&L
        net = pnl - costs.commission(amount) - costs.commission(value) - costs.tax_at(value, rate)
        if not price:
            net = 0
        rows[key] = RefRow(qty, qty - held, amount, price, value, pnl, net)
    holds = 0
    for o in orders.values():
        n = o["n"]
        assert isinstance(n, OrderNotice)
        if o["open"] and n.side is Side.BUY:
            a = int(str(o["price"])) * int(str(o["remaining"]))
            holds += a + costs.commission(a)
    totals = {
        "purchase_amount": sum(r.purchase_amount for r in rows.values()),
        "value": sum(r.value for r in rows.values()),
        "pnl": sum(r.pnl for r in rows.values()),
        "pnl_net": sum(r.pnl_net for r in rows.values()),
    }
    return RefResult(rows, d2, d2 - holds, realized_gross, realized_net, commission, tax, totals)
