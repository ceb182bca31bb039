"""A fill counts exactly once: by its broker fill id, or by its place in its order's filled
quantity, never by its content; a snapshot's order list is the fence."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from jango.domain.book import Book, OrderStatus
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    Side,
)

ACC = "5012345601"
CODE = Code("005930")
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=KST)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def accepted(order_no: str, qty: int, price: int, side: Side = Side.BUY) -> OrderNotice:
    return OrderNotice(
        ACC, NoticeKind.ACCEPTED, OrderAction.NEW, side, CODE, order_no, qty, price, at(0),
        market=Market.KOSPI,
    )  # fmt: skip


def fill(
    order_no: str, qty: int, price: int, *, total: int | None = None, side: Side = Side.BUY
) -> OrderNotice:
    return OrderNotice(
        ACC, NoticeKind.FILLED, OrderAction.NEW, side, CODE, order_no, qty, price, at(1),
        market=Market.KOSPI, filled_total=total,
    )  # fmt: skip


def funded(book: Book) -> None:
    book.apply_snapshot(BalanceSnapshot(ACC, (), Cash(10_000_000, 10_000_000), T0))


def qty(book: Book) -> int:
    return sum(r.qty for r in book.rows(ACC))


def test_two_fills_with_the_same_content_in_the_same_second_are_two_fills() -> None:
    # KIS notices carry no fill id and time only to the second: content is not identity.
    book = Book()
    funded(book)
    book.apply_notice(accepted("1", 20, 70_000))
    assert book.apply_notice(fill("1", 10, 70_000)).applied
    assert book.apply_notice(fill("1", 10, 70_000)).applied
    assert qty(book) == 20
    assert book.orders["1"].status is OrderStatus.FILLED


def test_a_fill_past_the_order_quantity_is_a_recorded_discrepancy_not_applied() -> None:
    book = Book()
    funded(book)
    book.apply_notice(accepted("1", 10, 70_000))
    book.apply_notice(fill("1", 10, 70_000))
    changes = book.apply_notice(fill("1", 10, 70_000))
    assert qty(book) == 10
    assert [d.field for d in changes.discrepancies] == ["filled"]
    assert "past its quantity" in changes.discrepancies[0].reason


def test_a_fill_redelivered_with_its_cumulative_quantity_applies_once() -> None:
    book = Book()
    funded(book)
    book.apply_notice(accepted("1", 30, 70_000))
    first, second = fill("1", 10, 70_000, total=10), fill("1", 10, 70_000, total=20)
    for n in (first, second, first, second):
        book.apply_notice(n)
    assert qty(book) == 20
    assert book.reflected_fills == 2
    assert book.orders["1"].filled == 20


def test_a_fill_id_seen_before_on_the_same_day_applies_once() -> None:
    book = Book()
    funded(book)
    book.apply_notice(accepted("1", 30, 70_000))
    n = dataclasses.replace(fill("1", 10, 70_000), fill_id="000000000001")
    assert book.apply_notice(n).applied
    assert not book.apply_notice(n).applied
    assert qty(book) == 10


def test_a_fill_id_reused_on_the_next_day_is_a_new_fill() -> None:
    book = Book()
    funded(book)
    book.apply_notice(accepted("1", 30, 70_000))
    n = dataclasses.replace(fill("1", 10, 70_000), fill_id="000000000001")
    book.apply_notice(n)
    tomorrow = dataclasses.replace(n, time=n.time + timedelta(days=1))
    book.apply_notice(dataclasses.replace(accepted("1", 30, 70_000), time=tomorrow.time))
    assert book.apply_notice(tomorrow).applied
    assert qty(book) == 20


def snapshot_with_order(filled: int, *, held: int) -> BalanceSnapshot:
    rows = (BalanceRow(ACC, CODE, held, held, held * 70_000, market=Market.KOSPI),) if held else ()
    order = OrderState(ACC, "1", CODE, Side.BUY, 30, filled, 30 - filled, 70_000, at(0))
    cash = 10_000_000 - held * 70_000
    return BalanceSnapshot(ACC, rows, Cash(cash, cash), at(2), orders=(order,))


def test_notices_the_snapshot_already_holds_are_counted_once_and_later_ones_apply() -> None:
    # Subscribed, then the balance was read: the first two fills are in the snapshot, and
    # their notices arrive (buffered) after it, followed by a third fill.
    book = Book()
    book.apply_snapshot(snapshot_with_order(20, held=20))
    for n in (
        accepted("1", 30, 70_000),
        fill("1", 10, 70_000, total=10),
        fill("1", 10, 70_000, total=20),
        fill("1", 10, 70_000, total=30),
    ):
        book.apply_notice(n)
    assert qty(book) == 30
    assert book.orders["1"].filled == 30
    assert book.orders["1"].status is OrderStatus.FILLED
    assert book.accounts[ACC].d2 == 10_000_000 - 30 * 70_000 - book.accounts[ACC].totals.commission


def test_the_snapshot_order_list_closes_orders_the_broker_no_longer_has_open() -> None:
    book = Book()
    funded(book)
    book.apply_notice(accepted("9", 5, 70_000))
    assert book.accounts[ACC].buy_holds > 0
    changes = book.apply_snapshot(snapshot_with_order(0, held=0))
    assert book.orders["9"].status is OrderStatus.CANCELLED
    assert any(d.field == "order" and d.order_no == "9" for d in changes.discrepancies)
    # Only the broker's open order "1" (30 shares at 70,000) holds cash now.
    assert book.accounts[ACC].buy_holds == 30 * 70_000 + book.costs.commission(30 * 70_000)


def test_a_fill_that_skips_past_the_watermark_is_applied_and_the_gap_recorded() -> None:
    book = Book()
    book.apply_snapshot(snapshot_with_order(10, held=10))
    changes = book.apply_notice(fill("1", 5, 70_000, total=20))
    assert qty(book) == 15  # this fill; the missed one comes with the next reconcile
    assert book.orders["1"].filled == 20
    assert any(d.field == "filled" for d in changes.discrepancies)


def test_a_cancel_the_snapshot_already_shows_changes_nothing() -> None:
    book = Book()
    order = OrderState(ACC, "1", CODE, Side.BUY, 30, 0, 0, 70_000, at(0))
    book.apply_snapshot(BalanceSnapshot(ACC, (), Cash(10**7, 10**7), at(2), orders=(order,)))
    cancel = OrderNotice(
        ACC, NoticeKind.CONFIRMED, OrderAction.CANCEL, Side.BUY, CODE, "2", 30, 0, at(1),
        orig_order_no="1",
    )  # fmt: skip
    assert not book.apply_notice(cancel).applied
    assert not book.discrepancies
