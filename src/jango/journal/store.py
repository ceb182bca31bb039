"""The journal: an append-only SQLite (WAL) log of every event the session applies.

One table holds, in one sequence (``seq``), every normalized event (snapshot, tick, notice: the
recorded-format JSON of :mod:`jango.recorded` plus the raw wire payload), every undecodable frame
(``error``) and every ``discrepancy``. A ``checkpoints`` table holds the book state after
some ``seq`` (:mod:`jango.journal.checkpoint`), so :meth:`Journal.rebuild` starts at the latest
checkpoint and applies only later events. Replay is idempotent: the book skips sequence numbers
it has applied.

Writes happen on one writer thread: callers put rows on a queue and the writer commits whatever
has gathered in one transaction (group commit). The writer also applies each event to a shadow
book of its own, so a checkpoint is exactly "the book after events 1..seq" whatever the live
session did besides (e.g. prices it fetched without recording them).

**Acknowledged** means committed with ``PRAGMA synchronous=FULL`` (the WAL is fsync'd), so the
event survives a killed process and a crash of the machine:

* ``durability="every"`` (the default): :meth:`record_event` (and the other ``record_*``) return
  only after the transaction holding the event has committed. Return = acknowledged.
* ``durability="batch"``: ``record_*`` return at once; the writer commits every ``flush_ms``
  milliseconds. An event is acknowledged once :meth:`flush` (or :meth:`close`) has returned
  after it was recorded; up to ``flush_ms`` of unflushed events can be lost to a crash.

A write that fails (disk full, file removed) makes the next ``record_*`` or :meth:`flush` raise
:class:`JournalError`: an event that could not be made durable is never acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jango.config import data_dir
from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import KST, BalanceSnapshot, Discrepancy, Event, Tick
from jango.journal.checkpoint import BookStateError, dump_book, load_book
from jango.journal.fence import apply_journaled
from jango.journal.schema import (
    JournalCorrupt,
    JournalError,
    connect,
    corrupt_message,
    damage_reported,
)
from jango.recorded import RecordError, dump_line, parse_line

log = logging.getLogger("jango.journal")

Durability = Literal["every", "batch"]
EVENT_KINDS = ("snapshot", "tick", "notice")
KINDS = (*EVENT_KINDS, "error", "discrepancy")
# In batch mode, commit early once this many rows wait, to bound memory under a burst.
_MAX_PENDING = 50_000

_INSERT = (
    "INSERT INTO events (seq, kind, at, source, account, code, order_no, body, raw, reflected) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def default_path(profile: str = "default") -> Path:
    """Where a profile's journal lives: ``data_dir()/<profile>.journal.sqlite``."""
    return data_dir() / f"{profile}.journal.sqlite"


def iso(moment: datetime) -> str:
    """Times are stored in KST with microseconds, so text order is time order."""
    return moment.astimezone(KST).isoformat(timespec="microseconds")


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


_RowMaker = Callable[[int], tuple[object, ...]]


@dataclass(slots=True)
class _Pending:
    seq: int
    row: tuple[object, ...]
    event: Event | None


def _event_row(
    seq: int, event: Event, raw: str, source: str, at: datetime, reflected: bool
) -> tuple[object, ...]:
    account = code = order_no = ""
    if isinstance(event, BalanceSnapshot):
        kind, account = "snapshot", event.account
    elif isinstance(event, Tick):
        kind, code = "tick", event.code
    else:
        kind, account, code, order_no = "notice", event.account, event.code, event.order_no
    return (seq, kind, iso(at), source, account, code, order_no, dump_line(event), raw, reflected)


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


