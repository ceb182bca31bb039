"""The journal writer process: ``python -m jango.journal.writer``, started by its session.

It reads :mod:`jango.journal.pipe` frames on stdin and records them into a
:class:`~jango.journal.store.Journal` of its own (whose thread does the group commits, the shadow
book and the checkpoints), and reports on stdout. So the session's event loop pays only for
encoding what it hands over, and the writing runs on another core without the session's GIL.

**It outlives a killed session on purpose:** at the end of stdin, however it came (a clean close
or the session killed), it writes what it was sent and closes the journal cleanly. It holds the
journal's lock (:mod:`jango.journal.lock`) until then, so a restarted session waits for it. It
runs in its own session (process group), so a Ctrl-C meant for the session does not cut it
short; and SIGINT is ignored in case it is sent to it alone.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import logging.handlers
import os
import pickle
import signal
import sys
import threading

from jango.domain.model import Event
from jango.journal import lock, pipe
from jango.journal.store import Journal, JournalHealth, event_row
from jango.recorded import RecordError, parse_line

log = logging.getLogger("jango.journal")

# How often the writer tells the session how the journal is, when nothing else prompts it.
_STATUS_EVERY_S = 0.005


class _Reporter:
    """Sends reports to the session; one thread at a time (the main one and the ticker)."""

    def __init__(self, journal: Journal, fd: int) -> None:
        self.journal, self.fd = journal, fd
        self.received = 0
        self.parent_gone = False
        self._lock = threading.Lock()
        self._last: tuple[object, ...] = ()

    def send(
        self,
        kind: str,
        *,
        ticket: int = 0,
        error: str | None = None,
        warnings: list[str] | None = None,
        rebuild: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        health = self.journal.health
        self.send_report(
            pipe.Report(
                kind,
                ticket=ticket,
                received=self.received,
                state=health.state,
                message=health.message,
                backlog=health.backlog,
                committed=health.committed_seq,
                shed=health.shed_ticks,
                lost=health.lost,
                since=health.since,
                error=error,
                warnings=warnings or [],
                rebuild=rebuild,
            ),
            health,
        )

    def send_report(self, report: pipe.Report, health: JournalHealth | None = None) -> None:
        with self._lock:
            if health is not None:
                self._last = _key(health, self.received)
            if self.parent_gone:
                return
            try:
                pipe.write_all(self.fd, pipe.frame(pipe.encode(report)))
            except OSError:
                # The session is gone (killed): write what it sent all the same.
                self.parent_gone = True

    def send_if_changed(self) -> None:
        if _key(self.journal.health, self.received) != self._last:
            self.send("status")


class _Relay(logging.Handler):
    """Sends the writer's log lines to the session, which logs them as its own; so a disk
    fault is in the session's log and views, not only on the writer's stderr."""

    def __init__(self, reporter: _Reporter) -> None:
        super().__init__()
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if self.reporter.parent_gone:
            sys.stderr.write(f"jango journal writer[{os.getpid()}] {record.getMessage()}\n")
            return
        self.reporter.send_report(
            pipe.Report("log", level=record.levelno, message=record.getMessage())
        )


def _key(health: JournalHealth, received: int) -> tuple[object, ...]:
    return (health.state, health.message, health.backlog, health.committed_seq, received)


def _record(journal: Journal, item: pipe.Item) -> int:
    """Record one item; the number of rows it carried."""
    if isinstance(item, pipe.Burst | pipe.SameTimeBurst):
        ticks = item.tick_objects()
        journal.record_ticks(ticks, raws=item.raws, source=item.source, at=item.at)
        return len(ticks)
    if isinstance(item, pipe.Notice):
        notice = item.notice
        journal.record_row(
            event_row(notice, item.raw, item.source, item.at, item.reflected), notice
        )
        return 1
    assert isinstance(item, pipe.Row)
    event: Event | None = None
    if item.kind in ("snapshot", "notice"):
        try:
            event = parse_line(item.body)
        except RecordError:
            event = None  # written as it came; the rebuild reports it unreadable
    row = (
        None, item.kind, item.at, item.source, item.account, item.code, item.order_no,
        item.body, item.raw, item.reflected,
    )  # fmt: skip
    journal.record_row(row, event)
    return 1


def _open(options: pipe.Options) -> Journal:
    costs = pickle.loads(options.costs) if options.costs is not None else None
    return Journal(
        options.path,
        durability=options.durability,  # type: ignore[arg-type]
        window_ms=options.window_ms,
        flush_ms=options.flush_ms,
        ticks=options.ticks,  # type: ignore[arg-type]
        max_queue=options.max_queue,
        checkpoint_every=options.checkpoint_every,
        max_bytes=options.max_bytes,
        lock_fd=options.lock_fd,
        shares_loop=False,
        costs=costs,
    )


def serve(inp: int, out: int) -> int:
    """Open the journal the first frame describes, record every frame after it, close.

    Returns the exit status: 0 when the journal closed without a failure or loss.
    """
    frames = pipe.FrameReader(inp)
    first = frames.read()
    if first is None:
        return 0
    options = pipe.decode_options(first)
    # What opening logs (a missing WAL, an unclean last close) is held until it can be relayed.
    opening = logging.handlers.BufferingHandler(capacity=1000)
    log.addHandler(opening)
    log.propagate = False
    try:
        journal = _open(options)
    except Exception as exc:  # told to the session, which raises it there
        report = pipe.Report("refused", error_type=type(exc).__name__, message=str(exc))
        with contextlib.suppress(OSError):
            pipe.write_all(out, pipe.frame(pipe.encode(report)))
        return 1
    finally:
        log.removeHandler(opening)
    if options.lock_fd is not None:
        lock.name(options.lock_fd)
    reporter = _Reporter(journal, out)
    relay = _Relay(reporter)
    log.addHandler(relay)
    for record in opening.buffer:
        relay.handle(record)
    rebuilt = journal.last_rebuild
    reporter.send(
        "ready",
        warnings=list(journal.open_warnings),
        rebuild=(rebuilt.checkpoint_seq, rebuilt.events_read, rebuilt.unreadable),
    )
    stop = threading.Event()
    ticker = threading.Thread(target=_tick, args=(reporter, stop), daemon=True)
    ticker.start()
    every = options.durability == "every"
    items = 0
    try:
        while (payload := frames.read()) is not None:
            for item in pipe.decode_items(payload):
                if isinstance(item, pipe.Flush):
                    error = _flush(journal)
                    reporter.send("flushed", ticket=item.ticket, error=error)
                    continue
                if isinstance(item, pipe.Close):
                    return _close(journal, reporter, stop, answer=True)
                items += 1
                try:
                    reporter.received += _record(journal, item)
                except Exception as exc:  # "every" mode: the commit failed; say so, go on
                    reporter.send("acked", ticket=items, error=str(exc))
                    continue
                if every:
                    reporter.send("acked", ticket=items)
    except (pipe.PipeError, OSError) as exc:
        log.error("%s; closing the journal with what arrived", exc)
    return _close(journal, reporter, stop, answer=False)


def _flush(journal: Journal) -> str | None:
    try:
        journal.flush()
    except Exception as exc:
        return str(exc)
    return None


def _close(journal: Journal, reporter: _Reporter, stop: threading.Event, *, answer: bool) -> int:
    stop.set()
    error: str | None = None
    try:
        journal.close()
    except Exception as exc:
        error = str(exc)
        log.error("%s", exc)
    if answer:
        reporter.send("closed", error=error)
    return 0 if error is None else 1


def _tick(reporter: _Reporter, stop: threading.Event) -> None:
    """Report changes (commits, a failure, a recovery) while the main thread waits on stdin."""
    while not stop.wait(_STATUS_EVERY_S) and not reporter.parent_gone:
        reporter.send_if_changed()


def main() -> int:
    """Entry point of the writer process: stdin in, stdout out, the log on stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s jango journal writer[{os.getpid()}] %(message)s"
    )
    # Rows and ticks are acyclic and short-lived; collections over the writer's millions of
    # them would cost a third of its time for nothing.
    gc.set_threshold(200_000, 50, 100)
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    # Nothing else may write on the report pipe.
    sys.stdout = sys.stderr
    return serve(inp, out)


if __name__ == "__main__":
    sys.exit(main())
