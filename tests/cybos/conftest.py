"""Shared fixtures: a venue with the real master plus synthetic codes, so an account can hold
more than 200 codes (two MarketEye calls) and more than 400 codes can be subscribed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from jango.domain.model import BalanceRow, Credit
from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.instruments import load_instruments, synthetic_instruments
from jango.sandbox.venue import Venue

BIG = "5077777701"  # an account with 260 holdings and credit rows: six 6033 pages


def big_venue(seed: int = 5) -> Venue:
    venue = Venue(load_instruments() + synthetic_instruments(450, seed=seed), seed=seed)
    codes = [i.code for i in venue.instruments()][:260]
    rows = [BalanceRow(BIG, c, 10, 10, 10 * venue.quote(c).base) for c in codes]
    # Two credit rows on a code that also has a cash row, with different loan dates.
    for day, qty in ((date(2026, 10, 1), 7), (date(2026, 10, 8), 3)):
        base = venue.quote(codes[0]).base
        rows.append(BalanceRow(BIG, codes[0], qty, qty, qty * base + 1, Credit.MARGIN_SELF, day))
    venue.open_account(BIG, cash=100_000_000, holdings=rows)
    return venue


@pytest.fixture
def venue() -> Venue:
    return big_venue()


@pytest.fixture
def emulator(venue: Venue) -> Iterator[CybosEmulator]:
    emu = CybosEmulator(venue)
    yield emu
    emu.close()
