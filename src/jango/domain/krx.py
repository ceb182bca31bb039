"""KRX rules as dated data: business days, T+2 settlement, tick sizes, daily price limits, sessions.

Every rule here changed at least once during 2023–2026 (see ``reference/krx-rules.md``), so each
is a table keyed by the date it took effect, never a constant buried in code. All arithmetic is
on integer won.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from types import MappingProxyType

from jango.domain.model import DomainError, Market

# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


def _days(*pairs: tuple[str, str]) -> dict[date, str]:
    return {date.fromisoformat(day): why for day, why in pairs}


# Weekday closing days of the KRX securities market. Weekends are closed and not listed.
# 2023–2025: confirmed (the market was in fact closed on these days).
# 2026: as announced by KRX at the end of 2025, plus 제헌절, made a public holiday again by the
#   공휴일법 amendment passed on 2026-01-29.
# 2027: projected from the public-holiday rules (lunar dates and substitute days); temporary
#   holidays and any election day are not known yet. Replace with KRX's notice when published.
# 12/31 is the year-end closing day (연말 휴장일); when it falls on a weekend the last weekday of
# the year closes instead (2023-12-29). It is not a settlement day either.
KRX_HOLIDAYS: Mapping[date, str] = MappingProxyType(
    _days(
        ("2023-01-23", "설날"),
        ("2023-01-24", "설날 대체공휴일"),
        ("2023-03-01", "삼일절"),
        ("2023-05-01", "근로자의 날"),
        ("2023-05-05", "어린이날"),
        ("2023-05-29", "부처님오신날 대체공휴일"),
        ("2023-06-06", "현충일"),
        ("2023-08-15", "광복절"),
        ("2023-09-28", "추석 연휴"),
        ("2023-09-29", "추석"),
        ("2023-10-02", "임시공휴일"),
        ("2023-10-03", "개천절"),
        ("2023-10-09", "한글날"),
        ("2023-12-25", "성탄절"),
        ("2023-12-29", "연말 휴장일"),
        ("2024-01-01", "신정"),
        ("2024-02-09", "설날 연휴"),
        ("2024-02-12", "설날 대체공휴일"),
        ("2024-03-01", "삼일절"),
        ("2024-04-10", "제22대 국회의원 선거"),
        ("2024-05-01", "근로자의 날"),
        ("2024-05-06", "어린이날 대체공휴일"),
        ("2024-05-15", "부처님오신날"),
        ("2024-06-06", "현충일"),
        ("2024-08-15", "광복절"),
        ("2024-09-16", "추석 연휴"),
        ("2024-09-17", "추석"),
        ("2024-09-18", "추석 연휴"),
        ("2024-10-01", "국군의 날 임시공휴일"),
        ("2024-10-03", "개천절"),
        ("2024-10-09", "한글날"),
        ("2024-12-25", "성탄절"),
        ("2024-12-31", "연말 휴장일"),
        ("2025-01-01", "신정"),
        ("2025-01-27", "임시공휴일"),
        ("2025-01-28", "설날 연휴"),
        ("2025-01-29", "설날"),
        ("2025-01-30", "설날 연휴"),
        ("2025-03-03", "삼일절 대체공휴일"),
        ("2025-05-01", "근로자의 날"),
        ("2025-05-05", "어린이날 · 부처님오신날"),
        ("2025-05-06", "대체공휴일"),
        ("2025-06-03", "제21대 대통령 선거"),
        ("2025-06-06", "현충일"),
        ("2025-08-15", "광복절"),
        ("2025-10-03", "개천절"),
        ("2025-10-06", "추석"),
        ("2025-10-07", "추석 연휴"),
        ("2025-10-08", "추석 대체공휴일"),
        ("2025-10-09", "한글날"),
        ("2025-12-25", "성탄절"),
        ("2025-12-31", "연말 휴장일"),
        ("2026-01-01", "신정"),
        ("2026-02-16", "설날 연휴"),
        ("2026-02-17", "설날"),
        ("2026-02-18", "설날 연휴"),
        ("2026-03-02", "삼일절 대체공휴일"),
        ("2026-05-01", "근로자의 날"),
        ("2026-05-05", "어린이날"),
        ("2026-05-25", "부처님오신날 대체공휴일"),
        ("2026-06-03", "제9회 전국동시지방선거"),
        ("2026-07-17", "제헌절"),
        ("2026-08-17", "광복절 대체공휴일"),
        ("2026-09-24", "추석 연휴"),
        ("2026-09-25", "추석"),
        ("2026-10-05", "개천절 대체공휴일"),
        ("2026-10-09", "한글날"),
        ("2026-12-25", "성탄절"),
        ("2026-12-31", "연말 휴장일"),
        ("2027-01-01", "신정"),
        ("2027-02-08", "설날 연휴"),
        ("2027-02-09", "설날 대체공휴일"),
        ("2027-03-01", "삼일절"),
        ("2027-05-05", "어린이날"),
        ("2027-05-13", "부처님오신날"),
        ("2027-07-19", "제헌절 대체공휴일"),
        ("2027-08-16", "광복절 대체공휴일"),
        ("2027-09-14", "추석 연휴"),
        ("2027-09-15", "추석"),
        ("2027-09-16", "추석 연휴"),
        ("2027-10-04", "개천절 대체공휴일"),
        ("2027-10-11", "한글날 대체공휴일"),
        ("2027-12-27", "성탄절 대체공휴일"),
        ("2027-12-31", "연말 휴장일"),
    )
)

CALENDAR_YEARS = range(2023, 2028)
"""Years whose closing days are listed in :data:`KRX_HOLIDAYS`."""

# Outside CALENDAR_YEARS only the solar-calendar holidays can be known without a notice; lunar
# holidays, substitute days and elections are missing there, so callers that care must check
# :func:`calendar_covers`. This keeps replaying old data or running late simulations possible.
_FIXED_HOLIDAYS = ((1, 1), (3, 1), (5, 1), (5, 5), (6, 6), (8, 15), (10, 3), (10, 9), (12, 25))
_CONSTITUTION_DAY_FROM = 2026  # 제헌절 (7/17) is a holiday again from 2026


def calendar_covers(day: date) -> bool:
    """Whether ``day`` falls in a year whose KRX closing days are known exactly."""
    return day.year in CALENDAR_YEARS


def holiday_name(day: date) -> str | None:
    """The reason KRX is closed on weekday ``day`` (``None`` if it is open, or a weekend)."""
    if day.weekday() >= 5:
        return None
    if calendar_covers(day):
        return KRX_HOLIDAYS.get(day)
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        return "공휴일"
    if (day.month, day.day) == (7, 17) and day.year >= _CONSTITUTION_DAY_FROM:
        return "제헌절"
    if day == _year_end_closing(day.year):
        return "연말 휴장일"
    return None


def _year_end_closing(year: int) -> date:
    day = date(year, 12, 31)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def is_business_day(day: date) -> bool:
    """Whether KRX trades and settles on ``day`` (a weekday that is not a closing day)."""
    return day.weekday() < 5 and holiday_name(day) is None


def add_business_days(day: date, n: int) -> date:
    """The ``n``-th business day after ``day`` (before it when ``n`` is negative).

    ``day`` itself need not be a business day; ``n == 0`` returns it unchanged.
    """
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if is_business_day(day):
            remaining -= 1
    return day


def settlement_date(trade_date: date) -> date:
    """Settlement (결제일, T+2) of a trade executed on ``trade_date``, in KRX business days."""
    return add_business_days(trade_date, 2)


# ---------------------------------------------------------------------------------------------
# Tick sizes (호가가격단위)
# ---------------------------------------------------------------------------------------------

# A table is ((lower edge, tick), ...) ascending from 0: a band runs from its lower edge
# (included) to the next band's edge (excluded), as KRX writes 「이상 ~ 미만」.
TickTable = tuple[tuple[int, int], ...]

_STOCKS_2023: TickTable = (
    (0, 1),
    (2_000, 5),
    (5_000, 10),
    (20_000, 50),
    (50_000, 100),
    (200_000, 500),
    (500_000, 1_000),
)
_KOSPI_OLD: TickTable = (
    (0, 1),
    (1_000, 5),
    (5_000, 10),
    (10_000, 50),
    (50_000, 100),
    (100_000, 500),
    (500_000, 1_000),
)
_KOSDAQ_OLD: TickTable = ((0, 1), (1_000, 5), (5_000, 10), (10_000, 50), (50_000, 100))
_FLAT_5: TickTable = ((0, 5),)
_ETP_2023: TickTable = ((0, 1), (2_000, 5))

_EXTURE3 = date(2023, 1, 25)  # one table for every stock market
_ETP_1WON = date(2023, 12, 18)  # ETF/ETN get a 1-won tick below 2,000

# market -> ascending ((first day in force, table), ...); date.min marks "as far back as we model".
_TICKS: Mapping[Market, tuple[tuple[date, TickTable], ...]] = MappingProxyType(
    {
        Market.KOSPI: ((date.min, _KOSPI_OLD), (_EXTURE3, _STOCKS_2023)),
        Market.KOSDAQ: ((date.min, _KOSDAQ_OLD), (_EXTURE3, _STOCKS_2023)),
        # KONEX's pre-2023 table is not in the reference; KOSDAQ's is assumed [L].
        Market.KONEX: ((date.min, _KOSDAQ_OLD), (_EXTURE3, _STOCKS_2023)),
        Market.ETF: ((date.min, _FLAT_5), (_ETP_1WON, _ETP_2023)),
        Market.ETN: ((date.min, _FLAT_5), (_ETP_1WON, _ETP_2023)),
        Market.ELW: ((date.min, _FLAT_5),),
        # An instrument whose market we were not told is priced as a stock, the common case.
        Market.UNKNOWN: ((date.min, _KOSPI_OLD), (_EXTURE3, _STOCKS_2023)),
    }
)


def tick_table(market: Market = Market.KOSPI, on: date | None = None) -> TickTable:
    """The tick table of ``market`` in force on ``on`` (``None``: the latest rules)."""
    steps = _TICKS[market]
    if on is None:
        return steps[-1][1]
    return steps[bisect_right([start for start, _ in steps], on) - 1][1]


def tick_size(price: int, market: Market = Market.KOSPI, on: date | None = None) -> int:
    """The tick (호가가격단위) of the band holding ``price``; an edge belongs to the upper band.

    Raises :class:`DomainError` for a price that is not positive.
    """
    if price <= 0:
        raise DomainError(f"price must be positive, got {price}")
    table = tick_table(market, on)
    return table[bisect_right([edge for edge, _ in table], price) - 1][1]


def is_valid_price(price: int, market: Market = Market.KOSPI, on: date | None = None) -> bool:
    """Whether ``price`` can be quoted: positive and a multiple of its own band's tick."""
    return price > 0 and price % tick_size(price, market, on) == 0


