"""``new_tick`` builds the same tick the constructor does."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from jango.domain.model import KST, Code, Tick
from jango.domain.ticks import new_tick, new_ticks


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


@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**9),
            st.integers(-(10**6), 10**6),
            st.integers(0, 10**12),
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_new_ticks_equals_the_constructor_column_by_column(
    rows: list[tuple[int, int, int, datetime, bool]], shared: bool
) -> None:
    codes = [Code(f"{100000 + i}") for i in range(len(rows))]
    times = [moment.replace(tzinfo=KST) for *_, moment, _ in rows]
    flags = [flag for *_, flag in rows]
    when: list[datetime] | datetime = times
    expected: list[bool] | bool = flags
    if shared and rows:
        # One time and one flag for every tick, as the venue's step passes them.
        when, expected = times[0], flags[0]
        times, flags = [times[0]] * len(rows), [flags[0]] * len(rows)
    built = new_ticks(
        codes, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], when, expected
    )
    made = [
        Tick(code, price, diff, volume, moment, flag)
        for code, (price, diff, volume, _, _), moment, flag in zip(
            codes, rows, times, flags, strict=True
        )
    ]
    assert built == made and [repr(t) for t in built] == [repr(t) for t in made]
    assert all(type(t) is Tick for t in built)
