"""Every valid price of a tick table in one ascending list, for the venue's random walk.

Moving a price ``n`` ticks one tick at a time (``krx.tick_size`` of the price going up, of the
price below it going down, since a move can cross into a band with another tick) costs a band
search per tick. On a :class:`Ladder` the same move is one index step: the valid prices of a
table, ascending, are exactly the prices such unit moves visit, because every band edge is a
multiple of the tick below it (KRX's tables are built that way; :meth:`Ladder.build` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from jango.domain.krx import TickTable
from jango.domain.model import Code
from jango.sandbox.venue_state import PriceEntry


@dataclass(frozen=True, slots=True)
class Ladder:
    """The valid prices of ``table`` from 1 to ``top``, ascending, and where each one sits
    (``prices[index[p]] == p``)."""

    table: TickTable
    top: int
    prices: list[int]
    index: dict[int, int]

    @classmethod
    def build(cls, table: TickTable, top: int) -> Ladder:
        """The ladder of ``table`` holding every valid price up to ``top``."""
        prices: list[int] = []
        for band, (edge, tick) in enumerate(table):
            if edge % tick:
                raise ValueError(f"band edge {edge} is not on its own tick {tick}")
            end = table[band + 1][0] if band + 1 < len(table) else top + 1
            if band + 1 < len(table) and end % tick:
                raise ValueError(f"band edge {end} is not a multiple of the tick below ({tick})")
            first = max(edge, tick)  # the first band's prices start at its tick, not at 0
            prices.extend(range(first, min(end, top + 1), tick))
            if end > top:
                break
        return cls(table, top, prices, {price: at for at, price in enumerate(prices)})


@dataclass(slots=True)
class Walker:
    """Where one code's price sits on its ladder, for the trading day it was made on.

    ``at`` is the position of ``state.price`` in ``prices`` and ``lower_at``/``upper_at`` those
    of the day's limits, so a move is index arithmetic and a clamp. ``prices`` is ``None`` when
    the price is not on the day's grid (the venue then walks it one tick at a time). Made again
    whenever the base or the limits change (a new day), so only the walk moves ``at``.
    """

    code: Code
    state: PriceEntry
    prices: list[int] | None
    at: int
    lower_at: int
    upper_at: int

    @classmethod
    def on(cls, code: Code, state: PriceEntry, ladder: Ladder) -> Walker:
        """The walker of ``state`` on ``ladder`` (which must reach ``state.upper``)."""
        index = ladder.index
        at = index.get(state.price)
        lower_at = index.get(state.lower)
        upper_at = index.get(state.upper)
        if at is None or lower_at is None or upper_at is None or state.upper > ladder.top:
            return cls(code, state, None, 0, 0, 0)
        return cls(code, state, ladder.prices, at, lower_at, upper_at)
