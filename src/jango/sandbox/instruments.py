"""The simulated venue's instrument master: real KRX names from a CSV, or synthetic ones.

The bundled ``jango/data/instruments.csv`` lists real codes with plausible base prices; a user's
own CSV with the same header (``code,name,market,base_price``) can replace it. Every base price
must sit on a valid tick for its market, because the venue's random walk starts from it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jango.domain import krx
from jango.domain.model import Code, Instrument, InvalidCode, Market, parse_code

HEADER = ("code", "name", "market", "base_price")

# Letters KRX allows in the new alphanumeric codes (I, O and U are excluded, krx-rules §8).
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"


class InstrumentFileError(ValueError):
    """An instrument CSV that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One instrument of the venue's master with the base price (기준가) it opens at."""

    code: Code
    name: str
    market: Market
    base_price: int

    def instrument(self) -> Instrument:
        """The domain :class:`Instrument` (code, name, market) of this spec."""
        return Instrument(self.code, self.name, self.market)


def load_instruments(path: str | Path | None = None) -> list[InstrumentSpec]:
    """Read an instrument master CSV; ``None`` reads the bundled list of real KRX names.

    Raises :class:`InstrumentFileError` naming the line of the first bad row (bad code, unknown
    market, a price that is not a positive integer on a valid tick, a duplicate code).
    """
    if path is None:
        source = resources.files("jango").joinpath("data", "instruments.csv")
        return _parse(source.read_text(encoding="utf-8").splitlines(), "bundled instruments.csv")
    file = Path(path)
    with file.open(encoding="utf-8-sig", newline="") as handle:
        return _parse(handle, str(file))


def _parse(lines: Iterable[str], where: str) -> list[InstrumentSpec]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise InstrumentFileError(f"{where}: line 1: header must be {','.join(HEADER)}")
    specs: list[InstrumentSpec] = []
    seen: set[Code] = set()
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            spec = _spec(row)
        except (InvalidCode, ValueError) as exc:
            raise InstrumentFileError(f"{where}: line {line}: {exc}") from exc
        if spec.code in seen:
            raise InstrumentFileError(f"{where}: line {line}: duplicate code {spec.code}")
        seen.add(spec.code)
        specs.append(spec)
    return specs


def _spec(row: list[str]) -> InstrumentSpec:
    if len(row) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} fields, got {len(row)}: {row!r}")
    raw_code, name, raw_market, raw_price = (cell.strip() for cell in row)
    code = parse_code(raw_code)
    if not name:
        raise ValueError(f"empty name for {code}")
    try:
        market = Market(raw_market.upper())
    except ValueError:
        known = ", ".join(m.value for m in Market if m is not Market.UNKNOWN)
        raise ValueError(f"unknown market {raw_market!r} (expected one of {known})") from None
    if market is Market.UNKNOWN:
        raise ValueError(f"market of {code} must be known")
    if not raw_price.isdigit() or int(raw_price) <= 0:
        raise ValueError(f"base price {raw_price!r} of {code} is not a positive integer")
    price = int(raw_price)
    if not krx.is_valid_price(price, market, None):
        raise ValueError(f"base price {price} of {code} is not on a valid {market} tick")
    return InstrumentSpec(code, name, market, price)


def synthetic_instruments(n: int, seed: int = 0) -> list[InstrumentSpec]:
    """``n`` made-up instruments with valid codes and base prices, for large benchmarks.

    Codes look like ``9000A0``: four digits from 9000 and a letter in the fifth place, a shape no
    bundled (real) code uses, so synthetic and real masters can be joined. Deterministic in
    ``seed``. At most 23,000 codes exist in that space.
    """
    capacity = 1000 * len(_CODE_LETTERS)
    if not 0 <= n <= capacity:
        raise ValueError(f"can make 0 to {capacity} synthetic instruments, not {n}")
    rng = random.Random(seed)
    specs: list[InstrumentSpec] = []
    for index in sorted(rng.sample(range(capacity), n)):
        number, letter = divmod(index, len(_CODE_LETTERS))
        code = parse_code(f"{9000 + number}{_CODE_LETTERS[letter]}0")
        market = Market.KOSPI if rng.random() < 0.6 else Market.KOSDAQ
        # Log-uniform from 1,000 to 500,000 won so every tick band is represented.
        raw = int(1000 * 500 ** rng.random())
        price = raw - raw % krx.tick_size(raw, market, None)
        specs.append(InstrumentSpec(code, f"합성{code}", market, price))
    return specs
