"""The emulated code master: ``CpUtil.CpCodeMgr`` and ``CpUtil.CpStockCode``.

Arguments are converted as COM converts VARIANTs for a ``long`` parameter: ``'1'`` becomes 1,
``1.0`` becomes 1, and text that is no number raises the type-mismatch ``com_error``
(``DISP_E_TYPEMISMATCH``) — never a bare Python exception. Codes may come with or without the
``A`` prefix; an unknown code answers as CYBOS does: ``''`` for names, 0 for kinds and prices.

Every KRX listing is known (:mod:`jango.sandbox.cybos.listing`), not only the venue's
instruments: names, markets, sections, status, 관리/경고 kinds, lots, margin rates, par values,
listing dates and KOSPI200 sectors come from the listing master, prices from the venue.

Kinds (cybos.md §4 and the type library's enums): market 1 KOSPI, 2 KOSDAQ, 5 KONEX; section
(CPE_KSE_SECTION_KIND) 1 주권, 2 투자회사, 3 부동산투자회사, 5 사회간접자본, 6 DR, 9 ELW,
10 ETF, 13 외국주권, 17 ETN; capital 1 대 2 중 3 소; KOSPI200 kind 0 미채용 else the sector
(1–9, A → 10, B → 11); status 0 정상 1 거래정지; control 0 정상 1 주의 2 경고 3 위험예고 4 위험
5 경고예고; supervision 1 관리.
"""

from __future__ import annotations

from typing import Any

from jango.domain import krx
from jango.domain.model import Market
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import ComObject
from jango.sandbox.cybos.listing import Listed, com_code, com_parse, krx_listing
from jango.sandbox.cybos.master import INDEXES, INDUSTRY_NAMES, industry_of
from jango.sandbox.cybos.runtime import ComError

# HRESULT of a VARIANT that cannot be converted to the parameter's type.
DISP_E_TYPEMISMATCH = -2147352571

MARKET_KIND = {
    Market.KOSPI: 1,
    Market.ETF: 1,
    Market.ETN: 1,
    Market.ELW: 1,
    Market.KOSDAQ: 2,
    Market.KONEX: 5,
}
SECTION_KIND = {Market.ETF: 10, Market.ETN: 17, Market.ELW: 9}


