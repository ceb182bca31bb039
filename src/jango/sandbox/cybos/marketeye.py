"""``CpSysDib.MarketEye``: chosen fields of up to 200 codes, columns in ascending field order
(cybos.md §8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import DibObject
from jango.sandbox.cybos.listing import com_code

if TYPE_CHECKING:
    pass
from jango.sandbox.cybos.quotes import Snapshot, _ints

MARKETEYE_MAX_CODES = 200
MARKETEYE_MAX_FIELDS = 64


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
        0: com_code(q.code),
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
