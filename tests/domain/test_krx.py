"""KRX rules: calendar and T+2, tick sizes, price limits, sessions (krx-rules §1–§4)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jango.domain import krx
from jango.domain.model import DomainError, Market

D = date.fromisoformat

# --- calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trade", "settles"),
    [
        ("2024-12-27", "2025-01-02"),  # §4: the 2025 tax cut applied from this trade date
        ("2025-12-29", "2026-01-02"),  # §4: the 2026 rise applies from this trade date
        ("2024-12-26", "2024-12-30"),
        ("2023-12-27", "2024-01-02"),  # 2023-12-29 was the year-end closing day (12/31 a Sunday)
        ("2025-01-24", "2025-02-03"),  # 임시공휴일 1/27 and 설날 1/28–30
        ("2026-03-04", "2026-03-06"),
        ("2026-02-27", "2026-03-04"),  # 삼일절 substitute 3/2
    ],
)
def test_settlement_is_two_krx_business_days_later(trade: str, settles: str) -> None:
    assert krx.settlement_date(D(trade)) == D(settles)


@pytest.mark.parametrize(
    "day",
    [
        "2023-05-01",  # 근로자의 날
        "2023-05-29",  # substitute for 부처님오신날
        "2023-12-29",  # year-end closing moved off a Sunday
        "2024-04-10",  # election day
        "2024-12-31",
        "2025-05-06",
        "2025-10-08",
        "2026-06-03",
        "2026-07-17",  # 제헌절 restored in 2026
        "2026-12-31",
        "2027-12-27",
    ],
)
def test_listed_closing_days_are_not_business_days(day: str) -> None:
    assert not krx.is_business_day(D(day))
    assert krx.holiday_name(D(day))


def test_weekends_are_not_business_days_and_have_no_holiday_name() -> None:
    saturday = D("2026-03-07")
    assert not krx.is_business_day(saturday)
    assert not krx.is_business_day(saturday + timedelta(days=1))
    assert krx.holiday_name(saturday) is None


def test_ordinary_weekdays_are_business_days() -> None:
    assert krx.is_business_day(D("2026-03-04"))
    assert krx.is_business_day(D("2023-12-28"))


def test_every_listed_holiday_is_a_weekday_in_the_covered_years() -> None:
    for day in krx.KRX_HOLIDAYS:
        assert day.weekday() < 5, day
        assert krx.calendar_covers(day)


def test_every_covered_year_closes_its_last_weekday() -> None:
    for year in krx.CALENDAR_YEARS:
        last = D(f"{year}-12-31")
        while last.weekday() >= 5:
            last -= timedelta(days=1)
        assert not krx.is_business_day(last), year


def test_outside_the_covered_years_fixed_holidays_and_year_end_still_close() -> None:
    assert not krx.calendar_covers(D("2028-01-03"))
    assert not krx.is_business_day(D("2028-03-01"))
    assert not krx.is_business_day(D("2028-07-17"))
    assert not krx.is_business_day(D("2028-12-29"))  # 12/31/2028 is a Sunday
    assert krx.is_business_day(D("2022-07-18"))  # 제헌절 was not a holiday before 2026
    assert krx.is_business_day(D("2028-03-02"))


def test_add_business_days_goes_backwards_and_zero_is_identity() -> None:
    assert krx.add_business_days(D("2025-01-02"), -1) == D("2024-12-30")
    assert krx.add_business_days(D("2026-03-07"), 0) == D("2026-03-07")


@given(st.dates(D("2023-01-01"), D("2027-12-20")), st.integers(0, 30))
def test_adding_then_subtracting_business_days_returns_to_a_business_day(day: date, n: int) -> None:
    if not krx.is_business_day(day):
        return
    assert krx.add_business_days(krx.add_business_days(day, n), -n) == day


# --- tick sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1, 1),
        (1_999, 1),
        (2_000, 5),  # band edges belong to the upper band
        (4_995, 5),
        (5_000, 10),
        (19_990, 10),
        (20_000, 50),
        (50_000, 100),
        (199_900, 100),
        (200_000, 500),
        (500_000, 1_000),
        (1_234_000, 1_000),
    ],
)
def test_tick_size_of_stocks_since_2023(price: int, tick: int) -> None:
    for market in (Market.KOSPI, Market.KOSDAQ, Market.KONEX):
        assert krx.tick_size(price, market) == tick
        assert krx.tick_size(price, market, D("2023-01-25")) == tick


@pytest.mark.parametrize(
    ("price", "market", "tick"),
    [
        (999, Market.KOSPI, 1),
        (1_000, Market.KOSPI, 5),
        (9_990, Market.KOSPI, 10),
        (10_000, Market.KOSPI, 50),
        (99_900, Market.KOSPI, 100),
        (100_000, Market.KOSPI, 500),
        (500_000, Market.KOSPI, 1_000),
        (100_000, Market.KOSDAQ, 100),
        (600_000, Market.KOSDAQ, 100),
    ],
)
def test_tick_size_before_2023_01_25_follows_the_old_tables(
    price: int, market: Market, tick: int
) -> None:
    assert krx.tick_size(price, market, D("2023-01-24")) == tick


def test_etf_and_etn_tick_is_1_below_2000_and_5_from_2000_since_2023_12_18() -> None:
    for market in (Market.ETF, Market.ETN):
        assert krx.tick_size(1_999, market) == 1
        assert krx.tick_size(2_000, market) == 5
        assert krx.tick_size(52_345, market) == 5
        assert krx.tick_size(1_999, market, D("2023-12-18")) == 1
        assert krx.tick_size(1_999, market, D("2023-12-15")) == 5


def test_elw_tick_is_5_at_every_price() -> None:
    assert krx.tick_size(10, Market.ELW) == 5
    assert krx.tick_size(600_000, Market.ELW) == 5


def test_price_is_valid_only_on_its_own_bands_tick() -> None:
    assert krx.is_valid_price(2_000)
    assert not krx.is_valid_price(2_001)
    assert krx.is_valid_price(1_999)
    assert not krx.is_valid_price(50_050)
    assert krx.is_valid_price(49_950)
    assert krx.is_valid_price(52_345, Market.ETF)
    assert not krx.is_valid_price(52_345, Market.KOSPI)
    assert not krx.is_valid_price(0)
    assert not krx.is_valid_price(-100)


def test_tick_size_refuses_a_price_that_is_not_positive() -> None:
    with pytest.raises(DomainError):
        krx.tick_size(0)


# --- price limits --------------------------------------------------------------------------


def test_price_limits_follow_krx_worked_example_9940() -> None:
    assert krx.price_limits(9_940) == (12_920, 6_960)


def test_upper_limit_is_truncated_to_its_own_bands_tick() -> None:
    upper, lower = krx.price_limits(4_990)
    assert upper == 6_480  # 4,990 + 1,495 = 6,485 sits in the 10-won band
    assert lower == 3_495


def test_upper_limit_step_three_with_the_old_table() -> None:
    assert krx.price_limits(9_980, Market.KOSPI, D("2022-06-02"))[0] == 12_950


def test_konex_limit_is_15_percent() -> None:
    assert krx.price_limits(10_000, Market.KONEX) == (11_500, 8_500)


def test_leveraged_etf_limit_scales_with_leverage() -> None:
    assert krx.price_limits(10_000, Market.ETF, leverage=2) == (16_000, 4_000)


def test_elw_has_no_price_limit() -> None:
    assert not krx.has_price_limit(Market.ELW)
    with pytest.raises(krx.NoPriceLimit):
        krx.price_limits(1_000, Market.ELW)


def test_price_limits_refuse_bad_base_and_leverage() -> None:
    with pytest.raises(DomainError):
        krx.price_limits(0)
    with pytest.raises(DomainError):
        krx.price_limits(10_000, leverage=0)


LIMITED = st.sampled_from([Market.KOSPI, Market.KOSDAQ, Market.KONEX, Market.ETF, Market.ETN])
RULE_DATES = st.sampled_from([None, D("2022-06-02"), D("2023-06-01"), D("2026-03-04")])


@st.composite
def valid_prices(draw: st.DrawFn, market: Market, on: date | None) -> int:
    raw = draw(st.integers(1, 3_000_000))
    return raw - raw % krx.tick_size(raw, market, on) or krx.tick_size(1, market, on)


@given(st.data(), LIMITED, RULE_DATES)
def test_limits_are_valid_ticks_around_the_base(
    data: st.DataObject, market: Market, on: date | None
) -> None:
    base = data.draw(valid_prices(market, on))
    upper, lower = krx.price_limits(base, market, on)
    assert lower <= base <= upper
    assert krx.is_valid_price(upper, market, on)
    assert krx.is_valid_price(lower, market, on)
    percent = 15 if market is Market.KONEX else 30
    assert (upper - base) * 100 <= base * percent
    assert (base - lower) * 100 <= base * percent


def test_price_limits_refuse_a_base_off_the_tick_table() -> None:
    with pytest.raises(DomainError):
        krx.price_limits(9_945)
    with pytest.raises(DomainError):
        krx.price_limits(1_999, Market.ETF, D("2023-12-15"))


@given(st.data(), LIMITED, RULE_DATES)
def test_every_valid_price_stays_valid_after_one_tick_up_or_down_within_limits(
    data: st.DataObject, market: Market, on: date | None
) -> None:
    base = data.draw(valid_prices(market, on))
    upper, lower = krx.price_limits(base, market, on)
    price = data.draw(st.integers(lower, upper))
    price -= price % krx.tick_size(price, market, on)
    if price < lower:
        return
    assert krx.is_valid_price(price, market, on)
    up = price + krx.tick_size(price, market, on)
    assert krx.is_valid_price(up, market, on)


# --- sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        (time(8, 29, 59), None),
        (time(8, 30), "opening_auction"),
        (time(9, 0), "continuous"),
        (time(15, 19, 59), "continuous"),
        (time(15, 20), "closing_auction"),
        (time(15, 35), None),
        (time(15, 40), "after_close"),
        (time(16, 0), "after_single"),
        (time(18, 0), None),
    ],
)
def test_session_at_finds_the_phase_in_progress(moment: time, name: str | None) -> None:
    session = krx.session_at(moment)
    assert (session.name if session else None) == name


def test_auction_phases_are_marked_as_auctions() -> None:
    assert [s.name for s in krx.KRX_SESSIONS if s.auction] == [
        "opening_auction",
        "closing_auction",
        "after_single",
    ]
