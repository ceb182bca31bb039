"""The instrument master: the bundled real names, user CSVs, and synthetic codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from jango.domain import krx
from jango.domain.model import Market, parse_code
from jango.sandbox.instruments import (
    InstrumentFileError,
    InstrumentSpec,
    load_instruments,
    synthetic_instruments,
)


def test_bundled_master_has_real_names_across_markets() -> None:
    specs = load_instruments()
    by_code: dict[str, InstrumentSpec] = {s.code: s for s in specs}
    assert len(specs) >= 60
    assert by_code["005930"].name == "삼성전자"
    assert by_code["069500"].market is Market.ETF
    assert by_code["247540"].market is Market.KOSDAQ
    assert "0126Z0" in by_code  # an alphanumeric code of the 2024 reform


def test_bundled_base_prices_sit_on_valid_ticks() -> None:
    for spec in load_instruments():
        assert krx.is_valid_price(spec.base_price, spec.market), spec


def test_user_csv_with_the_same_header_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("code,name,market,base_price\nA005930,삼성전자,kospi,70000\n", "utf-8")
    assert load_instruments(path) == [
        InstrumentSpec(parse_code("005930"), "삼성전자", Market.KOSPI, 70000)
    ]


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        ("5930,삼성전자,KOSPI,70000", "invalid stock code"),
        ("005930,삼성전자,NYSE,70000", "unknown market"),
        ("005930,삼성전자,KOSPI,70050", "valid KOSPI tick"),
        ("005930,삼성전자,KOSPI,-5", "positive integer"),
        ("005930,삼성전자,KOSPI", "expected 4 fields"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_number(
    tmp_path: Path, row: str, complaint: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"code,name,market,base_price\n000660,SK하이닉스,KOSPI,200000\n{row}\n")
    with pytest.raises(InstrumentFileError, match=f"line 3: .*{complaint}"):
        load_instruments(path)


def test_a_duplicate_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("code,name,market,base_price\n005930,a,KOSPI,70000\n005930,b,KOSPI,70000\n")
    with pytest.raises(InstrumentFileError, match="line 3: duplicate code 005930"):
        load_instruments(path)


def test_a_wrong_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("종목코드,이름,시장,기준가\n005930,삼성전자,KOSPI,70000\n")
    with pytest.raises(InstrumentFileError, match="line 1: header"):
        load_instruments(path)


def test_synthetic_instruments_are_valid_unique_and_seeded() -> None:
    specs = synthetic_instruments(2000, seed=7)
    assert len({s.code for s in specs}) == 2000
    for spec in specs:
        assert parse_code(spec.code) == spec.code
        assert krx.is_valid_price(spec.base_price, spec.market)
    assert synthetic_instruments(2000, seed=7) == specs
    assert synthetic_instruments(2000, seed=8) != specs


def test_synthetic_codes_never_collide_with_the_bundled_master() -> None:
    real = {s.code for s in load_instruments()}
    assert not real & {s.code for s in synthetic_instruments(5000, seed=1)}
