"""The ``jango`` command.

Errors a user can cause (a bad argument or setting, bad code, bad price, unknown broker, no such
order, a file or folder that cannot be used, a port in use) print one line naming what was wrong
and what is allowed, and exit 2; tracebacks are for bugs only. Arguments are checked by the
parser with the same checks as settings (:mod:`jango.config`); files, folders and ports are
checked before any work starts; :func:`main` is the one place that turns a user's error into
exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, cast

from rich.console import Console

from jango import config
from jango.brokers.port import BrokerError, OrderRequest
from jango.brokers.registry import BROKERS, UnknownBroker, create_broker
from jango.config import ConfigError, argument, load_settings, prepare_data_dir
from jango.domain import krx
from jango.domain.book import Book, OrderStatus, PnlMode
from jango.domain.costs import CostSchedule
from jango.domain.model import (
    Code,
    Condition,
    Credit,
    DomainError,
    Market,
    OrderType,
    Side,
    parse_code,
)
from jango.engine import Session, Status
from jango.journal.export import replay_lines
from jango.journal.schema import JournalError
from jango.journal.settings import JournalOptions, journaling_enabled
from jango.recorded import bounded_lines
from jango.supervisor import Backoff
from jango.views.report import book_report, book_table

EXIT_USER_ERROR = 2

log = logging.getLogger(__name__)


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
    OSError,
)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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


def _writable_file(path: Path, what: str) -> None:
    """Refuse an output file whose folder is missing or which is a folder itself."""
    folder = path.parent
    if path.is_dir():
        raise UserError(f"cannot write {what} {path}: it is a folder")
    if not folder.is_dir():
        raise UserError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {what} {path}: folder {folder} is not writable")


def _costs(settings: dict[str, str]) -> CostSchedule:
    # The values were checked when loaded (jango.config); this catches combinations.
    try:
        return CostSchedule.from_config(
            commission_percent=settings.get("commission_percent", "0.015"),
            commission_unit=int(settings.get("commission_unit", "10")),
            tax_unit=int(settings.get("tax_unit", "1")),
            # The sim lends the same share (the venue's loan_percent), so its cash agrees.
            margin_loan_percent=settings.get("margin_loan_percent", "60"),
        )
    except (DomainError, ValueError) as exc:
        raise UserError(f"bad cost settings: {exc}") from exc


def _settings(args: argparse.Namespace) -> dict[str, str]:
    settings = load_settings(args.config)
    for name in ("broker", "seed", "lang", "pnl", "profile"):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = str(value)
    settings.setdefault("broker", "sim")
    if getattr(args, "no_demo", False):
        settings["sim.demo"] = "false"
    return settings


def _session(settings: dict[str, str], **kw: Any) -> Session:
    """A session on the configured broker, journaled when a profile is in force.

    Real brokers journal by default (profile = broker name): a restart rebuilds the book and
    reconciles it with the broker. The sim's market starts afresh every run, so it journals
    only when asked (``--profile``); ``journal = false`` turns journaling off.
    """
    kw.setdefault("restart", Backoff.from_settings(settings))
    broker = create_broker(settings["broker"], settings)
    mode = PnlMode(settings.get("pnl", "gross"))
    costs = _costs(settings)
    profile = settings.get("profile") or ("" if settings["broker"] == "sim" else settings["broker"])
    if not profile or not journaling_enabled(settings):
        return Session(broker, book=Book(costs, pnl_mode=mode), **kw)
    from jango.journal import default_path
    from jango.journal.restart import open_session_with_journal

    prepare_data_dir()
    path = default_path(config.check("profile", profile))
    if path.exists() and not path.is_file():
        raise UserError(f"journal {path} is not a file")
    journal = JournalOptions.from_settings(settings).open(path, costs=costs)
    session = open_session_with_journal(broker, journal, costs=costs, **kw)
    session.book.pnl_mode = mode
    session.add_closer(journal.close)
    return session


def _console() -> Console:
    """A console for static tables: wide enough for every column when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _print_book(
    book: Book, fmt: str, lang: str, out: Console, status: Status | None = None
) -> None:
    if fmt == "json":
        report = book_report(book, status=status)
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        from jango.views.export import write_csv

        write_csv(book, sys.stdout, lang=lang, bom=False)
    else:
        out.print(book_table(book, lang=lang, status=status))


