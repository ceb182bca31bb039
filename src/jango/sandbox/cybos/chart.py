"""``CpSysDib.StockChart`` (daily, weekly, monthly, minute and tick bars), ``DsCbo1.StockWeek``
and ``DsCbo1.StockAdj``.

``CpSysDib.StockChart``: inputs 0 code, 1 요청구분 (``'1'`` 기간, ``'2'`` 개수; char or str),
2 종료일, 3 시작일, 4 개수, 5 fields, 6 차트구분 ``D W M m T``, 7 주기, 9 수정주가; data
columns follow the requested fields sorted ascending (as MarketEye), rows newest first,
``Continue`` past 2,856 rows.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from jango.domain.model import Market
from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import DibObject
from jango.sandbox.cybos.listing import com_code

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.cybos.quotes import Snapshot, _char_text, _ints, _QuoteObject

CHART_PAGE = 2856


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
        self._header = {0: com_code(q.code), 1: len(rows)}
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
        self._header = {0: com_code(quote.code), 1: 0}
        self._data = {}
        return self._ok()


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
            market, code, shares = snap.market, com_code(q.code), snap.profile.shares
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