class Journal:
    """Append-only event journal at ``path``; implements the engine's ``Recorder`` protocol.

    See the module docstring for what "acknowledged" means in each durability mode. Use as a
    context manager or call :meth:`close`, which flushes and writes a final checkpoint.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        durability: Durability = "every",
        flush_ms: int = 50,
        costs: CostSchedule | None = None,
        checkpoint_every: int = 10_000,
    ) -> None:
        if durability not in ("every", "batch"):
            raise ValueError(f"durability must be 'every' or 'batch', not {durability!r}")
        self.path = Path(path)
        self.durability: Durability = durability
        self.flush_ms = flush_ms
        self.checkpoint_every = checkpoint_every
        self.costs = costs
        self.last_rebuild = RebuildStats(0, 0, 0)
        self._db = connect(self.path)
        try:
            with damage_reported(self.path):
                self._seq: int = self._db.execute(
                    "SELECT coalesce(max(seq), 0) FROM events"
                ).fetchone()[0]
                self._shadow: Book | None = self.rebuild(costs)
        except BaseException:
            self._db.close()
            raise
        self._committed = self._followed = self._seq
        self._since_checkpoint = self.last_rebuild.events_read
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._first_pending = 0.0
        self._urgent = False
        self._closing = False
        self._failure: JournalError | None = None
        self._writer = threading.Thread(target=self._run, name="jango-journal", daemon=True)
        self._writer.start()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- recording

    @property
    def last_seq(self) -> int:
        """The sequence number given to the most recent ``record_*`` row."""
        return self._seq

    def record_event(
        self, event: Event, *, raw: str, source: str, at: datetime, reflected: bool = False
    ) -> None:
        """Append a normalized event; ``reflected`` marks a fill a snapshot already held."""
        self._append([lambda seq: _event_row(seq, event, raw, source, at, reflected)], event)

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        """Append a frame that could not be decoded, with the decoder's error."""
        body = json.dumps({"error": error}, ensure_ascii=False)
        self._append([lambda seq: (seq, "error", iso(at), source, "", "", "", body, raw, 0)])

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        """Append each difference between computed and reported values."""
        at = iso(datetime.now(KST))
        rows = [
            lambda seq, d=d: (
                seq, "discrepancy", at, "", d.account, d.code, d.order_no,
                _discrepancy_body(d), "", 0,
            )
            for d in found
        ]  # fmt: skip
        if rows:
            self._append(rows)

    def _append(self, makers: Sequence[_RowMaker], event: Event | None = None) -> None:
        """Queue rows (numbered here, in call order); in "every" mode wait for their commit."""
        with self._cond:
            if self._failure is not None:
                raise self._failure
            if self._closing:
                raise JournalError(f"journal {self.path} is closed")
            for make in makers:
                self._seq += 1
                if not self._pending:
                    self._first_pending = time.monotonic()
                self._pending.append(_Pending(self._seq, make(self._seq), event))
            target = self._seq
            if self.durability == "every" or len(self._pending) >= _MAX_PENDING:
                self._urgent = True
            self._cond.notify_all()
            if self.durability == "every":
                self._wait_for(target)

    def flush(self) -> None:
        """Return once everything recorded so far is committed (the ack point in batch mode).

        It also waits for the writer to apply those events to its shadow book (and write any
        checkpoint that was due), so a rebuild right after sees the latest checkpoint.
        """
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            target = self._seq
            self._wait_for(target)
            while self._followed < target and self._failure is None:
                self._cond.wait()

    def _wait_for(self, seq: int) -> None:
        # Called with the condition held.
        while self._committed < seq and self._failure is None:
            self._cond.wait()
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Flush, write a final checkpoint and close the file. Safe to call twice."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._urgent = True
            self._cond.notify_all()
        self._writer.join()
        try:
            if self._failure is None and self._shadow is not None and self._since_checkpoint:
                self._checkpoint()
        finally:
            self._db.close()
        if self._failure is not None:
            raise self._failure

    # ----------------------------------------------------------------- the writer thread

    def _run(self) -> None:
        flush_s = self.flush_ms / 1000
        while True:
            with self._cond:
                while True:
                    if self._pending and self._urgent:
                        break
                    if self._closing and not self._pending:
                        return
                    if self._pending:
                        left = self._first_pending + flush_s - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                    else:
                        self._cond.wait()
                batch, self._pending, self._urgent = self._pending, [], False
            try:
                self._write(batch)
            except sqlite3.Error as exc:
                with self._cond:
                    self._failure = JournalError(f"cannot write journal {self.path}: {exc}")
                    self._cond.notify_all()
                return
            with self._cond:
                self._committed = batch[-1].seq
                self._cond.notify_all()
            self._follow(batch)
            with self._cond:
                self._followed = batch[-1].seq
                self._cond.notify_all()

    def _write(self, batch: list[_Pending]) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(_INSERT, [p.row for p in batch])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _follow(self, batch: list[_Pending]) -> None:
        """Apply committed events to the shadow book and checkpoint it now and then."""
        shadow = self._shadow
        if shadow is None:
            return
        try:
            for p in batch:
                if p.event is None:
                    continue
                apply_journaled(shadow, p.seq, p.event, reflected=bool(p.row[-1]))
                self._since_checkpoint += 1
            shadow.discrepancies.clear()  # the session records its own; don't grow forever
            if self._since_checkpoint >= self.checkpoint_every:
                self._checkpoint()
        except Exception:
            # Checkpoints are an optimisation; events are already safe. Stop checkpointing.
            log.exception("journal shadow book failed; no more checkpoints this run")
            self._shadow = None

    def _checkpoint(self) -> None:
        assert self._shadow is not None
        state = json.dumps(dump_book(self._shadow), ensure_ascii=False, separators=(",", ":"))
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO checkpoints (seq, at, state) VALUES (?, ?, ?)",
                (self._committed, iso(datetime.now(KST)), state),
            )
        self._since_checkpoint = 0

    # ----------------------------------------------------------------- reading

    def rebuild(self, costs: CostSchedule | None = None, *, use_checkpoints: bool = True) -> Book:
        """The book after every committed event: the latest checkpoint plus the events after it.

        :attr:`last_rebuild` says where it started and how many events it read.
        """
        if hasattr(self, "_writer"):
            self.flush()
        with _reader(self.path) as db, damage_reported(self.path):
            book, start = Book(costs), 0
            if use_checkpoints:
                book, start = _latest_checkpoint(db, costs)
            read = bad = 0
            rows = db.execute(
                "SELECT seq, body, reflected FROM events "
                "WHERE seq > ? AND kind IN ('snapshot', 'tick', 'notice') ORDER BY seq",
                (start,),
            )
            for seq, body, reflected in rows:
                read += 1
                try:
                    event = parse_line(body)
                except RecordError as exc:
                    bad += 1
                    log.warning("journal event %d unreadable, skipped: %s", seq, exc)
                    continue
                apply_journaled(book, seq, event, reflected=bool(reflected))
        self.last_rebuild = RebuildStats(start, read, bad)
        return book


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
    try:
        db = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise JournalCorrupt(corrupt_message(path, exc)) from exc
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
    connect(path, create=False).close()
    where: list[str] = ["1"]
    args: list[object] = []
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        args.extend(kinds)
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
