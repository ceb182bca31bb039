"""Market data the emulated CYBOS server derives from the venue, consistent across objects.

The venue knows each code's price, 기준가, limits and volume. This module adds, deterministically,
what CYBOS objects also report, so that every object tells the same story:

* today's open/high/low: the venue opens each day at 기준가; high and low follow the ticks the
  emulator sees (:class:`Intraday`);
* a 10-level order book around the price (bid 1 = the last price, ask 1 one tick above), the
  same for StockMst, StockJpBid/StockJpBid2, MarketEye and StockCur (:func:`order_book`);
* daily history ending in yesterday's close = today's 기준가, and week/month/minute/tick bars
  derived from it and from today's bar (:func:`daily_bars`, :func:`intraday_bars`);
* listed shares, capital size and financial ratios (PER, EPS, BPS, …) per code
  (:func:`profile`), and index values computed from the listings (:func:`index_value`).

Generated values are seeded by the code, so the same code gives the same history on every run.
"""

from __future__ import annotations

import random
import threading
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from jango.domain import krx
from jango.domain.model import Code, Market, Quote, Tick
from jango.sandbox.cybos.listing import krx_listing
from jango.sandbox.cybos.master import INDEXES, IndexSpec, industry_of

BOOK_LEVELS = 10
SESSION_OPEN = time(9, 0)
SESSION_CLOSE = time(15, 20)


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


# --- today --------------------------------------------------------------------------------------


class Intraday:
    """Today's high and low per code from the ticks seen (the open is the venue's 기준가)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._range: dict[Code, tuple[date, int, int]] = {}

    def on_tick(self, tick: Tick) -> None:
        if tick.expected:
            return  # an auction's expected price is not a trade
        with self._lock:
            day = tick.time.date()
            known = self._range.get(tick.code)
            if known is None or known[0] != day:
                self._range[tick.code] = (day, tick.price, tick.price)
            else:
                self._range[tick.code] = (day, max(known[1], tick.price), min(known[2], tick.price))

    def ohlc(self, quote: Quote, day: date) -> tuple[int, int, int, int]:
        """(open, high, low, close) of ``quote``'s code today."""
        with self._lock:
            known = self._range.get(quote.code)
        high = low = quote.base
        if known is not None and known[0] == day:
            high, low = known[1], known[2]
        return (
            quote.base,
            max(high, quote.base, quote.price),
            min(low, quote.base, quote.price),
            quote.price,
        )


def session_flags(moment: datetime) -> tuple[str, str]:
    """StockMst 58 (예상체결 구분) and 59 (장구분), which always agree: before 08:30 장전시간외
    ('0','3'); 08:30–09:00 동시호가 ('1','1'); the session ('2','2'); 15:20–15:30 closing auction
    ('1','5'); after ('0','4')."""
    now = moment.time()
    if now < time(8, 30):
        return "0", "3"
    if now < SESSION_OPEN:
        return "1", "1"
    if now < SESSION_CLOSE:
        return "2", "2"
    if now < time(15, 30):
        return "1", "5"
    return "0", "4"


# --- the order book ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Book:
    """Ten levels each side; a level past the day's limit is 0 (price and quantity)."""

    asks: tuple[int, ...]
    bids: tuple[int, ...]
    ask_qty: tuple[int, ...]
    bid_qty: tuple[int, ...]

    @property
    def total_ask(self) -> int:
        return sum(self.ask_qty)

    @property
    def total_bid(self) -> int:
        return sum(self.bid_qty)


