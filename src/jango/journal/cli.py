"""``jango journal`` (list, filter, export, recover) and ``jango why CODE`` (explain a row).

Register both with :func:`add_commands`; each command is ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from jango.domain.book import Book
from jango.domain.model import KST, BalanceSnapshot, OrderNotice, parse_code
from jango.journal.export import export_lines
from jango.journal.fence import apply_journaled
from jango.journal.recover import recover
from jango.journal.schema import JournalError
from jango.journal.store import EVENT_KINDS, KINDS, Entry, default_path, read_entries


def _fail(message: str) -> int:
    print(f"jango: error: {message}", file=sys.stderr)
    return 2


def _path(args: argparse.Namespace) -> Path:
    return Path(args.path) if args.path else default_path(args.profile)


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=KST)


def _summary(e: Entry) -> str:
    flag = " (reflected in snapshot)" if e.reflected else ""
    return f"{e.seq:>8} {e.at} {e.kind:<11} {e.account} {e.code} {e.order_no} {e.body}{flag}"


def cmd_journal(args: argparse.Namespace) -> int:
    """List, export or recover the journal."""
    path = _path(args)
    try:
        if args.recover:
            report = recover(path, Path(args.recover))
            print(
                f"recovered {report.copied} rows up to seq {report.last_seq} into "
                f"{args.recover}; {report.unreadable} unreadable"
            )
            return 0
        kinds = ["error"] if args.errors else ([args.kind] if args.kind else [])
        if args.export:
            kinds = [k for k in kinds if k in EVENT_KINDS] or list(EVENT_KINDS)
        entries = read_entries(
            path,
            kinds=kinds,
            code=args.code and parse_code(args.code),
            order_no=args.order or "",
            since=_moment(args.since),
            until=_moment(args.until),
        )
        if args.export:
            count = 0
            with Path(args.export).open("w", encoding="utf-8") as out:
                for line in export_lines(entries):
                    out.write(line + "\n")
                    count += 1
            count -= 1  # the header
            print(f"wrote {count} events to {args.export}")
            return 0
        for e in entries:
            print(_summary(e))
    except (JournalError, ValueError, OSError) as exc:
        return _fail(str(exc))
    return 0


def cmd_why(args: argparse.Namespace) -> int:
    """Explain a code's rows step by step: quantity, purchase amount and realized P&L."""
    try:
        code = parse_code(args.code)
        entries = [
            e
            for e in read_entries(_path(args), kinds=("snapshot", "notice", "discrepancy"))
            if e.kind == "snapshot" or e.code == code
        ]
    except (JournalError, ValueError) as exc:
        return _fail(str(exc))
    book = Book()
    print(f"{'seq':>8} {'what':<40} {'qty':>8} {'purchase':>14} {'realized':>12}")
    for e in entries:
        if e.kind == "discrepancy":
            print(f"{e.seq:>8}   ! {json.loads(e.body)['reason']}: {e.body}")
            continue
        event = e.event()
        realized = {a: acc.totals.realized_gross for a, acc in book.accounts.items()}
        apply_journaled(book, e.seq, event, reflected=e.reflected)
        if isinstance(event, BalanceSnapshot):
            if not any(r.code == code for r in event.rows) and not any(
                r.key.code == code for r in book.rows(event.account)
            ):
                continue
            what = f"snapshot {event.account}"
            account = event.account
        else:
            assert isinstance(event, OrderNotice)
            what = (
                f"{event.kind.value} {event.side.value} {event.qty}@{event.price} #{event.order_no}"
            )
            account = event.account
        rows = [r for r in book.rows(account) if r.key.code == code]
        qty = sum(r.qty for r in rows)
        amount = sum(r.purchase_amount for r in rows)
        gained = book.accounts[account].totals.realized_gross - realized.get(account, 0)
        print(f"{e.seq:>8} {what:<40} {qty:>8,} {amount:>14,} {gained:>+12,}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``jango journal`` and ``jango why``."""

    def where(p: argparse.ArgumentParser) -> None:
        p.add_argument("--path", help="journal file (default: data dir/<profile>.journal.sqlite)")
        p.add_argument("--profile", default="default", help="profile name (default: default)")

    p = subparsers.add_parser("journal", help="list, export or recover the event journal")
    where(p)
    p.add_argument("--code", help="only this stock code")
    p.add_argument("--order", help="only this order number (and amends/cancels of it)")
    p.add_argument("--since", help="arrival time from (ISO, KST if no offset)")
    p.add_argument("--until", help="arrival time until (ISO, KST if no offset)")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--errors", action="store_true", help="only frames that could not be decoded")
    p.add_argument("--export", metavar="FILE.jsonl", help="write events for `jango replay`")
    p.add_argument("--recover", metavar="OUT.sqlite", help="copy readable rows to a new file")
    p.set_defaults(func=cmd_journal)

    p = subparsers.add_parser("why", help="explain a holding row from the journal")
    where(p)
    p.add_argument("code")
    p.set_defaults(func=cmd_why)
