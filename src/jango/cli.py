"""The ``jango`` command.

Errors a user can cause (bad code, bad price, unknown broker, no such order, bad file) print one
clear line and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from jango.brokers.port import BrokerError, OrderRequest
from jango.brokers.registry import BROKERS, UnknownBroker, create_broker
from jango.config import ConfigError, load_settings
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
from jango.engine import Session
from jango.journal.export import replay_lines
from jango.views.report import book_report, book_table

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Something the user asked for that cannot be done; printed as one line."""


def _costs(settings: dict[str, str]) -> CostSchedule:
    try:
        return CostSchedule.from_config(
            commission_percent=settings.get("commission_percent", "0.015"),
            commission_unit=int(settings.get("commission_unit", "10")),
            tax_unit=int(settings.get("tax_unit", "1")),
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
    broker = create_broker(settings["broker"], settings)
    mode = PnlMode(settings.get("pnl", "gross"))
    costs = _costs(settings)
    profile = settings.get("profile") or ("" if settings["broker"] == "sim" else settings["broker"])
    if not profile or settings.get("journal", "true") == "false":
        return Session(broker, book=Book(costs, pnl_mode=mode), **kw)
    from jango.journal import Journal, default_path
    from jango.journal.restart import open_session_with_journal

    journal = Journal(default_path(profile), costs=costs)
    session = open_session_with_journal(broker, journal, costs=costs, **kw)
    session.book.pnl_mode = mode
    session.add_closer(journal.close)
    return session


def _console() -> Console:
    """A console for static tables: wide enough for every column when output is piped."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _print_book(book: Book, fmt: str, lang: str, out: Console) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(book_report(book), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        from jango.views.export import write_csv

        write_csv(book, sys.stdout, lang=lang, bom=False)
    else:
        out.print(book_table(book, lang=lang))


# --------------------------------------------------------------------- commands


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    settings = _settings(args)
    book = Book(_costs(settings), pnl_mode=PnlMode(args.pnl or settings.get("pnl", "gross")))
    bad = 0
    for number, error in replay_lines(book, lines):
        bad += 1
        print(f"{path}:{number}: {error}", file=sys.stderr)
    _print_book(book, args.format, args.lang or settings.get("lang", "ko"), _console())
    if bad:
        print(f"{path}: {bad} bad line(s) skipped", file=sys.stderr)
    return 1 if bad else 0


async def _run_headless(settings: dict[str, str], seconds: float, fmt: str, lang: str) -> int:
    session = _session(settings)
    async with session:
        await asyncio.sleep(seconds)
    _print_book(session.book, fmt, lang, _console())
    return 0


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

    settings = _settings(args)

    async def once() -> Book:
        session = _session(settings)
        async with session:
            await asyncio.sleep(args.seconds)
            return session.book

    path = Path(args.file)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise UserError(f"cannot export to {path.name}: use a .xlsx or .csv file name")
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
    if args.qty <= 0:
        raise UserError("quantity must be positive")
    order_type = OrderType(args.type)
    if args.price is None and order_type is OrderType.LIMIT:
        order_type = OrderType.MARKET
    loan = date.fromisoformat(args.loan_date) if args.loan_date else None

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
        from jango.sandbox.kis_server import main as kis_main

        return kis_main(args.rest)
    from jango.sandbox.cybos_run import main as cybos_main

    return cybos_main(args.rest)


# --------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jango", description="jango (잔고): Korean stock holdings kept true in real time."
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--broker", choices=BROKERS, help="adapter (default: sim)")
        p.add_argument("--seed", type=int, help="seed of the simulated market")
        p.add_argument("--lang", choices=("ko", "en"), help="labels (default: ko)")
        p.add_argument("--pnl", choices=("gross", "net"), help="P&L style: KIS gross or Kiwoom net")
        p.add_argument("--no-demo", action="store_true", help="sim: no demo trader")
        p.add_argument("--profile", help="journal profile (default: the broker; sim: none)")

    p = sub.add_parser("replay", help="apply a recorded event file to an empty book")
    p.add_argument("file")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--lang", choices=("ko", "en"))
    p.add_argument("--pnl", choices=("gross", "net"))
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("run", help="the live balance (the main job)")
    common(p)
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--format", choices=("live", "json", "table", "csv"), default="live")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("balance", help="one snapshot with current prices")
    common(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser("export", help="write the live book to .xlsx or .csv")
    common(p)
    p.add_argument("file")
    p.add_argument("--seconds", type=float, default=0.0, help="let it run this long first")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("order", help="place an order")
    common(p)
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("code")
    p.add_argument("qty", type=int)
    p.add_argument("--price", type=int, help="limit price (omit for a market order)")
    p.add_argument("--type", choices=[t.value for t in OrderType], default="limit")
    p.add_argument("--condition", choices=[c.value for c in Condition], default="none")
    p.add_argument("--credit", choices=[c.value for c in Credit], default="cash")
    p.add_argument("--loan-date", help="loan date (YYYY-MM-DD) of the credit row to sell")
    p.add_argument("--account")
    p.add_argument("--wait", type=float, default=3.0, help="seconds to show notices")
    p.set_defaults(func=cmd_order)

    p = sub.add_parser("amend", help="amend an open order")
    common(p)
    p.add_argument("order_no")
    p.add_argument("--price", type=int, required=True)
    p.add_argument("--qty", type=int)
    p.add_argument("--account")
    p.add_argument("--wait", type=float, default=3.0)
    p.set_defaults(func=cmd_amend)

    p = sub.add_parser("cancel", help="cancel an open order")
    common(p)
    p.add_argument("order_no")
    p.add_argument("--qty", type=int)
    p.add_argument("--account")
    p.add_argument("--wait", type=float, default=3.0)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        result: int = args.func(args)
        return result
    except (UserError, ConfigError, UnknownBroker, DomainError, BrokerError) as exc:
        print(f"jango: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``); say nothing more and don't flush into the pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
