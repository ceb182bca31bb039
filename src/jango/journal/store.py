"""The journal: an append-only SQLite (WAL) log of every event the session applies.

One table holds, in one sequence (``seq``), every normalized event (snapshot, tick, notice: the
recorded-format JSON of :mod:`jango.recorded` plus the raw wire payload), every undecodable frame
(``error``) and every ``discrepancy``. A ``checkpoints`` table holds the book state after
some ``seq`` (:mod:`jango.journal.checkpoint`), so :meth:`Journal.rebuild` starts at the latest
checkpoint and applies only later events. Replay is idempotent: the book skips sequence numbers
it has applied.

**The event loop never waits for the disk.** ``record_*`` encodes the row and puts it on a bounded
in-memory queue; one writer thread commits whatever has gathered in one transaction (group
commit), assigns the ``seq`` numbers in commit order and applies each written event to a shadow
book of its own, so a checkpoint is exactly "the book after events 1..seq" whatever the live
session did besides.

Durability (``durability=``):

* ``"window"`` (the default): notices, snapshots, errors and discrepancies are committed with
  ``PRAGMA synchronous=FULL`` (the WAL is fsync'd) as soon as the writer can, and at the latest
  ``window_ms`` (20 ms) after they were recorded while the disk keeps up. Ticks wait up to
  ``flush_ms`` and ride along with the next commit; a commit of ticks alone is not fsync'd
  (ticks are re-fetchable from the broker). After a crash the session re-reads the broker's
  balance and reconciles, so the window loses nothing the broker cannot give back.
* ``"every"``: ``record_*`` returns only after the transaction holding the row has committed with
  fsync. Return = acknowledged. For callers that need ack-on-return; a few thousand events a
  second at most.
* ``"batch"``: every row, notices too, waits up to ``flush_ms``; acknowledged once :meth:`flush`
  (or :meth:`close`) has returned after it was recorded.

``ticks=`` says which ticks are journaled: ``"all"``, ``"latest"`` (per code, only the last tick
of each commit: a sample) or ``"none"``.

**Backpressure and faults are reported, never waited on.** The queue holds at most ``max_queue``
rows. From half full on (and whenever the disk is failing) ticks are shed, counted, not queued.
Notices are never shed; if even they would overflow the queue they are lost, counted, and the
journal is *degraded*. A failed write (read-only file or folder, full disk, I/O error, damaged
file) is logged once as one line naming the file and the cause, the journal turns *failed*, and
the writer retries with back-off; once a write succeeds again it journals an ``error`` row saying
what was not journaled. :attr:`Journal.health` is the status the engine and views show
(``"journal behind by N events"``, ``"journal failed: <cause>"``). In ``"every"`` mode a failed
write raises :class:`JournalError` from ``record_*``; in the other modes only :meth:`flush` and
:meth:`close` raise, so the session keeps running with its book in memory and exits non-zero.

**A missing WAL is noticed.** The ``meta`` row ``wal`` is set to ``open`` (and checkpointed into
the main file) when a writer opens the journal, followed by one commit into the WAL; it is set to
``clean`` when the writer closes. If the next open finds ``open`` but no ``-wal`` file beside the
database (or an empty one: SQLite never shrinks it while open), the committed events in that WAL
are gone: :attr:`Journal.open_warnings` says "events may be missing since seq N; reconciling with
the broker", and an ``error`` row records it. A journal that cannot be opened for writing
(read-only, full) is still read to rebuild the book, and opens *failed*.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import itertools
import json
import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jango.config import data_dir
from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import KST, BalanceSnapshot, Discrepancy, Event, OrderNotice, Tick
from jango.journal import lock, memory
from jango.journal.checkpoint import BookStateError, StateEncoder, load_book
from jango.journal.fence import apply_journaled_all
from jango.journal.rebuild import replay_rows
from jango.journal.schema import (
    CURRENT_VERSION,
    JournalDiskError,
    JournalError,
    JournalVersionError,
    connect,
    damage_reported,
    fault_message,
    open_readonly,
    rollback,
)
from jango.recorded import dump_line, parse_line

log = logging.getLogger("jango.journal")

Durability = Literal["window", "every", "batch"]
TickPolicy = Literal["all", "latest", "none"]
HealthState = Literal["ok", "behind", "degraded", "failed"]
EVENT_KINDS = ("snapshot", "tick", "notice")
KINDS = (*EVENT_KINDS, "error", "discrepancy")
# Commit early once this many rows wait, so one transaction stays a bounded amount of work.
_BATCH_ROWS = 10_000
# The writer's pure-Python loops release the GIL this often, so the event loop thread never
# waits a whole switch interval (5 ms) for it.
_YIELD_EVERY = 64
# Retry a failed write after this long, doubling up to the maximum.
_RETRY_FIRST_S, _RETRY_MAX_S = 0.05, 2.0

# ``seq`` is left NULL: SQLite numbers the rows (max + 1) in commit order. Rows go in as one
# multi-row INSERT per chunk: SQLite releases the GIL once per statement, so a chunk of rows costs
# one hand-over of the GIL to the event loop instead of one per row.
_COLUMNS = "(seq, kind, at, source, account, code, order_no, body, raw, reflected)"
_CHUNK = 256


def _chunks(rows: list[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    """``rows`` in order, in chunks of 256 and then of falling powers of two. Each chunk size
    is a statement SQLite compiles and keeps (about 70 KB at 256 rows): any size from 1 to 256
    grew a writer by some 30 MiB over an hour; powers of two keep it to nine of each."""
    at = 0
    while at < len(rows):
        size = min(_CHUNK, 1 << ((len(rows) - at).bit_length() - 1))
        yield rows[at : at + size]
        at += size


@functools.lru_cache(maxsize=16)
def _insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO events {_COLUMNS} VALUES {values}"


@functools.lru_cache(maxsize=16)
def _insert_ticks(rows: int) -> str:
    # A tick row's kind, account, order number and reflected flag are always the same: SQL
    # literals cost SQLite less than bound parameters (about a third of its time per row).
    values = ", ".join(["('tick', ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO events (kind, at, source, code, body, raw) VALUES {values}"


def _is_tick(row: tuple[object, ...]) -> bool:
    return row[1] == "tick"


# at, source, code, body, raw of a tick row (its account and order number are empty).
_tick_columns = operator.itemgetter(2, 3, 5, 7, 8)


def default_path(profile: str = "default") -> Path:
    """Where a profile's journal lives: ``data_dir()/<profile>.journal.sqlite``."""
    return data_dir() / f"{profile}.journal.sqlite"