# --------------------------------------------------------------------- commands


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise UserError(f"cannot read {path}: it is a folder, not a recording")
    settings = _settings(args)
    book = Book(_costs(settings), pnl_mode=PnlMode(args.pnl or settings.get("pnl", "gross")))
    bad = 0
    try:
        with path.open("rb") as stream:
            for number, error in replay_lines(book, bounded_lines(stream)):
                bad += 1
                print(f"{path}:{number}: {error}", file=sys.stderr)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    _print_book(book, args.format, args.lang or settings.get("lang", "ko"), _console())
    if bad:
        print(f"{path}: {bad} bad line(s) skipped", file=sys.stderr)
    return 1 if bad else 0


async def _run_headless(settings: dict[str, str], seconds: float, fmt: str, lang: str) -> int:
    session = _session(settings)
    async with session:
        await asyncio.sleep(seconds)
    _print_book(session.book, fmt, lang, _console(), session.status)
    # A task given up during the run (logged as it happened): the book may be stale.
    return 1 if session.failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    lang = settings.get("lang", "ko")
    if args.seconds is not None and args.format != "live":
        return asyncio.run(_run_headless(settings, args.seconds, args.format, lang))
    from jango.views.terminal import run_terminal

    return run_terminal(_session(settings), lang=lang, seconds=args.seconds)


def cmd_balance(args: argparse.Namespace) -> int:
    settings = _settings(args)
    lang = settings.get("lang", "ko")

    async def once() -> Book:
        session = _session(settings)
        async with session:
            return session.book

    _print_book(asyncio.run(once()), args.format, lang, _console())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from jango.views.export import export_book

    path = Path(args.file)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise UserError(f"cannot export to {path.name}: use a .xlsx or .csv file name")
    _writable_file(path, "export")
    settings = _settings(args)

    async def once() -> Book:
        session = _session(settings)
        async with session:
            await asyncio.sleep(args.seconds)
            return session.book

    export_book(asyncio.run(once()), path, lang=settings.get("lang", "ko"))
    print(f"exported {path}")
    return 0


async def _trade(
    settings: dict[str, str], act: Callable[[Session], Awaitable[str]], wait: float
) -> int:
    session = _session(settings)
    async with session:
        order_no = await act(session)
        print(f"order {order_no} sent")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = 0
        while loop.time() < deadline:
            notices = list(session.notices)
            for n in notices[seen:]:
                if order_no in (n.order_no, n.orig_order_no):
                    print(
                        f"{n.kind.value:<9} {n.action.value:<6} {n.side.value:<4} {n.code} "
                        f"order={n.order_no} qty={n.qty:,} price={n.price:,}"
                    )
            seen = len(notices)
            order = session.book.orders.get(order_no)
            if order is not None and order.status is not OrderStatus.OPEN:
                break
            await asyncio.sleep(0.05)
    order = session.book.orders.get(order_no)
    if order is not None and order.status is OrderStatus.REJECTED:
        raise UserError(f"order {order_no} was rejected by the exchange")
    return 0


async def _check_price(session: Session, code: Code, price: int) -> None:
    """Refuse a limit price off the tick grid or outside the day's limits before sending it."""
    quote = await session.broker.quote(code)
    market = quote.market if quote.market is not Market.UNKNOWN else Market.KOSPI
    if not krx.is_valid_price(price, market):
        tick = krx.tick_size(price, market)
        raise UserError(f"price {price:,} is not on the tick grid for {code} (tick {tick:,} won)")
    if quote.upper and not quote.lower <= price <= quote.upper:
        raise UserError(
            f"price {price:,} is outside today's limits for {code}: "
            f"{quote.lower:,} – {quote.upper:,}"
        )


def _account(session: Session, given: str | None) -> str:
    if given:
        if given not in session.accounts:
            raise UserError(f"no such account {given}")
        return given
    return session.accounts[0]


def cmd_order(args: argparse.Namespace) -> int:
    try:
        code = parse_code(args.code)
    except DomainError as exc:
        raise UserError(str(exc)) from exc
    order_type = OrderType(args.type)
    if args.price is None and order_type is OrderType.LIMIT:
        order_type = OrderType.MARKET
    loan: date | None = args.loan_date
    if loan is not None and args.credit == Credit.CASH.value:
        raise UserError("--loan-date is for credit rows; a cash order has none (see --credit)")

    async def act(session: Session) -> str:
        if args.price is not None:
            await _check_price(session, code, args.price)
        ack = await session.place(
            OrderRequest(
                account=_account(session, args.account),
                side=Side(args.side),
                code=code,
                qty=args.qty,
                price=args.price or 0,
                order_type=order_type,
                condition=Condition(args.condition),
                credit=Credit(args.credit),
                loan_date=loan,
            )
        )
        return ack.order_no

    return asyncio.run(_trade(_settings(args), act, args.wait))


