"""Readers of the public master files a listing is built from.

* **KIS master files** ``kospi_code.mst``, ``kosdaq_code.mst``, ``konex_code.mst`` (what KIS
  publishes for download and its ``stocks_info`` samples parse; cp949, one fixed-width line per
  listing): the code (9 columns), the ISIN (12), the name, then a fixed-width suffix of 227
  (KOSPI), 221 (KOSDAQ) or 184 (KONEX) columns whose layout KIS documents field by field.
* **KRX listing CSV** of data.krx.co.kr / KIND (전종목 기본정보): ``표준코드, 단축코드, 한글 종목명,
  한글 종목약명, 영문 종목명, 상장일, 시장구분, 증권구분, 소속부, 주식종류, 액면가, 상장주식수``
  (cp949 or UTF-8), and its ETF/ETN variants (``한글종목약명``, ``상장좌수``/``상장증권수``, no
  시장구분). These carry no 기준가: a code keeps the one it already has, else one is generated.

Each reader raises :class:`~jango.sandbox.cybos.listing.ListingFileError` naming the file and
line of the first bad record, or returns the records with the markets the file covers.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from jango.domain.model import InvalidCode, Market, parse_code
from jango.sandbox.cybos.listing import (
    SECTION_OF_GROUP,
    Listed,
    ListingFileError,
    generated_base,
    on_tick,
)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each field sits in a KIS master line's fixed-width suffix."""

    suffix: int
    market: Market
    base: tuple[int, int]
    lot: tuple[int, int]
    halted: int
    supervised: int
    warning: tuple[int, int]
    notice: int
    margin: tuple[int, int]
    credit: int
    par: tuple[int, int]
    listed: tuple[int, int]
    shares: tuple[int, int]
    fiscal: tuple[int, int]
    preferred: int
    size: int | None = None
    industry: tuple[int, int, int] | None = None  # 대/중/소분류 starts (4 columns each)
    k200: int | None = None
    spac: int | None = None


KOSPI = _Layout(
    227, Market.KOSPI, (41, 50), (50, 55), 60, 62, (63, 65), 65, (74, 77), 77, (93, 105),
    (105, 113), (113, 128), (149, 151), 158, size=2, industry=(3, 7, 11), k200=18, spac=29,
)  # fmt: skip
KOSDAQ = _Layout(
    221, Market.KOSDAQ, (36, 45), (45, 50), 55, 57, (58, 60), 60, (69, 72), 72, (88, 100),
    (100, 108), (108, 123), (144, 146), 153, size=2, industry=(3, 7, 11), spac=24,
)  # fmt: skip
KONEX = _Layout(
    184, Market.KONEX, (2, 11), (11, 16), 21, 23, (24, 26), 26, (35, 38), 38, (54, 66),
    (66, 74), (74, 89), (110, 112), 119,
)  # fmt: skip
_LAYOUTS = {"kospi": KOSPI, "kosdaq": KOSDAQ, "konex": KONEX}
# 시장경고 (00 none, 01 주의, 02 경고, 03 위험) with its 예고 flag → CPE_CONTROL_KIND.
_CONTROL = {("01", False): 1, ("02", False): 2, ("03", False): 4, ("00", True): 5}


def read_kis_master(path: Path) -> tuple[list[Listed], set[Market]]:
    """The listings of a KIS ``*_code.mst`` file (the market is taken from the file's name)."""
    layout = next((v for k, v in _LAYOUTS.items() if k in path.name.lower()), None)
    if layout is None:
        raise ListingFileError(f"{path}: not a kospi/kosdaq/konex_code.mst file name")
    try:
        text = path.read_bytes().decode("cp949")
    except UnicodeDecodeError as exc:
        raise ListingFileError(
            f"{path}: not cp949 text ({exc.reason} at byte {exc.start})"
        ) from exc
    items: list[Listed] = []
    markets = {layout.market, Market.ETF, Market.ETN} if layout is KOSPI else {layout.market}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = line.rstrip() if layout is KONEX else line
        if len(row) < 21 + layout.suffix:
            raise ListingFileError(f"{path}: line {number}: shorter than a master record")
        item = _kis_record(row, layout)
        if item is not None:
            items.append(item)
    return items, markets


def _kis_record(row: str, layout: _Layout) -> Listed | None:
    raw_code = row[0:9].strip()
    tail = row[-layout.suffix :]
    name = row[21 : len(row) - layout.suffix].strip()
    group = tail[0:2].strip()
    market = layout.market
    if group == "EF":
        market = Market.ETF
    elif group == "EN":
        market = Market.ETN
        raw_code = raw_code.removeprefix("Q")
    try:
        code = parse_code(raw_code)
    except InvalidCode:
        return None  # 9-column codes (수익증권, 신주인수권): not traded as stocks
    base = on_tick(_int(tail, layout.base), market) or generated_base(code, market)
    industry = ""
    if layout.industry is not None:
        parts = [tail[i : i + 4].strip() for i in layout.industry]
        chosen = next((p for p in (parts[1], parts[0]) if p.strip("0")), "")
        industry = chosen[-3:] if chosen else ""
    warning = tail[layout.warning[0] : layout.warning[1]]
    return Listed(
        code=code,
        name=name,
        market=market,
        section=SECTION_OF_GROUP.get(group, 0),
        group=group,
        base_price=base,
        listed_shares=_int(tail, layout.shares) * 1000,  # the file counts thousands
        par=_int(tail, layout.par),
        listed=_int(tail, layout.listed),
        size=_digit(tail, layout.size),
        industry=industry,
        k200=tail[layout.k200].strip("0 ") if layout.k200 is not None else "",
        status=1 if tail[layout.halted] == "Y" else 0,
        supervision=1 if tail[layout.supervised] == "Y" else 0,
        control=_CONTROL.get((warning, tail[layout.notice] == "Y"), 0),
        spac=layout.spac is not None and tail[layout.spac] == "Y",
        preferred=_digit(tail, layout.preferred),
        margin=_int(tail, layout.margin),
        credit=tail[layout.credit] == "Y",
        fiscal_month=_int(tail, layout.fiscal),
        lot=_int(tail, layout.lot) or 1,
    )