def iso(moment: datetime) -> str:
    """Times are stored in KST with microseconds, so text order is time order."""
    if moment.tzinfo is not KST:
        moment = moment.astimezone(KST)
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row as stored."""

    seq: int
    kind: str
    at: str
    source: str
    account: str
    code: str
    order_no: str
    body: str
    raw: str
    reflected: bool

    def event(self) -> Event:
        """The snapshot, tick or notice of an event row (raises RecordError otherwise)."""
        return parse_line(self.body)


@dataclass(frozen=True, slots=True)
class RebuildStats:
    """What the last rebuild read: the checkpoint it started from and the events after it."""

    checkpoint_seq: int
    events_read: int
    unreadable: int


@dataclass(frozen=True, slots=True)
class JournalHealth:
    """The journal's status as views show it; ``message`` is one line (``str()`` gives it).

    ``state`` is ``"ok"``; ``"behind"`` (rows wait longer than the window, or ticks are being
    shed); ``"degraded"`` (events were lost: not journaled, and the broker must be re-read); or
    ``"failed"`` (writes fail now; ``message`` names the file and the cause).
    """

    state: HealthState
    message: str
    backlog: int  # rows queued or being written
    committed_seq: int
    shed_ticks: int  # ticks not journaled because the writer was behind or failing
    lost: int  # notices, snapshots, errors or discrepancies not journaled
    since: datetime | None  # when the current failure began

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong (shed ticks alone are not wrong once the backlog is gone)."""
        return self.state == "ok"

    def __str__(self) -> str:
        return self.message


# A queued row: (row or None, event or None, is a tick, (raw, source, at, reflected) or None).
# Ticks sampled by ``ticks="latest"`` are encoded by the writer, only if they are kept.
_Item = tuple[tuple[object, ...] | None, Event | None, bool, tuple[str, str, datetime, bool] | None]


class _Burst:
    """A burst of ticks queued as one item: one append on the loop, encoded by the writer."""

    __slots__ = ("at", "raws", "source", "ticks")

    def __init__(self, ticks: Sequence[Tick], raws: Sequence[str], source: str, at: datetime):
        self.ticks, self.raws, self.source, self.at = ticks, raws, source, at


def _rows_of(item: _Item | _Burst) -> int:
    return len(item.ticks) if isinstance(item, _Burst) else 1


# Many ticks share a time (a venue step, a second of KIS prints); format each time once.
_TICK_TIMES: dict[datetime, str] = {}


def tick_body(tick: Tick) -> str:
    """``dump_line(tick)``, spelled out for speed (ticks are most of what is journaled)."""
    if not tick.code.isalnum():
        return dump_line(tick)
    when = _TICK_TIMES.get(tick.time)
    if when is None:
        if len(_TICK_TIMES) >= 4096:
            _TICK_TIMES.clear()
        moment = tick.time if tick.time.tzinfo is KST else tick.time.astimezone(KST)
        when = _TICK_TIMES[tick.time] = moment.isoformat()
    expected = ',"expected":true' if tick.expected else ""
    return (
        f'{{"type":"tick","code":"{tick.code}","price":{tick.price:d},"diff":{tick.diff:d},'
        f'"volume":{tick.volume:d},"time":"{when}"{expected}}}'
    )


