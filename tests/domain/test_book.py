"""The Book: worked examples, the sellable and cash rules, bad input, and invariants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from jango.domain.book import Book, OrderStatus, PnlMode
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    HoldingKey,
    InvalidEvent,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)

ACC = "5012345601"
SAMSUNG = Code("005930")
HYNIX = Code("000660")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=KST)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot(*rows: BalanceRow, d2: int = 10_000_000, when: datetime = T0) -> BalanceSnapshot:
    return BalanceSnapshot(ACC, rows, Cash(d2, d2), when)


def row(code: Code, qty: int, amount: int, price: int = 0, **kw: object) -> BalanceRow:
    return BalanceRow(
        ACC,
        code,
        qty,
        qty,
        amount,
        price=price,
        market=Market.KOSPI,
        **kw,  # type: ignore[arg-type]
    )


def notice(
    kind: NoticeKind,
    side: Side,
    order_no: str,
    qty: int,
    price: int,
    *,
    code: Code = SAMSUNG,
    action: OrderAction = OrderAction.NEW,
    orig: str = "",
    t: int = 1,
    **kw: object,
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
        at(t),
        orig_order_no=orig,
        market=Market.KOSPI,
        **kw,  # type: ignore[arg-type]
    )


def key(code: Code = SAMSUNG, credit: Credit = Credit.CASH, loan: date | None = None) -> HoldingKey:
    return HoldingKey(ACC, code, credit, loan)


def assert_totals_match_rows(book: Book) -> None:
    for acc in book.accounts.values():
        rows = list(acc.rows.values())
        t = acc.totals
        assert t.purchase_amount == sum(r.purchase_amount for r in rows)
        assert t.value == sum(r.value for r in rows)
        assert t.pnl == sum(r.pnl for r in rows)
        assert t.pnl_net == sum(r.pnl_net for r in rows)
        for r in rows:
            assert 0 <= r.sellable <= r.qty


# --------------------------------------------------------------------- worked examples


def test_kiwoom_net_unrealized_sample_is_reproduced_exactly() -> None:
    # krx-rules §6: 3 shares, pur_amt 373,500, evlt_amt 177,000 at 0.18% (a 2024 settlement).
    book = Book(CostSchedule(), pnl_mode=PnlMode.NET)
    when = datetime(2024, 6, 3, 10, 0, tzinfo=KST)
    book.apply(snapshot(row(SAMSUNG, 3, 373_500, price=59_000), when=when))
    r = book.row(key())
    assert r is not None
    assert r.value == 177_000
    assert r.pnl == 177_000 - 373_500
    assert r.pnl_net == 177_000 - 373_500 - 50 - 20 - 318 == -196_888
    assert r.pnl_rate(PnlMode.NET) == Decimal("-52.71")


def test_kis_average_price_has_four_decimals_and_gross_pnl_rate() -> None:
    # krx-rules §6 (KIS doc sample): 2 shares, pchs_amt 45,950 -> 22,975.0000, pnl -750 -> -1.63%.
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 2, 45_950, price=22_600)))
    r = book.row(key())
    assert r is not None
    assert r.avg_price == Decimal("22975.0000")
    assert r.pnl == -750
    assert r.pnl_rate() == Decimal("-1.63")


def test_average_price_keeps_its_fraction() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 3, 100_000, price=33_000)))
    r = book.row(key())
    assert r is not None
    assert r.avg_price == Decimal("33333.3333")


def test_sell_removes_proportional_integer_cost_and_realizes_net_of_costs() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 3, 100_000, price=40_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 1, 40_000))
    book.apply(notice(NoticeKind.FILLED, Side.SELL, "1", 1, 40_000, fill_id="f1"))
    r = book.row(key())
    assert r is not None
    removed = 100_000 * 1 // 3  # 33,333; 66,667 stays with the row
    assert r.purchase_amount == 100_000 - removed == 66_667
    t = book.accounts[ACC].totals
    assert t.realized_gross == 40_000 - removed == 6_667
    commission = 0  # floor10(40,000 × 0.015%) = floor10(6) = 0
    tax = 40_000 * 20 // 10_000  # 2026 settlement: 0.20% -> 80
    assert t.realized_net == 6_667 - commission - tax == 6_587
    assert book.accounts[ACC].d2 == 10_000_000 + 40_000 - commission - tax


def test_selling_everything_removes_all_cost_and_the_row() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 3, 100_001, price=40_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 3, 41_000))
    ch = book.apply(notice(NoticeKind.FILLED, Side.SELL, "1", 3, 41_000, fill_id="f"))
    assert book.row(key()) is None
    assert key() in ch.removed
    assert book.accounts[ACC].totals.realized_gross == 123_000 - 100_001
    assert book.accounts[ACC].totals.purchase_amount == 0
    assert SAMSUNG not in book.held_codes()


# --------------------------------------------------------------------- sellable and cash


def test_sellable_follows_accept_fill_cancel() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 6, 71_000))
    r = book.row(key())
    assert r is not None and (r.qty, r.sellable) == (10, 4)
    book.apply(notice(NoticeKind.FILLED, Side.SELL, "1", 2, 71_000, fill_id="a"))
    assert (r.qty, r.sellable) == (8, 4)  # a sell fill lowers quantity, not sellable
    book.apply(
        notice(NoticeKind.CONFIRMED, Side.SELL, "2", 4, 0, action=OrderAction.CANCEL, orig="1")
    )
    assert (r.qty, r.sellable) == (8, 8)
    assert book.orders["1"].status is OrderStatus.CANCELLED
    assert book.open_orders() == []


def test_amend_to_lower_quantity_releases_the_difference() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 6, 75_000))
    book.apply(
        notice(NoticeKind.CONFIRMED, Side.SELL, "2", 4, 74_000, action=OrderAction.AMEND, orig="1")
    )
    r = book.row(key())
    assert r is not None and r.sellable == 6
    assert book.orders["1"].status is OrderStatus.REPLACED
    new = book.orders["2"]
    assert (new.qty, new.price, new.remaining, new.held) == (4, 74_000, 4, 4)


def test_amend_of_price_only_keeps_the_hold() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 6, 75_000))
    book.apply(
        notice(NoticeKind.CONFIRMED, Side.SELL, "2", 6, 74_000, action=OrderAction.AMEND, orig="1")
    )
    r = book.row(key())
    assert r is not None and r.sellable == 4


def test_reject_releases_the_hold() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 6, 75_000))
    book.apply(notice(NoticeKind.REJECTED, Side.SELL, "1", 6, 75_000))
    r = book.row(key())
    assert r is not None and r.sellable == 10
    assert book.orders["1"].status is OrderStatus.REJECTED


def test_buy_fill_adds_to_quantity_and_sellable_and_debits_d2() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 5, 70_000))
    acc = book.accounts[ACC]
    hold = 350_000 + 50  # floor10(52.5) = 50
    assert acc.orderable == 10_000_000 - hold
    book.apply(notice(NoticeKind.FILLED, Side.BUY, "1", 2, 69_900, fill_id="x"))
    r = book.row(key())
    assert r is not None and (r.qty, r.sellable, r.purchase_amount) == (12, 12, 839_800)
    assert acc.d2 == 10_000_000 - 139_800 - 20
    assert acc.orderable == acc.d2 - (210_000 + 30)
    assert acc.totals.commission == 20


def test_fill_on_a_new_code_opens_a_row_priced_at_once() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 3, 200_000, code=HYNIX))
    ch = book.apply(notice(NoticeKind.FILLED, Side.BUY, "1", 3, 199_500, code=HYNIX, fill_id="h"))
    r = book.row(key(HYNIX))
    assert r is not None and r.price == 199_500 and r.value == 598_500
    assert key(HYNIX) in ch.rows
    assert HYNIX in book.held_codes()


def test_credit_rows_are_separate_from_the_cash_row() -> None:
    loan = date(2026, 2, 2)
    book = Book()
    book.apply(
        snapshot(
            row(SAMSUNG, 10, 700_000, price=70_000),
            row(SAMSUNG, 5, 340_000, price=70_000, credit=Credit.MARGIN_SELF, loan_date=loan),
        )
    )
    book.apply(
        notice(
            NoticeKind.ACCEPTED,
            Side.SELL,
            "1",
            5,
            70_000,
            credit=Credit.MARGIN_SELF,
            loan_date=loan,
        )
    )
    book.apply(
        notice(
            NoticeKind.FILLED,
            Side.SELL,
            "1",
            5,
            70_000,
            credit=Credit.MARGIN_SELF,
            loan_date=loan,
            fill_id="c",
        )
    )
    assert book.row(key(SAMSUNG, Credit.MARGIN_SELF, loan)) is None
    cash_row = book.row(key())
    assert cash_row is not None and (cash_row.qty, cash_row.sellable) == (10, 10)
    gross = 350_000 - 340_000
    tax = 350_000 * 20 // 10_000
    commission = 50
    t = book.accounts[ACC].totals
    assert (t.realized_gross, t.realized_net) == (gross, gross - commission - tax)
    # Loan-funded: only the net realized result reaches cash; the principal repays the loan.
    assert book.accounts[ACC].d2 == 10_000_000 + gross - commission - tax


def test_short_row_gains_when_price_falls() -> None:
    book = Book()
    book.apply(
        snapshot(
            row(
                SAMSUNG,
                10,
                700_000,
                price=70_000,
                credit=Credit.SHORT_SELF,
                loan_date=date(2026, 2, 2),
            )
        )
    )
    book.apply(Tick(SAMSUNG, 65_000, -5_000, 1_000, at(5)))
    r = book.row(key(SAMSUNG, Credit.SHORT_SELF, date(2026, 2, 2)))
    assert r is not None and r.pnl == 50_000


# --------------------------------------------------------------------- ticks


def test_tick_revalues_every_row_of_its_code_and_totals_follow() -> None:
    book = Book()
    book.apply(
        snapshot(
            row(SAMSUNG, 10, 700_000, price=70_000),
            row(
                SAMSUNG,
                5,
                340_000,
                price=70_000,
                credit=Credit.MARGIN_SELF,
                loan_date=date(2026, 2, 2),
            ),
            row(HYNIX, 1, 200_000, price=200_000),
        )
    )
    ch = book.apply(Tick(SAMSUNG, 71_000, 1_000, 10, at(3)))
    assert len(ch.rows) == 2 and ch.accounts == {ACC}
    t = book.accounts[ACC].totals
    assert t.value == 15 * 71_000 + 200_000
    assert t.pnl == t.value - 1_240_000
    assert_totals_match_rows(book)


def test_expected_auction_price_never_revalues() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    ch = book.apply(Tick(SAMSUNG, 90_000, 20_000, 10, at(3), expected=True))
    assert not ch
    r = book.row(key())
    assert r is not None and r.price == 70_000


def test_tick_for_a_code_not_held_is_ignored() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    assert not book.apply(Tick(HYNIX, 200_000, 0, 10, at(3)))
    assert list(book.rows()) == list(book.rows(ACC))


# --------------------------------------------------------------------- duplicates, truth


def test_the_same_fill_twice_applies_once() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 5, 70_000))
    fill = notice(NoticeKind.FILLED, Side.BUY, "1", 5, 70_000, fill_id="once")
    assert book.apply(fill).applied
    assert not book.apply(fill).applied
    r = book.row(key())
    assert r is not None and r.qty == 15


def test_the_same_notice_without_fill_id_applies_once() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 5, 70_000))
    fill = notice(NoticeKind.FILLED, Side.BUY, "1", 5, 70_000)
    book.apply(fill)
    book.apply(fill)
    r = book.row(key())
    assert r is not None and r.qty == 15


def test_broker_post_event_truth_wins_and_the_difference_is_kept() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 5, 70_000))
    ch = book.apply(
        notice(
            NoticeKind.FILLED,
            Side.BUY,
            "1",
            5,
            70_000,
            fill_id="t",
            post_qty=16,
            post_sellable=16,
            post_book_price=Decimal("70000"),
        )
    )
    r = book.row(key())
    assert r is not None and (r.qty, r.sellable, r.purchase_amount) == (16, 16, 1_120_000)
    fields = {d.field for d in ch.discrepancies}
    assert "qty" in fields
    assert book.discrepancies == list(ch.discrepancies)


def test_broker_book_price_within_rounding_is_not_a_discrepancy() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 3, 100_000, price=33_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 1, 33_000))
    ch = book.apply(
        notice(
            NoticeKind.FILLED,
            Side.SELL,
            "1",
            1,
            33_000,
            fill_id="r",
            post_qty=2,
            post_sellable=2,
            post_book_price=Decimal("33333"),
        )
    )
    assert ch.discrepancies == ()


def test_reconciling_snapshot_records_every_difference() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000), row(HYNIX, 1, 200_000)))
    ch = book.apply(snapshot(row(SAMSUNG, 12, 840_000, price=70_000), when=at(60)))
    fields = sorted((d.code, d.field) for d in ch.discrepancies)
    assert fields == [
        ("000660", "qty"),
        ("005930", "purchase_amount"),
        ("005930", "qty"),
        ("005930", "sellable"),
    ]
    assert key(HYNIX) in ch.removed
    assert_totals_match_rows(book)


# --------------------------------------------------------------------- bad input


def test_fill_for_an_unknown_order_is_applied_and_recorded() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    ch = book.apply(notice(NoticeKind.FILLED, Side.SELL, "99", 4, 70_000, fill_id="u"))
    r = book.row(key())
    assert r is not None and (r.qty, r.sellable) == (6, 6)
    assert [d.field for d in ch.discrepancies] == ["order"]


def test_sell_above_what_is_held_closes_what_is_held_and_records_it() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 15, 70_000))
    ch = book.apply(notice(NoticeKind.FILLED, Side.SELL, "1", 15, 70_000, fill_id="o"))
    assert book.row(key()) is None
    assert {d.field for d in book.discrepancies} >= {"sellable", "qty"}
    assert ch.discrepancies
    assert_totals_match_rows(book)


def test_cancel_and_amend_of_unknown_orders_are_recorded() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(
        notice(NoticeKind.CONFIRMED, Side.SELL, "2", 4, 0, action=OrderAction.CANCEL, orig="77")
    )
    book.apply(
        notice(NoticeKind.CONFIRMED, Side.SELL, "3", 4, 71_000, action=OrderAction.AMEND, orig="78")
    )
    assert [d.reason.split(";")[0] for d in book.discrepancies] == [
        "cancel of an unknown order",
        "amend of an unknown order",
    ]
    assert_totals_match_rows(book)


@pytest.mark.parametrize(
    ("qty", "price", "kind"),
    [(-1, 100, NoticeKind.ACCEPTED), (1, -5, NoticeKind.ACCEPTED), (0, 100, NoticeKind.FILLED)],
)
def test_absurd_notices_are_refused_with_a_clear_error(
    qty: int, price: int, kind: NoticeKind
) -> None:
    with pytest.raises(InvalidEvent):
        notice(kind, Side.BUY, "1", qty, price)


def test_balance_row_with_sellable_above_quantity_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="sellable"):
        BalanceRow(ACC, SAMSUNG, 1, 2, 100)


# --------------------------------------------------------------------- trading days


def test_unfilled_orders_expire_overnight_and_release_their_hold() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 6, 75_000))
    r = book.row(key())
    assert r is not None and r.sellable == 4
    book.apply(Tick(SAMSUNG, 70_100, 100, 1, T0 + timedelta(days=1)))
    assert r.sellable == 10
    assert "1" not in book.orders and book.open_orders() == []


def test_order_numbers_and_fill_ids_restart_the_next_day() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 1, 70_000))
    book.apply(notice(NoticeKind.FILLED, Side.BUY, "1", 1, 70_000, fill_id="1:1"))
    tomorrow = 24 * 3600
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 2, 71_000, t=tomorrow))
    ch = book.apply(
        notice(NoticeKind.FILLED, Side.BUY, "1", 2, 71_000, fill_id="1:1", t=tomorrow + 1)
    )
    assert ch.applied
    r = book.row(key())
    assert r is not None and r.qty == 13
    assert book.discrepancies == []


def test_a_reused_order_number_replaces_a_closed_order_and_is_recorded() -> None:
    book = Book()
    book.apply(snapshot(row(SAMSUNG, 10, 700_000, price=70_000)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", 1, 70_000))
    book.apply(notice(NoticeKind.FILLED, Side.BUY, "1", 1, 70_000, fill_id="a"))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "1", 3, 72_000, t=5))
    order = book.orders["1"]
    assert (order.side, order.qty, order.status) == (Side.SELL, 3, OrderStatus.OPEN)
    assert [d.field for d in book.discrepancies] == ["order"]
