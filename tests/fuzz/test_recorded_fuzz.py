"""The recorded reader under arbitrary and mutated input: nothing but RecordError escapes.

Mutations start from valid lines (the sample scenario and a snapshot with every optional
field) and apply what corrupted files and hostile writers produce: flipped and replaced bytes,
truncation, deep nesting, numbers with thousands of digits, odd or invalid Unicode, dates far
out of range with extreme offsets, and swapped values. Whatever is accepted must write back
out as UTF-8 and read back equal. Quick by default; ``JANGO_LONG=1`` runs 100,000 inputs per
property.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango import recorded
from jango.recorded import RecordError, dump_line, parse_line, read_events

LONG = os.environ.get("JANGO_LONG") == "1"
EXAMPLES = 100_000 if LONG else 400
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "seed_scenario.jsonl"

FULL_SNAPSHOT = (
    '{"type":"snapshot","account":"5012345601","time":"2026-03-04T08:40:00+09:00",'
    '"source":"kis","cash":{"deposit":1000000,"d2":900000,"d1":950000},'
    '"rows":[{"code":"005930","qty":10,"sellable":10,"purchase_amount":713000,'
    '"credit":"margin_self","loan_date":"2026-02-10","name":"삼성전자","market":"KOSPI",'
    '"price":71300,"loan_amount":500000}],'
    '"orders":[{"order_no":"7","code":"005930","side":"sell","qty":5,"filled":2,'
    '"remaining":3,"price":71400,"time":"2026-03-04T09:00:00+09:00","credit":"margin_self",'
    '"loan_date":"2026-02-10"}]}'
)
FULL_NOTICE = (
    '{"type":"notice","account":"5012345601","kind":"filled","action":"new","side":"buy",'
    '"code":"005930","order_no":"1001","qty":25,"price":158100,'
    '"time":"2026-03-04T09:01:11+09:00","fill_id":"1001-1","post_qty":75,'
    '"post_sellable":75,"post_book_price":"100700.25","filled_total":25}'
)
VALID = [
    *[line.encode() for line in SAMPLE.read_text(encoding="utf-8").splitlines()[1:] if line],
    FULL_SNAPSHOT.encode(),
    FULL_NOTICE.encode(),
]

ODD_TEXT = [
    b"\\ud800",  # a lone high surrogate as a JSON escape
    b"\\udfff",
    b"\\ud83d\\ude00",  # a valid pair
    b"\\u0000",
    "\u2028".encode(),  # a line separator str.splitlines would split on
    "\ufeff".encode(),
    "\u202e".encode(),  # right-to-left override
    "e\u0301".encode(),  # a combining accent
    "\U0001f600".encode(),
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8: invalid
    b"\xc0\x80",  # an overlong NUL: invalid
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF: invalid
    "한".encode()[:2],  # a truncated multi-byte character
    b"\xff",
    b"\x00",
]
VALUES = [
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"-1e-999",
    b"1.5",
    b"NaN",
    b"Infinity",
    b"{}",
    b"[]",
    b'""',
    b'"A005930"',
    b'"0001-01-01T00:00:00+14:00"',
    b'"9999-12-31T23:59:59-23:59"',
    b'"2026-03-04T09:00:00+14:01"',
    b'"1989-12-31"',
    b'"2101-01-01"',
    b'"2026-02-30"',
    b'"' + b"9" * 40 + b'.5"',
    b'"100.' + b"5" * 30 + b'"',
    b'"cash"',
    b'"margin_self"',
]
YEARS = [b"0001", b"1000", b"1989", b"1990", b"2100", b"2101", b"9999"]
OFFSETS = [b"+14:00", b"-14:00", b"+14:01", b"+23:59", b"-23:59", b"Z", b""]


def _flip(draw: st.DrawFn, line: bytes) -> bytes:
    if not line:
        return line
    at = draw(st.integers(0, len(line) - 1))
    return line[:at] + bytes([line[at] ^ (1 << draw(st.integers(0, 7)))]) + line[at + 1 :]


def _replace_byte(draw: st.DrawFn, line: bytes) -> bytes:
    if not line:
        return line
    at = draw(st.integers(0, len(line) - 1))
    return line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]


def _truncate(draw: st.DrawFn, line: bytes) -> bytes:
    return line[: draw(st.integers(0, len(line)))]


def _nest(draw: st.DrawFn, line: bytes) -> bytes:
    at = draw(st.integers(0, len(line)))
    depth = draw(st.sampled_from([2, 7, 8, 9, 1_000, 100_000]))
    opener = draw(st.sampled_from([b"[", b'{"a":']))
    closer = b"]" if opener == b"[" else b"}"
    tail = closer * depth if draw(st.booleans()) else b""
    return line[:at] + opener * depth + b"1" + tail + line[at:]


def _huge_number(draw: st.DrawFn, line: bytes) -> bytes:
    runs = list(re.finditer(rb"\d+", line))
    if not runs:
        return line
    run = draw(st.sampled_from(runs))
    digits = draw(st.sampled_from([18, 19, 4_300, 4_301, 100_000]))
    sign = draw(st.sampled_from([b"", b"-"]))
    return line[: run.start()] + sign + b"9" * digits + line[run.end() :]


def _odd_text(draw: st.DrawFn, line: bytes) -> bytes:
    at = draw(st.integers(0, len(line)))
    return line[:at] + draw(st.sampled_from(ODD_TEXT)) + line[at:]


def _swap_value(draw: st.DrawFn, line: bytes) -> bytes:
    spots = list(re.finditer(rb'":(?:"[^"]*"|[^,}\]]*)', line))
    if not spots:
        return line
    spot = draw(st.sampled_from(spots))
    return line[: spot.start() + 2] + draw(st.sampled_from(VALUES)) + line[spot.end() :]


def _move_date(draw: st.DrawFn, line: bytes) -> bytes:
    year = draw(st.sampled_from(YEARS))
    line = re.sub(rb"\d{4}(-\d\d-\d\d)", lambda m: year + m.group(1), line, count=1)
    offset = draw(st.sampled_from(OFFSETS))
    return re.sub(rb"[+-]\d\d:\d\d\"", offset + b'"', line, count=1)


def _duplicate_field(draw: st.DrawFn, line: bytes) -> bytes:
    return line.replace(b"{", b'{"qty":1,', 1) if draw(st.booleans()) else line + b"\n" + line


MUTATIONS = [
    _flip,
    _replace_byte,
    _truncate,
    _nest,
    _huge_number,
    _odd_text,
    _swap_value,
    _move_date,
    _duplicate_field,
]


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    line = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 3))):
        line = draw(st.sampled_from(MUTATIONS))(draw, line)
    return line


def only_record_errors(data: bytes) -> None:
    """Parse ``data`` as bytes and as text; anything accepted must round-trip exactly."""
    text = data.decode("utf-8", errors="surrogateescape")
    for given_line in (data, text):
        try:
            event = parse_line(given_line)
        except RecordError as exc:
            assert str(exc)
            continue
        written = dump_line(event)
        written.encode("utf-8")  # never a lone surrogate in what is written
        assert parse_line(written) == event
    for number, item in read_events([data, text]):
        assert number in (1, 2)
        if isinstance(item, RecordError):
            assert item.line == number


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutated_lines())
def test_mutated_lines_raise_only_record_errors(data: bytes) -> None:
    only_record_errors(data)


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_arbitrary_input_raises_only_record_errors(data: bytes) -> None:
    only_record_errors(data)


def test_every_valid_seed_line_still_reads() -> None:
    # The mutations start from valid lines; if these stopped parsing, the fuzzer would only
    # ever exercise the first check.
    for line in VALID:
        parse_line(line)


def _read(data: bytes | str) -> object:
    try:
        return parse_line(data)
    except RecordError as exc:
        return f"RecordError: {exc}"


@FUZZ
@given(mutated_lines())
def test_mutated_lines_read_the_same_with_and_without_the_msgspec_decoder(data: bytes) -> None:
    """msgspec decodes objects first; each line must read exactly as the strict decoder reads it
    (the same event, or the same error)."""
    text = data.decode("utf-8", errors="surrogateescape")
    fast = [_read(data), _read(text)]
    saved = recorded._fast_load
    recorded._fast_load = lambda _text: None
    try:
        assert fast == [_read(data), _read(text)]
    finally:
        recorded._fast_load = saved
