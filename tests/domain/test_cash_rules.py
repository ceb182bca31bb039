"""Cash that settles (T+2 over the KRX calendar), loan rows, market-buy holds and untaxed
guesses: worked examples from krx-rules §5 and §7."""

from __future__ import annotations

from datetime import date, datetime

from jango.domain.book import Book
from jango.domain.costs import CostSchedule, rate_ppb
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

ACC = "5012345601"
SAMSUNG = Code("005930")
HYNIX = Code("000660")
# Thursday; Friday 10-09 is 한글날, so D+1 is Monday 10-12 and D+2 Tuesday 10-13.
DAY = datetime(2026, 10, 8, 10, 0, tzinfo=KST)


def on(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KST)


def order(
    kind: NoticeKind,
    side: Side,
    order_no: str,
    qty: int,
    price: int,
    *,
    code: Code = SAMSUNG,
    time: datetime = DAY,
    market: Market = Market.KOSPI,
    **kw: object,
) -> OrderNotice:
    return OrderNotice(
        ACC, kind, OrderAction.NEW, side, code, order_no, qty, price, time, market=market,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def trade(book: Book, side: Side, order_no: str, qty: int, price: int, **kw: object) -> None:
    book.apply_notice(order(NoticeKind.ACCEPTED, side, order_no, qty, price, **kw))
    book.apply_notice(order(NoticeKind.FILLED, side, order_no, qty, price, **kw))


def tick(code: Code, price: int, diff: int, when: datetime) -> Tick:
    return Tick(code, price, diff, 1, when)


def test_a_buy_and_a_sell_settle_on_d_plus_2_across_a_holiday() -> None:
    book = Book()
    hynix = BalanceRow(ACC, HYNIX, 10, 10, 1_000_000, market=Market.KOSPI)
    book.apply_snapshot(BalanceSnapshot(ACC, (hynix,), Cash(10_000_000, 10_000_000), DAY))
    trade(book, Side.BUY, "1", 10, 70_000)  # 700,000 + commission 100
    trade(book, Side.SELL, "2", 5, 120_000, code=HYNIX)  # 600,000 − 90 − tax 1,200
    acc = book.accounts[ACC]
    assert (acc.deposit, acc.d1, acc.d2) == (10_000_000, 10_000_000, 9_898_610)

    book.apply_tick(tick(SAMSUNG, 70_000, 0, on(date(2026, 10, 12))))  # Monday = D+1
    assert (acc.deposit, acc.d1, acc.d2) == (10_000_000, 9_898_610, 9_898_610)

    book.apply_tick(tick(SAMSUNG, 70_000, 0, on(date(2026, 10, 13))))  # Tuesday = D+2
    assert (acc.deposit, acc.d1, acc.d2) == (9_898_610, 9_898_610, 9_898_610)
    assert book.accounts[ACC].cash == Cash(9_898_610, 9_898_610, 9_898_610)


def test_a_snapshot_dates_what_is_still_to_settle_from_the_brokers_d1() -> None:
    book = Book()
    cash = Cash(deposit=5_000_000, d2=4_000_000, d1=4_500_000)
    book.apply_snapshot(BalanceSnapshot(ACC, (), cash, DAY))
    acc = book.accounts[ACC]
    assert acc.cash == cash
    book.apply_notice(
        order(NoticeKind.ACCEPTED, Side.BUY, "1", 1, 70_000, time=on(date(2026, 10, 12)))
    )
    assert acc.deposit == 4_500_000  # D+1's part settled on Monday
    book.apply_notice(
        order(NoticeKind.ACCEPTED, Side.BUY, "2", 1, 70_000, time=on(date(2026, 10, 13)))
    )
    assert acc.deposit == 4_000_000


def test_selling_part_of_a_margin_row_repays_its_share_of_the_loan() -> None:
    book = Book()
    margin = BalanceRow(
        ACC, SAMSUNG, 100, 100, 7_000_000, credit=Credit.MARGIN_KSFC,
        loan_date=date(2026, 9, 1), market=Market.KOSPI, loan_amount=4_200_000,
    )  # fmt: skip
    book.apply_snapshot(BalanceSnapshot(ACC, (margin,), Cash(1_000_000, 1_000_000), DAY))
    trade(
        book, Side.SELL, "1", 40, 72_000,
        credit=Credit.MARGIN_KSFC, loan_date=date(2026, 9, 1),
    )  # fmt: skip
    row = book.row(margin.key)
    assert row is not None
    # 2,880,000 proceeds − 1,680,000 repaid (4,200,000 × 40 // 100) − 430 commission − 5,760 tax
    assert book.accounts[ACC].d2 == 1_000_000 + 1_193_810
    assert (row.qty, row.purchase_amount, row.loan_amount) == (60, 4_200_000, 2_520_000)
    # Realized P&L is the trade's, whoever funded it: 2,880,000 − 2,800,000.
    assert book.accounts[ACC].totals.realized_gross == 80_000


def test_a_margin_buy_borrows_the_configured_share_and_pays_the_rest() -> None:
    book = Book(CostSchedule(margin_loan_ppb=rate_ppb("60")))
    book.apply_snapshot(BalanceSnapshot(ACC, (), Cash(1_000_000, 1_000_000), DAY))
    trade(
        book, Side.BUY, "1", 10, 70_000, credit=Credit.MARGIN_KSFC, loan_date=DAY.date(),
    )  # fmt: skip
    rows = list(book.rows(ACC))
    assert [r.loan_amount for r in rows] == [420_000]
    assert book.accounts[ACC].d2 == 1_000_000 - 280_000 - 100


def test_an_open_market_buy_holds_at_the_upper_limit_from_the_base_price() -> None:
    book = Book()
    book.apply_snapshot(BalanceSnapshot(ACC, (), Cash(10_000_000, 10_000_000), DAY))
    book.apply_tick(tick(SAMSUNG, 71_000, 1_000, DAY))  # 기준가 70,000 → 상한가 91,000
    book.names[SAMSUNG] = ("삼성전자", Market.KOSPI)
    market = order(NoticeKind.ACCEPTED, Side.BUY, "1", 10, 0, order_type=OrderType.MARKET)
    book.apply_notice(market)
    assert book.upper_limit(SAMSUNG) == 91_000
    assert book.accounts[ACC].buy_holds == 910_000 + 130
    assert book.accounts[ACC].orderable == 10_000_000 - 910_130


def test_a_market_buy_with_no_base_price_known_is_held_at_the_last_price_and_recorded() -> None:
    book = Book()
    book.apply_snapshot(BalanceSnapshot(ACC, (), Cash(10_000_000, 10_000_000), DAY))
    market = order(NoticeKind.ACCEPTED, Side.BUY, "1", 10, 0, order_type=OrderType.MARKET)
    changes = book.apply_notice(market)
    assert [d.field for d in changes.discrepancies] == ["cash_hold"]


def test_a_sell_of_a_row_whose_market_is_unknown_records_its_tax_as_an_estimate() -> None:
    book = Book()
    etf = BalanceRow(ACC, Code("069500"), 10, 10, 350_000)  # market left UNKNOWN by an adapter
    book.apply_snapshot(BalanceSnapshot(ACC, (etf,), Cash(0, 0), DAY))
    row = book.row(etf.key)
    assert row is not None and not row.market_known
    book.apply_notice(
        order(NoticeKind.ACCEPTED, Side.SELL, "1", 10, 36_000, code=etf.code, market=Market.UNKNOWN)
    )
    fill = order(
        NoticeKind.FILLED, Side.SELL, "1", 10, 36_000, code=etf.code, market=Market.UNKNOWN
    )
    changes = book.apply_notice(fill)
    assert [d.field for d in changes.discrepancies] == ["tax"]
    assert "estimated" in changes.discrepancies[0].reason
