"""The wire between a session and its journal writer process: length-prefixed msgspec JSON.

Session → writer, one frame per hand-over: a JSON array of items, each a tagged array that
:mod:`msgspec` decodes into the structs below. Ticks travel as :class:`~jango.domain.model.Tick`
objects (msgspec encodes and decodes the dataclass in C), so the session's only cost per tick is
the encoding; everything else (the row's text, SQLite, the shadow book) happens in the writer.

Writer → session: one :class:`Report` per frame, saying what the writer has taken in and how the
journal is (its :class:`~jango.journal.store.JournalHealth` fields), and answering flushes and
acknowledgements.

A frame is a 4-byte big-endian length and that many bytes. A frame over :data:`MAX_FRAME` or
one that does not decode is a :class:`PipeError`: the two ends are the same program, so it means
a bug or a stranger on the pipe, and the writer stops (the session then reports it failed).
"""

from __future__ import annotations

import contextlib
import operator
import os
import struct
from collections.abc import Sequence
from datetime import datetime

import msgspec

from jango.domain.model import OrderNotice, Tick
from jango.domain.ticks import new_ticks
from jango.journal.schema import JournalError

MAX_FRAME = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")


class PipeError(JournalError):
    """The pipe to or from the writer process broke or carried something undecodable."""


class Options(msgspec.Struct, frozen=True):
    """The first frame: how the writer opens the journal. ``costs`` is the session's
    :class:`~jango.domain.costs.CostSchedule` pickled (the shadow book values rows with it)."""

    path: str
    durability: str
    window_ms: float
    flush_ms: float
    ticks: str
    max_queue: int
    checkpoint_every: int
    max_bytes: int | None
    lock_fd: int | None
    costs: bytes | None


class Burst(msgspec.Struct, array_like=True, tag="b"):
    """Ticks that arrived together; ``raws[i]`` is tick ``i``'s payload (empty: their body)."""

    source: str
    at: datetime
    ticks: list[Tick]
    raws: list[str]

    def tick_objects(self) -> list[Tick]:
        """The ticks, as the session had them."""
        return self.ticks


class SameTimeBurst(msgspec.Struct, array_like=True, tag="t"):
    """Ticks that arrived together and share one time (a venue step, a second of prints): the
    time once, and each tick as ``(code, price, diff, volume, expected)``, which costs the
    session half what whole :class:`~jango.domain.model.Tick` objects do to encode."""

    source: str
    at: datetime
    time: datetime
    ticks: list[tuple[str, int, int, int, bool]]
    raws: list[str]

    def tick_objects(self) -> list[Tick]:
        """The ticks, as the session had them."""
        if not self.ticks:
            return []
        codes, prices, diffs, volumes, expected = zip(*self.ticks, strict=True)
        return new_ticks(codes, prices, diffs, volumes, self.time, expected)


_time_of = operator.attrgetter("time")
_fields_but_time = operator.attrgetter("code", "price", "diff", "volume", "expected")


def encode_burst(source: str, at: datetime, ticks: Sequence[Tick], raws: Sequence[str]) -> bytes:
    """A burst as a :class:`SameTimeBurst` when its ticks share a time, else a :class:`Burst`."""
    first = ticks[0].time
    if first == ticks[-1].time:
        times = list(map(_time_of, ticks))
        if times.count(first) == len(times):
            return _encoder.encode(
                ("t", source, at, first, list(map(_fields_but_time, ticks)), raws)
            )
    return _encoder.encode(("b", source, at, ticks, raws))


class Row(msgspec.Struct, array_like=True, tag="r"):
    """A journal row the session encoded: a notice, snapshot, error or discrepancy."""

    kind: str
    at: str
    source: str
    account: str
    code: str
    order_no: str
    body: str
    raw: str
    reflected: bool


class Notice(msgspec.Struct, array_like=True, tag="n"):
    """An order notice as the session took it in. The writer makes its row: the notice's
    text costs ten times its encoding here, and would be paid on the session's loop."""

    source: str
    at: datetime
    notice: OrderNotice
    raw: str
    reflected: bool


class Flush(msgspec.Struct, array_like=True, tag="f"):
    """Answer with a report once everything before this item is written and followed."""

    ticket: int


class Close(msgspec.Struct, array_like=True, tag="c"):
    """Close the journal (final checkpoint, clean marker), answer, and exit."""


Item = Burst | SameTimeBurst | Row | Notice | Flush | Close


