"""Property tests: random valid event sequences against a model that recomputes from scratch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Event,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)
from tests.domain.reference_model import recompute
from tests.domain.test_book import assert_totals_match_rows

ACC = "5012345601"
CODES = [Code("005930"), Code("000660"), Code("035720"), Code("247540")]
MARKETS = {
    "005930": Market.KOSPI,
    "000660": Market.KOSPI,
    "035720": Market.KOSPI,
    "247540": Market.KOSDAQ,
}
START = datetime(2026, 3, 2, 9, 0, tzinfo=KST)


@st.composite
def sessions(draw: st.DrawFn) -> list[Event]:
    """A snapshot, then ticks and order lifecycles that a real broker could send."""
    held: dict[Code, list[int]] = {}  # code -> [qty, sellable]
    rows = []
    for code in draw(st.lists(st.sampled_from(CODES), unique=True, max_size=3)):
        qty = draw(st.integers(1, 50))
        rows.append(
            BalanceRow(
                ACC,
                code,
                qty,
                qty,
                qty * draw(st.integers(1_000, 90_000)),
                price=draw(st.sampled_from([0, 50_000])),
                market=MARKETS[code],
            )
        )
        held[code] = [qty, qty]
    events: list[Event] = [BalanceSnapshot(ACC, tuple(rows), Cash(10**9, 10**9), START)]
    orders: dict[str, dict[str, Any]] = {}
    seq = 0
    t = START
    for _ in range(draw(st.integers(0, 40))):
        t += timedelta(seconds=draw(st.integers(1, 600)))  # one trading day
        choice = draw(
            st.sampled_from(
                ["tick", "buy", "sell", "fill", "cancel", "amend", "reject", "replay", "expected"]
            )
        )
        open_ids = sorted(o for o, v in orders.items() if v["remaining"] > 0)
        if choice in ("tick", "expected"):
            code = draw(st.sampled_from(CODES))
            events.append(
                Tick(code, draw(st.integers(1, 200_000)), 0, 1, t, expected=choice == "expected")
            )
        elif choice == "buy" or (choice == "sell" and not any(h[1] for h in held.values())):
            seq += 1
            code = draw(st.sampled_from(CODES))
            qty, price = draw(st.integers(1, 30)), draw(st.integers(1_000, 100_000))
            orders[str(seq)] = {
                "side": Side.BUY,
                "code": code,
                "remaining": qty,
                "price": price,
                "filled": 0,
            }
            events.append(_n(NoticeKind.ACCEPTED, Side.BUY, code, str(seq), qty, price, t))
        elif choice == "sell":
            seq += 1
            code = draw(st.sampled_from(sorted(c for c, h in held.items() if h[1])))
            qty = draw(st.integers(1, held[code][1]))
            price = draw(st.integers(1_000, 100_000))
            held[code][1] -= qty
            orders[str(seq)] = {
                "side": Side.SELL,
                "code": code,
                "remaining": qty,
                "price": price,
                "filled": 0,
            }
            events.append(_n(NoticeKind.ACCEPTED, Side.SELL, code, str(seq), qty, price, t))
        elif choice == "fill" and open_ids:
            oid = draw(st.sampled_from(open_ids))
            o = orders[oid]
            qty = draw(st.integers(1, o["remaining"]))
            price = draw(st.integers(1_000, 100_000))
            o["remaining"] -= qty
            o["filled"] += qty
            h = held.setdefault(o["code"], [0, 0])
            if o["side"] is Side.BUY:
                h[0] += qty
                h[1] += qty
            else:
                h[0] -= qty
            events.append(
                _n(
                    NoticeKind.FILLED,
                    o["side"],
                    o["code"],
                    oid,
                    qty,
                    price,
                    t,
                    fill_id=f"f{len(events)}",
                )
            )
        elif choice == "cancel" and open_ids:
            oid = draw(st.sampled_from(open_ids))
            o = orders[oid]
            qty = draw(st.integers(1, o["remaining"]))
            o["remaining"] -= qty
            if o["side"] is Side.SELL:
                held[o["code"]][1] += qty
            seq += 1
            events.append(
                _n(
                    NoticeKind.CONFIRMED,
                    o["side"],
                    o["code"],
                    str(seq),
                    qty,
                    0,
                    t,
                    action=OrderAction.CANCEL,
                    orig=oid,
                )
            )
        elif choice == "amend" and open_ids:
            oid = draw(st.sampled_from(open_ids))
            o = orders[oid]
            qty = draw(st.integers(1, o["remaining"]))
            price = draw(st.integers(1_000, 100_000))
            if o["side"] is Side.SELL:
                held[o["code"]][1] += o["remaining"] - qty
            seq += 1
            orders[str(seq)] = {**o, "remaining": qty, "price": price, "filled": 0}
            o["remaining"] = 0
            events.append(
                _n(
                    NoticeKind.CONFIRMED,
                    o["side"],
                    o["code"],
                    str(seq),
                    qty,
                    price,
                    t,
                    action=OrderAction.AMEND,
                    orig=oid,
                )
            )
        elif choice == "reject" and open_ids:
            unfilled = [o for o in open_ids if orders[o]["filled"] == 0]
            if unfilled:
                oid = draw(st.sampled_from(unfilled))
                o = orders[oid]
                if o["side"] is Side.SELL:
                    held[o["code"]][1] += o["remaining"]
                o["remaining"] = 0
                events.append(_n(NoticeKind.REJECTED, o["side"], o["code"], oid, 1, o["price"], t))
        elif choice == "replay" and len(events) > 1:
            old = draw(st.sampled_from(events[1:]))
            if isinstance(old, OrderNotice):
                events.append(old)
    return events


def _n(
    kind: NoticeKind,
    side: Side,
    code: Code,
    order_no: str,
    qty: int,
    price: int,
    t: datetime,
    *,
    action: OrderAction = OrderAction.NEW,
    orig: str = "",
    fill_id: str = "",
) -> OrderNotice:
    return OrderNotice(
        ACC,
        kind,
        action,
        side,
        code,
        order_no,
        qty,
        price,
        t,
        orig_order_no=orig,
        fill_id=fill_id,
        market=MARKETS[code],
    )


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_book_matches_a_from_scratch_recomputation(events: list[Event]) -> None:
    costs = CostSchedule()
    book = Book(costs)
    for e in events:
        book.apply(e)
        assert_totals_match_rows(book)
    ref = recompute(events, costs, MARKETS)
    acc = book.accounts[ACC]
    got = {
        r.key: (r.qty, r.sellable, r.purchase_amount, r.price, r.value, r.pnl, r.pnl_net)
        for r in acc.rows.values()
    }
    want = {
        k: (r.qty, r.sellable, r.purchase_amount, r.price, r.value, r.pnl, r.pnl_net)
        for k, r in ref.rows.items()
    }
    assert got == want
    t = acc.totals
    assert (acc.d2, acc.orderable) == (ref.d2, ref.orderable)
    assert (t.realized_gross, t.realized_net, t.commission, t.tax) == (
        ref.realized_gross,
        ref.realized_net,
        ref.commission,
        ref.tax,
    )
    assert (t.purchase_amount, t.value, t.pnl, t.pnl_net) == tuple(ref.totals.values())
    assert book.discrepancies == []


def _state(book: Book) -> object:
    acc = book.accounts[ACC]
    return (
        {r.key: (r.qty, r.sellable, r.purchase_amount, r.price) for r in acc.rows.values()},
        acc.d2,
        acc.orderable,
        acc.totals,
        {o.order_no: (o.remaining, o.status, o.held) for o in book.orders.values()},
    )


@settings(max_examples=150, deadline=None)
@given(sessions())
def test_replaying_the_notices_again_changes_nothing(events: list[Event]) -> None:
    book = Book()
    book.apply_all(events)
    before = _state(book)
    for e in events[1:]:
        if isinstance(e, OrderNotice):
            assert not book.apply(e).applied
    assert _state(book) == before
