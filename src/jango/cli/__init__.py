"""The ``jango`` command.

Errors a user can cause (a bad argument or setting, bad code, bad price, unknown broker, no such
order, a file or folder that cannot be used, a port in use) print one line naming what was wrong
and what is allowed, and exit 2; tracebacks are for bugs only. Arguments are checked by the
parser with the same checks as settings (:mod:`jango.config`); files, folders and ports are
checked before any work starts; :func:`main` is the one place that turns a user's error into
exit 2.

One module per command family: :mod:`~jango.cli.book` (run, balance, export, replay),
:mod:`~jango.cli.trade` (order, amend, cancel), :mod:`~jango.cli.serve` (the web page),
:mod:`~jango.cli.sandbox`, :mod:`~jango.cli.status` (what runs), :mod:`jango.journal.cli`
(journal, why) and :mod:`jango.desk.cli` (agent, hub). Every command that needs a session
builds it with :func:`jango.build.build_session`, as :func:`jango.open_session` does; while
``jango run`` or ``jango serve`` hosts the session of a profile (:mod:`jango.service`), the
others attach to it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from jango.cli.common import EXIT_USER_ERROR, USER_ERRORS, Parser, UserError, one_line

log = logging.getLogger(__name__)

__all__ = ["EXIT_USER_ERROR", "UserError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``jango`` argument parser with every command registered."""
    from jango.cli import book, sandbox, serve, status, trade
    from jango.desk.cli import add_parsers as add_desk_commands
    from jango.journal.cli import add_commands as add_journal_commands

    parser = Parser(
        prog="jango", description="jango (잔고): Korean stock holdings kept true in real time."
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    # Subparsers are Parser too (argparse makes them of the parent's class): one-line errors.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True),
    )
    book.add_commands(sub)
    trade.add_commands(sub)
    sandbox.add_commands(sub)
    serve.add_commands(sub)
    status.add_commands(sub)
    add_journal_commands(sub)
    add_desk_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jango`` command; a user's error is one line on stderr and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        result: int = args.func(args)
        return result
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``); say nothing more and don't flush into the pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except USER_ERRORS as exc:
        log.info("user error", exc_info=True)  # the traceback, with --verbose only
        print(f"jango: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
