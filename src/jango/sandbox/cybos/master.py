"""The CYBOS emulator's industries (업종) and index codes (U001 …), and the command that
refreshes the listing master (:mod:`jango.sandbox.cybos.listing`) from KRX/KIS master files::

    python -m jango.sandbox.cybos.master refresh --from kospi_code.mst --from kosdaq_code.mst \
        [--from konex_code.mst] [--from data_krx.csv [--market ETF|ETN]] [--out FILE] [--note TEXT]

It never downloads: give it the files (KIS's ``*_code.mst`` downloads, or KRX data.krx.co.kr /
KIND listing CSVs). Markets a file covers are replaced; the others are kept from the current
file. Industries follow KRX's KOSPI sector index classification, which CYBOS's 업종 codes mirror.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jango.domain.model import Market
from jango.sandbox.cybos.listing import (
    Listed,
    Listing,
    ListingFileError,
    krx_listing,
    load_listing,
    write_listing,
)
from jango.sandbox.cybos.listing_files import read_kis_master, read_krx_csv

# CYBOS 업종 codes (GetIndustryList) and names (GetIndustryName).
INDUSTRY_NAMES: dict[str, str] = {
    "001": "종합주가지수",
    "002": "대형",
    "003": "중형",
    "004": "소형",
    "005": "음식료품",
    "006": "섬유의복",
    "007": "종이목재",
    "008": "화학",
    "009": "의약품",
    "010": "비금속광물",
    "011": "철강금속",
    "012": "기계",
    "013": "전기전자",
    "014": "의료정밀",
    "015": "운수장비",
    "016": "유통업",
    "017": "전기가스업",
    "018": "건설업",
    "019": "운수창고",
    "020": "통신업",
    "021": "금융업",
    "022": "은행",
    "024": "증권",
    "025": "보험",
    "026": "서비스업",
    "027": "제조업",
    # Sectors KRX added in its 2025 classification (names as in its index master).
    "028": "부동산",
    "029": "IT 서비스",
    "030": "오락·문화",
}
_SECTORS = tuple(code for code in INDUSTRY_NAMES if code >= "005" and code != "027")
_SECTOR_SET = frozenset(_SECTORS)
BUNDLED = Path(__file__).resolve().parents[2] / "data" / "krx_listings.csv"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A market index the emulator computes from its listings (capitalisation-weighted)."""

    code: str  # U + 3 digits
    name: str
    market: Market
    base_value: float
    size: str = ""  # "" every listing, else the 대형/중형/소형 class of the listings it follows
    industry: str = ""  # a sector index: the 업종 code of the listings it follows


INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("U001", "종합(KOSPI)", Market.KOSPI, 2500.0),
    IndexSpec("U002", "대형주", Market.KOSPI, 2450.0, "1"),
    IndexSpec("U003", "중형주", Market.KOSPI, 2900.0, "2"),
    IndexSpec("U004", "소형주", Market.KOSPI, 2200.0, "3"),
    # The KOSPI sector indexes U005–U030; their levels at the open are seeded by the code.
    *(
        IndexSpec(f"U{code}", name, Market.KOSPI, float(300 + zlib.crc32(code.encode()) % 4700),
                  industry=code)
        for code, name in INDUSTRY_NAMES.items()
        if "005" <= code <= "030"
    ),
    IndexSpec("U180", "코스피200", Market.KOSPI, 330.0, "1"),
    IndexSpec("U201", "코스닥종합", Market.KOSDAQ, 750.0),
)  # fmt: skip


def industry_of(code: str, market: Market) -> str:
    """The 업종 code of a stock (``""`` for ETF/ETN/ELW): the listing master's KOSPI sector
    when it names one of :data:`INDUSTRY_NAMES`, else a sector picked by the code's checksum,
    so it stays the same on every run."""
    if market in (Market.ETF, Market.ETN, Market.ELW):
        return ""
    item = krx_listing().get(code)
    if item is not None and item.market is Market.KOSPI and item.industry in _SECTOR_SET:
        return item.industry
    return _SECTORS[zlib.crc32(code.encode()) % len(_SECTORS)]


def refresh(
    files: list[Path], out: Path, *, market: Market | None = None, note: str = ""
) -> tuple[int, list[str]]:
    """Rebuild the listing at ``out`` from ``files``; returns (listings written, source lines)."""
    current = load_listing(out) if out.exists() else Listing([])
    known: dict[str, int] = {item.code: item.base_price for item in current}
    fresh: dict[str, Listed] = {}
    covered: set[Market] = set()
    source = [f"written {date.today().isoformat()} by python -m jango.sandbox.cybos.master refresh"]
    if note:
        source.append(note)
    for file in files:
        if file.suffix.lower() == ".mst":
            items, markets = read_kis_master(file)
        else:
            items, markets = read_krx_csv(file, known, market)
        covered |= markets
        for item in items:
            fresh.setdefault(item.code, item)
        source.append(f"{file.name}: {len(items)} listings ({', '.join(sorted(markets))})")
    kept = [item for item in current if item.market not in covered and item.code not in fresh]
    if kept:
        source.append(f"kept from the previous file: {len(kept)} listings of other markets")
        source += [f"previously: {line}" for line in current.source]
    count = write_listing([*fresh.values(), *kept], out, source)
    return count, source


def main(argv: list[str] | None = None) -> int:
    """``refresh``: rebuild the bundled listing (or ``--out``) from master files."""
    parser = argparse.ArgumentParser(prog="python -m jango.sandbox.cybos.master")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("refresh", help="rebuild the listing master from files")
    command.add_argument(
        "--from", dest="files", type=Path, action="append", default=[],
        help="a KIS kospi/kosdaq/konex_code.mst or a KRX listing CSV (repeat for several)",
    )  # fmt: skip
    command.add_argument("--market", choices=["ETF", "ETN"], help="market of a KRX ETF/ETN CSV")
    command.add_argument("--out", type=Path, default=BUNDLED, help="the listing file to write")
    command.add_argument("--note", default="", help="where the files came from, and their date")
    options = parser.parse_args(argv)
    if not options.files:
        parser.error("refresh needs --from FILE (it never downloads; see --help)")
    for file in options.files:
        if not file.is_file():
            parser.error(f"{file}: No such file")
    market = Market(options.market) if options.market else None
    try:
        count, _ = refresh(options.files, options.out, market=market, note=options.note)
    except ListingFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{options.out}: {count} listings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
