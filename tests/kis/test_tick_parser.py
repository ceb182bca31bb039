"""The tick parser's fast path decides every record exactly as the strict checks alone do."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jango.brokers.kis import wire
from jango.brokers.kis.wire import WireError
from jango.domain.model import Tick
from tests.kis.test_wire import SPEC_TICK

TODAY = date(2026, 11, 24)
BASE = SPEC_TICK.split("^")

# What a field can look like: plain, signed, padded, decimal, non-ASCII digits, long, empty.
ODD_VALUES = [
    "",
    " ",
    "0",
    "00",
    "-0",
    "+5",
    "-",
    "+",
    "5 ",
    " 5",
    "1.00",
    "1.50",
    "٣",
    "²",
    "1_0",
    "9" * 20,
    "9" * 21,
    "0" * 30 + "7",
    "-" + "9" * 20,
    "x",
    "093060",
    "246000",
    "20230230",
    "20231301",
    "00010101",
    "A",
    " 0",
    "B",
]
ODD = st.sampled_from(ODD_VALUES)
FIELD = st.one_of(st.integers(-(10**6), 10**7).map(str), ODD)
USED = [0, 1, 2, 4, 13, 33, 43]  # the fields the book uses
CODES = st.sampled_from(["005930", "000660", "Q50001", " 005930", "00593", "0059300", "ab", ""])
TIMES = st.sampled_from(["093354", "090000", "153000", "245959", "0930", "09:30:00", " 093354"])
DATES = st.sampled_from(["20230612", "", " ", "20261124", "20230631", "2023061", "2023-06-12"])


@st.composite
def records(draw: st.DrawFn) -> str:
    fields = list(BASE)
    fields[0] = draw(CODES)
    fields[1] = draw(TIMES)
    fields[33] = draw(DATES)
    for index in draw(st.lists(st.sampled_from(USED[2:]), max_size=4)):
        fields[index] = draw(FIELD)
    return "^".join(fields)


def strict(payload: str, count: int) -> list[Tick] | str:
    """The reference: every record through the strict checks, nothing remembered."""
    fields = payload.split("^")
    width = len(fields) // count
    try:
        return [
            wire._checked_tick(fields[i * width : (i + 1) * width], TODAY) for i in range(count)
        ]
    except WireError as exc:
        return f"WireError: {exc}"


def parsed(payload: str, count: int) -> list[Tick] | str:
    try:
        return wire.parse_ticks(payload, count, today=TODAY)
    except WireError as exc:
        return f"WireError: {exc}"


@settings(max_examples=400, deadline=None)
@given(st.lists(records(), min_size=1, max_size=6), st.booleans())
def test_fast_and_strict_paths_give_the_same_ticks_or_the_same_error(
    batch: list[str], warm: bool
) -> None:
    payload = "^".join(batch)
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    if warm:
        # Each record's code and time, with plain numbers, seen before: the fast path runs.
        for record in batch:
            fields = record.split("^")
            for index in USED[2:]:
                fields[index] = BASE[index]
            parsed("^".join(fields), 1)
    assert parsed(payload, len(batch)) == strict(payload, len(batch))


def test_a_repeated_record_is_parsed_the_same_the_second_time() -> None:
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    first = wire.parse_ticks(SPEC_TICK, 1, today=TODAY)
    assert wire._SEEN_CODES and wire._SEEN_TIMES  # the second goes the fast way
    assert wire.parse_ticks(SPEC_TICK, 1, today=TODAY) == first


@pytest.mark.parametrize("index", [2, 4, 13, 43])
@pytest.mark.parametrize("value", ODD_VALUES)
def test_every_odd_number_field_is_decided_as_the_strict_checks_decide(
    index: int, value: str
) -> None:
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    parsed(SPEC_TICK, 1)  # its code and time are remembered: the fast path runs
    fields = list(BASE)
    fields[index] = value
    payload = "^".join(fields)
    assert parsed(payload, 1) == strict(payload, 1)


def clean_frame(batch: list[str], count: int) -> list[Tick] | None:
    fields = "^".join(batch).split("^")
    width = len(fields) // count
    return wire._clean_frame(fields, width, wire._SEEN_CODES, wire._SEEN_TIMES.get(TODAY) or {})


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(CODES, TIMES, DATES), min_size=1, max_size=6),
    st.integers(0, 5),
    st.sampled_from(USED),
    st.one_of(FIELD, CODES, TIMES, DATES),
    st.booleans(),
)
def test_a_frame_decoded_column_by_column_is_the_strict_decoding(
    keys: list[tuple[str, str, str]], odd_at: int, index: int, value: str, spoil: bool
) -> None:
    # Frames of warm records (codes and times seen), mostly clean: the column path takes them;
    # one odd field in one record must send the whole frame the per-record way.
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    batch = []
    for code, hour, day in keys:
        fields = list(BASE)
        fields[0], fields[1], fields[33] = code, hour, day
        parsed("^".join(fields), 1)
        batch.append(fields)
    if spoil:
        batch[odd_at % len(batch)][index] = value
    records = ["^".join(fields) for fields in batch]
    payload = "^".join(records)
    reference = strict(payload, len(records))
    assert parsed(payload, len(records)) == reference
    taken = clean_frame(records, len(records))
    if taken is not None:
        assert taken == reference


def test_a_clean_warm_frame_takes_the_column_path() -> None:
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    parsed(SPEC_TICK, 1)
    records = [SPEC_TICK] * 20
    taken = clean_frame(records, 20)
    assert taken is not None and taken == strict("^".join(records), 20)


@pytest.mark.parametrize("index", [2, 4, 13, 43])
@pytest.mark.parametrize("value", ODD_VALUES)
def test_one_odd_field_in_a_frame_is_decided_as_the_strict_checks_decide(
    index: int, value: str
) -> None:
    wire._SEEN_CODES.clear()
    wire._SEEN_TIMES.clear()
    parsed(SPEC_TICK, 1)
    fields = list(BASE)
    fields[index] = value
    payload = "^".join([SPEC_TICK, "^".join(fields), SPEC_TICK])
    assert parsed(payload, 3) == strict(payload, 3)
