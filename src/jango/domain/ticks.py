"""Building :class:`~jango.domain.model.Tick` objects on the hot paths of the parsers.

``Tick(...)`` is a frozen dataclass: its ``__init__`` sets each field through
``object.__setattr__`` and then runs ``__post_init__``. A parser that has already checked its
fields (a KIS record, a recorded line with a code and time it accepted before) builds ticks
with :data:`new_tick` instead, which sets the slots directly at about half the cost, or a whole
batch with :data:`new_ticks`, which sets each field of every tick in one C-level ``map`` (no
Python call per tick): about a third of the cost again.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import repeat

from jango.domain.model import Code, Tick

TickBuilder = Callable[[Code, int, int, int, datetime, bool], Tick]
_NAMES = ("code", "price", "diff", "volume", "time", "expected")


def _fast() -> bool:
    """Whether ``Tick``'s fields are the ones these builders set; if not, both fall back to the
    constructor, so a change to ``Tick`` can only make them slower, never wrong."""
    return tuple(f.name for f in dataclasses.fields(Tick)) == _NAMES


def _builder() -> TickBuilder:
    """The fast builder of one tick; the constructor itself if ``Tick`` changed."""
    if not _fast():
        return Tick
    new = object.__new__
    set_code, set_price, set_diff, set_volume, set_time, set_expected = (
        getattr(Tick, name).__set__ for name in _NAMES
    )

    def build(
        code: Code, price: int, diff: int, volume: int, when: datetime, expected: bool
    ) -> Tick:
        """``Tick(code, price, diff, volume, when, expected)``; ``when`` must be aware."""
        tick: Tick = new(Tick)
        set_code(tick, code)
        set_price(tick, price)
        set_diff(tick, diff)
        set_volume(tick, volume)
        set_time(tick, when)
        set_expected(tick, expected)
        return tick

    return build


# The slot setters of Tick's fields, in _NAMES order (empty if Tick changed: see _fast).
_SETTERS = tuple(getattr(Tick, name).__set__ for name in _NAMES) if _fast() else ()


def new_ticks(
    codes: Sequence[Code],
    prices: Sequence[int],
    diffs: Sequence[int],
    volumes: Sequence[int],
    when: Sequence[datetime] | datetime,
    expected: Sequence[bool] | bool,
) -> list[Tick]:
    """``[Tick(c, p, d, v, w, e) for ...]`` over columns of equal length; ``when`` and
    ``expected`` may be one value for every tick. Every time must be aware."""
    count = len(codes)
    times = repeat(when, count) if isinstance(when, datetime) else when
    flags = repeat(expected, count) if isinstance(expected, bool) else expected
    if not _SETTERS:
        return list(map(Tick, codes, prices, diffs, volumes, times, flags))
    ticks: list[Tick] = list(map(object.__new__, repeat(Tick, count)))
    for setter, column in zip(_SETTERS, (codes, prices, diffs, volumes, times, flags), strict=True):
        deque(map(setter, ticks, column), maxlen=0)  # runs the map in C, keeps nothing
    return ticks


new_tick: TickBuilder = _builder()