def event_row(
    event: Event, raw: str, source: str, at: datetime, reflected: bool
) -> tuple[object, ...]:
    if type(event) is Tick:
        return (None, "tick", iso(at), source, "", event.code, "", tick_body(event), raw, False)
    if isinstance(event, BalanceSnapshot):
        return (
            None, "snapshot", iso(at), source, event.account, "", "", dump_line(event), raw,
            reflected,
        )  # fmt: skip
    assert isinstance(event, OrderNotice)
    return (
        None, "notice", iso(at), source, event.account, event.code, event.order_no,
        dump_line(event), raw, reflected,
    )  # fmt: skip


def _discrepancy_body(d: Discrepancy) -> str:
    return json.dumps(
        {
            "field": d.field,
            "computed": d.computed,
            "reported": d.reported,
            "reason": d.reason,
            "time": iso(d.time) if d.time else None,
            "extra": dict(d.extra),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def discrepancy_rows(found: Iterable[Discrepancy]) -> list[tuple[object, ...]]:
    """The journal rows of ``found``, stamped now."""
    at = iso(datetime.now(KST))
    rows: list[tuple[object, ...]] = []
    for d in found:
        body = _discrepancy_body(d)
        rows.append((None, "discrepancy", at, "", d.account, d.code, d.order_no, body, "", False))
    return rows


def error_row(error: str, raw: str, source: str, at: datetime) -> tuple[object, ...]:
    body = json.dumps({"error": error}, ensure_ascii=False)
    return (None, "error", iso(at), source, "", "", "", body, raw, False)


def check_options(
    durability: str, ticks: str, window_ms: float, flush_ms: float, max_queue: int
) -> None:
    """Raise ValueError for options no journal accepts."""
    if durability not in ("window", "every", "batch"):
        raise ValueError(f"durability must be 'window', 'every' or 'batch', not {durability!r}")
    if ticks not in ("all", "latest", "none"):
        raise ValueError(f"ticks must be 'all', 'latest' or 'none', not {ticks!r}")
    if not window_ms > 0 or not flush_ms > 0 or max_queue < 2:
        raise ValueError("window_ms and flush_ms must be > 0 and max_queue at least 2")


def wal_holds_frames(path: Path) -> bool:
    """Whether a non-empty ``-wal`` file lies beside ``path`` (check before SQLite opens it)."""
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def failed_line(failure: str) -> str:
    """``journal failed: <file>: <cause>`` from a one-line fault message."""
    return f"journal failed: {failure.removeprefix('journal ')}"


class Journal:
    """Append-only event journal at ``path``; implements the engine's ``Recorder`` protocol.

    See the module docstring for the durability modes, :attr:`health` and the fault rules. Use
    as a context manager or call :meth:`close`, which flushes and writes a final checkpoint.
    ``max_bytes`` caps the file's size (SQLite then reports a full disk), e.g. to keep a journal
    from filling a shared disk. The journal's lock (:mod:`jango.journal.lock`) is taken here,
    waiting for a writer that still holds it, unless ``lock_fd`` is the lock already held (the
    writer process is handed its session's). ``shares_loop=False`` says no event loop runs in
    this process, so the writer thread need not hand the GIL over between slices.

    :class:`~jango.journal.process.ProcessJournal` is the same journal with its writer in a
    process of its own (what sessions use by default).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        durability: Durability = "window",
        window_ms: float = 20,
        flush_ms: float = 50,
        ticks: TickPolicy = "all",
        max_queue: int = 100_000,
        costs: CostSchedule | None = None,
        checkpoint_every: int = 10_000,
        max_bytes: int | None = None,
        lock_fd: int | None = None,
        shares_loop: bool = True,
    ) -> None:
        check_options(durability, ticks, window_ms, flush_ms, max_queue)
        self.path = Path(path)
        # The writer process is handed the lock its session took; anyone else takes it here.
        self._lock_fd = lock_fd if lock_fd is not None else lock.hold(self.path)
        self.durability: Durability = durability
        self.window_ms = window_ms
        self.flush_ms = flush_ms
        self.ticks: TickPolicy = ticks
        self.max_queue = max_queue
        self.checkpoint_every = checkpoint_every
        self.costs = costs
        self.last_rebuild = RebuildStats(0, 0, 0)
        self.open_warnings: list[str] = []
        """Lines the session should show at start: a missing WAL, a journal that cannot write."""

        self._cond = threading.Condition()
        # The caller appends to the deque without taking a lock (deque.append is atomic), so a
        # busy loop can never starve the writer of the lock or wait on it. The writer polls
        # every half window for urgent rows; "every" mode, flush and close also notify it.
        self._pending: collections.deque[_Item | _Burst] = collections.deque()
        self._tickets = itertools.count(1)
        # Rows queued (added to only by the caller) and rows written or given up (only by the
        # writer): their difference is the backlog, without a shared counter.
        self._rows_in = self._rows_out = 0
        self._queued = self._handled = self._followed = 0
        self._urgent = False
        self._oldest: float | None = None  # when the writer first saw the oldest pending row
        self._flush_asked = False
        self._closing = self._closed = False
        self._failure: str | None = None  # the current write failure, one line
        self._failed_at: datetime | None = None
        self._last_cause = ""
        self._shed = self._lost = 0
        self._shed_behind = 0  # counted by the writer (``_shed`` by the caller: no shared +=)
        self._lost_since_seq = 0
        self._shed_at = max(1, max_queue // 2)
        self._behind_rows = min(_BATCH_ROWS, max(1, max_queue // 10))
        self._never_shed = durability == "every"  # ack-on-return callers get every tick
        self._sync_full = True
        self._writer: threading.Thread | None = None
        self._writer_stopped = False
        # Slices between GIL hand-overs to an event loop in this process (none in the writer's).
        self._slice = _YIELD_EVERY if shares_loop else _BATCH_ROWS * 10

        wal_was_there = wal_holds_frames(self.path)
        self._db: sqlite3.Connection | None = None
        try:
            self._db = connect(self.path)
            with damage_reported(self.path):
                if max_bytes is not None:
                    page = self._db.execute("PRAGMA page_size").fetchone()[0]
                    self._db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page)}")
                self._committed: int = self._db.execute(
                    "SELECT coalesce(max(seq), 0) FROM events"
                ).fetchone()[0]
                marker = self._db.execute("SELECT value FROM meta WHERE key = 'wal'").fetchone()
                self._shadow: Book | None = self.rebuild(costs)
                self._state_encoder = StateEncoder()
                if marker is not None and marker[0] == "open" and not wal_was_there:
                    self._warn(
                        f"journal {self.path}: its write-ahead log ({self.path.name}-wal) is "
                        f"missing after an unclean shutdown; events may be missing since seq "
                        f"{self._committed}; reconciling with the broker"
                    )
                elif marker is not None and marker[0] == "open":
                    # Its writer was killed or crashed: what it had not committed is gone.
                    self._warn(
                        f"journal {self.path} was not closed by the last session (killed or "
                        f"crashed); events after seq {self._committed} may be missing; "
                        "reconciling with the broker"
                    )
                self._set_marker("open")
                # One commit into the fresh WAL, so from now on an empty or missing WAL beside
                # an "open" marker means the WAL was lost (SQLite never shrinks it while open).
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', ?)",
                    (iso(datetime.now(KST)),),
                )
        except JournalDiskError as exc:
            self._open_failed(exc)
        except BaseException:
            if self._db is not None:
                self._db.close()
            self._let_go()
            raise
        self._lost_since_seq = self._committed
        self._since_checkpoint = self.last_rebuild.events_read
        if self._db is not None:
            self._writer = threading.Thread(target=self._run, name="jango-journal", daemon=True)
            self._writer.start()
            for warning in self.open_warnings:
                self._put(error_row(warning, "", "journal", datetime.now(KST)), None)

    def _warn(self, line: str) -> None:
        log.warning("%s", line)
        self.open_warnings.append(line)

    def _set_marker(self, value: str) -> None:
        """Record whether a writer has the file open, in the main file itself (not the WAL)."""
        assert self._db is not None
        with damage_reported(self.path):
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('wal', ?)", (value,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _open_failed(self, exc: JournalError) -> None:
        """The file cannot be written: read what it holds, then run with the book in memory."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._failure = str(exc)
        self._failed_at = datetime.now(KST)
        self._warn(f"{exc}; events are not being journaled")
        self._committed = 0
        self._shadow = None
        if self.path.exists():
            with contextlib.closing(open_readonly(self.path)) as db, damage_reported(self.path):
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > CURRENT_VERSION:
                    raise JournalVersionError(
                        f"journal {self.path} has schema version {version}, newer than this "
                        f"jango understands ({CURRENT_VERSION}); upgrade jango to read it"
                    ) from exc
                self._committed = db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[
                    0
                ]
            self.rebuild(self.costs)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- recording

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest committed row ("every" mode: of the row just recorded)."""
        return self._committed

    @property
    def health(self) -> JournalHealth:
        """The journal's status now: ok, behind, degraded or failed, with a one-line message."""
        with self._cond:
            backlog = self._rows_in - self._rows_out
            oldest = self._oldest
            waited_ms = 0.0 if oldest is None else (time.monotonic() - oldest) * 1000
            shed, lost, seq = self._shed + self._shed_behind, self._lost, self._committed
            if self._failure is not None:
                state: HealthState = "failed"
                message = failed_line(self._failure)
                if backlog:
                    message += f"; {backlog} events waiting"
            elif lost:
                state = "degraded"
                message = (
                    f"journal degraded: {lost} events not journaled since seq "
                    f"{self._lost_since_seq} ({self._cause(self._last_cause)}); the broker is "
                    "re-read at the next start"
                )
            elif backlog >= self._shed_at or waited_ms > self.flush_ms + self.window_ms:
                state = "behind"
                message = f"journal behind by {backlog} events"
                if shed:
                    message += f"; {shed} ticks not journaled"
            else:
                state, message = "ok", "journal ok"
            return JournalHealth(state, message, backlog, seq, shed, lost, self._failed_at)

    def record_event(
        self, event: Event, *, raw: str, source: str, at: datetime, reflected: bool = False
    ) -> None:
        """Queue a normalized event; ``reflected`` marks a fill a snapshot already held."""
        if type(event) is Tick:
            if self.ticks == "none" or self._shedding():
                if self.ticks != "none":
                    self._shed += 1
                return
            if self.ticks == "latest":
                self._put(None, event, tick=True, lazy=(raw, source, at, reflected))
                return
        if type(event) is OrderNotice:
            # Its row's text is made by the writer thread, off the loop.
            self._put(None, event, lazy=(raw, source, at, reflected))
            return
        self._put(event_row(event, raw, source, at, reflected), event, tick=type(event) is Tick)

    def record_ticks(
        self, ticks: Sequence[Tick], *, raws: Sequence[str], source: str, at: datetime
    ) -> None:
        """Queue a burst of ticks that arrived together as one item; the writer encodes them.

        ``raws[i]`` is tick ``i``'s wire payload; empty ``raws`` means the ticks are their own
        payload, and each row's ``raw`` is its body. Shedding, sampling and counting are as
        for ticks recorded one by one.
        """
        if not ticks or self.ticks == "none":
            return
        if self.durability == "every":
            # Acknowledged on return, tick by tick.
            for i, tick in enumerate(ticks):
                raw = raws[i] if raws else tick_body(tick)
                self.record_event(tick, raw=raw, source=source, at=at)
            return
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        if self._shedding() or self._rows_in - self._rows_out + len(ticks) > self.max_queue:
            # Ticks are re-fetchable: a burst that does not fit is shed, never "lost".
            self._shed += len(ticks)
            return
        ticket = next(self._tickets)
        self._rows_in += len(ticks)
        self._pending.append(_Burst(ticks, raws, source, at))
        self._queued = ticket

    def record_row(self, row: tuple[object, ...], event: Event | None) -> None:
        """Queue a row another process already encoded (a notice, snapshot, error or
        discrepancy), with the event it holds; what the writer process does for its session."""
        self._put(row, event, tick=row[1] == "tick")

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        """Queue a frame that could not be decoded, with the decoder's error."""
        self._put(error_row(error, raw, source, at), None)

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        """Queue each difference between computed and reported values."""
        for row in discrepancy_rows(found):
            self._put(row, None)

    def _shedding(self) -> bool:
        # Read without the lock: a tick decided on a slightly stale length is harmless.
        return not self._never_shed and (
            self._failure is not None or self._rows_in - self._rows_out >= self._shed_at
        )

    def _put(
        self,
        row: tuple[object, ...] | None,
        event: Event | None,
        *,
        tick: bool = False,
        lazy: tuple[str, str, datetime, bool] | None = None,
    ) -> None:
        """Queue one row; in "every" mode wait for its commit. Never waits otherwise."""
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        every = self.durability == "every"
        if every and self._failure is not None:
            raise JournalError(failed_line(self._failure))
        if (
            self._writer is None
            or self._writer_stopped
            or self._rows_in - self._rows_out >= self.max_queue
        ):
            self._lose(1)
            return
        ticket = next(self._tickets)
        self._rows_in += 1
        self._pending.append((row, event, tick, lazy))
        self._queued = ticket
        if every or (not tick and self.durability == "window"):
            # Set after the append: the writer clears the flag before it takes rows, so a row
            # whose flag it cleared is in the rows it takes, or the flag stays set.
            self._urgent = True
        if every:
            with self._cond:
                self._cond.notify_all()
                while self._handled < ticket and self._failure is None:
                    self._cond.wait()
                if self._failure is not None:
                    raise JournalError(failed_line(self._failure))

    def _cause(self, message: str) -> str:
        """A fault message without its leading "journal <file>: " (for lines that name it)."""
        return message.removeprefix(f"journal {self.path}: ")

    def _lose(self, count: int) -> None:
        # Events that will never be journaled.
        if not self._lost:
            self._lost_since_seq = self._committed
            self._last_cause = self._failure or f"the write queue is full ({self.max_queue} rows)"
            log.error(
                "journal %s: events are being lost since seq %d (%s)",
                self.path,
                self._committed,
                self._cause(self._last_cause),
            )
        self._lost += count

    def flush(self) -> None:
        """Return once everything recorded so far is committed (the ack point in batch mode).

        It also waits for the writer to apply those events to its shadow book (and write any
        checkpoint that was due), so a rebuild right after sees the latest checkpoint. Raises
        :class:`JournalError` if the journal has failed or lost events.
        """
        self._drain()
        with self._cond:
            if self._failure is not None:
                raise JournalError(failed_line(self._failure))
            if self._lost:
                raise JournalError(self.health.message)

    def _drain(self) -> None:
        """Wait until the writer has handled (or given up on) everything queued so far."""
        with self._cond:
            target = self._queued
            if self._writer is None or self._followed >= target:
                return
            self._flush_asked = True
            self._cond.notify_all()
            while self._followed < target and self._failure is None and self._writer.is_alive():
                self._cond.wait()

    def close(self) -> None:
        """Flush, write a final checkpoint, mark the file closed cleanly and close it.

        Safe to call twice. Raises :class:`JournalError` (after closing) if writes failed or
        events were lost, so a session ends with a non-zero exit.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = self._closing = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join()
        db = self._db
        try:
            if db is not None and self._failure is None:
                if self._shadow is not None and self._since_checkpoint:
                    self._checkpoint()
                self._set_marker("clean")
        except (JournalError, sqlite3.Error) as exc:
            self._failure = (
                str(exc) if isinstance(exc, JournalError) else fault_message(self.path, exc)
            )
        finally:
            if db is not None:
                db.close()
            self._let_go()
        if self._failure is not None:
            raise JournalError(failed_line(self._failure))
        if self._lost:
            raise JournalError(self.health.message)

    def _let_go(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ----------------------------------------------------------------- the writer thread

    def _take(self) -> list[_Item | _Burst] | None:
        """Wait until pending rows are due and take them; None once closed and drained."""
        poll = self.window_ms / 2000
        with self._cond:
            while True:
                count = len(self._pending)
                now = time.monotonic()
                if count and self._oldest is None:
                    self._oldest = now
                if count and (
                    self._urgent
                    or self._closing
                    or self._flush_asked
                    or self._rows_in - self._rows_out >= _BATCH_ROWS
                    or (self._oldest is not None and now - self._oldest >= self.flush_ms / 1000)
                ):
                    break
                if not count and self._closing:
                    return None
                self._cond.wait(poll)
            self._urgent = self._flush_asked = False
            count = len(self._pending)  # after clearing the flag: see _put
            self._oldest = None
        pop = self._pending.popleft
        return [pop() for _ in range(count)]

    def _run(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # a bug, not a disk fault: say so instead of going quiet
            log.exception("journal %s: the writer stopped", self.path)
            with self._cond:
                self._failure = f"journal {self.path}: the writer stopped ({exc!r})"
                self._failed_at = datetime.now(KST)
                self._writer_stopped = True
                self._cond.notify_all()

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            written = self._commit(batch)
            taken = sum(map(_rows_of, batch))
            with self._cond:
                self._rows_out += taken
                self._handled += len(batch)
                self._cond.notify_all()
            self._follow(written)
            with self._cond:
                self._followed = self._handled
                self._cond.notify_all()

    def _rows(
        self, batch: list[_Item | _Burst]
    ) -> tuple[list[tuple[object, ...]], list[tuple[int, Event, bool]]]:
        """The rows to insert and the events they carry, sampling ticks if so configured.

        In "window" mode a batch of more than a tenth of ``max_queue`` rows (at most
        ``_BATCH_ROWS``) means the writer is behind: then only the last tick of each code is
        kept (the rest are shed), so notices behind a backlog of ticks are not kept waiting.
        Each event comes with its row's index in the rows (its seq once they are committed).
        """
        keep: dict[str, tuple[int, int]] = {}
        size = sum(map(_rows_of, batch))
        behind = self.durability == "window" and size > self._behind_rows
        sample = self.ticks == "latest" or behind
        if sample:
            for i, item in enumerate(batch):
                if isinstance(item, _Burst):
                    for j, printed in enumerate(item.ticks):
                        keep[printed.code] = (i, j)
                elif item[2]:
                    queued = item[1]
                    assert isinstance(queued, Tick)
                    keep[queued.code] = (i, 0)
        # Ticks queued one by one under "latest" were never counted as queued for "all".
        counted = self.ticks == "all"
        rows: list[tuple[object, ...]] = []
        events: list[tuple[int, Event, bool]] = []
        since_yield = slice_ = self._slice
        for i, item in enumerate(batch):
            if since_yield >= slice_:
                time.sleep(0)  # hand the GIL to the event loop between slices
                since_yield = 0
            if isinstance(item, _Burst):
                since_yield += len(item.ticks)
                when, source, raws = iso(item.at), item.source, item.raws
                for j, printed in enumerate(item.ticks):
                    if sample and keep.get(printed.code) != (i, j):
                        if counted:
                            self._shed_behind += 1
                        continue
                    body = tick_body(printed)
                    raw = raws[j] if raws else body
                    events.append((len(rows), printed, False))
                    rows.append(
                        (None, "tick", when, source, "", printed.code, "", body, raw, False)
                    )
                continue
            since_yield += 1
            row, event, tick, lazy = item
            if sample and tick and isinstance(event, Tick) and keep.get(event.code) != (i, 0):
                if row is not None:
                    self._shed_behind += 1  # queued as "all", shed for the backlog
                continue
            if row is None:
                assert event is not None and lazy is not None
                row = event_row(event, *lazy)
            if event is not None:
                events.append((len(rows), event, bool(row[-1])))
            rows.append(row)
        return rows, events

    def _commit(self, batch: list[_Item | _Burst]) -> list[tuple[int, Event, bool]]:
        """Write ``batch`` in one transaction, retrying with back-off while the disk fails.

        Returns the events written with their seqs; on close during a failure, gives up after
        one last try and counts the batch as lost.
        """
        rows, events = self._rows(batch)
        if not rows:
            return []
        full = self.durability != "window" or any(row[1] != "tick" for row in rows)
        delay, tried_closing = _RETRY_FIRST_S, False
        while True:
            try:
                self._write(rows, full)
                break
            except (sqlite3.Error, OSError) as exc:
                self._write_failed(exc)
                with self._cond:
                    if tried_closing:
                        self._lose(sum(1 for row in rows if row[1] != "tick"))
                        return []
                    tried_closing = self._closing
                    if not self._closing:
                        self._cond.wait(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
        # The rows were numbered consecutively: the writer holds the write lock for the batch.
        first = self._committed - len(rows) + 1
        if self._failure is not None:
            self._write_recovered()
        return [(first + index, event, reflected) for index, event, reflected in events]

    def _write(self, rows: list[tuple[object, ...]], full: bool) -> None:
        db = self._db
        assert db is not None
        if full != self._sync_full:
            # Commits holding only ticks are not fsync'd: the broker can give ticks back.
            db.execute(f"PRAGMA synchronous={'FULL' if full else 'NORMAL'}")
            self._sync_full = full
        db.execute("BEGIN")
        try:
            # In order, so seqs follow the rows; runs of ticks bind only the columns that vary.
            for tick, run in itertools.groupby(rows, _is_tick):
                for chunk in _chunks(list(run)):
                    if tick:
                        values = itertools.chain.from_iterable(map(_tick_columns, chunk))
                        db.execute(_insert_ticks(len(chunk)), list(values))
                    else:
                        values = itertools.chain.from_iterable(chunk)
                        db.execute(_insert(len(chunk)), list(values))
            last: int = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            rollback(db)
            raise
        with self._cond:
            self._committed = last

    def _write_failed(self, exc: BaseException) -> None:
        message = fault_message(self.path, exc)
        with self._cond:
            changed = message != self._failure
            if self._failure is None:
                self._failed_at = datetime.now(KST)
            self._failure = self._last_cause = message
            self._cond.notify_all()
        if changed:
            log.error("%s", message)

    def _write_recovered(self) -> None:
        """Writes work again: say so in the log and in the journal itself."""
        with self._cond:
            cause, since = self._failure, self._failed_at
            self._failure = self._failed_at = None
            lost, shed = self._lost, self._shed + self._shed_behind
        line = (
            f"journal {self.path} could not be written from {since and iso(since)} "
            f"({self._cause(cause or '')}); "
            f"{lost} events lost, {shed} ticks not journaled so far"
        )
        log.warning("%s; writing again", line)
        with contextlib.suppress(sqlite3.Error, OSError):
            self._write([error_row(line, "", "journal", datetime.now(KST))], True)

    def _follow(self, written: list[tuple[int, Event, bool]]) -> None:
        """Apply committed events to the shadow book and checkpoint it now and then."""
        shadow = self._shadow
        if shadow is None or not written:
            return
        try:
            slice_ = self._slice
            for i in range(0, len(written), slice_):
                time.sleep(0)  # hand the GIL to the event loop between slices
                apply_journaled_all(shadow, written[i : i + slice_])
            self._since_checkpoint += len(written)
            shadow.discrepancies.clear()  # the session records its own; don't grow forever
            if self._since_checkpoint >= self.checkpoint_every:
                self._checkpoint()
        except (sqlite3.Error, OSError, JournalError) as exc:
            # Checkpoints are an optimisation; the events are already safe.
            log.warning("journal %s: checkpoint not written (%s)", self.path, exc)
        except Exception:
            log.exception("journal shadow book failed; no more checkpoints this run")
            self._shadow = None

    def _checkpoint(self) -> None:
        assert self._shadow is not None and self._db is not None
        state = self._state_encoder.encode(self._shadow)
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT OR REPLACE INTO checkpoints (seq, at, state) VALUES (?, ?, ?)",
                (self._committed, iso(datetime.now(KST)), state),
            )
            db.execute("COMMIT")
        except BaseException:
            rollback(db)
            raise
        finally:
            del state
            memory.give_back()
        self._since_checkpoint = 0

    # ----------------------------------------------------------------- reading

    def rebuild(self, costs: CostSchedule | None = None, *, use_checkpoints: bool = True) -> Book:
        """The book after every committed event: the latest checkpoint plus the events after it.

        :attr:`last_rebuild` says where it started and how many events it read.
        """
        self._drain()
        book, self.last_rebuild = rebuild_book(self.path, costs, use_checkpoints=use_checkpoints)
        return book


def rebuild_book(
    path: Path, costs: CostSchedule | None = None, *, use_checkpoints: bool = True
) -> tuple[Book, RebuildStats]:
    """The book after every event committed to the journal at ``path``, and what was read."""
    if not path.exists():  # a journal that could not even be created
        return Book(costs), RebuildStats(0, 0, 0)
    with _reader(path) as db, damage_reported(path), _collector_paused():
        book, start = Book(costs), 0
        if use_checkpoints:
            book, start = _latest_checkpoint(db, costs)
        read, bad = replay_rows(db, book, start)
    return book, RebuildStats(start, read, bad)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk read: a rebuild makes millions of
    short-lived, acyclic objects (rows, ticks), and the collections they trigger cost about a
    third of its time. Reference counting still frees them; the collector resumes after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _latest_checkpoint(db: sqlite3.Connection, costs: CostSchedule | None) -> tuple[Book, int]:
    for seq, state in db.execute("SELECT seq, state FROM checkpoints ORDER BY seq DESC"):
        try:
            return load_book(json.loads(state), costs), seq
        except (BookStateError, ValueError) as exc:
            log.warning("checkpoint at %d unreadable (%s); trying an earlier one", seq, exc)
    return Book(costs), 0


def _entry(row: Any) -> Entry:
    seq, kind, at, source, account, code, order_no, body, raw, reflected = row
    return Entry(seq, kind, at, source, account, code, order_no, body, raw, bool(reflected))


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived read connection (WAL lets it read while the writer writes)."""
    db = open_readonly(path)
    try:
        yield db
    finally:
        db.close()


def read_entries(
    path: Path,
    *,
    kinds: Sequence[str] = (),
    code: str = "",
    order_no: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[Entry]:
    """Rows of the journal at ``path`` in sequence order, filtered; every filter is optional.

    ``order_no`` matches the row's order or, for a notice, the original order it amends or
    cancels. Raises :class:`JournalCorrupt` for a damaged file.
    """
    # Refuses newer schemas, migrates older ones and reports damage before the query runs.
    try:
        connect(path, create=False).close()
    except JournalDiskError:
        # Read-only media: nothing can be migrated, but a current file can still be read.
        with contextlib.closing(open_readonly(path)) as db, damage_reported(path):
            version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != CURRENT_VERSION:
            raise
    where: list[str] = ["1"]
    args: list[object] = []
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        args.extend(kinds)
        if "tick" not in kinds:
            # Spelled out so SQLite may use the indexes, which leave ticks out.
            where.append("kind <> 'tick'")
    if code:
        where.append("code = ?")
        args.append(code)
    if order_no:
        where.append("(order_no = ? OR (kind = 'notice' AND body LIKE ?))")
        args.extend((order_no, f'%"orig_order_no":"{order_no}"%'))
    if since is not None:
        where.append("at >= ?")
        args.append(iso(since))
    if until is not None:
        where.append("at <= ?")
        args.append(iso(until))
    sql = (
        "SELECT seq, kind, at, source, account, code, order_no, body, raw, reflected "
        f"FROM events WHERE {' AND '.join(where)} ORDER BY seq"
    )
    with _reader(path) as db, damage_reported(path):
        for row in db.execute(sql, args):
            yield _entry(row)
