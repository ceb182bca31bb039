"""Emulated CYBOS quote objects of one moment: StockMst, StockMst2, StockJpBid2 and StockJpBid,
answering from one :mod:`jango.sandbox.cybos.market` view of the venue (charts are in
:mod:`.chart`, MarketEye in :mod:`.marketeye`).

Field tables (cybos.md §7, §8 and the help's pages as public scripts use them):

* ``DsCbo1.StockMst`` header 0–73 (see :func:`stockmst_header`); ``GetDataValue(0..3, 0..9)``
  = 매도호가, 매수호가, 매도잔량, 매수잔량 of ten levels.
* ``DsCbo1.StockMst2``: input 0 = codes joined by ``,`` (≤ 110); header 0 = rows; data
  0 code, 1 name, 2 time (hhmm), 3 현재가, 4 전일대비, 5 상태구분 (char), 6 시가, 7 고가, 8 저가,
  9 매도호가, 10 매수호가, 11 거래량, 12 거래대금 (천원), 19 전일종가.
* ``DsCbo1.StockJpBid2`` (RQ): header 0 code, 1 levels, 3 time, 4 총매도잔량, 6 총매수잔량;
  data as StockMst's. ``DsCbo1.StockJpBid`` (SB): header 0 code, 1 time, 2 volume, levels 1–5 at
  3+4k … 6+4k (ask, bid, ask qty, bid qty), levels 6–10 at 27+4k …, 23/24 총매도/총매수잔량.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from jango.domain.model import Market, Quote
from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import DibObject, SubscribeObject
from jango.sandbox.cybos.listing import com_code
from jango.sandbox.cybos.master import IndexSpec, industry_of

if TYPE_CHECKING:
    pass


STOCKMST2_MAX = 110
_SECTION_TEXT = {Market.KOSDAQ: "코스닥", Market.KONEX: "코넥스"}
_SIZE_TEXT = {1: "대형주", 2: "중형주", 3: "소형주"}


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


class SeesTheDay(Protocol):
    """What a snapshot needs of the emulator: the day's high and low seen so far."""

    intraday: mkt.Intraday


class Snapshot:
    """Everything the quote objects report about one code at one moment."""

    def __init__(self, emu: SeesTheDay, quote: Quote, moment: datetime) -> None:
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
            0: com_code(q.code),
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
            0: com_code(snap.quote.code),
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
        0: com_code(s.quote.code),
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
                    0: com_code(quote.code),
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


class StockMstM(DibObject):
    """Brief current prices of up to 110 codes given back to back (``"A003540A000060"``):
    header 0 rows; data 0 code, 1 name, 2 대비, 3 대비구분 (short 1 상한 … 5 하락), 4 현재가,
    5 매도호가, 6 매수호가, 7 거래량, 8 장구분 (char ``'1'`` 동시호가, ``'2'`` 장중, ``'0'``
    otherwise), 9–11 예상체결가, its 대비 and 수량 (in an auction only)."""

    progid = "DsCbo1.StockMstM"
    service = "stock.mstm"

    def _serve(self) -> int:
        raw = "".join(str(self._inputs.get(0) or "").split()).replace(",", "").upper()
        codes = [raw[i : i + 7] for i in range(0, len(raw), 7)]
        if not codes or len(codes) > STOCKMST2_MAX:
            return self._refuse(f"종목 개수가 잘못되었습니다 (1~{STOCKMST2_MAX})", "0043")
        moment = self._emu.venue.now()
        expected, _ = mkt.session_flags(moment)
        rows = []
        for code in codes:
            quote = self._emu.quote_of(code)
            if quote is None:
                continue
            book = mkt.order_book(quote, quote.market, moment.date())
            auction = expected == "1"
            rows.append({
                0: com_code(quote.code), 1: quote.name, 2: quote.diff,
                3: int(frames.sign_flag(quote.price, quote.diff, quote.upper, quote.lower)),
                4: quote.price, 5: book.asks[0], 6: book.bids[0], 7: quote.volume,
                8: frames.char(expected), 9: quote.price if auction else 0,
                10: quote.diff if auction else 0, 11: 0,
            })  # fmt: skip
        self._header = {0: len(rows)}
        self._data = {k: [r[k] for r in rows] for k in range(12)}
        return self._ok()


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