# ---------------------------------------------------------------------------------------------
# Daily price limits (가격제한폭)
# ---------------------------------------------------------------------------------------------


class NoPriceLimit(DomainError):
    """The market has no daily price limit (ELW); there are no bounds to compute."""


# Limit width in percent of 기준가 (KOSPI/KOSDAQ ±30% since 2015-06-15, before any date we model).
_LIMIT_PERCENT: Mapping[Market, int] = MappingProxyType(
    {
        Market.KOSPI: 30,
        Market.KOSDAQ: 30,
        Market.KONEX: 15,
        Market.ETF: 30,
        Market.ETN: 30,
        Market.UNKNOWN: 30,
    }
)


def has_price_limit(market: Market) -> bool:
    """Whether ``market`` has a daily price limit (ELW does not)."""
    return market in _LIMIT_PERCENT


def price_limits(
    base: int,
    market: Market = Market.KOSPI,
    on: date | None = None,
    *,
    leverage: int = 1,
) -> tuple[int, int]:
    """The day's (상한가, 하한가) for 기준가 ``base``; both bounds are valid, inclusive prices.

    KRX's three steps: the width is ``base × rate`` truncated to the tick of the **base's** band;
    the upper bound ``base + width`` is then truncated to the tick of its **own** band when it
    has climbed into a coarser one (9,940 → 12,920 / 6,960; 4,990 → 6,480 / 3,495).
    ``leverage`` scales the rate for leveraged ETFs (2 → ±60%).

    Raises :class:`NoPriceLimit` for ELW (check :func:`has_price_limit` first) and
    :class:`DomainError` for a base off the tick table (KRX rounds even an adjusted 기준가 to a
    tick, so such a base is bad input) or a leverage that is not positive.
    """
    if not has_price_limit(market):
        raise NoPriceLimit(f"{market} has no daily price limit")
    if not is_valid_price(base, market, on):
        raise DomainError(f"base price {base} is not a valid {market} price")
    if leverage < 1:
        raise DomainError(f"leverage must be a positive integer, got {leverage}")
    width = base * _LIMIT_PERCENT[market] * leverage // 100
    width -= width % tick_size(base, market, on)
    upper = base + width
    upper -= upper % tick_size(upper, market, on)
    # The lower bound needs no step 3: it lies in the base's band or a finer one, and every
    # finer tick divides the base's tick, so base − width is already on a tick.
    return upper, base - width