def com_long(value: object, what: str = "argument") -> int:
    """A VARIANT as a COM ``long`` parameter: ints, integral floats and digit text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 20:
        return int(value.strip())
    raise ComError(DISP_E_TYPEMISMATCH, f"형식이 일치하지 않습니다 ({what}: {value!r})")


class CpCodeMgr(ComObject):
    """Names, markets, sections, industries, groups, listings, status and limits of codes."""

    progid = "CpUtil.CpCodeMgr"

    def _instrument(self, code: object) -> Any:
        """The venue's instrument of a code it trades, else the listing's (never making the
        code join the market: a name table over every listing stays a lookup)."""
        try:
            parsed = com_parse(code)
        except Exception:
            return None
        if parsed in self._emu.known_codes():
            return self._emu.venue.instrument(parsed)
        return krx_listing().get(parsed)

    @staticmethod
    def _listed(code: object) -> Listed | None:
        return krx_listing().get(code)

    def _quote(self, code: object) -> Any:
        return self._emu.quote_of(code)

    def CodeToName(self, code: object) -> str:
        self._check_thread()
        spec = mkt.index_spec(str(code))
        if spec is not None:
            return spec.name
        instrument = self._instrument(code)
        return "" if instrument is None else str(instrument.name)

    def NameToCode(self, name: object) -> str:
        self._check_thread()
        item = krx_listing().by_name(name)
        if item is not None:
            return com_code(item.code)
        for instrument in self._emu.venue.instruments():
            if instrument.name == name:
                return com_code(instrument.code)
        return ""

    def GetStockCodeByName(self, name: object) -> str:
        """The newer type library's name lookup (as :meth:`NameToCode`)."""
        return self.NameToCode(name)

    def GetStockMarketKind(self, code: object) -> int:
        self._check_thread()
        instrument = self._instrument(code)
        return 0 if instrument is None else MARKET_KIND.get(instrument.market, 0)

    def GetStockSectionKind(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        if item is not None:
            return item.section
        instrument = self._instrument(code)
        return 0 if instrument is None else SECTION_KIND.get(instrument.market, 1)

    def GetStockListByMarket(self, kind: object) -> tuple[str, ...]:
        self._check_thread()
        wanted = com_long(kind, "market kind")
        # CYBOS lists a market's codes in code order (A000020, A000040, A000050, …): every
        # listing, a code the venue trades under the venue's market (as GetStockMarketKind
        # answers for it), and the venue's instruments KRX does not list (synthetic ones).
        traded = {i.code: i.market for i in self._emu.venue.instruments()}
        codes = {
            item.code
            for item in krx_listing()
            if item.code not in traded and MARKET_KIND.get(item.market) == wanted
        }
        codes |= {code for code, market in traded.items() if MARKET_KIND.get(market) == wanted}
        return tuple(com_code(code) for code in sorted(codes))

    def GetIndustryList(self) -> tuple[str, ...]:
        self._check_thread()
        return tuple(INDUSTRY_NAMES)

    def GetKosdaqIndustry1List(self) -> tuple[str, ...]:
        self._check_thread()
        return ("201",)

    def GetKosdaqIndustry2List(self) -> tuple[str, ...]:
        self._check_thread()
        return ()

    def GetIndustryName(self, code: object) -> str:
        self._check_thread()
        text = str(code).strip().upper().removeprefix("U")
        if text == "201":
            return "코스닥"
        return INDUSTRY_NAMES.get(text, "")

    def GetGroupCodeList(self, code: object) -> tuple[str, ...]:
        """Stocks of a 업종 code (``'013'``, 13 or ``'U013'``); the size classes 002–004 and
        the composite 001 list their members."""
        self._check_thread()
        text = str(code).strip().upper().removeprefix("U")
        if text.isdigit():
            text = f"{int(text):03d}"
        members = []
        for item in krx_listing():
            if item.market is not (Market.KOSDAQ if text == "201" else Market.KOSPI):
                continue
            size = item.size or mkt.profile(item.code, item.base_price).capital_size
            if (
                text in ("001", "201")
                or (text in ("002", "003", "004") and size == int(text) - 1)
                or industry_of(item.code, item.market) == text
            ):
                members.append(com_code(item.code))
        return tuple(members)

    def GetStockIndustryCode(self, code: object) -> str:
        self._check_thread()
        instrument = self._instrument(code)
        return "" if instrument is None else industry_of(instrument.code, instrument.market)

    def GetStockCapital(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        if item is not None and item.size:
            return item.size
        quote = self._quote(code)
        return 0 if quote is None else mkt.profile(quote.code, quote.base).capital_size

    def GetStockKospi200Kind(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        if item is None or not item.k200:
            return 0
        return int(item.k200, 16)  # sectors 1–9, then A and B

    def GetStockStatusKind(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        return 0 if item is None else item.status

    def GetStockControlKind(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        return 0 if item is None else item.control

    def GetStockSupervisionKind(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        return 0 if item is None else item.supervision

    def GetStockLacKind(self, code: object) -> int:
        self._check_thread()
        return 0

    def GetStockMarginRate(self, code: object) -> int:
        """증거금률 (%) of the listing master (100 for a code it does not list)."""
        self._check_thread()
        item = self._listed(code)
        if item is not None:
            return item.margin or 100
        return 0 if self._instrument(code) is None else 100

    def GetStockMemeMin(self, code: object) -> int:
        self._check_thread()
        item = self._listed(code)
        return 1 if item is None else item.lot

    def _profile_field(self, code: object, field: str) -> int:
        item = self._listed(code)
        if item is not None and getattr(item, field):
            return int(getattr(item, field))
        quote = self._quote(code)
        return 0 if quote is None else int(getattr(mkt.profile(quote.code, quote.base), field))

    def GetStockFiscalMonth(self, code: object) -> int:
        self._check_thread()
        return self._profile_field(code, "fiscal_month")

    def GetStockParPrice(self, code: object) -> int:
        self._check_thread()
        return self._profile_field(code, "par")

    def GetStockListedDate(self, code: object) -> int:
        self._check_thread()
        return self._profile_field(code, "listed")

    def IsBigListingStock(self, code: object) -> int:
        self._check_thread()
        return 1 if self.GetStockCapital(code) == 1 else 0

    def IsStockCreditEnable(self, code: object) -> int:
        """신용주문 가능 (1) of the listing master."""
        self._check_thread()
        item = self._listed(code)
        return 1 if item is not None and item.credit else 0

    def GetStockGroupCode(self, code: object) -> int:
        """계열 group: the listing master does not carry it, so every code answers 0 (none)."""
        self._check_thread()
        return 0

    def GetGroupName(self, code: object) -> str:
        self._check_thread()
        return ""

    def GetMemberName(self, code: object) -> str:
        self._check_thread()
        return ""

    def GetStockParPriceChageType(self, code: object) -> int:
        """액면변경 구분 (the help's spelling): 0, no split or merge pending."""
        self._check_thread()
        return 0

    def IsSPAC(self, code: object) -> bool:
        self._check_thread()
        item = self._listed(code)
        return item.spac if item is not None else "스팩" in self.CodeToName(code)

    def _price(self, code: object, name: str) -> int:
        quote = self._quote(code)
        return 0 if quote is None else int(getattr(quote, name))

    def GetStockMaxPrice(self, code: object) -> int:
        self._check_thread()
        return self._price(code, "upper")

    def GetStockMinPrice(self, code: object) -> int:
        self._check_thread()
        return self._price(code, "lower")

    def GetStockStdPrice(self, code: object) -> int:
        self._check_thread()
        return self._price(code, "base")

    def GetStockYdClosePrice(self, code: object) -> int:
        self._check_thread()
        return self._price(code, "base")

    def GetStockYdOpenPrice(self, code: object) -> int:
        self._check_thread()
        return self._history_price(code, "open")

    def GetStockYdHighPrice(self, code: object) -> int:
        self._check_thread()
        return self._history_price(code, "high")

    def GetStockYdLowPrice(self, code: object) -> int:
        self._check_thread()
        return self._history_price(code, "low")

    def _history_price(self, code: object, field: str) -> int:
        quote = self._quote(code)
        if quote is None:
            return 0
        day = self._emu.venue.now().date()
        today = (*self._emu.intraday.ohlc(quote, day), quote.volume)
        bars = mkt.daily_bars(quote.code, quote.market, today, day, 2)
        return int(getattr(bars[1], field))

    def GetTickUnit(self, code: object) -> int:
        self._check_thread()
        quote = self._quote(code)
        if quote is None:
            return 0
        return int(krx.tick_size(quote.price, quote.market, self._emu.venue.now().date()))

    def GetTickValue(self, code: object) -> int:
        self._check_thread()
        return self.GetTickUnit(code)

    def GetMarketStartTime(self) -> int:
        self._check_thread()
        return 900

    def GetMarketEndTime(self) -> int:
        self._check_thread()
        return 1530

    def GetWorkDate(self) -> int:
        self._check_thread()
        day = self._emu.venue.now().date()
        return int(day.year * 10000 + day.month * 100 + day.day)

    def GetIndexCodeList(self) -> tuple[str, ...]:
        self._check_thread()
        return tuple(spec.code for spec in INDEXES)


class CpStockCode(ComObject):
    """The older code table: ``GetCount``, ``GetData(type, index)`` (0 code, 1 name, 2 full
    code), ``CodeToName``, ``NameToCode``, ``CodeToIndex``."""

    progid = "CpUtil.CpStockCode"

    def _codes(self) -> list[Any]:
        listed = list(krx_listing())
        known = {item.code for item in listed}
        return listed + [i for i in self._emu.venue.instruments() if i.code not in known]

    def GetCount(self) -> int:
        self._check_thread()
        return len(self._codes())

    def GetData(self, kind: object, index: object) -> object:
        self._check_thread()
        i = com_long(index, "index")
        codes = self._codes()
        if not 0 <= i < len(codes):
            return ""
        instrument = codes[i]
        which = com_long(kind, "type")
        if which == 0:
            return com_code(instrument.code)
        if which == 1:
            return str(instrument.name)
        if which == 2:
            return "KR7" + instrument.code + "000"
        return ""

    def CodeToName(self, code: object) -> str:
        self._check_thread()
        item = krx_listing().get(code)
        if item is not None:
            return item.name
        try:
            return str(self._emu.venue.instrument(com_parse(code)).name)
        except Exception:
            return ""

    def NameToCode(self, name: object) -> str:
        self._check_thread()
        for instrument in self._codes():
            if instrument.name == name:
                return com_code(instrument.code)
        return ""

    def CodeToIndex(self, code: object) -> int:
        self._check_thread()
        for i, instrument in enumerate(self._codes()):
            if com_code(instrument.code) == str(code).strip().upper() or instrument.code == code:
                return i
        return -1