def _int(tail: str, span: tuple[int, int]) -> int:
    text = tail[span[0] : span[1]].strip()
    return int(text) if text.isdigit() else 0


def _digit(tail: str, at: int | None) -> int:
    if at is None:
        return 0
    return int(tail[at]) if tail[at].isdigit() else 0


# --- KRX CSV -------------------------------------------------------------------------------------

_KRX_MARKETS = {
    "KOSPI": Market.KOSPI,
    "유가증권": Market.KOSPI,
    "KOSDAQ": Market.KOSDAQ,
    "KOSDAQGLOBAL": Market.KOSDAQ,
    "코스닥": Market.KOSDAQ,
    "KONEX": Market.KONEX,
    "코넥스": Market.KONEX,
}
_KRX_GROUPS = {
    "주권": "ST",
    "외국주권": "FS",
    "주식예탁증권": "DR",
    "투자회사": "MF",
    "부동산투자회사": "RT",
    "사회간접자본투융자회사": "IF",
    "선박투자회사": "SC",
    "수익증권": "BC",
}
_PREFERRED = {"우선주": 1, "구형우선주": 1, "신형우선주": 2}


def read_krx_csv(
    path: Path, known: dict[str, int], market: Market | None = None
) -> tuple[list[Listed], set[Market]]:
    """The listings of a KRX listing CSV. ``known`` gives the 기준가 already known by code;
    ``market`` names the market of an ETF/ETN file, which has no 시장구분 column (guessed from
    its columns otherwise)."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ListingFileError(f"{path}: neither UTF-8 nor cp949 text")
    reader = csv.reader(text.splitlines())
    header = [h.replace(" ", "").strip() for h in next(reader, [])]
    if "단축코드" not in header:
        raise ListingFileError(f"{path}: line 1: no 단축코드 column (not a KRX listing file)")
    if market is None and "시장구분" not in header:
        market = (
            Market.ETN if "상장증권수" in header or "지표가치" in "".join(header) else Market.ETF
        )
    items: list[Listed] = []
    seen: set[Market] = set()
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        try:
            item = _krx_record(cells, known, market)
        except (InvalidCode, ValueError) as exc:
            raise ListingFileError(f"{path}: line {number}: {exc}") from exc
        items.append(item)
        seen.add(item.market)
    return items, seen or ({market} if market else set())


def _krx_record(cells: dict[str, str], known: dict[str, int], market: Market | None) -> Listed:
    code = parse_code(
        cells["단축코드"].removeprefix("Q") if market is Market.ETN else cells["단축코드"]
    )
    name = cells.get("한글종목약명") or cells.get("한글종목명") or ""
    if not name:
        raise ValueError(f"no name for {code}")
    if market is None:
        label = cells.get("시장구분", "").replace(" ", "").upper()
        found = _KRX_MARKETS.get(label)
        if found is None:
            raise ValueError(f"unknown 시장구분 {cells.get('시장구분', '')!r} of {code}")
        market = found
    if market is Market.ETF:
        group = "EF"
    elif market is Market.ETN:
        group = "EN"
    else:
        group = _KRX_GROUPS.get(cells.get("증권구분", "주권"), "ST")
    base = known.get(code) or generated_base(code, market)
    shares = cells.get("상장주식수") or cells.get("상장좌수") or cells.get("상장증권수") or "0"
    listed = "".join(ch for ch in cells.get("상장일", "") if ch.isdigit())[:8]
    return Listed(
        code=code,
        name=name,
        market=market,
        section=SECTION_OF_GROUP.get(group, 0),
        group=group,
        base_price=on_tick(base, market),
        listed_shares=_number(shares),
        par=_number(cells.get("액면가", "0")),
        listed=int(listed) if listed else 0,
        size=0,
        industry="",
        k200="",
        status=0,
        supervision=0,
        control=0,
        spac="스팩" in name or "SPAC" in cells.get("소속부", "").upper(),
        preferred=_PREFERRED.get(cells.get("주식종류", ""), 0),
        margin=0,
        credit=False,
        fiscal_month=12,
        lot=1,
    )


def _number(text: str) -> int:
    digits = text.replace(",", "").strip()
    return int(float(digits)) if digits.replace(".", "", 1).isdigit() else 0
