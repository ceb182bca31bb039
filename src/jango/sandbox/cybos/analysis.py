"""The ``CpSysDib.CpSvr*`` analysis objects public scripts use, answering from the venue's
history (the same daily bars StockChart gives) and the listing master.

Field tables are the help's (the ``CybosPlusHelp.chm`` pages of each object) unless marked:

* ``CpSvr7254`` 투자주체별 현황: inputs 0 code, 1 기간 (0 사용자지정 with 2/3 시작·끝 일자,
  1–4 one to six months, 5 최근 5일, 6 일별), 4 ``'0'`` 순매수 / ``'1'`` 매매비중, 5 투자자
  (0 전체 …), 6 ``'1'`` 수량 / ``'2'`` 금액 (newer help, as scripts use it). Header 0 code,
  1 rows. Investor 0: data 0 일자, 1 개인, 2 외국인, 3 기관계, 4 금융투자, 5 보험, 6 투신,
  7 은행, 8 기타금융, 9 연기금, 10 기타법인, 11 기타외인, 12 사모펀드, 13 국가지자체, and (newer
  help, from scripts) 14 종가, 15 대비, 16 대비율, 17 거래량, 18 확정 (char ``'1'``, ``'0'``
  잠정). Another investor: 0 일자, 1/2/3/4 매도 수량·비중·금액(백만)·비중, 5–8 매수 the same,
  9 순매수수량, 10 순매수금액(백만).
* ``CpSvr7238`` 종목별 공매도 추이 (not in the old help; two public sources agree): input 0
  code; header 0 rows; data 0 일자, 1 종가, 2 대비, 3 대비율, 4 거래량, 5 공매도량,
  6 공매도비중(%), 7 공매도거래대금, 8 평균가, 9 평균가대비; ``Continue``.
* ``CpSvr8548`` 시가총액 비중: input 0 ``'1'`` KOSPI200, ``'2'`` 거래소 전체, ``'4'`` 코스닥
  전체; header 0 rows, 1 전체 시가총액(억원); data 0 code, 1 name, 2 현재가, 3 대비, 4 대비율,
  5 거래량, 6 시가총액(억원), 7 비중, 8 외인비중, 9 지수영향, 10 지수영향(%), 11 기여도.
* ``CpSvrNew7043`` / ``CpSvr7043`` 등락 종목: input 0 market (``'0'`` both, New only; ``'1'``
  거래소, ``'2'`` 코스닥), 1 선택기준 (New: 1 상한 2 상승 3 보합 4 하락 5 하한; old: 4 하한
  5 하락), 3 순서 (21/22 대비율 상위/하위, 11/12 code, 51/52 거래량); header 0 rows (old:
  3 rows too); data 0 code, 1 name, 2 현재가, 3 대비플래그, 4 대비, 5 대비율, 6 거래량, 7/8
  매도·매수호가 (상승/하락: 시가, 시가대비).

Investor flows and short sales are this emulator's (seeded by code and day): every day's
volume is bought and sold in full, so the investors' net buys add up to exactly 0.
"""

from __future__ import annotations

import random
import zlib
from datetime import date, timedelta
from typing import TYPE_CHECKING, ClassVar

from jango.domain import krx
from jango.domain.model import Market, Quote
from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import DibObject
from jango.sandbox.cybos.listing import com_code, krx_listing
from jango.sandbox.cybos.quotes import Snapshot, _char_text

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator

