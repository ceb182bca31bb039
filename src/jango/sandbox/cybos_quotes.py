"""Emulated CYBOS quote objects: StockMst, StockMst2, StockJpBid2, StockJpBid, StockChart,
MarketEye and StockAdj, all answering from one :mod:`cybos_market` view of the venue.

Field tables (cybos.md §7, §8 and the help's pages as public scripts use them):

* ``DsCbo1.StockMst`` header 0–73 (see :func:`stockmst_header`); ``GetDataValue(0..3, 0..9)``
  = 매도호가, 매수호가, 매도잔량, 매수잔량 of ten levels.
* ``DsCbo1.StockMst2``: input 0 = codes joined by ``,`` (≤ 110); header 0 = rows; data
  0 code, 1 name, 2 time (hhmm), 3 현재가, 4 전일대비, 5 상태구분 (char), 6 시가, 7 고가, 8 저가,
  9 매도호가, 10 매수호가, 11 거래량, 12 거래대금 (천원), 19 전일종가.
* ``DsCbo1.StockJpBid2`` (RQ): header 0 code, 1 levels, 3 time, 4 총매도잔량, 6 총매수잔량;
  data as StockMst's. ``DsCbo1.StockJpBid`` (SB): header 0 code, 1 time, 2 volume, levels 1–5 at
  3+4k … 6+4k (ask, bid, ask qty, bid qty), levels 6–10 at 27+4k …, 23/24 총매도/총매수잔량.
* ``CpSysDib.StockChart``: inputs 0 code, 1 요청구분 (``'1'`` 기간, ``'2'`` 개수; char or str),
  2 종료일, 3 시작일, 4 개수, 5 fields, 6 차트구분 ``D W M m T``, 7 주기, 9 수정주가; data
  columns follow the requested fields sorted ascending (as MarketEye), rows newest first,
  ``Continue`` past 2,856 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from jango.domain.model import Market, Quote, cybos_code
from jango.sandbox import cybos_frames as frames
from jango.sandbox import cybos_market as mkt
from jango.sandbox.cybos_master import IndexSpec, industry_of
from jango.sandbox.cybos_objects import DibObject, SubscribeObject

if TYPE_CHECKING:
    from jango.sandbox.cybos_com import CybosEmulator

CHART_PAGE = 2856
STOCKMST2_MAX = 110
_SECTION_TEXT = {Market.KOSDAQ: "코스닥", Market.KONEX: "코넥스"}
_SIZE_TEXT = {1: "대형주", 2: "중형주", 3: "소형주"}
MARKETEYE_MAX_CODES = 200
MARKETEYE_MAX_FIELDS = 64


def _char_text(value: object, default: str) -> str:
    """A char input given as ``ord('2')`` or ``'2'`` (COM converts either)."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return chr(value) if value > 9 else str(value)
    return str(value)[:1] or default


def _ints(value: object) -> list[int]:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [int(value)]
    if isinstance(value, Sequence):
        return [int(v) for v in value]
    return [int(str(value))]


def _value_unit(market: Market) -> int:
    """거래대금 units of StockMst 19 / StockCur 10: 만원 on the exchange, 천원 on KOSDAQ."""
    return 1000 if market is Market.KOSDAQ else 10_000


class Snapshot:
    """Everything the quote objects report about one code at one moment."""

    def __init__(self, emu: CybosEmulator, quote: Quote, moment: datetime) -> None:
        self.quote = quote
        self.moment = moment
        self.day = moment.date()
        self.market = quote.market
        self.open, self.high, self.low, self.close = emu.intraday.ohlc(quote, self.day)
        self.book = mkt.order_book(quote, quote.market, self.day)
        self.profile = mkt.profile(quote.code, quote.base)
        self.value = quote.price * quote.volume  # 거래대금, 원 (each trade at the last price)


