"""Disconnect and reconnect while orders fill: the reconciled book equals the venue's truth, the
differences are journaled, and notices the snapshot already holds are not applied twice."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from jango.brokers.port import BrokerLimits
from jango.brokers.sim.broker import SimBroker
from jango.brokers.sim.demo import DemoTrader
from jango.domain.book import Book
from jango.domain.model import BalanceSnapshot, NoticeKind, OrderNotice, Side
from jango.engine import Session
from jango.journal import Journal, read_entries
from jango.journal.restart import open_session_with_journal
from jango.sandbox.venue import Venue
from tests.journal.flaky import FlakyLink

LIMITS = BrokerLimits(200, 50, 10_000, 10_000, 1.0, 50)


def truth(snap: BalanceSnapshot) -> tuple[object, ...]:
    rows = {r.key: (r.qty, r.sellable, r.purchase_amount) for r in snap.rows}
    return rows, snap.cash.deposit, snap.cash.d2


def book_view(book: Book, account: str) -> tuple[object, ...]:
    acc = book.accounts[account]
    rows = {r.key: (r.qty, r.sellable, r.purchase_amount) for r in book.rows(account)}
    return rows, acc.deposit, acc.d2


def late_notices(*, post_values: bool) -> tuple[Book, Book, BalanceSnapshot, list[OrderNotice]]:
    """A book synced to a venue, a second snapshot taken after fills the book never saw, and the
    notices of those fills (delivered late, after that snapshot)."""
    venue = Venue(seed=5)
    venue.open_demo_account()
    account = venue.accounts()[0]
    book = Book()
    book.apply_snapshot(venue.balance(account))
    late: list[OrderNotice] = []
    venue.add_notice_listener(late.append)
    held = venue.balance(account).rows[0]
    venue.place(account, Side.SELL, held.code, held.sellable // 2, venue.quote(held.code).lower)
    code = venue.instruments()[3].code
    venue.place(account, Side.BUY, code, 5, venue.quote(code).upper)
    while sum(n.kind is NoticeKind.FILLED for n in late) < 2:
        venue.step()
    if not post_values:
        late = [
            dataclasses.replace(n, post_qty=None, post_sellable=None, post_book_price=None)
            for n in late
        ]
    return book, Book(), venue.balance(account), late


@pytest.mark.parametrize("post_values", [True, False], ids=["cybos-like", "kis-like"])
def test_late_notices_already_in_the_snapshot_are_not_applied_twice(post_values: bool) -> None:
    book, naive, snap, late = late_notices(post_values=post_values)
    assert snap.orders is not None  # the snapshot lists the day's orders with their fills
    naive.apply_snapshot(dataclasses.replace(snap, orders=None))
    naive.apply_all(dataclasses.replace(n, filled_total=None) for n in late)
    book.apply_snapshot(snap)
    for n in late:
        book.apply_notice(n)
    assert book_view(book, snap.account) == truth(snap)
    assert book_view(naive, snap.account) != truth(snap)  # what the watermark prevents
    assert not book.open_orders()
    # A copy delivered again later is still ignored.
    for n in late:
        assert not book.apply_notice(n).applied


def test_fills_beyond_the_snapshot_watermark_are_applied() -> None:
    book, _, snap, late = late_notices(post_values=False)
    fills = [n for n in late if n.kind is NoticeKind.FILLED]
    first = fills[0]
    # The broker's order list says the order had filled one share less than this fill's end.
    orders = tuple(
        dataclasses.replace(o, filled=o.filled - 1, remaining=o.remaining + 1)
        if o.order_no == first.order_no
        else o
        for o in snap.orders or ()
    )
    book.apply_snapshot(dataclasses.replace(snap, orders=orders))
    changes = book.apply_notice(first)
    assert changes.applied
    assert any(d.field == "filled" for d in changes.discrepancies)
    assert book.orders[first.order_no].filled == first.filled_total


async def drive(session: Session, venue: Venue, trader: DemoTrader, steps: int) -> None:
    for _ in range(steps):
        trader.act()
        venue.step()
        for _ in range(3):
            await asyncio.sleep(0)


async def run_with_outage(path: Path, *, lose: bool) -> tuple[Book, BalanceSnapshot, int]:
    venue = Venue(seed=11)
    venue.open_demo_account()
    link = FlakyLink(SimBroker(venue, tick_interval=0.0, limits=LIMITS))
    journal = Journal(path)
    session = open_session_with_journal(link, journal)  # type: ignore[arg-type]
    async with session:
        account = session.accounts[0]
        trader = DemoTrader(venue, account, seed=11)
        await drive(session, venue, trader, 40)
        link.drop(lose=lose)
        await drive(session, venue, trader, 80)
        link.restore()
        for _ in range(1000):
            await asyncio.sleep(0)
            if session.status.reconnects and link._queue.empty():
                break
        for _ in range(20):
            await asyncio.sleep(0)
        live = session.book
        snap = venue.balance(account)
    journal.close()
    return live, snap, session.status.reconnects


@pytest.mark.parametrize("lose", [True, False], ids=["notices-lost", "notices-late"])
def test_reconnect_reconciles_to_the_venue_and_journals_the_differences(
    tmp_path: Path, lose: bool
) -> None:
    path = tmp_path / "j.sqlite"
    live, snap, reconnects = asyncio.run(run_with_outage(path, lose=lose))
    assert reconnects == 1
    assert book_view(live, snap.account) == truth(snap)
    found = [
        e for e in read_entries(path, kinds=["discrepancy"]) if '"reason":"snapshot"' in e.body
    ]
    if lose:
        assert found  # what the lost notices would have changed, recorded
    else:
        # The late fills arrived after the snapshot that held them: counted once, not twice.
        assert live.reflected_fills > 0
    with Journal(path) as journal:
        rebuilt = journal.rebuild()
    assert book_view(rebuilt, snap.account) == truth(snap)
    assert rebuilt.reflected_fills == live.reflected_fills


def test_restart_from_the_journal_reconciles_with_what_happened_while_down(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    asyncio.run(run_with_outage(path, lose=True))

    async def restart() -> tuple[Book, BalanceSnapshot]:
        venue = Venue(seed=11)  # a different day's venue: the account moved on without us
        venue.open_demo_account()
        DemoTrader(venue, venue.accounts()[0], seed=99).act()
        for _ in range(30):
            venue.step()
        journal = Journal(path)
        session = open_session_with_journal(SimBroker(venue, tick_interval=0.0), journal)
        async with session:
            book, now = session.book, venue.balance(session.accounts[0])
        journal.close()
        return book, now

    before = sum(1 for _ in read_entries(path, kinds=["discrepancy"]))
    book, now = asyncio.run(restart())
    assert book_view(book, now.account) == truth(now)
    assert sum(1 for _ in read_entries(path, kinds=["discrepancy"])) > before
