"""``new_tick`` builds the same tick the constructor does."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from jango.domain.model import KST, Code, Tick
from jango.domain.ticks import new_tick


@given(
    st.integers(1, 10**9),
    st.integers(-(10**6), 10**6),
    st.integers(0, 10**12),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.booleans(),
)
def test_new_tick_equals_the_constructor(
    price: int, diff: int, volume: int, moment: datetime, expected: bool
) -> None:
    when = moment.replace(tzinfo=KST)
    built = new_tick(Code("005930"), price, diff, volume, when, expected)
    made = Tick(Code("005930"), price, diff, volume, when, expected)
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert type(built) is Tick