def stockmst_header(s: Snapshot, name: str) -> dict[int, object]:
    """Every StockMst header 0–73 for one code, consistent with the book and the chart."""
    q, p, book = s.quote, s.profile, s.book
    expected, session = mkt.session_flags(s.moment)
    history = mkt.daily_bars(q.code, s.market, (s.open, s.high, s.low, s.close, q.volume),
                             s.day, 250)  # fmt: skip
    year_high = max(history, key=lambda b: b.high)
    year_low = min(history, key=lambda b: b.low)
    header: dict[int, object] = {i: 0 for i in range(74)}
    header.update(
        {
            0: cybos_code(q.code),
            1: name,
            2: industry_of(q.code, s.market),
            3: "",
            4: frames.hhmm(s.moment),
            5: _SECTION_TEXT.get(s.market, "거래소"),
            6: _SIZE_TEXT[p.capital_size],
            7: 0,
            8: q.upper,
            9: q.lower,
            10: q.base,
            11: q.price,
            12: q.diff,
            13: s.open,
            14: s.high,
            15: s.low,
            16: book.asks[0],
            17: book.bids[0],
            18: q.volume,
            19: s.value // _value_unit(s.market),
            20: p.eps,
            21: int(year_high.high),
            22: frames.yyyymmdd(year_high.day),
            23: int(year_low.low),
            24: frames.yyyymmdd(year_low.day),
            25: 1,
            26: p.fiscal_month,
            27: q.base,
            28: float(round(q.price / p.eps, 2)) if p.eps else 0.0,
            29: 0,
            30: 0,
            31: p.shares,
            32: 0,
            33: frames.yyyymmdd(s.day),
            34: p.shares // 2,
            35: p.shares // 2 - p.shares // 10,
            36: p.shares // 10,
            37: 20.0,
            38: 0,
            39: 0,
            40: 0,
            41: 0,
            42: industry_of(q.code, s.market),
            43: 1,
            44: frames.char("0"),
            45: frames.char(frames.MARKET_CHAR.get(s.market, "1")),
            46: history[1].volume if len(history) > 1 else 0,
            47: int(year_high.high),
            48: frames.yyyymmdd(year_high.day),
            49: int(year_low.low),
            50: frames.yyyymmdd(year_low.day),
            51: 0,
            52: 0,
            53: 0,
            54: p.par,
            55: q.price if expected == "1" else 0,
            56: q.diff if expected == "1" else 0,
            57: 0,
            58: frames.char(expected),
            59: frames.char(session),
            60: 0,
            61: 0,
            62: 0,
            63: 0,
            64: 0.0,
            65: frames.char("0"),
            66: frames.char("N"),
            67: frames.char("1"),
            68: frames.char("N"),
            69: frames.char("N"),
            70: p.bps,
            71: book.total_ask,
            72: 0,
            73: book.total_bid,
        }
    )
    return header


def index_header(
    spec: IndexSpec, value: float, open_value: float, moment: datetime
) -> dict[int, object]:
    """StockMst of an index code (U001 …): values as floats, no book."""
    header: dict[int, object] = {i: 0 for i in range(74)}
    header.update(
        {
            0: spec.code,
            1: spec.name,
            4: frames.hhmm(moment),
            10: open_value,
            11: value,
            12: round(value - open_value, 2),
            13: open_value,
            14: max(value, open_value),
            15: min(value, open_value),
            27: open_value,
            58: frames.char(mkt.session_flags(moment)[0]),
            59: frames.char(mkt.session_flags(moment)[1]),
        }
    )
    return header


class _QuoteObject(DibObject):
    """A quote RQ that reads one code (stock or index) from input 0."""

    def _snapshot(self, raw: object) -> Snapshot | None:
        quote = self._emu.quote_of(raw)
        if quote is None:
            return None
        return Snapshot(self._emu, quote, self._emu.venue.now())

    def _book_data(self, book: mkt.Book) -> None:
        self._data = {
            0: list(book.asks),
            1: list(book.bids),
            2: list(book.ask_qty),
            3: list(book.bid_qty),
            4: [0] * mkt.BOOK_LEVELS,
            5: [0] * mkt.BOOK_LEVELS,
        }


