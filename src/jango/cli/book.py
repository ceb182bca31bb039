"""``jango run``, ``balance``, ``export`` and ``replay``: the book, live or once."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from jango.build import costs_from_settings
from jango.cli.common import (
    SECONDS,
    UserError,
    attached,
    console,
    host_service,
    one_line,
    print_book,
    session_arguments,
    session_of,
    settings_of,
    writable_file,
)
from jango.domain.book import Book, PnlMode
from jango.journal.export import replay_lines
from jango.journal.schema import JournalError
from jango.recorded import bounded_lines


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise UserError(f"cannot read {path}: it is a folder, not a recording")
    settings = settings_of(args)
    mode = PnlMode(args.pnl or settings.get("pnl", "gross"))
    book = Book(costs_from_settings(settings), pnl_mode=mode)
    bad = 0
    try:
        with path.open("rb") as stream:
            for number, error in replay_lines(book, bounded_lines(stream)):
                bad += 1
                print(f"{path}:{number}: {error}", file=sys.stderr)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    print_book(book, args.format, args.lang or settings.get("lang", "ko"), console())
    if bad:
        print(f"{path}: {bad} bad line(s) skipped", file=sys.stderr)
    return 1 if bad else 0


async def _run_headless(settings: dict[str, str], seconds: float, fmt: str, lang: str) -> int:
    session = session_of(settings)
    release = host_service(session, settings, "run")
    # SIGTERM (a service manager, `kill`) ends the run as Ctrl-C does: the session stops, the
    # journal closes cleanly and the socket is removed.
    done = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    closing: JournalError | None = None
    try:
        async with session:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), seconds)
    except JournalError as exc:
        # The journal failed (said in the log and the status as it happened); the book in
        # memory is still the run's result, so it is shown, and the run ends non-zero.
        closing = exc
    finally:
        release()
    print_book(session.book, fmt, lang, console(), session.status)
    if closing is not None:
        print(f"jango: error: {one_line(closing)}", file=sys.stderr)
        return 1
    # A task given up during the run (logged as it happened): the book may be stale.
    return 1 if session.failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    lang = settings.get("lang", "ko")
    if args.seconds is not None and args.format != "live":
        return asyncio.run(_run_headless(settings, args.seconds, args.format, lang))
    from jango.views.terminal import run_terminal

    session = session_of(settings)
    release = host_service(session, settings, "run")
    try:
        return run_terminal(session, lang=lang, seconds=args.seconds)
    finally:
        release()  # also when the view ended before the session started


def cmd_balance(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    lang = settings.get("lang", "ko")
    client = attached(settings)
    if client is not None:
        with client:
            sys.stdout.write(client.report(args.format, lang))
        return 0

    async def once() -> Book:
        session = session_of(settings)
        async with session:
            return session.book

    print_book(asyncio.run(once()), args.format, lang, console())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from jango.views.export import export_book

    path = Path(args.file)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise UserError(f"cannot export to {path.name}: use a .xlsx or .csv file name")
    writable_file(path, "export")
    settings = settings_of(args)
    client = attached(settings)
    if client is not None:
        with client:
            # The running session's book as it is now; --seconds only ever let a fresh one run.
            path.write_bytes(client.export(path.suffix.lower()[1:], settings.get("lang", "ko")))
        print(f"exported {path}")
        return 0

    async def once() -> Book:
        session = session_of(settings)
        async with session:
            await asyncio.sleep(args.seconds)
            return session.book

    export_book(asyncio.run(once()), path, lang=settings.get("lang", "ko"))
    print(f"exported {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``replay``, ``run``, ``balance`` and ``export``."""
    p = sub.add_parser("replay", help="apply a recorded event file to an empty book")
    p.add_argument("file")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--lang", choices=("ko", "en"))
    p.add_argument("--pnl", choices=("gross", "net"))
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("run", help="the live balance (the main job)")
    session_arguments(p)
    p.add_argument("--seconds", type=SECONDS, help="stop after this many seconds")
    p.add_argument("--format", choices=("live", "json", "table", "csv"), default="live")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("balance", help="one snapshot with current prices")
    session_arguments(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser("export", help="write the live book to .xlsx or .csv")
    session_arguments(p)
    p.add_argument("file")
    p.add_argument("--seconds", type=SECONDS, default=0.0, help="let it run this long first")
    p.set_defaults(func=cmd_export)
