"""``Book.apply_ticks`` is ``apply_tick`` on each tick in order: same book, merged changes; so is
``Book.apply_quotes`` on the same prices as plain quotes (same book)."""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jango.domain.book import NOTHING, Book, Changes, Row
from jango.domain.model import (
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    Event,
    Tick,
)
from tests.domain.test_book import assert_totals_match_rows
from tests.domain.test_book_properties import ACC, CODES, MARKETS, START, sessions

OTHER = "5012345602"
UNHELD = Code("069500")


def _row(row: Row) -> tuple[object, ...]:
    return tuple(getattr(row, f.name) for f in fields(row) if f.name != "totals")


def _full_state(book: Book) -> object:
    """Everything a tick can move: every row's fields, totals, prices and bases, the day."""
    return (
        {
            account: (
                {key: _row(row) for key, row in acc.rows.items()},
                astuple(acc.totals),
                acc.deposit,
                acc.d2,
                acc.d1,
            )
            for account, acc in book.accounts.items()
        },
        {code: book.last_price(code) for code in [*CODES, UNHELD]},
        book._bases,
        book._day,
        {o.order_no: (o.remaining, o.status, o.held) for o in book.orders.values()},
    )


def _split(events: list[Event], cuts: list[int]) -> list[list[Event]]:
    """Runs of consecutive ticks become bursts (cut where ``cuts`` say); other events alone."""
    groups: list[list[Event]] = []
    for i, event in enumerate(events):
        if (
            isinstance(event, Tick)
            and groups
            and isinstance(groups[-1][-1], Tick)
            and cuts[i % len(cuts)] != 0
        ):
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def _union(changes: list[Changes]) -> tuple[frozenset[object], frozenset[str]]:
    return (
        frozenset().union(*(c.rows for c in changes)),
        frozenset[str]().union(*(c.accounts for c in changes)),
    )


def _check(events: list[Event], cuts: list[int]) -> None:
    one, burst, quoted = Book(), Book(), Book()
    for group in _split(events, cuts):
        if not isinstance(group[0], Tick):
            one.apply(group[0])
            burst.apply(group[0])
            quoted.apply(group[0])
            continue
        ticks = [e for e in group if isinstance(e, Tick)]
        each = [one.apply_tick(t) for t in ticks]
        merged = burst.apply_ticks(ticks)
        # The bulk path of a rebuild: the same prices as plain quotes, expected ones as None.
        quoted.apply_quotes(
            [None if t.expected else (t.code, t.price, t.diff, t.volume, t.time) for t in ticks]
        )
        assert _full_state(quoted) == _full_state(one)
        applied = [c for c in each if c.applied]
        if not applied:
            assert merged is NOTHING
        else:
            assert (merged.rows, merged.accounts) == _union(applied)
            assert not merged.removed and not merged.orders and not merged.discrepancies
        assert _full_state(burst) == _full_state(one)
        assert_totals_match_rows(burst)
    assert _full_state(burst) == _full_state(one)


@settings(max_examples=200, deadline=None)
@given(sessions(), st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_a_burst_leaves_the_book_as_its_ticks_one_by_one_in_random_sessions(
    events: list[Event], cuts: list[int]
) -> None:
    _check(events, cuts)


@st.composite
def tick_runs(draw: st.DrawFn) -> list[Event]:
    """Two accounts (one holding a code in cash and on margin), then long runs of ticks that
    repeat codes, include unheld codes, expected prints and zero prices, and cross days."""
    snaps: list[Event] = []
    for account in (ACC, OTHER):
        rows = []
        for code in draw(st.lists(st.sampled_from(CODES), unique=True, max_size=4)):
            qty = draw(st.integers(1, 500))
            rows.append(
                BalanceRow(
                    account,
                    code,
                    qty,
                    qty,
                    qty * draw(st.integers(1_000, 90_000)),
                    market=MARKETS[code],
                )
            )
            if draw(st.booleans()):
                loan = START.date() - timedelta(days=10)
                rows.append(
                    BalanceRow(
                        account,
                        code,
                        qty,
                        qty,
                        qty * 50_000,
                        credit=Credit.MARGIN_SELF,
                        loan_date=loan,
                        market=MARKETS[code],
                    )
                )
        snaps.append(BalanceSnapshot(account, tuple(rows), Cash(10**8, 10**8), START))
    t = START
    ticks: list[Event] = []
    for _ in range(draw(st.integers(0, 80))):
        t += timedelta(seconds=draw(st.sampled_from([0, 1, 30, 3600 * 20])))
        ticks.append(
            Tick(
                draw(st.sampled_from([*CODES, UNHELD])),
                draw(st.sampled_from([0, 1, 50_000, 50_100, 199_000])),
                draw(st.integers(-5_000, 5_000)),
                draw(st.integers(0, 10**9)),
                t,
                expected=draw(st.integers(0, 9)) == 0,
            )
        )
    return [*snaps, *ticks]


@settings(max_examples=200, deadline=None)
@given(tick_runs(), st.lists(st.integers(0, 5), min_size=1, max_size=8))
def test_long_bursts_across_days_and_accounts_match_one_by_one(
    events: list[Event], cuts: list[int]
) -> None:
    _check(events, cuts)


def test_an_empty_burst_changes_nothing() -> None:
    book = Book()
    assert book.apply_ticks([]) is NOTHING