class StockMst(_QuoteObject):
    """Current price, the day's facts and the 10-level book of one code."""

    progid = "DsCbo1.StockMst"
    service = "stock.new.mst"

    def _serve(self) -> int:
        raw = self._inputs.get(0)
        spec = mkt.index_spec(str(raw))
        if spec is not None:
            value, open_value = self._emu.index_values(spec)
            self._header = index_header(spec, value, open_value, self._emu.venue.now())
            self._data = {}
            return self._ok()
        snap = self._snapshot(raw)
        if snap is None:
            self._header, self._data = {}, {}
            return self._refuse("종목코드를 확인하십시오", "0041")
        self._header = stockmst_header(snap, snap.quote.name)
        self._book_data(snap.book)
        return self._ok()


class StockJpBid2(_QuoteObject):
    """The 10-level book of one code (RQ)."""

    progid = "DsCbo1.StockJpBid2"
    service = "stock.jpbid2"

    def _serve(self) -> int:
        snap = self._snapshot(self._inputs.get(0))
        if snap is None:
            self._header, self._data = {}, {}
            return self._refuse("종목코드를 확인하십시오", "0041")
        book = snap.book
        self._header = {
            0: cybos_code(snap.quote.code),
            1: mkt.BOOK_LEVELS,
            2: 0,
            3: frames.hhmm(snap.moment),
            4: book.total_ask,
            5: 0,
            6: book.total_bid,
            7: 0,
        }
        self._book_data(book)
        return self._ok()


def jpbid_header(s: Snapshot) -> dict[int, object]:
    """StockJpBid's realtime header: 10 levels as four fields each, with the totals."""
    book = s.book
    header: dict[int, object] = {
        0: cybos_code(s.quote.code),
        1: frames.hhmm(s.moment),
        2: s.quote.volume,
        23: book.total_ask,
        24: book.total_bid,
        25: 0,
        26: 0,
    }
    for level in range(mkt.BOOK_LEVELS):
        start = 3 + 4 * level if level < 5 else 27 + 4 * (level - 5)
        header[start] = book.asks[level]
        header[start + 1] = book.bids[level]
        header[start + 2] = book.ask_qty[level]
        header[start + 3] = book.bid_qty[level]
    return header


class StockJpBid(SubscribeObject):
    """Realtime 10-level book of the code in input 0 (one event per price change)."""

    progid = "DsCbo1.StockJpBid"

    def _register(self) -> None:
        self._emu.register_ticks(self, self._inputs.get(0))

    def header_for(self, snapshot: Snapshot) -> dict[int, object]:
        return jpbid_header(snapshot)


class StockMst2(DibObject):
    """Current prices of up to 110 codes in one request."""

    progid = "DsCbo1.StockMst2"
    service = "stock.mst2"

    def _serve(self) -> int:
        raw = str(self._inputs.get(0) or "")
        codes = [c.strip() for c in raw.split(",") if c.strip()]
        if not codes or len(codes) > STOCKMST2_MAX:
            return self._refuse(f"종목 개수가 잘못되었습니다 (1~{STOCKMST2_MAX})", "0043")
        rows = []
        moment = self._emu.venue.now()
        for code in codes:
            quote = self._emu.quote_of(code)
            if quote is None:
                continue
            s = Snapshot(self._emu, quote, moment)
            rows.append(
                {
                    0: cybos_code(quote.code),
                    1: quote.name,
                    2: frames.hhmm(moment),
                    3: quote.price,
                    4: quote.diff,
                    5: frames.char(
                        frames.sign_flag(quote.price, quote.diff, quote.upper, quote.lower)
                    ),
                    6: s.open,
                    7: s.high,
                    8: s.low,
                    9: s.book.asks[0],
                    10: s.book.bids[0],
                    11: quote.volume,
                    12: s.value // 1000,
                    13: frames.char("2"),
                    19: quote.base,
                }
            )
        self._header = {0: len(rows)}
        self._data = {k: [r.get(k, 0) for r in rows] for k in range(20)}
        return self._ok()