class Report(msgspec.Struct, omit_defaults=True):
    """The writer's state, sent after every frame it handled and whenever it changes.

    ``kind`` is ``"ready"`` (opened), ``"status"``, ``"flushed"`` (``ticket``), ``"acked"``
    (``ticket``: the items recorded so far, each committed, in ``"every"`` mode), ``"closed"``,
    ``"refused"`` (the journal could not be opened: ``error_type`` and ``message``) or ``"log"``
    (a line the writer logged: ``level`` and ``message``, for the session's log).
    """

    kind: str
    ticket: int = 0
    received: int = 0  # rows the writer has taken in (written, queued or shed by it)
    state: str = "ok"
    message: str = "journal ok"
    backlog: int = 0
    committed: int = 0
    shed: int = 0
    lost: int = 0
    since: datetime | None = None
    error: str | None = None  # "acked"/"closed": why it failed
    error_type: str = ""
    warnings: list[str] = []
    rebuild: tuple[int, int, int] = (0, 0, 0)
    level: int = 0


_encoder = msgspec.json.Encoder()
_items = msgspec.json.Decoder(list[Item])
_options = msgspec.json.Decoder(Options)
_report = msgspec.json.Decoder(Report)

encode = _encoder.encode


def frame(payload: bytes) -> bytes:
    """``payload`` with its length in front."""
    return _HEADER.pack(len(payload)) + payload


def items_parts(encoded: list[bytes]) -> list[bytes]:
    """One frame holding the items already encoded one by one (``encode(item)``), as parts
    for :func:`write_parts`: the items are joined once, and not copied again to put the
    length and brackets around them."""
    body = b",".join(encoded)
    return [_HEADER.pack(len(body) + 2), b"[", body, b"]"]


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (pipes take at most a buffer's worth at a time)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_parts(fd: int, parts: list[bytes]) -> None:
    """Write the parts in order, every byte, with as few system calls as the pipe allows."""
    if not hasattr(os, "writev"):  # pragma: no cover - Windows
        write_all(fd, b"".join(parts))
        return
    total = sum(map(len, parts))
    done = os.writev(fd, parts)
    if done < total:
        write_all(fd, b"".join(parts)[done:])


def widen(fd: int, size: int = 1 << 20) -> None:
    """Ask for a pipe buffer of ``size`` bytes (Linux; the default is 64 KiB), so a frame goes
    in one write instead of sixteen, each a wake-up and a GIL hand-back. Best effort."""
    with contextlib.suppress(AttributeError, ImportError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


class FrameReader:
    """Reads frames from a pipe a large chunk at a time: one system call (and one hand-back of
    the GIL) brings in every frame that has arrived, not one call per header and payload."""

    def __init__(self, fd: int, chunk: int = 1 << 20) -> None:
        self.fd, self.chunk = fd, chunk
        self._buffer = bytearray()
        self._at = 0  # where the next frame starts in the buffer

    def read(self) -> bytes | None:
        """The next frame's payload, or None at a clean end of the pipe."""
        while True:
            frame = self._complete()
            if frame is not None:
                return frame
            data = os.read(self.fd, self.chunk)
            if not data:
                if len(self._buffer) > self._at:
                    raise PipeError("journal pipe: ended inside a frame")
                return None
            if self._at:
                del self._buffer[: self._at]
                self._at = 0
            self._buffer += data

    def _complete(self) -> bytes | None:
        buffer, at = self._buffer, self._at
        if len(buffer) - at < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(buffer, at)
        if size > MAX_FRAME:
            raise PipeError(f"journal pipe: a frame of {size:,} bytes (limit {MAX_FRAME:,})")
        end = at + _HEADER.size + size
        if len(buffer) < end:
            return None
        self._at = end
        return bytes(buffer[at + _HEADER.size : end])


def decode_items(payload: bytes) -> list[Item]:
    """The items of a session frame."""
    try:
        return _items.decode(payload)
    except (msgspec.DecodeError, ValueError) as exc:
        raise PipeError(f"journal pipe: undecodable items ({exc})") from exc


def decode_options(payload: bytes) -> Options:
    """The writer's options frame."""
    try:
        return _options.decode(payload)
    except (msgspec.DecodeError, ValueError) as exc:
        raise PipeError(f"journal pipe: undecodable options ({exc})") from exc


def decode_report(payload: bytes) -> Report:
    """A writer's report."""
    try:
        return _report.decode(payload)
    except (msgspec.DecodeError, ValueError) as exc:
        raise PipeError(f"journal pipe: undecodable report ({exc})") from exc