def order_book(quote: Quote, market: Market, day: date) -> Book:
    """The book around ``quote``: bid 1 at the price, ask 1 one tick above, one tick apart."""
    asks: list[int] = []
    bids: list[int] = []
    price = quote.price
    for _ in range(BOOK_LEVELS):
        price += krx.tick_size(price, market, day)
        asks.append(price if not quote.upper or price <= quote.upper else 0)
    price = quote.price
    for level in range(BOOK_LEVELS):
        if level:
            price -= krx.tick_size(price - 1, market, day)
        bids.append(price if price >= max(quote.lower, 1) else 0)
    rng = random.Random(_seed(quote.code, quote.price, quote.volume))
    depth = max(1, 20_000_000 // max(quote.price, 1))
    ask_qty = tuple(rng.randint(1, depth) if p else 0 for p in asks)
    bid_qty = tuple(rng.randint(1, depth) if p else 0 for p in bids)
    return Book(tuple(asks), tuple(bids), ask_qty, bid_qty)


# --- profile: shares and financials --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """Listing facts and financial ratios of one code: shares, par, size, fiscal month and
    listing date from the listing master where it lists the code; the ratios (and the facts of
    a code it does not list) plausible, seeded by the code."""

    shares: int
    par: int
    capital_size: int  # GetStockCapital: 1 대형 2 중형 3 소형
    per: float
    eps: int
    bps: int
    pbr: float
    dividend_yield: float
    debt_ratio: float
    roe: float
    fiscal_month: int
    listed: int  # yyyymmdd


def profile(code: str, base: int) -> Profile:
    rng = random.Random(_seed("profile", code))
    cap = int(10 ** rng.uniform(10.7, 13.6))  # 500억 … 40조 원
    shares = max(1_000_000, cap // max(base, 1))
    per = round(rng.uniform(4.0, 45.0), 2)
    pbr = round(rng.uniform(0.3, 4.5), 2)
    capital_size = 1 if cap >= 2 * 10**12 else 2 if cap >= 3 * 10**11 else 3
    year = rng.randint(1975, 2022)
    par = rng.choice((100, 500, 1000, 5000))
    listed = year * 10000 + rng.randint(1, 12) * 100 + rng.randint(1, 28)
    fiscal_month = 12
    item = krx_listing().get(code)
    if item is not None:
        shares = item.listed_shares or shares
        par = item.par or par
        capital_size = item.size or capital_size
        listed = item.listed or listed
        fiscal_month = item.fiscal_month or fiscal_month
    return Profile(
        shares=shares,
        par=par,
        capital_size=capital_size,
        per=per,
        eps=int(base / per),
        bps=int(base / pbr),
        pbr=pbr,
        dividend_yield=round(rng.uniform(0.0, 5.0), 2),
        debt_ratio=round(rng.uniform(20.0, 250.0), 2),
        roe=round(per and pbr / per * 100, 2),
        fiscal_month=fiscal_month,
        listed=listed,
    )


def financials(code: str, base: int, price: int) -> dict[int, object]:
    """MarketEye fields 67–111 (PER, EPS, BPS and the annual/quarterly statements), consistent
    with each other: PER = price / EPS, 매출액영업이익률 = 영업이익 / 매출액, and so on."""
    p = profile(code, base)
    rng = random.Random(_seed("financials", code))
    net = p.eps * p.shares // 1_000_000  # 당기순이익, 백만원
    sales = max(1, int(abs(net) * rng.uniform(5, 20)))
    operating = int(net * rng.uniform(1.1, 1.6))
    ordinary = int(net * rng.uniform(1.0, 1.3))
    quarter = [max(1, sales // 4), operating // 4, ordinary // 4, net // 4]

    def growth() -> float:
        return round(rng.uniform(-30.0, 40.0), 2)

    return {
        67: round(price / p.eps, 2) if p.eps else 0.0,
        68: 0,  # 시간외단일가 블록 밖: 예약
        69: 0,
        70: p.eps,
        71: p.shares * p.par // 1_000_000,  # 자본금, 백만원
        72: p.par,
        73: round(p.dividend_yield * 1.2, 2),  # 배당률
        74: p.dividend_yield,
        75: p.debt_ratio,
        76: round(rng.uniform(100.0, 5000.0), 2),  # 유보율
        77: p.roe,
        78: growth(),
        79: growth(),
        80: growth(),
        81: round(rng.uniform(10.0, 90.0), 2),  # 투자심리
        82: round(rng.uniform(50.0, 200.0), 2),  # VR
        83: round(rng.uniform(0.1, 5.0), 2),  # 5일 회전율
        84: base * 4,  # 4일 종가합 (flat history approximation)
        85: base * 9,
        86: sales,
        87: ordinary,
        88: net,
        89: p.bps,
        90: growth(),
        91: operating,
        92: round(operating * 100 / sales, 2),
        93: round(ordinary * 100 / sales, 2),
        94: round(rng.uniform(1.0, 50.0), 2),  # 이자보상비율
        95: 202412,  # 결산년월
        96: p.bps,
        97: growth(),
        98: growth(),
        99: growth(),
        100: growth(),
        101: quarter[0],
        102: quarter[1],
        103: quarter[2],
        104: quarter[3],
        105: round(quarter[1] * 100 / quarter[0], 2),
        106: round(quarter[2] * 100 / quarter[0], 2),
        107: p.roe,
        108: round(rng.uniform(1.0, 50.0), 2),
        109: round(rng.uniform(100.0, 5000.0), 2),
        110: p.debt_ratio,
        111: 202509,  # 최근분기년월
    }


# --- history ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    hhmm: int  # 0 for day/week/month bars; the bar's end for minute and tick bars
    open: float
    high: float
    low: float
    close: float
    volume: int


def _on_tick(price: float, market: Market, day: date, is_index: bool) -> float:
    if is_index:
        return round(price, 2)
    value = max(1, int(price))
    tick = krx.tick_size(value, market, day)
    return float(value - value % tick) or float(tick)


def daily_bars(
    code: str,
    market: Market,
    today: tuple[float, float, float, float, int],
    day: date,
    count: int,
    *,
    is_index: bool = False,
) -> list[Bar]:
    """``count`` daily bars newest first; the first is today's (``today`` = open, high, low,
    close, volume), the second closes at today's open (기준가 = yesterday's close)."""
    bars = [Bar(day, 0, today[0], today[1], today[2], today[3], today[4])]
    # One history per listing whichever form of its code the caller has (A005930 or 005930).
    key = code[1:] if len(code) == 7 and code[0] in "AQ" else code
    rng = random.Random(_seed("daily", key))
    close = today[0]
    when = day
    for _ in range(count - 1):
        when = krx.add_business_days(when, -1)
        change = rng.gauss(0.0, 0.018)
        open_ = _on_tick(close * (1 - change * rng.uniform(0.2, 0.8)), market, when, is_index)
        high = _on_tick(max(open_, close) * (1 + abs(rng.gauss(0, 0.008))), market, when, is_index)
        low = _on_tick(min(open_, close) * (1 - abs(rng.gauss(0, 0.008))), market, when, is_index)
        low = min(low, open_, close)
        high = max(high, open_, close)
        volume = rng.randint(50_000, 5_000_000) if not is_index else rng.randint(10**8, 10**9)
        bars.append(Bar(when, 0, open_, high, low, close, volume))
        previous = close / (1 + change)
        close = _on_tick(previous, market, when, is_index)
        if close <= 0:
            break
    return bars


def grouped(bars: list[Bar], kind: str) -> list[Bar]:
    """Daily bars (newest first) grouped into weeks (``'W'``) or months (``'M'``), each dated by
    its last trading day."""

    def key(bar: Bar) -> tuple[int, int]:
        if kind == "W":
            iso = bar.day.isocalendar()
            return iso[0], iso[1]
        return bar.day.year, bar.day.month

    groups: list[list[Bar]] = []
    for bar in bars:
        if groups and key(groups[-1][0]) == key(bar):
            groups[-1].append(bar)
        else:
            groups.append([bar])
    result = []
    for group in groups:
        newest, oldest = group[0], group[-1]
        result.append(
            Bar(
                newest.day,
                0,
                oldest.open,
                max(b.high for b in group),
                min(b.low for b in group),
                newest.close,
                sum(b.volume for b in group),
            )
        )
    return result


def intraday_bars(
    bar: Bar, market: Market, until: time, minutes: int, *, is_index: bool = False
) -> list[Bar]:
    """Minute bars of one day's bar (newest first), ``minutes`` wide, from 09:00 to ``until``:
    a path open → high → low → close (or through the low first, by the code's seed) whose bars
    together have exactly the day's open, high, low and close."""
    start = datetime.combine(bar.day, SESSION_OPEN)
    end = datetime.combine(bar.day, min(until, SESSION_CLOSE))
    total = max(1, int((end - start).total_seconds() // 60))
    high_first = _seed("path", bar.day, bar.open) % 2 == 0
    points = [bar.open, bar.high, bar.low, bar.close] if high_first else [
        bar.open, bar.low, bar.high, bar.close
    ]  # fmt: skip

    def at(minute: float) -> float:
        # Piecewise linear over three legs, turning at a third and two thirds of the day.
        position = minute / total * 3
        leg = min(int(position), 2)
        fraction = position - leg
        value = points[leg] + (points[leg + 1] - points[leg]) * fraction
        return _on_tick(value, market, bar.day, is_index)

    turns = {total / 3: points[1], total * 2 / 3: points[2], 0.0: bar.open, float(total): bar.close}
    bars = []
    width = max(1, minutes)
    for first in range(0, total, width):
        last = min(first + width, total)
        prices = [at(m) for m in range(first, last + 1)]
        prices[0] = turns.get(float(first), prices[0])
        prices[-1] = turns.get(float(last), prices[-1])
        inside = [p for t, p in turns.items() if first <= t <= last]
        stamp = start + timedelta(minutes=last)
        bars.append(
            Bar(
                bar.day,
                stamp.hour * 100 + stamp.minute,
                prices[0],
                max(prices + inside),
                min(prices + inside),
                prices[-1],
                bar.volume * (last - first) // total,
            )
        )
    bars.reverse()
    return bars


# --- indexes ------------------------------------------------------------------------------------


def index_spec(code: str) -> IndexSpec | None:
    text = str(code).strip().upper()
    for spec in INDEXES:
        if spec.code == text:
            return spec
    return None


def index_value(spec: IndexSpec, quotes: list[Quote], use_base: bool = False) -> float:
    """The index now (or at the open with ``use_base``): its base value times the members'
    capitalisation now over their capitalisation at 기준가."""
    members = [q for q in quotes if _member(spec, q)]
    if not members:
        return spec.base_value
    weights = {q.code: profile(q.code, q.base).shares for q in members}
    now = sum((q.base if use_base else q.price) * weights[q.code] for q in members)
    then = sum(q.base * weights[q.code] for q in members)
    return round(spec.base_value * now / then, 2)


def _member(spec: IndexSpec, quote: Quote) -> bool:
    if quote.market is not spec.market:
        return False
    if spec.industry:
        return industry_of(quote.code, quote.market) == spec.industry
    return not spec.size or str(profile(quote.code, quote.base).capital_size) == spec.size