# ---------------------------------------------------------------------------------------------
# Sessions (KRX regular day)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    """A phase of the KRX trading day, ``start`` included and ``end`` excluded."""

    name: str
    label_ko: str
    start: time
    end: time
    auction: bool  # prices printed during an auction phase are expected prices, not trades

    def contains(self, moment: time) -> bool:
        """Whether ``moment`` falls in this phase."""
        return self.start <= moment < self.end


# The phases a retail holder sees on an ordinary day (2025–2026). The 08:30–08:40 장전 시간외 종가
# overlaps the opening auction's order entry and is left out: it trades at yesterday's close and
# never moves a price. The year's first trading day and 수능 day open an hour later.
KRX_SESSIONS: tuple[Session, ...] = (
    Session("opening_auction", "장전 동시호가", time(8, 30), time(9, 0), auction=True),
    Session("continuous", "정규장", time(9, 0), time(15, 20), auction=False),
    Session("closing_auction", "장마감 동시호가", time(15, 20), time(15, 30), auction=True),
    Session("after_close", "장후 시간외 종가", time(15, 40), time(16, 0), auction=False),
    Session("after_single", "시간외 단일가", time(16, 0), time(18, 0), auction=True),
)


def session_at(moment: time, sessions: tuple[Session, ...] = KRX_SESSIONS) -> Session | None:
    """The session in progress at wall-clock ``moment`` (KST), or ``None`` between sessions."""
    for session in sessions:
        if session.contains(moment.replace(tzinfo=None)):
            return session
    return None
