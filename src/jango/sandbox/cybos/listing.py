"""The master of every KRX listing (``jango/data/krx_listings.csv``): code, name, market, CYBOS
section kind, KRX security group, 기준가, listed shares and the status flags CpCodeMgr answers.

The bundled file is written by ``python -m jango.sandbox.cybos.master refresh`` (see
:mod:`jango.sandbox.cybos.master`) from KRX/KIS master files; its first lines (``#``) say which
files and of which date. ETNs are listed by KRX as ``Q`` + six digits: the master keeps the six
digits as the code (as the KIS sandbox does) and :func:`com_code` gives CYBOS's ``Q…`` form.

A code the master lists is tradable in the emulator's venue even when the venue was not built
with it: :meth:`Listing.spec` gives the venue the instrument and its 기준가 on first use.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jango.domain import krx
from jango.domain.model import Code, InvalidCode, Market, parse_code
from jango.sandbox.instruments import InstrumentSpec

# CPE_KSE_SECTION_KIND of the CYBOS type library, by KRX security group (증권그룹구분코드).
SECTION_OF_GROUP = {
    "ST": 1,  # 주권
    "MF": 2,  # 투자회사
    "RT": 3,  # 부동산투자회사
    "SC": 4,  # 선박투자회사
    "IF": 5,  # 사회간접자본투융자회사
    "DR": 6,  # 주식예탁증서
    "SW": 7,  # 신주인수권증권
    "SR": 8,  # 신주인수권증서
    "EW": 9,  # 주식워런트증권 (ELW)
    "EF": 10,  # 상장지수펀드 (ETF)
    "BC": 11,  # 수익증권
    "FE": 12,  # 해외ETF
    "FS": 13,  # 외국주권
    "EN": 17,  # ETN
}
SECTION_ETF = 10
SECTION_ETN = 17
HEADER = (
    *("code", "name", "market", "section", "group", "base_price", "listed_shares", "par"),
    *("listed", "size", "industry", "k200", "status", "supervision", "control", "spac"),
    *("preferred", "margin", "credit", "fiscal_month", "lot"),
)


class ListingFileError(ValueError):
    """A listing file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One listing. Kinds follow CpCodeMgr: ``status`` 0 정상 1 거래정지; ``supervision`` 1 관리;
    ``control`` 0 정상 1 주의 2 경고 3 위험예고 4 위험 5 경고예고; ``size`` 1 대 2 중 3 소 (0 none);
    ``preferred`` 0 보통주 1 구형 2 신형 우선주; ``k200`` the KOSPI200 sector (``""`` none)."""

    code: Code
    name: str
    market: Market
    section: int
    group: str
    base_price: int
    listed_shares: int
    par: int
    listed: int  # yyyymmdd
    size: int
    industry: str  # CYBOS 업종 code, three digits ("" none)
    k200: str
    status: int
    supervision: int
    control: int
    spac: bool
    preferred: int
    margin: int  # 증거금률 (%)
    credit: bool  # 신용주문 가능
    fiscal_month: int
    lot: int

    def row(self) -> list[str]:
        """The CSV cells of this listing, in :data:`HEADER` order."""
        cells: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                cells.append("Y" if value else "N")
            elif isinstance(value, Market):
                cells.append(value.value)
            else:
                cells.append(str(value))
        return cells


def generated_base(code: str, market: Market) -> int:
    """A plausible 기준가 for a listing whose file gives none (a halted or newly listed code):
    seeded by the code, so it is the same on every run, and on a valid tick."""
    if market in (Market.ETF, Market.ETN):
        raw = 5_000 + zlib.crc32(code.encode()) % 20_000
    else:
        raw = 1_000 + zlib.crc32(code.encode()) % 99_000
    return on_tick(raw, market)


def on_tick(price: int, market: Market) -> int:
    """``price`` rounded down to a valid tick of its band (at least one tick)."""
    if price <= 0:
        return 0
    tick = krx.tick_size(price, market, None)
    return max(tick, price - price % tick)


class Listing:
    """Every listing by code, with the lookups the emulator and the venue need."""

    def __init__(self, listed: Iterable[Listed], source: list[str] | None = None) -> None:
        self.source = list(source or [])
        self._by_code: dict[Code, Listed] = {}
        for item in listed:
            self._by_code[item.code] = item
        self._by_name = {item.name: item for item in reversed(list(self._by_code.values()))}

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Listed]:
        return iter(sorted(self._by_code.values(), key=lambda item: item.code))

    def get(self, raw: object) -> Listed | None:
        """The listing of a code given as COM would (``'A005930'``, ``'Q500061'``, ``'005930'``)."""
        try:
            return self._by_code.get(com_parse(raw))
        except InvalidCode:
            return None

    def by_name(self, name: object) -> Listed | None:
        return self._by_name.get(str(name))

    def spec(self, code: Code) -> InstrumentSpec | None:
        """The venue's instrument of a listed code (for :class:`~jango.sandbox.venue.Venue`'s
        ``listing`` hook); ``None`` for a code KRX does not list."""
        item = self._by_code.get(code)
        if item is None:
            return None
        base = item.base_price or generated_base(item.code, item.market)
        return InstrumentSpec(item.code, item.name, item.market, base)


def com_parse(raw: object) -> Code:
    """A code as CYBOS scripts give it: ``A`` + six for stocks, ``Q`` + six for ETNs."""
    if isinstance(raw, str):
        text = raw.strip().upper()
        if len(text) == 7 and text[0] == "Q":
            return parse_code(text[1:])
    return parse_code(raw)


def com_code(code: Code) -> str:
    """CYBOS's form of a code: ``Q`` + six for an ETN, else ``A`` + six."""
    item = krx_listing().get(code)
    return ("Q" if item is not None and item.market is Market.ETN else "A") + code