class StockWeek(_QuoteObject):
    """일자별 data of one code, newest first, 10 days a page (``Continue`` pages back):
    header 0 code, 1 rows; data 0 일자, 1 시가, 2 고가, 3 저가, 4 종가, 5 전일대비, 6 거래량."""

    progid = "DsCbo1.StockWeek"
    service = "stock.week1"
    page = 10
    depth = 250

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._page_no = 0

    def _inputs_changed(self) -> None:
        self._page_no = 0
        self._continue = 0

    def _serve(self) -> int:
        snap = self._snapshot(self._inputs.get(0))
        if snap is None:
            self._header, self._data, self._continue = {1: 0}, {}, 0
            return self._refuse("종목코드를 확인하십시오", "0041")
        if not self._continue:
            self._page_no = 0
        q = snap.quote
        bars = mkt.daily_bars(
            q.code, snap.market, (snap.open, snap.high, snap.low, snap.close, q.volume),
            snap.day, self.depth + 1,
        )  # fmt: skip
        first = self._page_no * self.page
        rows = bars[first : first + self.page]
        self._page_no += 1
        self._continue = 1 if first + self.page < self.depth else 0
        closes = [b.close for b in bars]
        self._header = {0: cybos_code(q.code), 1: len(rows)}
        self._data = {
            0: [frames.yyyymmdd(b.day) for b in rows],
            1: [int(b.open) for b in rows],
            2: [int(b.high) for b in rows],
            3: [int(b.low) for b in rows],
            4: [int(b.close) for b in rows],
            5: [int(b.close - closes[first + i + 1]) for i, b in enumerate(rows)],
            6: [b.volume for b in rows],
        }
        if self._continue:
            return self._ok("조회가 계속 됩니다", "B035")
        return self._ok()


class StockAdj(DibObject):
    """수정주가 (adjustment) history of one code: the simulated venue has no splits, rights
    issues or dividends, so the answer is always empty (header 0 code, 1 count 0)."""

    progid = "DsCbo1.StockAdj"
    service = "stock.adj"

    def _serve(self) -> int:
        quote = self._emu.quote_of(self._inputs.get(0))
        if quote is None:
            return self._refuse("종목코드를 확인하십시오", "0041")
        self._header = {0: cybos_code(quote.code), 1: 0}
        self._data = {}
        return self._ok()


# --- MarketEye -----------------------------------------------------------------------------------

MARKETEYE_NAMES = {
    0: "종목코드", 1: "시간", 2: "대비부호", 3: "전일대비", 4: "현재가", 5: "시가", 6: "고가",
    7: "저가", 8: "매도호가", 9: "매수호가", 10: "거래량", 11: "거래대금", 12: "장구분",
    13: "총매도호가잔량", 14: "총매수호가잔량", 15: "최우선매도호가잔량", 16: "최우선매수호가잔량",
    17: "종목명", 20: "총상장주식수", 21: "외국인보유비율", 22: "전일거래량", 23: "전일종가",
    33: "상한가", 34: "하한가", 35: "매매수량단위", 67: "PER", 70: "EPS", 89: "BPS",
}  # fmt: skip


def marketeye_row(s: Snapshot, name: str, signed_diff: bool) -> dict[int, object]:
    q, book = s.quote, s.book
    expected, _ = mkt.session_flags(s.moment)
    row: dict[int, object] = {
        0: cybos_code(q.code),
        1: frames.hhmm(s.moment),
        2: frames.char(frames.sign_flag(q.price, q.diff, q.upper, q.lower)),
        3: q.diff if signed_diff else abs(q.diff),
        4: q.price,
        5: s.open,
        6: s.high,
        7: s.low,
        8: book.asks[0],
        9: book.bids[0],
        10: q.volume,
        11: s.value,
        12: frames.char("1" if expected == "1" else "2"),
        13: book.total_ask,
        14: book.total_bid,
        15: book.ask_qty[0],
        16: book.bid_qty[0],
        17: name,
        20: s.profile.shares,
        21: 20.0,
        23: q.base,
        33: q.upper,
        34: q.lower,
        35: 1,
    }
    row.update(mkt.financials(q.code, q.base, q.price))
    return row


