"""A ticket's checks before sending: the tick grid, the day's limits from the 기준가, the row's
sellable quantity, the account's orderable cash, and what an amend or cancel may ask."""

from __future__ import annotations

from datetime import date, datetime

from jango.domain.book import Book
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Side,
    Tick,
)
from jango.domain.precheck import (
    ABOVE_UPPER,
    BELOW_LOWER,
    NOT_OPEN,
    OFF_TICK,
    OVER_ORDERABLE,
    OVER_REMAINING,
    OVER_SELLABLE,
    QTY_NOT_POSITIVE,
    Refusal,
    check_amend,
    check_cancel,
    check_new,
)

ACC = "5012345601"
SAMSUNG = Code("005930")
LOAN_DAY = date(2026, 9, 1)
NOW = datetime(2026, 10, 8, 10, 0, tzinfo=KST)


def book() -> Book:
    """70,000 won up 1,000 today: 기준가 69,000, so the limits are 89,700 and 48,300."""
    b = Book()
    rows = (
        BalanceRow(ACC, SAMSUNG, 10, 8, 690_000, market=Market.KOSPI),
        BalanceRow(ACC, SAMSUNG, 5, 5, 350_000, Credit.MARGIN_KSFC, LOAN_DAY, market=Market.KOSPI),
    )
    b.apply_snapshot(BalanceSnapshot(ACC, rows, Cash(1_000_000, 1_000_000), NOW))
    b.apply_tick(Tick(SAMSUNG, 70_000, 1_000, 1, NOW))
    return b


def new(b: Book, side: Side, qty: int, price: int, **kw: object) -> Refusal | None:
    return check_new(b, account=ACC, code=SAMSUNG, side=side, qty=qty, price=price, **kw)  # type: ignore[arg-type]


def test_a_price_off_the_tick_grid_is_refused_naming_the_tick() -> None:
    assert new(book(), Side.BUY, 1, 70_050) == Refusal(OFF_TICK, 100)


def test_prices_outside_the_days_limits_are_refused_naming_the_limit() -> None:
    assert new(book(), Side.BUY, 1, 89_800) == Refusal(ABOVE_UPPER, 89_700)
    assert new(book(), Side.SELL, 1, 48_200) == Refusal(BELOW_LOWER, 48_300)
    assert new(book(), Side.BUY, 1, 89_700) is None
    assert new(book(), Side.SELL, 1, 48_300) is None


def test_a_sell_is_checked_against_the_sellable_quantity_of_its_own_row() -> None:
    b = book()
    assert new(b, Side.SELL, 9, 70_000) == Refusal(OVER_SELLABLE, 8)
    assert new(b, Side.SELL, 8, 70_000) is None
    loan = {"credit": Credit.MARGIN_KSFC, "loan_date": LOAN_DAY}
    assert new(b, Side.SELL, 6, 70_000, **loan) == Refusal(OVER_SELLABLE, 5)
    assert new(b, Side.SELL, 5, 70_000, **loan) is None


def test_a_cash_buy_needs_the_amount_and_its_commission_in_orderable_cash() -> None:
    b = book()
    # 14 × 70,000 = 980,000 + 140 commission fits 1,000,000; 15 shares do not.
    assert new(b, Side.BUY, 14, 70_000) is None
    assert new(b, Side.BUY, 15, 70_000) == Refusal(OVER_ORDERABLE, 1_000_000)


def test_a_market_buy_is_checked_at_the_upper_limit() -> None:
    b = book()
    # 11 × 89,700 = 986,700 fits; 12 × 89,700 = 1,076,400 does not.
    assert new(b, Side.BUY, 11, 0, order_type=OrderType.MARKET) is None
    assert new(b, Side.BUY, 12, 0, order_type=OrderType.MARKET) == Refusal(
        OVER_ORDERABLE, 1_000_000
    )


def test_a_quantity_must_be_positive() -> None:
    assert new(book(), Side.BUY, 0, 70_000) == Refusal(QTY_NOT_POSITIVE)


def test_without_a_price_yet_the_limits_are_left_to_the_broker() -> None:
    b = Book()
    b.apply_snapshot(BalanceSnapshot(ACC, (), Cash(10**9, 10**9), NOW))
    assert new(b, Side.BUY, 1, 999_000) is None


def test_an_amend_or_cancel_must_name_an_open_order_and_at_most_what_remains() -> None:
    b = book()
    assert check_amend(b, "9", price=70_000) == Refusal(NOT_OPEN)
    b.apply_notice(
        OrderNotice(
            ACC, NoticeKind.ACCEPTED, OrderAction.NEW, Side.SELL, SAMSUNG, "9", 3, 71_000, NOW,
            market=Market.KOSPI,
        )
    )  # fmt: skip
    assert check_amend(b, "9", price=70_500) is None
    assert check_amend(b, "9", price=70_550) == Refusal(OFF_TICK, 100)
    assert check_amend(b, "9", price=70_500, qty=4) == Refusal(OVER_REMAINING, 3)
    assert check_cancel(b, "9", qty=2) is None
    assert check_cancel(b, "9", qty=4) == Refusal(OVER_REMAINING, 3)
    assert check_cancel(b, "8") == Refusal(NOT_OPEN)