def load_listing(path: str | Path | None = None) -> Listing:
    """Read a listing CSV; ``None`` reads the bundled one. Raises :class:`ListingFileError`."""
    if path is None:
        source = resources.files("jango").joinpath("data", "krx_listings.csv")
        return _parse(source.read_text(encoding="utf-8").splitlines(), "bundled krx_listings.csv")
    file = Path(path)
    with file.open(encoding="utf-8-sig", newline="") as handle:
        return _parse(list(handle), str(file))


@lru_cache(maxsize=1)
def krx_listing() -> Listing:
    """The bundled listing, read once."""
    return load_listing()


def write_listing(listing: Iterable[Listed], path: Path, source: list[str]) -> int:
    """Write ``listing`` to ``path`` (sorted by code) with ``source`` as ``#`` lines; returns
    the number of listings written."""
    items = sorted(listing, key=lambda item: item.code)
    with path.open("w", encoding="utf-8", newline="") as handle:
        for line in source:
            handle.write(f"# {line}\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for item in items:
            writer.writerow(item.row())
    return len(items)


def _parse(lines: list[str], where: str) -> Listing:
    source = [line[1:].strip() for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    reader = csv.reader(body)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise ListingFileError(f"{where}: header must be {','.join(HEADER)}")
    items: list[Listed] = []
    for number, row in enumerate(reader, start=len(source) + 2):
        if not row:
            continue
        try:
            items.append(_listed(row))
        except (InvalidCode, ValueError) as exc:
            raise ListingFileError(f"{where}: line {number}: {exc}") from exc
    return Listing(items, source)


def _listed(row: list[str]) -> Listed:
    if len(row) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} fields, got {len(row)}")
    cell = dict(zip(HEADER, (c.strip() for c in row), strict=True))
    market = Market(cell["market"])
    if market is Market.UNKNOWN:
        raise ValueError("market must be known")
    if not cell["name"]:
        raise ValueError(f"empty name for {cell['code']}")
    number = {k: int(cell[k] or 0) for k in HEADER if k not in _TEXT}
    base = number["base_price"]
    if base and not krx.is_valid_price(base, market, None):
        raise ValueError(f"base price {base} of {cell['code']} is not on a valid tick")
    return Listed(
        code=parse_code(cell["code"]),
        name=cell["name"],
        market=market,
        group=cell["group"],
        industry=cell["industry"],
        k200=cell["k200"],
        spac=cell["spac"] == "Y",
        credit=cell["credit"] == "Y",
        **{k: v for k, v in number.items()},
    )


_TEXT = {"code", "name", "market", "group", "industry", "k200", "spac", "credit"}