class MarketEye(DibObject):
    """Chosen fields of up to 200 codes; data columns follow the fields sorted ascending."""

    progid = "CpSysDib.MarketEye"
    service = "mkteye.new"

    def _serve(self) -> int:
        fields = sorted(set(_ints(self._inputs.get(0))))
        raw_codes = self._inputs.get(1)
        codes: list[object] = (
            [raw_codes] if isinstance(raw_codes, str) else list(raw_codes or ())  # type: ignore[call-overload]
        )
        self._header, self._data = {0: 0, 2: 0}, {}
        if not fields or len(fields) > MARKETEYE_MAX_FIELDS:
            return self._refuse("요청 필드 개수가 잘못되었습니다 (1~64)", "0042")
        if not codes or len(codes) > MARKETEYE_MAX_CODES:
            return self._refuse("요청 종목 개수가 잘못되었습니다 (1~200)", "0043")
        moment = self._emu.venue.now()
        signed = 2 in fields
        rows = []
        for raw in codes:
            quote = self._emu.quote_of(raw)
            if quote is None:
                # An unknown code is left out (an emulator choice: the help does not say).
                continue
            rows.append(marketeye_row(Snapshot(self._emu, quote, moment), quote.name, signed))
        self._header = {
            0: len(fields),
            1: tuple(MARKETEYE_NAMES.get(f, "") for f in fields),
            2: len(rows),
        }
        self._data = {col: [r.get(f, 0) for r in rows] for col, f in enumerate(fields)}
        return self._ok()


# --- StockChart ----------------------------------------------------------------------------------

CHART_NAMES = {
    0: "날짜", 1: "시간", 2: "시가", 3: "고가", 4: "저가", 5: "종가", 6: "전일대비", 8: "거래량",
    9: "거래대금", 10: "누적체결매도수량", 11: "누적체결매수수량", 12: "상장주식수", 13: "시가총액",
    14: "외국인주문한도수량", 15: "외국인주문가능수량", 16: "외국인현보유수량",
    17: "외국인현보유비율", 18: "수정주가일자", 19: "수정주가비율", 20: "기관순매수",
    21: "기관누적순매수", 37: "대비부호",
}  # fmt: skip