def cmd_amend(args: argparse.Namespace) -> int:
    async def act(session: Session) -> str:
        account = _account(session, args.account)
        ack = await session.amend(account, args.order_no, price=args.price, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(_settings(args), act, args.wait))


def cmd_cancel(args: argparse.Namespace) -> int:
    async def act(session: Session) -> str:
        ack = await session.cancel(_account(session, args.account), args.order_no, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(_settings(args), act, args.wait))


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.which == "kis":
        from jango.sandbox.kis.command import main as kis_main

        return kis_main(args.rest, parser_class=_Parser)
    from jango.sandbox.cybos_run import main as cybos_main

    return cybos_main(args.rest, parser_class=_Parser)


# --------------------------------------------------------------------- parser

# Argument types: the checks of jango.config, so an argument and a setting mean the same.
SEED = argument(config.SEED, int)
PROFILE = argument(config.PROFILE, str)
SECONDS = argument(config.SECONDS, float)
QUANTITY = argument(config.QUANTITY, int)
PRICE = argument(config.PRICE, int)
DAY = argument(config.DAY, date.fromisoformat)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jango", description="jango (잔고): Korean stock holdings kept true in real time."
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    # Subparsers are _Parser too (argparse makes them of the parent's class): one-line errors.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True),
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--broker", choices=BROKERS, help="adapter (default: sim)")
        p.add_argument("--seed", type=SEED, help="seed of the simulated market")
        p.add_argument("--lang", choices=("ko", "en"), help="labels (default: ko)")
        p.add_argument("--pnl", choices=("gross", "net"), help="P&L style: KIS gross or Kiwoom net")
        p.add_argument("--no-demo", action="store_true", help="sim: no demo trader")
        p.add_argument(
            "--profile", type=PROFILE, help="journal profile (default: the broker; sim: none)"
        )

    p = sub.add_parser("replay", help="apply a recorded event file to an empty book")
    p.add_argument("file")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--lang", choices=("ko", "en"))
    p.add_argument("--pnl", choices=("gross", "net"))
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("run", help="the live balance (the main job)")
    common(p)
    p.add_argument("--seconds", type=SECONDS, help="stop after this many seconds")
    p.add_argument("--format", choices=("live", "json", "table", "csv"), default="live")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("balance", help="one snapshot with current prices")
    common(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser("export", help="write the live book to .xlsx or .csv")
    common(p)
    p.add_argument("file")
    p.add_argument("--seconds", type=SECONDS, default=0.0, help="let it run this long first")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("order", help="place an order")
    common(p)
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("code")
    p.add_argument("qty", type=QUANTITY)
    p.add_argument("--price", type=PRICE, help="limit price (omit for a market order)")
    p.add_argument("--type", choices=[t.value for t in OrderType], default="limit")
    p.add_argument("--condition", choices=[c.value for c in Condition], default="none")
    p.add_argument("--credit", choices=[c.value for c in Credit], default="cash")
    p.add_argument("--loan-date", type=DAY, help="loan date (YYYY-MM-DD) of the credit row to sell")
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0, help="seconds to show notices")
    p.set_defaults(func=cmd_order)

    p = sub.add_parser("amend", help="amend an open order")
    common(p)
    p.add_argument("order_no")
    p.add_argument("--price", type=PRICE, required=True)
    p.add_argument("--qty", type=QUANTITY)
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0)
    p.set_defaults(func=cmd_amend)

    p = sub.add_parser("cancel", help="cancel an open order")
    common(p)
    p.add_argument("order_no")
    p.add_argument("--qty", type=QUANTITY)
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("sandbox", help="run a protocol-faithful broker sandbox")
    p.add_argument("which", choices=("kis", "cybos"))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that sandbox")
    p.set_defaults(func=cmd_sandbox)

    from jango.journal.cli import add_commands as add_journal_commands
    from jango.views.web.cli import add_commands as add_web_commands

    add_web_commands(sub)
    add_journal_commands(sub)
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
        print(f"jango: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: commands in other modules raise
    # jango.cli.UserError, which this copy's own UserError class would not catch.
    from jango.cli import main as _main

    sys.exit(_main())
