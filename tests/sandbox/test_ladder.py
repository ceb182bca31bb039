"""The walk's ladder moves a price exactly as stepping one tick at a time with ``krx.tick_size``
does, clamped to the day's limits, so the venue's prices stay on the grid and inside the limits."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from jango.domain import krx
from jango.domain.model import Code, Instrument, Market
from jango.sandbox.ladder import Ladder, Walker
from jango.sandbox.venue_state import PriceEntry

DAYS = (date(2022, 6, 1), date(2023, 6, 1), date(2026, 12, 2))
MARKETS = (Market.KOSPI, Market.KOSDAQ, Market.KONEX, Market.ETF, Market.ELW, Market.UNKNOWN)


def unit_steps(price: int, moves: int, lower: int, upper: int, market: Market, on: date) -> int:
    """The venue's original walk: one tick at a time, the tick of the price below going down."""
    for _ in range(abs(moves)):
        if moves > 0 and price < upper:
            price += krx.tick_size(price, market, on)
        elif moves < 0 and price > lower:
            price -= krx.tick_size(price - 1, market, on)
    return min(max(price, lower), upper)


@st.composite
def day_of_a_code(draw: st.DrawFn) -> tuple[Market, date, int, int, int]:
    market = draw(st.sampled_from(MARKETS))
    on = draw(st.sampled_from(DAYS))
    raw = draw(st.integers(1, 3_000_000))
    base = max(raw - raw % krx.tick_size(raw, market, on), krx.tick_size(1, market, on))
    if krx.has_price_limit(market):
        upper, lower = krx.price_limits(base, market, on)
    else:
        tick = krx.tick_size(base, market, on)
        upper, lower = base * 10 - base * 10 % tick, tick
    ladder_prices = Ladder.build(krx.tick_table(market, on), upper).prices
    price = draw(st.sampled_from([p for p in ladder_prices if lower <= p <= upper]))
    return market, on, lower, upper, price


def test_a_ladder_lists_exactly_the_valid_prices() -> None:
    for market in MARKETS:
        for on in DAYS:
            ladder = Ladder.build(krx.tick_table(market, on), 60_000)
            valid = [p for p in range(1, 60_001) if krx.is_valid_price(p, market, on)]
            assert ladder.prices == valid
            assert all(ladder.prices[ladder.index[p]] == p for p in valid)


@settings(max_examples=400, deadline=None)
@given(day_of_a_code(), st.integers(-2, 2))
def test_a_move_on_the_ladder_is_the_one_tick_at_a_time_walk(
    day: tuple[Market, date, int, int, int], moves: int
) -> None:
    market, on, lower, upper, price = day
    ladder = Ladder.build(krx.tick_table(market, on), upper)
    state = PriceEntry(Instrument(Code("005930"), "x", market), price, upper, lower, price)
    walker = Walker.on(Code("005930"), state, ladder)
    assert walker.prices is not None
    at = min(max(walker.at + moves, walker.lower_at), walker.upper_at)
    moved = walker.prices[at]
    assert moved == unit_steps(price, moves, lower, upper, market, on)
    assert krx.is_valid_price(moved, market, on) and lower <= moved <= upper


def test_a_price_off_the_grid_gets_no_ladder_position() -> None:
    ladder = Ladder.build(krx.tick_table(Market.KOSPI, DAYS[2]), 100_000)
    state = PriceEntry(
        Instrument(Code("005930"), "x", Market.KOSPI), 70_000, 91_000, 49_000, 70_050
    )
    assert Walker.on(Code("005930"), state, ladder).prices is None
