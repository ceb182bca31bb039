"""The recorded reader's fast path for tick lines decides every line as the strict reader does.

Lines start as valid ticks (with and without ``expected`` and journal marks) and are mutated
the ways that would trip a decoder that trusts too much: a key given twice, keys reordered or
escaped, numbers too long or of the wrong kind, null, whitespace, odd text. Each is read with
the code and time already known (so the fast path runs) and compared with the strict reader
alone: the same event and mark, or the same error.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jango import recorded
from jango.domain.model import KST, Code, Tick
from jango.recorded import JournalMark, RecordError, dump_line, parse_line, read_records

START = datetime(2026, 3, 4, 9, 0, tzinfo=KST)

ticks = st.builds(
    Tick,
    st.sampled_from([Code("005930"), Code("000660"), Code("0000J0")]),
    st.integers(1, 10**6),
    st.integers(-(10**5), 10**5),
    st.integers(0, 10**9),
    st.integers(0, 10**6).map(lambda s: START + timedelta(seconds=s, microseconds=s % 7)),
    st.booleans(),
)
marks = st.none() | st.builds(JournalMark, st.integers(1, 10**6), st.booleans())

# Replacements for a piece of a valid line: each a way the line can go wrong or stay right.
EDITS = [
    (',"price":', ',"price":1,"price":'),  # a key twice
    (',"diff":', ',"diff":2,"diff":'),
    ('"type":"tick",', '"type":"tick","type":"tick",'),
    ('"type":"tick"', '"typ\\u0065":"tick"'),  # an escaped key: still "type"
    ('"tick"', '"tic\\u006b"'),
    ('"tick"', '"notice"'),
    (',"volume":', ', "volume" : '),  # whitespace
    ('"price":', '"price":-'),
    ('"price":', '"price":0'),
    ('"price":', '"price":9999999999999999999'),
    ('"volume":', '"volume":1000000000000000000'),
    ('"volume":', '"volume":-'),
    ('"diff":', '"diff":-999999999999999999'),
    ('"diff":', '"diff":1.5,"x":'),
    (',"time":', ',"expected":null,"time":'),
    (',"time":', ',"expected":1,"time":'),
    (',"time":', ',"extra":"x","time":'),
    ('"seq":', '"seq":0,"q":'),
    ('"seq":', '"seq":-'),
    ('"seq":', '"seq":"'),
    ('"journal":{', '"journal":{"reflected":null,'),
    ('"journal":{', '"journal":{"reflected":true,"reflected":false,'),
    ("}", "}}"),
    ("}", "} "),
    ("}", "}\r"),
    ('"code":"', '"code":" '),
    ("+09:00", "+14:30"),
    ("+09:00", ""),
    ("2026", "0001"),
    ('"', "'"),
    ("{", "[{"),
]


def strict(line: bytes) -> object:
    try:
        return recorded._parse_event(recorded._load(recorded._decode(line)))
    except RecordError as exc:
        return f"RecordError: {exc}"


def fast(line: bytes) -> object:
    try:
        (_, item), *_ = list(read_records([b"\n", b"{}\n", line]))[1:]
    except ValueError:
        return "nothing"
    return f"RecordError: {item}" if isinstance(item, RecordError) else item


@settings(max_examples=600, deadline=None)
@given(ticks, marks, st.lists(st.sampled_from(EDITS), max_size=3), st.booleans())
def test_tick_lines_read_the_same_by_the_fast_and_the_strict_path(
    tick: Tick, mark: JournalMark | None, edits: list[tuple[str, str]], warm: bool
) -> None:
    valid = dump_line(tick, mark)
    line = valid
    for old, new in edits:
        line = line.replace(old, new, 1)
    data = (line + "\n").encode()
    recorded._SEEN_CODES.clear()
    recorded._SEEN_TIMES.clear()
    if warm:
        parse_line(dump_line(tick))  # the strict path remembers its code and time
    want = strict(data)
    assert fast(data) == want
    if not isinstance(want, str):
        assert parse_line(data) == want[0]  # type: ignore[index]
        assert parse_line(data.decode()) == want[0]  # type: ignore[index]


def test_a_remembered_code_and_time_let_the_next_tick_line_skip_the_strict_reader() -> None:
    tick = Tick(Code("005930"), 71_000, -100, 5, START)
    recorded._SEEN_CODES.clear()
    recorded._SEEN_TIMES.clear()
    assert recorded._fast_tick(dump_line(tick)) is None  # nothing known yet
    assert parse_line(dump_line(tick)) == tick
    assert recorded._fast_tick(dump_line(tick)) == (tick, None)


def readline_lines(data: bytes, limit: int) -> list[bytes]:
    """The reference: line by line with ``readline``, as the reader did before it read blocks."""
    stream = io.BytesIO(data)
    out = []
    while line := stream.readline(limit + 2):
        if len(line) > limit + 1 and not line.endswith(b"\n"):
            while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                pass
        out.append(line)
    return out


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b"bb", b"\n", b"\r", b"x" * 9, b"y" * 13]), max_size=40),
    st.integers(1, 17),
)
def test_block_reading_yields_the_lines_readline_would(pieces: list[bytes], block: int) -> None:
    data = b"".join(pieces)
    limit = 10
    saved = recorded.MAX_LINE
    recorded.MAX_LINE = limit  # small, so that blocks, limits and lines cross in every way
    try:
        got = list(recorded.bounded_lines(io.BytesIO(data), block))
    finally:
        recorded.MAX_LINE = saved
    assert got == readline_lines(data, limit)


def strict_load(text: str) -> object:
    """What ``json.loads`` with the strict hooks makes of ``text`` (the reader before msgspec)."""
    saved = recorded._fast_load
    recorded._fast_load = lambda _text: None
    try:
        return recorded._load(text)
    except RecordError as exc:
        return f"RecordError: {exc}"
    finally:
        recorded._fast_load = saved


NOTICE_EDITS = [
    (',"qty":', ',"qty":1,"qty":'),  # a key twice
    (',"qty":', ',"q\\u0074y":'),
    ('"notice"', '"n\\"otice"'),  # an escaped quote
    (',"price":', ',"price":1.5,"x":'),
    (',"price":', ',"price":1e3,"x":'),
    (',"price":', ',"price":12345678901234567890,"x":'),
    (',"price":', ',"price":-999999999999999999,"x":'),
    (',"price":', ',"price":NaN,"x":'),
    (',"price":', ',"price":[[[[[[[[[1]]]]]]]]],"x":'),
    (',"price":', ',"price":{"a":[{"b":null}]},"x":'),
    (',"name":"', ',"name":"\\ud800'),  # a lone surrogate
    (',"time":', ',"time":true,"x":'),
    ("{", "["),
    ("}", "} x"),
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(
        [
            '{"type":"notice","account":"5012345601","kind":"filled","action":"new",'
            '"side":"buy","code":"005930","order_no":"0001","qty":5,"price":71000,'
            '"time":"2026-03-04T09:00:00+09:00","name":"삼성전자","journal":{"seq":3}}',
            '{"type":"snapshot","account":"5012345601","time":"2026-03-04T09:00:00+09:00",'
            '"cash":{"deposit":1,"d2":2},"rows":[{"code":"005930","qty":1,"sellable":1,'
            '"purchase_amount":71000,"price":71000}],"orders":[]}',
        ]
    ),
    st.lists(st.sampled_from(NOTICE_EDITS), max_size=3),
)
def test_msgspec_objects_are_exactly_what_the_strict_decoder_makes(
    line: str, edits: list[tuple[str, str]]
) -> None:
    for old, new in edits:
        line = line.replace(old, new, 1)
    fast = recorded._fast_load(line)
    if fast is not None:
        assert fast == strict_load(line)
        assert [type(v) for v in fast.values()] == [
            type(v)
            for v in strict_load(line).values()  # type: ignore[attr-defined]
        ]


NOTICE = (
    '{"type":"notice","account":"5012345601","kind":"filled","action":"new","side":"buy",'
    '"code":"005930","order_no":"0001","qty":5,"price":71000,"time":"2026-03-04T09:00:00+09:00",'
    '"credit":"margin_self","name":"삼성전자","market":"KOSPI","post_qty":5,"post_sellable":0,'
    '"post_book_price":"71000.5","filled_total":5,"fill_id":"7","journal":{"seq":3}}'
)
NOTICE_LINE_EDITS = [
    *NOTICE_EDITS,
    (',"name":', ',"name":"x","name":'),
    (',"credit":"margin_self"', ""),
    (',"credit":"margin_self"', ',"credit":"margin_self","loan_date":"2026-03-01"'),
    (',"credit":"margin_self"', ',"credit":"cash","loan_date":"2026-03-01"'),
    ('"kind":"filled"', '"kind":"FILLED"'),
    ('"kind":"filled"', '"kind":"accepted"'),
    ('"order_no":"0001"', '"order_no":""'),
    ('"post_book_price":"71000.5"', '"post_book_price":"7.1e4"'),
    ('"post_book_price":"71000.5"', '"post_book_price":71000'),
    (',"post_qty":5', ',"post_qty":null'),
    (',"post_qty":5', ',"post_qty":-5'),
    (',"post_qty":5', ""),
    (',"journal":{"seq":3}', ""),
    ('"seq":3', '"seq":0'),
    ('"seq":3', '"seq":3,"reflected":true'),
    ('"seq":3', '"seq":3,"reflected":1'),
    ('"qty":5', '"qty":true'),
    ('"qty":5', '"qty":0'),
    ('"code":"005930"', '"code":"A005930"'),
    ('"code":"005930"', '"code":"00593"'),
    ('"name":"', '"name":"\udc80'),
    ("+09:00", "+09:00 "),
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(NOTICE_LINE_EDITS), max_size=3), st.booleans(), st.booleans())
def test_notice_lines_read_the_same_by_the_fast_and_the_strict_path(
    edits: list[tuple[str, str]], warm: bool, as_bytes: bool
) -> None:
    line = NOTICE
    for old, new in edits:
        line = line.replace(old, new, 1)
    data: str | bytes = (line + "\n").encode("utf-8", "surrogateescape") if as_bytes else line
    recorded._SEEN_CODES.clear()
    recorded._SEEN_TIMES.clear()
    if warm:
        recorded._checked("005930", "2026-03-04T09:00:00+09:00")
        recorded._checked("A005930", "2026-03-04T09:00:00+09:00 ")
    fast = recorded._fast_notice(data)
    want = strict(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
    if fast is not None:
        assert fast == want
    if not edits and warm:
        assert fast is not None  # a plain notice line takes the fast path
