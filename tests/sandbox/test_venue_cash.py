"""Worked examples of the venue's cash: T+2 settlement over the KRX calendar, D+1, loan amounts
of credit rows, and the cash a market buy holds. Numbers are worked out by hand in comments;
the default costs are 0.015% commission truncated to 10 won and, for 2025 KOSPI sales, 0.15% tax.
"""

from __future__ import annotations

from datetime import date

from jango.domain.model import (
    BalanceRow,
    Cash,
    Credit,
    Market,
    OrderType,
    Side,
    parse_code,
)
from jango.sandbox.clock import SimClock
from jango.sandbox.instruments import InstrumentSpec
from jango.sandbox.venue import Venue

ACCOUNT = "2222222222"
SAMSUNG = parse_code("005930")
SPECS = [InstrumentSpec(SAMSUNG, "삼성전자", Market.KOSPI, 70_000)]
UPPER, LOWER = 91_000, 49_000  # ±30% of 70,000 on the 100-won tick
THURSDAY = date(2025, 8, 14)  # Friday 8/15 is 광복절: D+1 is Monday 8/18, D+2 Tuesday 8/19


def venue_on(day: date, *, depth_won: int = 10**12, holdings: tuple[BalanceRow, ...] = ()) -> Venue:
    # No steps are taken, so every fill is at the base price of 70,000.
    venue = Venue(SPECS, seed=0, clock=SimClock(day), depth_won=depth_won)
    venue.open_account(ACCOUNT, cash=10_000_000, holdings=holdings)
    return venue


def next_day(venue: Venue) -> None:
    venue.clock.advance(7 * 3600)  # past the 15:20 close: the next business day's open


def test_a_buy_and_a_sell_on_one_day_settle_on_d_plus_2_across_a_holiday() -> None:
    venue = venue_on(THURSDAY, holdings=(BalanceRow(ACCOUNT, SAMSUNG, 50, 50, 3_500_000),))
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 10, UPPER)  # 700,000 + commission 100
    venue.place(ACCOUNT, Side.SELL, SAMSUNG, 5, LOWER)  # 350,000 - commission 50 - tax 525
    d2 = 10_000_000 - 700_100 + 349_425
    assert venue.balance(ACCOUNT).cash == Cash(deposit=10_000_000, d2=d2, d1=10_000_000)

    next_day(venue)
    assert venue.now().date() == date(2025, 8, 18)  # the holiday and the weekend skipped
    assert venue.balance(ACCOUNT).cash == Cash(deposit=10_000_000, d2=d2, d1=d2)
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 1, UPPER)  # bought on D+1: settles on 8/20
    assert venue.balance(ACCOUNT).cash == Cash(deposit=10_000_000, d2=d2 - 70_010, d1=d2)

    next_day(venue)
    assert venue.now().date() == date(2025, 8, 19)
    assert venue.balance(ACCOUNT).cash == Cash(deposit=d2, d2=d2 - 70_010, d1=d2 - 70_010)
    next_day(venue)
    assert venue.balance(ACCOUNT).cash == Cash(d2 - 70_010, d2 - 70_010, d2 - 70_010)


def test_a_margin_buy_borrows_the_loan_part_and_a_sale_repays_its_share() -> None:
    venue = venue_on(THURSDAY)
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 10, UPPER, credit=Credit.MARGIN_SELF)
    # 700,000 bought: 60% (420,000) is the lender's, 280,000 + commission 100 the account's.
    [row] = venue.balance(ACCOUNT).rows
    assert (row.credit, row.loan_date, row.qty, row.loan_amount) == (
        Credit.MARGIN_SELF,
        THURSDAY,
        10,
        420_000,
    )
    assert venue.balance(ACCOUNT).cash.d2 == 10_000_000 - 280_100

    venue.place(
        ACCOUNT, Side.SELL, SAMSUNG, 3, LOWER, credit=Credit.MARGIN_SELF, loan_date=THURSDAY
    )
    # 3 of 10 sold for 210,000 repay 420,000 * 3 // 10 = 126,000; commission 30, tax 315.
    [row] = venue.balance(ACCOUNT).rows
    assert (row.qty, row.purchase_amount, row.loan_amount) == (7, 490_000, 294_000)
    assert venue.balance(ACCOUNT).cash.d2 == 10_000_000 - 280_100 + 210_000 - 126_000 - 345


def test_repayments_truncate_and_the_last_share_repays_what_is_left() -> None:
    loan_date = date(2025, 7, 1)
    margin = BalanceRow(
        ACCOUNT, SAMSUNG, 3, 3, 210_000, Credit.MARGIN_KSFC, loan_date, loan_amount=100_001
    )
    venue = venue_on(THURSDAY, holdings=(margin,))
    loans = []
    for _ in range(3):
        venue.place(
            ACCOUNT, Side.SELL, SAMSUNG, 1, LOWER, credit=Credit.MARGIN_KSFC, loan_date=loan_date
        )
        loans.append(sum(r.loan_amount for r in venue.balance(ACCOUNT).rows))
    # 100,001 * 1 // 3 = 33,333 repaid, then 66,668 * 1 // 2 = 33,334, then the last 33,334.
    assert loans == [66_668, 33_334, 0]
    # Each sale: 70,000 - repaid - commission 10 - tax 105.
    proceeds = 3 * (70_000 - 10 - 105) - 100_001
    assert venue.balance(ACCOUNT).cash.d2 == 10_000_000 + proceeds


def test_the_demo_margin_row_carries_sixty_percent_of_its_purchase_as_loan() -> None:
    venue = Venue(seed=1, clock=SimClock(THURSDAY))
    venue.open_demo_account()
    [margin] = [r for r in venue.balance("5012345601").rows if r.credit is Credit.MARGIN_SELF]
    assert margin.loan_amount == margin.purchase_amount * 60 // 100 > 0
    cash_rows = [r for r in venue.balance("5012345601").rows if r.credit is Credit.CASH]
    assert all(r.loan_amount == 0 for r in cash_rows)


def test_an_open_market_buy_holds_cash_at_the_upper_limit() -> None:
    venue = venue_on(THURSDAY, depth_won=1)  # one share per match
    venue.place(ACCOUNT, Side.BUY, SAMSUNG, 10, order_type=OrderType.MARKET)
    [order] = venue.open_orders(ACCOUNT)
    assert (order.filled, order.remaining) == (1, 9)
    # One share bought at 70,000 (+10 commission); nine held at 상한가 91,000: 819,000 + 120.
    assert venue.orderable_cash(ACCOUNT) == 10_000_000 - 70_010 - 819_120
    assert venue.balance(ACCOUNT).cash.d2 == 10_000_000 - 70_010


def test_a_margin_market_buy_holds_only_the_accounts_part() -> None:
    venue = venue_on(THURSDAY, depth_won=1)
    venue.place(
        ACCOUNT, Side.BUY, SAMSUNG, 10, order_type=OrderType.MARKET, credit=Credit.MARGIN_SELF
    )
    # Bought 1 at 70,000: 28,000 + 10 from the account. Held: 40% of 9 × 91,000 + 120.
    assert venue.orderable_cash(ACCOUNT) == 10_000_000 - 28_010 - (327_600 + 120)
