"""A journal whose writer is a process of its own: the session's side of the pipe.

:class:`ProcessJournal` is a :class:`~jango.journal.store.Journal` to the session (the same
``record_*``, :attr:`health`, :meth:`flush`, :meth:`close` and :meth:`rebuild`, with the same
durability modes and fault rules) but writes through ``python -m jango.journal.writer``. The
event loop encodes each item (:mod:`jango.journal.pipe`) and appends the bytes to a queue; a
sender thread writes them to the writer's stdin, and a reader thread takes in its reports. So
the loop never holds the GIL for SQLite, the row text or the shadow book, and those run on the
other core.

What the writer process does when its session dies is in :mod:`jango.journal.writer`: it
finishes writing, holding the journal's lock, so a restarted session waits for it.

A writer process that stops (killed, or a bug) is reported at once: the journal turns *failed*
("the writer process stopped"), what is recorded afterwards is counted lost, and the session
ends non-zero; the next start re-reads the broker. It is not restarted within the session: the
rows it held in memory are gone, so only a new rebuild and reconcile could vouch for the book.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from jango.domain.book import Book
from jango.domain.costs import CostSchedule
from jango.domain.model import KST, Discrepancy, Event, OrderNotice, Tick
from jango.journal import lock, pipe, schema
from jango.journal.schema import JournalError
from jango.journal.store import (
    Durability,
    HealthState,
    Journal,
    JournalHealth,
    RebuildStats,
    TickPolicy,
    check_options,
    discrepancy_rows,
    error_row,
    event_row,
    failed_line,
    rebuild_book,
)

log = logging.getLogger("jango.journal")

# The sender takes at most this much from the queue per frame, so a frame stays small.
_FRAME_BYTES = 256 * 1024
# How long the sender, woken by an item, lets more gather before it writes them in one frame.
_SEND_GATHER_S = 0.002
# Put on the sender's queue when the session is done with the writer: the sender writes what
# came before it, and ends.
_STOP = b""
# How long to wait for the writer to open the journal, and to close it.
START_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 120.0

_ERRORS: dict[str, type[JournalError]] = {
    "JournalError": JournalError,
    "JournalVersionError": schema.JournalVersionError,
    "JournalCorrupt": schema.JournalCorrupt,
    "JournalDiskError": schema.JournalDiskError,
    "JournalLocked": lock.JournalLocked,
}


class WriterUnavailable(JournalError):
    """The writer process could not be started (no interpreter to run, or it died at once)."""


class ProcessJournal:
    """Append-only event journal at ``path``, written by a child process.

    The options are :class:`~jango.journal.store.Journal`'s. Raises what ``Journal`` raises
    when the file cannot be opened (a newer schema, damage, another writer).
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
    ) -> None:
        check_options(durability, ticks, window_ms, flush_ms, max_queue)
        self.path = Path(path)
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
        # Encoded items, for the sender; put() from the loop never waits for it (a C queue, not
        # a Condition whose lock the loop could find held by a thread waiting for the GIL).
        self._pending: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._items_in = self._rows_in = 0  # added to only by the caller
        self._sent = 0  # items (and flushes) written to the pipe, by the sender
        self._shed = self._lost = 0  # counted by the caller
        self._shed_at = max(1, max_queue // 2)
        self._report = pipe.Report("status")  # the writer's latest, replaced whole
        self._ready = False
        self._ready_report = pipe.Report("ready")
        self._refused: pipe.Report | None = None
        self._acked = 0
        self._ack_error: str | None = None
        self._flush_tickets = itertools.count(1)
        self._flushed = 0
        self._flush_error: str | None = None
        self._closed_report: pipe.Report | None = None
        self._closing = self._closed = False
        self._gone = False  # the writer's reports ended
        self._failure: str | None = None  # the writer process stopped
        self._failed_at: datetime | None = None
        self._lost_since_seq = 0

        lock_fd = lock.hold(self.path)
        try:
            self._proc = self._spawn(lock_fd)
        finally:
            # The writer holds the lock now (the same open file); ours goes with it.
            if lock_fd is not None:
                os.close(lock_fd)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to = self._proc.stdin.fileno()
        pipe.widen(self._to)
        self._from = self._proc.stdout.fileno()
        self._reader = threading.Thread(target=self._read, name="jango-journal-in", daemon=True)
        self._reader.start()
        options = pipe.Options(
            path=str(self.path),
            durability=durability,
            window_ms=window_ms,
            flush_ms=flush_ms,
            ticks=ticks,
            max_queue=max_queue,
            checkpoint_every=checkpoint_every,
            max_bytes=max_bytes,
            lock_fd=lock_fd,
            costs=None if costs is None else pickle.dumps(costs),
        )
        with contextlib.suppress(OSError):  # a writer that died at once is reported below
            pipe.write_all(self._to, pipe.frame(pipe.encode(options)))
        self._await_ready()
        self._sender = threading.Thread(target=self._send, name="jango-journal-out", daemon=True)
        self._sender.start()

    @staticmethod
    def _spawn(lock_fd: int | None) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "jango.journal.writer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=() if lock_fd is None else (lock_fd,),
                start_new_session=True,  # a Ctrl-C for the session must not cut the writer short
            )
        except OSError as exc:
            raise WriterUnavailable(f"the journal writer process cannot start ({exc})") from exc

    def _await_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        with self._cond:
            while not (self._ready or self._refused or self._gone):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            ready, refused = self._ready, self._refused
        if ready:
            report = self._ready_report
            self.open_warnings = list(report.warnings)
            self.last_rebuild = RebuildStats(*report.rebuild)
            self._lost_since_seq = report.committed
            return
        self._stop_process()
        if refused is not None:
            raise _ERRORS.get(refused.error_type, JournalError)(refused.message)
        raise WriterUnavailable(
            f"journal {self.path}: the writer process did not start "
            f"(exit code {self._proc.returncode})"
        )

    def __enter__(self) -> ProcessJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- recording

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest committed row the writer has reported."""
        return self._report.committed

    @property
    def health(self) -> JournalHealth:
        """The journal's status now: ok, behind, degraded or failed, with a one-line message."""
        report = self._report
        backlog = max(0, self._rows_in - report.received) + report.backlog
        shed, lost = self._shed + report.shed, self._lost + report.lost
        since = self._failed_at or report.since
        state: HealthState
        if self._failure is not None:
            state, message = "failed", failed_line(self._failure)
        elif report.state == "failed":
            state, message = "failed", report.message
        elif self._lost:
            cause = self._failure or f"the write queue is full ({self.max_queue} rows)"
            state = "degraded"
            message = (
                f"journal degraded: {lost} events not journaled since seq "
                f"{self._lost_since_seq} ({cause}); the broker is re-read at the next start"
            )
        elif report.state == "degraded":
            state, message = "degraded", report.message
        elif backlog >= self._shed_at or report.state == "behind":
            state, message = "behind", f"journal behind by {backlog} events"
            if shed:
                message += f"; {shed} ticks not journaled"
        else:
            state, message = "ok", "journal ok"
        return JournalHealth(state, message, backlog, report.committed, shed, lost, since)

    def record_event(
        self, event: Event, *, raw: str, source: str, at: datetime, reflected: bool = False
    ) -> None:
        """Queue a normalized event; ``reflected`` marks a fill a snapshot already held."""
        if type(event) is Tick:
            self.record_ticks((event,), raws=(raw,), source=source, at=at)
            return
        if type(event) is OrderNotice:
            self._put(pipe.encode(("n", source, at, event, raw, reflected)))
            return
        self._put_row(event_row(event, raw, source, at, reflected))

    def record_ticks(
        self, ticks: Sequence[Tick], *, raws: Sequence[str], source: str, at: datetime
    ) -> None:
        """Queue a burst of ticks as one item, as :meth:`Journal.record_ticks` does."""
        if not ticks or self.ticks == "none":
            return
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        if self.durability != "every" and self._shedding(len(ticks)):
            self._shed += len(ticks)
            return
        self._push(pipe.encode_burst(source, at, ticks, raws), len(ticks))

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        """Queue a frame that could not be decoded, with the decoder's error."""
        self._put_row(error_row(error, raw, source, at))

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        """Queue each difference between computed and reported values."""
        for row in discrepancy_rows(found):
            self._put_row(row)

    def _put_row(self, row: tuple[object, ...]) -> None:
        self._put(pipe.encode(("r", *row[1:])))

    def _put(self, item: bytes) -> None:
        """Queue one encoded row, or count it lost if the writer failed or is too far behind."""
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        if self._failure is not None or self._backlog() >= self.max_queue:
            self._lose(1)
            return
        self._push(item, 1)

    def _push(self, payload: bytes, rows: int) -> None:
        every = self.durability == "every"
        if every and self._failure is not None:
            raise JournalError(failed_line(self._failure))
        self._items_in += 1
        self._rows_in += rows
        self._pending.put(payload)
        if every:
            ticket = self._items_in
            with self._cond:
                while self._acked < ticket and not self._gone:
                    self._cond.wait()
                error = self._ack_error if self._acked >= ticket else self._failure
                self._ack_error = None
            if error is not None:
                raise JournalError(error)

    def _backlog(self) -> int:
        """Rows not yet written: on their way to the writer, or queued in it."""
        report = self._report
        return self._rows_in - report.received + report.backlog

    def _shedding(self, rows: int) -> bool:
        # Read without the lock: a tick decided on a slightly stale report is harmless.
        backlog = self._backlog()
        # A writer that is behind samples the ticks it has anyway: shed here, before they cost
        # the loop their encoding and the pipe.
        return (
            self._failure is not None
            or self._report.state in ("failed", "behind")
            or backlog >= self._shed_at
            or backlog + rows > self.max_queue
        )

    def _lose(self, count: int) -> None:
        if not self._lost:
            self._lost_since_seq = self._report.committed
            log.error(
                "journal %s: events are being lost since seq %d (%s)",
                self.path,
                self._lost_since_seq,
                self._failure or f"the write queue is full ({self.max_queue} rows)",
            )
        self._lost += count

    def flush(self) -> None:
        """Return once everything recorded so far is committed and followed by the writer.

        Raises :class:`JournalError` if the journal has failed or lost events.
        """
        error = self._drain()
        if self._failure is not None:
            raise JournalError(failed_line(self._failure))
        if error is not None:
            raise JournalError(error)
        if self._lost:
            raise JournalError(self.health.message)

    def _drain(self) -> str | None:
        """Wait until the writer has handled everything queued so far; its flush error."""
        if self._closed or self._gone:
            return None
        ticket = next(self._flush_tickets)
        self._pending.put(pipe.encode(("f", ticket)))
        with self._cond:
            while self._flushed < ticket and not self._gone:
                self._cond.wait()
            return self._flush_error if self._flushed >= ticket else None

    def close(self) -> None:
        """Flush, have the writer checkpoint and close the file, and wait for it to exit.

        Safe to call twice. Raises :class:`JournalError` (after closing) if writes failed or
        events were lost, so a session ends with a non-zero exit.
        """
        if self._closed:
            return
        self._closed = self._closing = True
        self._pending.put(pipe.encode(("c",)))
        self._pending.put(_STOP)
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        with self._cond:
            while self._closed_report is None and not self._gone:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            closed = self._closed_report
        self._sender.join()
        self._stop_process()
        if closed is None and self._failure is None:
            self._failure = (
                f"journal {self.path}: the writer process did not close the journal "
                f"(exit code {self._proc.returncode})"
            )
        if self._failure is not None:
            raise JournalError(failed_line(self._failure))
        assert closed is not None
        if closed.error is not None:
            raise JournalError(closed.error)
        if self._lost:
            raise JournalError(self.health.message)

    def _stop_process(self) -> None:
        """Close our end of the pipes and reap the writer (killed if it will not end)."""
        self._closing = True
        self._pending.put(_STOP)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        try:
            self._proc.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("journal %s: the writer process did not exit; killing it", self.path)
            self._proc.kill()
            self._proc.wait()
        self._reader.join()
        self._proc.stdout.close()

    # ----------------------------------------------------------------- the two threads

    def _send(self) -> None:
        """Write queued items to the writer, a frame at a time, until :data:`_STOP`.

        Asleep while the queue is empty. Woken by an item, it lets more gather for
        :data:`_SEND_GATHER_S` (notices are still written well inside their window), except in
        ``"every"`` mode, where the caller is waiting for the acknowledgement; so it wakes at
        most once a frame, not once an item.
        """
        pending = self._pending
        gather = 0.0 if self.durability == "every" else _SEND_GATHER_S
        broken = False
        while True:
            item = pending.get()
            if gather and item:
                time.sleep(gather)
            chunk: list[bytes] = []
            size = 0
            while item:
                chunk.append(item)
                size += len(item)
                if size >= _FRAME_BYTES or pending.empty():
                    break
                item = pending.get_nowait()  # the only taker: not empty means one is there
            if chunk and not broken:
                try:
                    pipe.write_parts(self._to, pipe.items_parts(chunk))
                    self._sent += len(chunk)
                except (OSError, ValueError):
                    broken = True  # the writer is gone (the reader reports it): drop the rest
            if not item:
                return

    def _read(self) -> None:
        """Take in the writer's reports until its stdout ends."""
        reader = pipe.FrameReader(self._from)
        try:
            while (payload := reader.read()) is not None:
                self._take(pipe.decode_report(payload))
        except (pipe.PipeError, OSError, ValueError) as exc:
            log.error("journal %s: %s", self.path, exc)
        finally:
            self._writer_gone()

    def _take(self, report: pipe.Report) -> None:
        with self._cond:
            kind = report.kind
            if kind == "ready":
                self._ready_report = self._report = report
                self._ready = True
            elif kind == "refused":
                self._refused = report
            elif kind == "log":
                log.log(report.level, "%s", report.message)
            else:
                self._report = report
                if kind == "acked":
                    self._acked, self._ack_error = report.ticket, report.error
                elif kind == "flushed":
                    self._flushed, self._flush_error = report.ticket, report.error
                elif kind == "closed":
                    self._closed_report = report
            self._cond.notify_all()

    def _writer_gone(self) -> None:
        code: int | None = None
        if not self._closing:
            # Its pipe ends a moment before the kernel reports its exit: wait for that, briefly.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(1.0)
        with self._cond:
            self._gone = True
            if self._ready and self._closed_report is None and not self._closing:
                self._failure = f"journal {self.path}: the writer process stopped" + (
                    "" if code is None else f" (exit code {code})"
                )
                self._failed_at = datetime.now(KST)
                log.error("%s; events are not being journaled", self._failure)
            self._cond.notify_all()

    # ----------------------------------------------------------------- reading

    def rebuild(self, costs: CostSchedule | None = None, *, use_checkpoints: bool = True) -> Book:
        """The book after every committed event: the latest checkpoint plus the events after it.

        :attr:`last_rebuild` says where it started and how many events it read.
        """
        self._drain()
        book, self.last_rebuild = rebuild_book(self.path, costs, use_checkpoints=use_checkpoints)
        return book


AnyJournal = Journal | ProcessJournal
"""A journal with its writer in this process or in its own."""
