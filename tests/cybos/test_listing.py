"""The master of every KRX listing: the bundled file, the refresh command that builds it from
KIS master files and KRX listing CSVs, and what CpCodeMgr and the venue make of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jango.brokers.cybos.wire import market_from_kinds
from jango.domain import krx
from jango.domain.model import Market
from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.cybos.listing import krx_listing, load_listing
from jango.sandbox.cybos.run import venue_for_scripts

REFRESH = [sys.executable, "-m", "jango.sandbox.cybos.master", "refresh"]

# The KOSPI master's fixed-width tail as KIS documents it: (field, width) in file order.
KOSPI_TAIL = [
    ("group", 2), ("size", 1), ("big", 4), ("mid", 4), ("small", 4),
    *((f"flag{i}", 1) for i in range(3)), ("k200", 1), *((f"flag{i}", 1) for i in range(3, 13)),
    ("spac", 1), *((f"flag{i}", 1) for i in range(13, 24)), ("base", 9), ("lot", 5),
    ("lot_after", 5), ("halted", 1), ("liquidation", 1), ("supervised", 1), ("warning", 2),
    ("notice", 1), ("unfaithful", 1), ("backdoor", 1), ("lock", 2), ("par_change", 2),
    ("capital_change", 2), ("margin", 3), ("credit", 1), ("credit_days", 3), ("volume", 12),
    ("par", 12), ("listed", 8), ("shares", 15), ("capital", 21), ("fiscal", 2), ("ipo", 7),
    ("preferred", 1), ("short_hot", 1), ("surge", 1), ("krx300", 1), ("kospi", 1),
    ("sales", 9), ("op", 9), ("ordinary", 9), ("net", 5), ("roe", 9), ("base_month", 8),
    ("cap", 9), ("group_code", 3), ("over", 1), ("loanable", 1), ("lendable", 1),
]  # fmt: skip


def kospi_line(code: str, isin: str, name: str, **fields: str) -> bytes:
    assert sum(width for _, width in KOSPI_TAIL) == 227
    tail = "".join(fields.get(key, "").rjust(width, "0" if key in
                   ("base", "par", "shares", "listed", "margin") else " ")[:width]
                   for key, width in KOSPI_TAIL)  # fmt: skip
    return (code.ljust(9) + isin + name.ljust(40) + tail + "\n").encode("cp949")


def test_the_bundled_listing_holds_every_market_and_kind() -> None:
    listing = krx_listing()
    by_market = {m: [i for i in listing if i.market is m] for m in Market}
    assert len(by_market[Market.KOSPI]) > 900 and len(by_market[Market.KOSDAQ]) > 1700
    assert len(by_market[Market.ETF]) > 1000 and len(by_market[Market.ETN]) > 300
    assert len(by_market[Market.KONEX]) > 100
    sections = {i.section for i in listing}
    assert {1, 3, 10, 17} <= sections  # 주권, 리츠, ETF, ETN
    assert any(i.preferred for i in listing) and any(i.spac for i in listing)
    assert any(i.status == 1 for i in listing)  # some listings are halted
    assert all(krx.is_valid_price(i.base_price, i.market, None) for i in listing)
    assert any("kospi_code.mst" in line for line in listing.source)
    samsung = listing.get("A005930")
    assert samsung is not None and samsung.name == "삼성전자" and samsung.industry == "013"


def test_refresh_reads_a_kis_master_file_and_keeps_other_markets(tmp_path: Path) -> None:
    master = tmp_path / "kospi_code.mst"
    master.write_bytes(
        kospi_line(
            "005930", "KR7005930003", "삼성전자", group="ST", size="1", big="0027",
            mid="0013", k200="5", base="61000", lot="1", halted="N", supervised="N",
            warning="00", notice="N", margin="40", credit="Y", par="100", listed="19750611",
            shares="5969783", fiscal="12", preferred="0", spac="N",
        )
        + kospi_line("069500", "KR7069500007", "KODEX 200", group="EF", base="35005")
        + kospi_line("Q500061", "KRG500610006", "신한 인버스 ETN", group="EN", base="2790")
        + kospi_line("F70100030", "KR5701000303", "수익증권", group="BC", base="10000")
    )  # fmt: skip
    out = tmp_path / "listing.csv"
    out.write_text(
        (Path(__file__).parents[2] / "src/jango/data/krx_listings.csv").read_text(),
        encoding="utf-8",
    )
    done = subprocess.run(
        [*REFRESH, "--from", str(master), "--out", str(out), "--note", "test"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listing = load_listing(out)
    samsung = listing.get("005930")
    assert samsung is not None
    assert (samsung.base_price, samsung.margin, samsung.credit, samsung.k200) == (
        61000,
        40,
        True,
        "5",
    )
    assert (samsung.listed_shares, samsung.listed, samsung.industry) == (
        5969783000,
        19750611,
        "013",
    )
    etn = listing.get("Q500061")
    assert etn is not None and etn.market is Market.ETN and etn.section == 17
    assert listing.get("069500") is not None and listing.get("F70100030") is None
    # The KOSPI file replaced KOSPI, ETF and ETN; KOSDAQ and KONEX stayed as they were.
    assert {i.market for i in listing} == {Market.KOSPI, Market.ETF, Market.ETN,
                                           Market.KOSDAQ, Market.KONEX}  # fmt: skip
    assert len([i for i in listing if i.market is Market.KOSPI]) == 1
    assert "test" in listing.source


def test_refresh_reads_a_krx_listing_csv(tmp_path: Path) -> None:
    krx_csv = tmp_path / "data_krx.csv"
    krx_csv.write_bytes(
        (
            "표준코드,단축코드,한글 종목명,한글 종목약명,영문 종목명,상장일,시장구분,"
            "증권구분,소속부,주식종류,액면가,상장주식수\n"
            "KR7000020008,000020,동화약품보통주,동화약품,DongwhaPharm,1976/03/24,KOSPI,주권,,"
            "보통주,1000,\"27,931,470\"\n"
            "KR7900110008,900110,딥커머스,딥커머스,DeepCommerce,2010/04/23,KOSDAQ GLOBAL,외국주권,,"
            "보통주,0,1000\n"
        ).encode("cp949")
    )  # fmt: skip
    out = tmp_path / "listing.csv"
    done = subprocess.run(
        [*REFRESH, "--from", str(krx_csv), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listing = load_listing(out)
    dongwha = listing.get("000020")
    assert dongwha is not None and dongwha.listed_shares == 27931470 and dongwha.listed == 19760324
    foreign = listing.get("900110")
    assert foreign is not None and foreign.market is Market.KOSDAQ and foreign.section == 13
    assert all(krx.is_valid_price(i.base_price, i.market, None) for i in listing)


def test_a_bad_file_gives_one_line_naming_it(tmp_path: Path) -> None:
    short = tmp_path / "kosdaq_code.mst"
    short.write_bytes("005930   KR7005930003삼성전자\n".encode("cp949"))
    done = subprocess.run(
        [*REFRESH, "--from", str(short), "--out", str(tmp_path / "x.csv")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {short}: line 1: shorter than a master record"
    ]
    nothing = subprocess.run(REFRESH, capture_output=True, text=True, timeout=120, check=False)
    assert nothing.returncode == 2 and "never downloads" in nothing.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_code_manager_and_the_venue_know_every_listing() -> None:
    venue = venue_for_scripts(seed=4)
    emu = CybosEmulator(venue, listing=krx_listing().spec)
    mgr = emu.Dispatch("CpUtil.CpCodeMgr")
    listing = krx_listing()
    reit = next(i for i in listing if i.section == 3)
    halted = next(i for i in listing if i.status == 1)
    assert mgr.GetStockSectionKind("A" + reit.code) == 3
    assert mgr.GetStockStatusKind("A" + halted.code) == 1
    assert "Q500061" in mgr.GetStockListByMarket(1)
    assert mgr.CodeToName("Q500061") == listing.get("500061").name  # type: ignore[union-attr]
    assert mgr.GetStockMarginRate("A005930") == 40 and mgr.GetStockMemeMin("A005930") == 1
    # A listed code the bundled master lacks is quoted at its 기준가, untraded; reading it does
    # not make it join the market, a subscription (or an order) does.
    assert reit.code not in {i.code for i in venue.instruments()}
    mst = emu.Dispatch("DsCbo1.StockMst")
    mst.SetInputValue(0, "A" + reit.code)
    assert mst.BlockRequest() == 0 and mst.GetHeaderValue(27) == reit.base_price
    assert (mst.GetHeaderValue(11), mst.GetHeaderValue(18)) == (reit.base_price, 0)
    assert reit.code not in {i.code for i in venue.instruments()}
    cur = emu.Dispatch("DsCbo1.StockCur")
    cur.SetInputValue(0, "A" + reit.code)
    cur.Subscribe()
    assert reit.code in {i.code for i in venue.instruments()}
    assert venue.quote(reit.code).base == reit.base_price
    emu.close()


def test_the_adapter_reads_section_kinds_as_the_type_library_numbers_them() -> None:
    assert market_from_kinds(1, 9) is Market.ELW
    assert market_from_kinds(1, 17) is Market.ETN and market_from_kinds(1, 10) is Market.ETF
    assert market_from_kinds(1, 14) is Market.KOSPI  # 14 is 선물, not a stock section
