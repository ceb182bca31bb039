"""``Dscbo1.StockBid``: today's time and sales of one code (RQ, paged with ``Continue``).

Inputs (help): 0 code, 2 요청개수 (≤ 80), 3 체결 비교방식 (char ``'C'`` 체결가 default, ``'H'``
호가), 4 시간검색 (``"0910"``: rows at or before that minute). Header: 0 code, 2 rows,
3 누적 매도체결량, 4 누적 매수체결량, 5 비교방식 (char). Data, newest first: 0 시각 (hhmm),
1 전일대비, 2 매도호가, 3 매수호가, 4 현재가, 5 거래량 (누적), 6 순간체결량, 7 체결상태 (char
``'1'`` 매수, ``'2'`` 매도), 8 체결강도, 9 시각 (hhmmss), 10 장구분 (char ``'1'`` 예상,
``'2'`` 장중).

The rows are the day's one-minute path that StockChart's minute bars draw (one trade per
minute at the bar's close), so the newest row is StockMst's 현재가 and 누적거래량 exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jango.domain import krx
from jango.domain.model import Quote
from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import DibObject
from jango.sandbox.cybos.listing import com_code
from jango.sandbox.cybos.quotes import Snapshot, _char_text

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator

STOCKBID_PAGE = 80


def time_and_sales(emu: CybosEmulator, quote: Quote, moment: datetime) -> list[dict[int, object]]:
    """Today's trades of ``quote``'s code, newest first, as StockBid data rows (0–10)."""
    snap = Snapshot(emu, quote, moment)
    today = mkt.Bar(snap.day, 0, snap.open, snap.high, snap.low, snap.close, quote.volume)
    bars = list(reversed(mkt.intraday_bars(today, quote.market, moment.time(), 1)))
    expected, _ = mkt.session_flags(moment)
    rows: list[dict[int, object]] = []
    total = buys = sells = 0
    previous = quote.base
    state = "1"
    for i, bar in enumerate(bars):
        last = i == len(bars) - 1
        price = quote.price if last else int(bar.close)
        instant = quote.volume - total if last else bar.volume
        total += instant
        if price != previous:
            state = "1" if price > previous else "2"  # 체결가 비교: up is a buy, down a sell
        previous = price
        if state == "1":
            buys += instant
        else:
            sells += instant
        tick = krx.tick_size(price, quote.market, snap.day)
        rows.append({
            0: bar.hhmm, 1: price - quote.base, 2: price + tick, 3: price, 4: price,
            5: total, 6: instant, 7: frames.char(state),
            8: round(buys * 100 / sells, 2) if sells else 0.0, 9: bar.hhmm * 100,
            10: frames.char("1" if last and expected == "1" else "2"),
        })  # fmt: skip
    rows.reverse()
    return rows


class StockBid(DibObject):
    """시간대별 체결 of one code, 80 rows a page at most, older pages with ``Continue``."""

    progid = "Dscbo1.StockBid"
    service = "stock.bid"

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._rows: list[dict[int, object]] | None = None
        self._cursor = 0

    def _inputs_changed(self) -> None:
        self._rows = None
        self._continue = 0

    def _serve(self) -> int:
        quote = self._emu.quote_of(self._inputs.get(0))
        if quote is None:
            self._header, self._data, self._continue = {2: 0}, {}, 0
            return self._refuse("종목코드를 확인하십시오", "0041")
        if self._rows is None or not self._continue:
            rows = time_and_sales(self._emu, quote, self._emu.venue.now())
            until = "".join(ch for ch in str(self._inputs.get(4) or "") if ch.isdigit())[:4]
            if until:
                rows = [r for r in rows if int(str(r[0])) <= int(until)]
            self._rows, self._cursor = rows, 0
        size = int(str(self._inputs.get(2) or STOCKBID_PAGE))
        page = self._rows[self._cursor : self._cursor + max(1, min(size, STOCKBID_PAGE))]
        self._cursor += len(page)
        self._continue = 1 if self._cursor < len(self._rows) else 0
        self._data = {k: [r[k] for r in page] for k in range(11)}
        sells = sum(int(str(r[6])) for r in self._rows if r[7] == frames.char("2"))
        buys = sum(int(str(r[6])) for r in self._rows if r[7] == frames.char("1"))
        method = _char_text(self._inputs.get(3), "C").upper()
        self._header = {
            0: com_code(quote.code),
            2: len(page),
            3: sells,
            4: buys,
            5: frames.char(method if method in ("C", "H") else "C"),
        }
        return self._ok("조회가 계속됩니다", "0030") if self._continue else self._ok()