# Investors by CpSvr7254's input-5 code; 3 (기관계) is the sum of the institutions.
INVESTORS = {
    1: "개인", 2: "외국인", 4: "금융투자", 5: "보험", 6: "투신", 7: "은행", 8: "기타금융",
    9: "연기금", 10: "국가지자체", 11: "기타외인", 12: "사모펀드", 13: "기타법인",
}  # fmt: skip
INSTITUTIONS = (4, 5, 6, 7, 8, 9, 12, 10)
# Data columns of investor 0 (전체), in the help's order, by investor code.
TOTAL_COLUMNS = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 13: 10, 11: 11, 12: 12, 10: 13,
}  # fmt: skip
FLOW_PAGE = 17  # rows a request returns (public scripts page 7254 in 17s)
SHORT_PAGE = 30  # assumption: the help gives no page size
CAP_PAGE = 200  # assumption


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split by ``weights`` into integers that add up to exactly ``total``."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    parts = [int(s) for s in shares]
    order = sorted(range(len(weights)), key=lambda i: shares[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def investor_flows(code: str, day: date, volume: int) -> dict[int, tuple[int, int]]:
    """(bought, sold) shares of each investor on ``day``; each side adds up to ``volume``."""
    rng = random.Random(zlib.crc32(f"flows|{code}|{day.isoformat()}".encode()))
    names = list(INVESTORS)
    bought = _split(volume, [rng.uniform(0.05, 1.0) ** 2 for _ in names])
    sold = _split(volume, [rng.uniform(0.05, 1.0) ** 2 for _ in names])
    flows = {k: (b, s) for k, b, s in zip(names, bought, sold, strict=True)}
    inst = [flows[k] for k in INSTITUTIONS]
    flows[3] = (sum(b for b, _ in inst), sum(s for _, s in inst))
    return flows


class _HistoryObject(DibObject):
    """A daily-history request paged with ``Continue`` (rows newest first)."""

    page = FLOW_PAGE
    depth = 500

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._rows: list[dict[int, object]] | None = None
        self._cursor = 0

    def _inputs_changed(self) -> None:
        self._rows = None
        self._continue = 0

    def _serve(self) -> int:
        if self._rows is None or not self._continue:
            quote = self._emu.quote_of(self._inputs.get(0))
            if quote is None:
                self._header, self._data, self._continue = {0: "", 1: 0}, {}, 0
                return self._refuse("종목코드를 확인하십시오", "0041")
            snap = Snapshot(self._emu, quote, self._emu.venue.now())
            today = (snap.open, snap.high, snap.low, snap.close, quote.volume)
            bars = mkt.daily_bars(quote.code, quote.market, today, snap.day, self.depth)
            self._rows = self._build(quote, bars)
            self._cursor = 0
        rows = self._rows[self._cursor : self._cursor + self.page]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(self._rows) else 0
        columns = sorted({k for row in rows for k in row})
        self._data = {k: [row.get(k, 0) for row in rows] for k in columns}
        self._set_header(len(rows))
        return self._ok("조회가 계속됩니다", "0030") if self._continue else self._ok()

    def _set_header(self, rows: int) -> None:
        raise NotImplementedError

    def _build(self, quote: Quote, bars: list[mkt.Bar]) -> list[dict[int, object]]:
        raise NotImplementedError


def _day_numbers(bar: mkt.Bar, previous: mkt.Bar | None) -> tuple[int, int, float]:
    close = int(bar.close)
    before = int(previous.close) if previous is not None else int(bar.open)
    diff = close - before
    return close, diff, round(diff * 100 / before, 2) if before else 0.0


class CpSvr7254(_HistoryObject):
    """투자주체별 현황: each investor's daily net buys (or 매매비중), quantities or amounts."""

    progid = "CpSysDib.CpSvr7254"
    service = "stock.7254"

    def _set_header(self, rows: int) -> None:
        self._header = {0: self._code, 1: rows}

    def _build(self, quote: Quote, bars: list[mkt.Bar]) -> list[dict[int, object]]:
        self._code = com_code(quote.code)
        # A short in the help, yet public scripts pass ord('6'): COM hands over either.
        period = _char_text(self._inputs.get(1), "6")
        kind = int(period) if period.isdigit() else 6
        share = _char_text(self._inputs.get(4), "0") == "1"
        amounts = _char_text(self._inputs.get(6), "1") == "2"
        investor = int(str(self._inputs.get(5, 0)) or 0)
        today = bars[0].day
        chosen = self._period(bars, kind)
        rows: list[dict[int, object]] = []
        for i, bar in enumerate(chosen):
            previous = bars[bars.index(bar) + 1] if bars.index(bar) + 1 < len(bars) else None
            close, diff, rate = _day_numbers(bar, previous)
            flows = investor_flows(quote.code, bar.day, bar.volume)
            row: dict[int, object] = {0: frames.yyyymmdd(bar.day)}
            if investor == 0:
                for code, column in TOTAL_COLUMNS.items():
                    bought, sold = flows[code]
                    if share:
                        value: object = round((bought + sold) * 50 / max(bar.volume, 1), 2)
                    elif amounts:
                        value = (bought - sold) * close // 1_000_000
                    else:
                        value = bought - sold
                    row[column] = value
                row.update({14: close, 15: diff, 16: rate, 17: bar.volume})
                provisional = bar.day == today and i == 0
                row[18] = frames.char("0" if provisional else "1")
            else:
                bought, sold = flows.get(investor, (0, 0))
                volume = max(bar.volume, 1)
                row.update({
                    1: sold, 2: round(sold * 100 / volume, 2), 3: sold * close // 1_000_000,
                    4: round(sold * 100 / volume, 2), 5: bought,
                    6: round(bought * 100 / volume, 2), 7: bought * close // 1_000_000,
                    8: round(bought * 100 / volume, 2), 9: bought - sold,
                    10: (bought - sold) * close // 1_000_000,
                })  # fmt: skip
            rows.append(row)
        return rows

    def _period(self, bars: list[mkt.Bar], kind: int) -> list[mkt.Bar]:
        if kind == 0:
            start = int(str(self._inputs.get(2, 0)) or 0)
            end = int(str(self._inputs.get(3, 0)) or 0) or 99991231
            return [b for b in bars if start <= frames.yyyymmdd(b.day) <= end]
        if kind == 5:
            return bars[:5]
        if 1 <= kind <= 4:
            months = {1: 1, 2: 2, 3: 3, 4: 6}[kind]
            cutoff = bars[0].day - timedelta(days=round(30.44 * months))
            return [b for b in bars if b.day > cutoff]
        return bars


class CpSvr7238(_HistoryObject):
    """종목별 공매도 추이: daily short-sale volume, weight and value, newest first."""

    progid = "CpSysDib.CpSvr7238"
    service = "stock.7238"
    page = SHORT_PAGE

    def _set_header(self, rows: int) -> None:
        self._header = {0: rows}

    def _build(self, quote: Quote, bars: list[mkt.Bar]) -> list[dict[int, object]]:
        rows: list[dict[int, object]] = []
        for i, bar in enumerate(bars):
            previous = bars[i + 1] if i + 1 < len(bars) else None
            close, diff, rate = _day_numbers(bar, previous)
            rng = random.Random(zlib.crc32(f"short|{quote.code}|{bar.day}".encode()))
            short = bar.volume * rng.randint(0, 800) // 10_000  # 0–8% of the day's volume
            average = int((bar.open + bar.high + bar.low + bar.close) // 4)
            rows.append({
                0: frames.yyyymmdd(bar.day), 1: close, 2: diff, 3: rate, 4: bar.volume,
                5: short, 6: round(short * 100 / max(bar.volume, 1), 2), 7: short * average,
                8: average, 9: close - average,
            })  # fmt: skip
        return rows


def _universe(emu: CybosEmulator, markets: set[Market], k200: bool = False) -> list[Quote]:
    """The 주권 of ``markets``: the venue's quote of a code it trades, else the listing's
    기준가 (nothing traded yet). Never adds a code to the venue, so a whole-market screen stays
    cheap."""
    known = {i.code for i in emu.venue.instruments()}
    quotes = []
    for item in krx_listing():
        if item.market not in markets or item.section != 1 or (k200 and not item.k200):
            continue
        if item.code in known:
            quotes.append(emu.venue.quote(item.code))
            continue
        base = item.base_price
        limited = krx.has_price_limit(item.market)
        upper, lower = krx.price_limits(base, item.market, None) if limited else (0, 0)
        quotes.append(Quote(item.code, base, 0, 0, base, upper, lower, item.name, item.market))
    return quotes


class _PagedScreen(DibObject):
    """A whole-market screen computed once per inquiry and paged with ``Continue``."""

    page = CAP_PAGE

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._rows: list[dict[int, object]] | None = None
        self._cursor = 0
        self._extra: dict[int, object] = {}

    def _inputs_changed(self) -> None:
        self._rows = None
        self._continue = 0

    def _serve(self) -> int:
        if self._rows is None or not self._continue:
            built = self._build()
            if built is None:
                self._header, self._data, self._continue = {0: 0}, {}, 0
                return self._refuse("지원하지 않는 구분입니다", "0042")
            self._rows, self._cursor = built, 0
        rows = self._rows[self._cursor : self._cursor + self.page]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(self._rows) else 0
        self._data = {k: [row.get(k, 0) for row in rows] for k in range(12)}
        self._header = {0: len(rows), **self._extra}
        return self._ok("조회가 계속됩니다", "0030") if self._continue else self._ok()

    def _build(self) -> list[dict[int, object]] | None:
        raise NotImplementedError


def _rate(quote: Quote) -> float:
    return round(quote.diff * 100 / quote.base, 2) if quote.base else 0.0


class CpSvr8548(_PagedScreen):
    """시가총액 비중: the market's stocks by capitalisation, with their weight in it."""

    progid = "CpSysDib.CpSvr8548"
    service = "stock.8548"

    def _build(self) -> list[dict[int, object]] | None:
        target = _char_text(self._inputs.get(0), "2")
        if target not in ("1", "2", "4"):
            return None
        market = Market.KOSDAQ if target == "4" else Market.KOSPI
        quotes = _universe(self._emu, {market}, k200=target == "1")
        caps = {q.code: q.price * mkt.profile(q.code, q.base).shares for q in quotes}
        total = sum(caps.values()) or 1
        rows = []
        for q in sorted(quotes, key=lambda q: caps[q.code], reverse=True):
            weight = caps[q.code] * 100 / total
            influence = q.diff * mkt.profile(q.code, q.base).shares / total * 100
            foreign = round(zlib.crc32(f"foreign|{q.code}".encode()) % 6000 / 100, 2)
            rows.append({
                0: com_code(q.code), 1: q.name,
                2: q.price, 3: q.diff, 4: _rate(q), 5: q.volume, 6: caps[q.code] // 100_000_000,
                7: round(weight, 2), 8: foreign, 9: round(influence, 4),
                10: round(weight * _rate(q) / 100, 4), 11: round(influence, 4),
            })  # fmt: skip
        self._extra = {1: total // 100_000_000}
        return rows


class CpSvrNew7043(_PagedScreen):
    """등락 종목: today's 상한/상승/보합/하락/하한 stocks of a market, ordered as asked."""

    progid = "CpSysDib.CpSvrNew7043"
    service = "stock.7043"
    page = 40  # assumption
    _KINDS: ClassVar[dict[str, str]] = {
        "1": "upper", "2": "up", "3": "flat", "4": "down", "5": "lower",
    }  # fmt: skip

    def _build(self) -> list[dict[int, object]] | None:
        market = _char_text(self._inputs.get(0), "1")
        kind = self._KINDS.get(_char_text(self._inputs.get(1), "2"))
        markets = {"0": {Market.KOSPI, Market.KOSDAQ}, "1": {Market.KOSPI}, "2": {Market.KOSDAQ}}
        if kind is None or market not in markets:
            return None
        chosen = [q for q in _universe(self._emu, markets[market]) if _matches(q, kind)]
        order = int(str(self._inputs.get(3, 21)) or 21)
        if order in (11, 12):
            chosen.sort(key=lambda q: q.code, reverse=order == 12)
        elif order in (51, 52, 61, 62):
            chosen.sort(
                key=lambda q: q.volume * (q.price if order > 60 else 1), reverse=order % 2 == 1
            )
        else:
            chosen.sort(key=_rate, reverse=order % 2 == 1)
        self._extra = {1: len(chosen), 3: len(chosen)}
        rows = []
        for q in chosen:
            flag = frames.sign_flag(q.price, q.diff, q.upper, q.lower)
            book = mkt.order_book(q, q.market, self._emu.venue.now().date())
            row: dict[int, object] = {
                0: com_code(q.code), 1: q.name, 2: q.price,
                3: frames.char(flag), 4: q.diff, 5: _rate(q), 6: q.volume,
            }  # fmt: skip
            if kind in ("up", "down"):
                row.update({7: q.base, 8: q.price - q.base, 9: _rate(q), 10: 1})
            else:
                row.update({7: book.asks[0], 8: book.bids[0], 9: book.total_ask, 10: 1})
            rows.append(row)
        return rows


class CpSvr7043(CpSvrNew7043):
    """The older 등락현황 object kept for old scripts: 4 is 하한 and 5 하락 here."""

    progid = "CpSysDib.CpSvr7043"
    _KINDS: ClassVar[dict[str, str]] = {
        "1": "upper", "2": "up", "3": "flat", "4": "lower", "5": "down",
    }  # fmt: skip


def _matches(quote: Quote, kind: str) -> bool:
    if kind == "upper":
        return bool(quote.upper) and quote.price >= quote.upper
    if kind == "lower":
        return bool(quote.lower) and quote.price <= quote.lower
    if kind == "up":
        return quote.diff > 0 and not (quote.upper and quote.price >= quote.upper)
    if kind == "down":
        return quote.diff < 0 and not (quote.lower and quote.price <= quote.lower)
    return quote.diff == 0
