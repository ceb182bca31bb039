"""Market data for the KIS sandbox's quotation endpoints, consistent with the venue.

The venue knows today's price, base (기준가 = yesterday's close), limits and volume. This module
adds what KIS quotation replies also carry, derived so that every number agrees with the venue:

* today's open/high/low, VWAP and minute bars, kept from the venue's ticks (the open is the base
  until the first trade);
* a daily history of about 300 business days ending yesterday at the venue's base price, generated
  deterministically per code (a seeded walk on the tick grid), so 52-week and 250-day extremes,
  pivots and the daily chart all come from one series;
* fundamentals per code (listed shares, par value, EPS, BPS) from a seeded generator: PER and PBR
  are then price / EPS and price / BPS. ETF and ETN have no earnings: their EPS/PER are 0.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from jango.domain import krx
from jango.domain.model import KST, Code, Market, Quote, Tick

HISTORY_DAYS = 300


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a day (``day`` set, ``minute`` None) or a minute of today."""

    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    amount: int  # 거래대금, won
    minute: time | None = None


@dataclass(frozen=True, slots=True)
class Fundamentals:
    listed_shares: int
    par_value: int
    eps: int
    bps: int
    foreign_rate: Decimal  # foreign ownership, % of listed shares


@dataclass(slots=True)
class _Today:
    day: date
    open: int
    high: int
    low: int
    volume: int = 0
    amount: int = 0
    traded: bool = False


def rate(part: int, whole: int, places: str = "0.01") -> str:
    """``part / whole`` in percent, rounded half up, as KIS prints it ("-1.25"); 0 if no whole."""
    # Formatted with "f": str() would print a small Decimal as "0E-8".
    if not whole:
        return format(Decimal(0).quantize(Decimal(places)), "f")
    return format((Decimal(part * 100) / whole).quantize(Decimal(places), ROUND_HALF_UP), "f")


def ratio(part: int, whole: int) -> str:
    """``part / whole`` with two decimals (PER, PBR); "0.00" when undefined."""
    if whole <= 0:
        return "0.00"
    return str((Decimal(part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _on_grid(price: int, market: Market, day: date) -> int:
    price = max(price, 1)
    tick = krx.tick_size(price, market, day)
    return max(tick, price - price % tick)


class MarketData:
    """Per-code history, fundamentals and today's bars; fed with every venue tick (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._today: dict[Code, _Today] = {}
        self._minutes: dict[Code, dict[time, list[int]]] = {}
        self._history: dict[tuple[Code, date, int], list[Bar]] = {}

    def on_tick(self, tick: Tick) -> None:
        """Fold a trade print into today's bar and minute bar (auction prints move nothing)."""
        if tick.expected:
            return
        moment = tick.time.astimezone(KST)
        with self._lock:
            today = self._today.get(tick.code)
            if today is None or today.day != moment.date():
                base = tick.price - tick.diff
                today = _Today(moment.date(), base, max(base, tick.price), min(base, tick.price))
                self._today[tick.code] = today
                self._minutes[tick.code] = {}
            traded = max(0, tick.volume - today.volume)
            if not today.traded:
                today.open = today.high = today.low = tick.price
                today.traded = True
            today.high = max(today.high, tick.price)
            today.low = min(today.low, tick.price)
            today.volume = max(today.volume, tick.volume)
            today.amount += traded * tick.price
            minute = moment.time().replace(second=0, microsecond=0)
            bar = self._minutes[tick.code].setdefault(minute, [tick.price] * 4 + [0, 0])
            bar[1] = max(bar[1], tick.price)
            bar[2] = min(bar[2], tick.price)
            bar[3] = tick.price
            bar[4] += traded
            bar[5] += traded * tick.price

    def today(self, quote: Quote, day: date) -> Bar:
        """Today's bar for ``quote``; before any trade: open = high = low = the base price."""
        with self._lock:
            state = self._today.get(quote.code)
            if state is None or state.day != day or not state.traded:
                high, low = max(quote.base, quote.price), min(quote.base, quote.price)
                return Bar(day, quote.base, high, low, quote.price, quote.volume, 0)
            amount = state.amount
            # The venue's volume is the truth; ticks missed before the sandbox listened are
            # priced at the current price so turnover never falls below volume × low.
            missing = max(0, quote.volume - state.volume)
            amount += missing * quote.price
            return Bar(
                day,
                state.open,
                max(state.high, quote.price),
                min(state.low, quote.price),
                quote.price,
                quote.volume,
                amount,
            )

    def minutes(self, code: Code, day: date) -> list[Bar]:
        """Today's minute bars of ``code``, oldest first."""
        with self._lock:
            state = self._today.get(code)
            if state is None or state.day != day:
                return []
            bars = self._minutes.get(code, {})
            return [
                Bar(day, b[0], b[1], b[2], b[3], b[4], b[5], minute=m)
                for m, b in sorted(bars.items())
            ]

    def history(self, code: Code, market: Market, base: int, day: date) -> list[Bar]:
        """Daily bars before ``day``, oldest first; the last one closes at ``base``."""
        key = (code, day, base)
        with self._lock:
            cached = self._history.get(key)
        if cached is not None:
            return cached
        rng = _rng("history", code, day)
        days: list[date] = []
        current = day
        for _ in range(HISTORY_DAYS):
            current = krx.add_business_days(current, -1)
            days.append(current)
        bars: list[Bar] = []
        close = base
        for when in days:  # newest first, walking back in time
            drift = rng.gauss(0, 0.018)
            open_ = _on_grid(int(close * (1 - drift * 0.5)), market, when)
            high = _on_grid(int(max(open_, close) * (1 + abs(rng.gauss(0, 0.008)))), market, when)
            high = max(high, open_, close)
            low = _on_grid(int(min(open_, close) * (1 - abs(rng.gauss(0, 0.008)))), market, when)
            low = min(low, open_, close)
            volume = rng.randint(50_000, 2_000_000) * max(1, 100_000 // max(close, 1000))
            amount = volume * ((high + low + close) // 3)
            bars.append(Bar(when, open_, high, low, close, volume, amount))
            close = _on_grid(int(close / (1 + drift)), market, when)
        bars.reverse()
        with self._lock:
            self._history[key] = bars
        return bars

    @staticmethod
    def fundamentals(code: Code, market: Market, base: int) -> Fundamentals:
        """Listed shares, par value, EPS and BPS for ``code`` (fixed per code)."""
        rng = _rng("fundamentals", code)
        shares = rng.randint(5, 600) * 1_000_000
        if market in (Market.ETF, Market.ETN, Market.ELW):
            return Fundamentals(shares, 0, 0, 0, Decimal("0.00"))
        par = rng.choice((100, 500, 1000, 5000))
        per = Decimal(rng.randint(500, 3500)) / 100  # a PER between 5 and 35
        pbr = Decimal(rng.randint(40, 400)) / 100
        eps = int(Decimal(base) / per)
        bps = int(Decimal(base) / pbr)
        foreign = Decimal(rng.randint(200, 5500)) / 100
        return Fundamentals(shares, par, eps, bps, foreign)


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def extreme(bars: list[Bar], high: bool) -> Bar:
    """The bar with the highest high (or lowest low); the latest one wins ties."""
    best = bars[0]
    for bar in bars:
        if (bar.high >= best.high) if high else (bar.low <= best.low):
            best = bar
    return best


def year_bars(bars: list[Bar], day: date) -> list[Bar]:
    return [bar for bar in bars if bar.day.year == day.year]


def weeks_ago(day: date, weeks: int) -> date:
    return day - timedelta(weeks=weeks)
