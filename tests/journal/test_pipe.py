"""The wire to the writer process: frames come out as they went in, however the pipe splits
them, and anything undecodable is a PipeError, never another exception."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from jango.domain.model import KST, OrderNotice, Tick
from jango.journal import pipe
from jango.journal.store import event_row, tick_body
from tests.test_recorded import notices, ticks

payloads = st.lists(st.binary(max_size=3000), max_size=30)


@settings(max_examples=60, deadline=None)
@given(payloads, st.integers(1, 5000))
def test_frames_come_out_whole_and_in_order_whatever_the_reads_bring(
    sent: list[bytes], chunk: int
) -> None:
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as out:
            for payload in sent:
                pipe.write_all(out.fileno(), pipe.frame(payload))

    writer = threading.Thread(target=write)
    writer.start()
    reader = pipe.FrameReader(read_end, chunk=chunk)
    got = []
    while (payload := reader.read()) is not None:
        got.append(payload)
    writer.join()
    os.close(read_end)
    assert got == sent


def test_a_pipe_that_ends_inside_a_frame_is_a_pipe_error() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, pipe.frame(b"whole") + pipe.frame(b"cut short")[:-3])
    os.close(write_end)
    reader = pipe.FrameReader(read_end)
    assert reader.read() == b"whole"
    try:
        reader.read()
    except pipe.PipeError as exc:
        assert "ended inside a frame" in str(exc)
    else:
        raise AssertionError("no PipeError")
    os.close(read_end)


def test_items_encoded_by_the_session_decode_to_the_same_values() -> None:
    at = datetime(2026, 3, 4, 9, 0, 1, 250_000, tzinfo=KST)
    ticks = [Tick("005930", 70_000, 100, 5, at), Tick("000660", 1, -2, 3, at, expected=True)]
    row = ("notice", "t", "kis", "5012345601", "005930", "0000000001", "{}", "raw", True)
    encoded = [
        pipe.encode(("b", "sim", at, ticks, ["a", "b"])),
        pipe.encode(("r", *row)),
        pipe.encode(("f", 7)),
        pipe.encode(("c",)),
    ]
    payload = b"".join(pipe.items_parts(encoded))[4:]
    burst, kept, flush, close = pipe.decode_items(payload)
    assert isinstance(burst, pipe.Burst) and burst.ticks == ticks and burst.at == at
    assert burst.raws == ["a", "b"] and burst.source == "sim"
    assert isinstance(kept, pipe.Row) and (kept.kind, kept.reflected, kept.raw) == (
        "notice",
        True,
        "raw",
    )
    assert flush == pipe.Flush(7) and isinstance(close, pipe.Close)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500))
def test_undecodable_items_are_a_pipe_error(garbage: bytes) -> None:
    try:
        pipe.decode_items(garbage)
        pipe.decode_report(garbage)
    except pipe.PipeError:
        pass


@settings(max_examples=300, deadline=None)
@given(notices(), st.booleans())
def test_a_notice_handed_to_the_writer_gets_the_row_the_session_would_have_written(
    notice: OrderNotice, reflected: bool
) -> None:
    at = datetime(2026, 3, 4, 9, 0, 1, 250_000, tzinfo=KST)
    payload = b"".join(pipe.items_parts([pipe.encode(("n", "kis", at, notice, "raw", reflected))]))
    (item,) = pipe.decode_items(payload[4:])
    assert isinstance(item, pipe.Notice) and item.notice == notice
    assert event_row(item.notice, item.raw, item.source, item.at, item.reflected) == event_row(
        notice, "raw", "kis", at, reflected
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(ticks, min_size=1, max_size=40), st.booleans())
def test_a_burst_comes_out_as_the_same_ticks_whether_or_not_they_share_a_time(
    burst: list[Tick], same_time: bool
) -> None:
    if same_time:
        burst = [dataclasses.replace(tick, time=burst[0].time) for tick in burst]
    raws = [f"raw {i}" for i in range(len(burst))]
    encoded = pipe.encode_burst("kis", datetime(2026, 3, 4, 9, 0, tzinfo=KST), burst, raws)
    (item,) = pipe.decode_items(b"".join(pipe.items_parts([encoded]))[4:])
    assert isinstance(item, pipe.SameTimeBurst if same_time else pipe.Burst | pipe.SameTimeBurst)
    got = item.tick_objects()
    assert got == burst and item.raws == raws
    assert [tick_body(tick) for tick in got] == [tick_body(tick) for tick in burst]
