"""What every command shares: the user's-error type, settings from arguments, the session, and
printing a book."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

from jango import config
from jango.brokers.port import BrokerError
from jango.brokers.registry import BROKERS, UnknownBroker
from jango.build import build_session, session_name
from jango.config import ConfigError, argument, load_settings
from jango.domain.book import Book
from jango.domain.model import DomainError
from jango.engine import Session, Status
from jango.journal.schema import JournalError
from jango.service import ServiceError
from jango.views.report import book_report, book_table

if TYPE_CHECKING:
    from jango.client import Client

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Something the user asked for that cannot be done; printed as one line."""


# The errors a user can cause; main() prints each as one line and exits 2.
USER_ERRORS = (
    UserError,
    ConfigError,
    UnknownBroker,
    DomainError,
    BrokerError,
    JournalError,
    ServiceError,
    OSError,
)


def one_line(exc: BaseException) -> str:
    """An error as the one line ``main`` prints."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Argument types: the checks of jango.config, so an argument and a setting mean the same.
SEED = argument(config.SEED, int)
PROFILE = argument(config.PROFILE, str)
SECONDS = argument(config.SECONDS, float)
QUANTITY = argument(config.QUANTITY, int)
PRICE = argument(config.PRICE, int)
DAY = argument(config.DAY, date.fromisoformat)
PORT = argument(config.PORT, int)


def session_arguments(p: argparse.ArgumentParser) -> None:
    """The options of every command that builds (or attaches to) a session."""
    p.add_argument("--broker", choices=BROKERS, help="adapter (default: sim)")
    p.add_argument("--seed", type=SEED, help="seed of the simulated market")
    p.add_argument("--lang", choices=("ko", "en"), help="labels (default: ko)")
    p.add_argument("--pnl", choices=("gross", "net"), help="P&L style: KIS gross or Kiwoom net")
    p.add_argument("--no-demo", action="store_true", help="sim: no demo trader")
    p.add_argument(
        "--profile", type=PROFILE, help="journal profile (default: the broker; sim: none)"
    )


def check_port_free(host: str, port: int) -> None:
    """Refuse a port that is taken (or a host that cannot be bound) before any work starts."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            # As servers bind: a port in TIME_WAIT is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UserError(f"cannot listen on {host}:{port}: {reason}") from None


def writable_file(path: Path, what: str) -> None:
    """Refuse an output file whose folder is missing or which is a folder itself."""
    folder = path.parent
    if path.is_dir():
        raise UserError(f"cannot write {what} {path}: it is a folder")
    if not folder.is_dir():
        raise UserError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {what} {path}: folder {folder} is not writable")


def settings_of(args: argparse.Namespace) -> dict[str, str]:
    """The settings file and environment, overridden by the command's arguments."""
    settings = load_settings(args.config)
    for name in ("broker", "seed", "lang", "pnl", "profile"):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = str(value)
    settings.setdefault("broker", "sim")
    if getattr(args, "no_demo", False):
        settings["sim.demo"] = "false"
    return settings


def session_of(settings: dict[str, str], **session_options: Any) -> Session:
    """The session the settings describe (see :func:`jango.build.build_session`)."""
    return build_session(settings, **session_options)


def console() -> Console:
    """A console for static tables: wide enough for every column when output is piped."""
    out = Console()
    return out if out.is_terminal else Console(width=200)


def print_book(book: Book, fmt: str, lang: str, out: Console, status: Status | None = None) -> None:
    """The book as a table, JSON or CSV on standard output."""
    if fmt == "json":
        report = book_report(book, status=status)
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        from jango.views.export import write_csv

        write_csv(book, sys.stdout, lang=lang, bom=False)
    else:
        out.print(book_table(book, lang=lang, status=status))


def attached(settings: dict[str, str]) -> Client | None:
    """A client of the session already running under these settings' name (see
    :mod:`jango.service`), or ``None`` when the command must start its own."""
    from jango.client import find

    client, note = find(session_name(settings))
    if note:
        print(f"jango: {note}", file=sys.stderr)
    return client


def host_service(session: Session, settings: dict[str, str], command: str) -> Callable[[], None]:
    """Make ``session`` the running session of its profile: its socket is claimed now, so a
    second session of the same profile is refused before it opens a broker session. Returns
    the release, for a command that ends without starting the session."""
    from jango.service import host

    lang = settings.get("lang", "ko")
    note, release = host(session, session_name(settings), command=command, lang=lang)
    if note:
        print(f"jango: {note}", file=sys.stderr)
    return release