class StockChart(DibObject):
    """Day, week, month, minute and tick bars of one code (or index), newest first."""

    progid = "CpSysDib.StockChart"
    service = "stock.chart"

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._rows: list[dict[int, object]] | None = None
        self._cursor = 0
        self._fields: list[int] = []

    def _inputs_changed(self) -> None:
        self._rows = None
        self._continue = 0

    def _serve(self) -> int:
        if self._rows is None or not self._continue:
            built = self._build()
            if isinstance(built, int):
                return built
            self._rows = built
            self._cursor = 0
        rows = self._rows[self._cursor : self._cursor + CHART_PAGE]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(self._rows) else 0
        self._header[3] = len(rows)
        self._data = {col: [r.get(f, 0) for r in rows] for col, f in enumerate(self._fields)}
        return self._ok("조회가 계속됩니다", "0030") if self._continue else self._ok()

    def _build(self) -> list[dict[int, object]] | int:
        raw = self._inputs.get(0)
        spec = mkt.index_spec(str(raw))
        self._fields = sorted(set(_ints(self._inputs.get(5)))) or [0, 5]
        kind = _char_text(self._inputs.get(6), "D")
        if kind not in "DWMmT":
            return self._refuse("차트 구분이 잘못되었습니다", "0044")
        by_count = _char_text(self._inputs.get(1), "2") == "2"
        count = int(str(self._inputs.get(4) or 0)) if by_count else 0
        moment = self._emu.venue.now()
        day = moment.date()
        if spec is not None:
            value, open_value = self._emu.index_values(spec)
            today = (open_value, max(value, open_value), min(value, open_value), value, 0)
            market, code, shares = spec.market, spec.code, 0
            is_index = True
            base: float = open_value
            quote_price: float = value
        else:
            snap = self._snapshot(raw)
            if snap is None:
                # An unknown code: no rows (header 3 is 0, as scripts loop over it).
                self._header, self._data, self._continue = {0: raw, 3: 0}, {}, 0
                return self._refuse("종목코드를 확인하십시오", "0041")
            q = snap.quote
            today = (snap.open, snap.high, snap.low, snap.close, q.volume)
            market, code, shares = snap.market, cybos_code(q.code), snap.profile.shares
            is_index = False
            base, quote_price = q.base, q.price
        end = self._date_input(2) or day
        # A count request ('2') ignores the start date; a period request ('1') uses both.
        start = None if by_count else self._date_input(3)
        days_needed = self._days_needed(kind, count, start, day)
        daily = mkt.daily_bars(code, market, today, day, days_needed, is_index=is_index)
        bars = self._bars(kind, daily, market, moment, is_index)
        bars = [b for b in bars if b.day <= end and (start is None or b.day >= start)]
        if by_count and count:
            bars = bars[:count]
        rows: list[dict[int, object]] = []
        for i, bar in enumerate(bars):
            previous = bars[i + 1].close if i + 1 < len(bars) else bar.open
            diff = bar.close - previous
            cast = float if is_index else int
            rows.append(
                {
                    0: frames.yyyymmdd(bar.day),
                    1: bar.hhmm,
                    2: cast(bar.open),
                    3: cast(bar.high),
                    4: cast(bar.low),
                    5: cast(bar.close),
                    6: cast(round(diff, 2)),
                    8: bar.volume,
                    9: int(bar.close * bar.volume),
                    10: bar.volume // 2,
                    11: bar.volume - bar.volume // 2,
                    12: shares,
                    13: int(bar.close * shares),
                    14: shares // 2,
                    15: shares // 2 - shares // 10,
                    16: shares // 10,
                    17: 20.0,
                    18: 0,
                    19: 0.0,
                    20: 0,
                    21: 0,
                    37: frames.char("2" if diff > 0 else "5" if diff < 0 else "3"),
                }
            )
        self._header = {
            0: code,
            1: len(self._fields),
            2: tuple(CHART_NAMES.get(f, "") for f in self._fields),
            3: 0,
            4: 0,
            5: frames.yyyymmdd(day),
            6: base,
            7: quote_price,
            8: frames.char("2" if quote_price > base else "5" if quote_price < base else "3"),
            9: quote_price - base,
            10: today[4],
            13: today[0],
            14: today[1],
            15: today[2],
            17: frames.char("0"),
        }
        return rows

    def _date_input(self, index: int) -> date | None:
        raw = self._inputs.get(index)
        if raw in (None, "", 0):
            return None
        text = str(raw).strip()
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return None

    @staticmethod
    def _days_needed(kind: str, count: int, start: date | None, day: date) -> int:
        if start is not None:
            return max(1, (day - start).days + 1)
        want = count or 1
        if kind == "W":
            return want * 5 + 5
        if kind == "M":
            return want * 22 + 22
        if kind in "mT":
            return max(1, want // 380 + 2)
        return want

    def _bars(
        self, kind: str, daily: list[mkt.Bar], market: Market, moment: datetime, is_index: bool
    ) -> list[mkt.Bar]:
        if kind in "WM":
            return mkt.grouped(daily, kind)
        if kind in "mT":
            width = 1 if kind == "T" else max(1, int(str(self._inputs.get(7) or 1)))
            bars: list[mkt.Bar] = []
            for i, bar in enumerate(daily):
                until = moment.time() if i == 0 else time(15, 30)
                bars.extend(mkt.intraday_bars(bar, market, until, width, is_index=is_index))
            return bars
        return daily

    def _snapshot(self, raw: object) -> Snapshot | None:
        quote = self._emu.quote_of(raw)
        if quote is None:
            return None
        return Snapshot(self._emu, quote, self._emu.venue.now())


def stockcur_extra(s: Snapshot) -> dict[int, Any]:
    """StockCur fields the tick alone does not give: open/high/low, ask/bid, 거래대금."""
    return {
        4: s.open,
        5: s.high,
        6: s.low,
        7: s.book.asks[0],
        8: s.book.bids[0],
        10: s.value // _value_unit(s.market),
    }
