"""Notices a broker snapshot already holds must not be applied a second time.

The case: the session adopts a balance snapshot the broker computed at time ``T`` (on start, or
when it reconciles after a reconnect). A fill notice the broker stamped before ``T`` can still
arrive *after* the snapshot: it was in flight, queued in the adapter while the balance was being
read, or delivered late after the reconnect. The snapshot's rows and cash already include that
fill, so applying it again would count its quantity and cash twice.

The same holds, for sellable quantity only, for an acceptance or an amend/cancel confirmation:
the snapshot's sellable already leaves out what a new sell order holds, or gives back what a
cancel released.

The rule (per account, after each adopted snapshot at broker time ``T``) for a notice the book has
not seen, stamped after ``T``: new, applied normally. Stamped at or before ``T``:

* a fill carrying the broker's post-fill quantity (CYBOS, sim) is new exactly when that quantity
  continues from the book's row (row quantity plus or minus the fill); otherwise it is one of
  the fills that led to the snapshot's quantity, and reflected. Clocks are coarse (several fills,
  and the snapshot, can share one second), so the time alone cannot decide;
* a fill without post values (KIS) is reflected;
* another notice is reflected unless its post-event quantity (if it carries one) equals the
  book's row: a late one carries the row as it was *before* the snapshot, and adopting those
  stale values would undo the snapshot.

A reflected notice is *absorbed*: its order moves on as usual (the snapshot carries no orders),
its dedupe key is marked seen so a later copy is ignored too, and the row and cash are left as
the snapshot stated them (a fill touches neither; another notice keeps the row's sellable). The
journal stores the decision with the event (``reflected = 1``) so a rebuild repeats it.

Known limit: a late fill whose post quantity happens to equal row ± its own quantity is taken as
new; the broker's post values then correct the row, the difference is recorded, and the next
reconcile corrects cash.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from jango.domain.book import Book, OrderStatus
from jango.domain.model import BalanceSnapshot, Discrepancy, NoticeKind, OrderNotice, Side


def dedupe_key(n: OrderNotice) -> object:
    """The key :class:`Book` dedupes a notice by (fill id on its date, else the whole notice)."""
    return Book.dedupe_key(n)


def absorb(book: Book, n: OrderNotice) -> None:
    """Apply a reflected notice to its order only; the row and cash stay as the snapshot said."""
    book._seen.add(dedupe_key(n))
    if n.kind is not NoticeKind.FILLED:
        row = book.row(n.key)
        sellable = row.sellable if row is not None else 0
        # Its post values describe the row before the snapshot: they must not be adopted.
        book.apply_notice(
            dataclasses.replace(n, post_qty=None, post_sellable=None, post_book_price=None)
        )
        if row is not None:
            row.sellable = sellable
        return
    order = book.orders.get(n.order_no)
    if order is None:
        return
    order.filled += n.qty
    order.remaining = max(0, order.remaining - n.qty)
    if order.remaining == 0:
        order.status = OrderStatus.FILLED
    # The snapshot's sellable quantity already leaves the filled shares out.
    order.held -= min(order.held, n.qty)
    acc = book.accounts.get(n.account)
    if acc is not None and order.cash_held:
        book._set_cash_hold(acc, order)


class SnapshotFence:
    """Remembers, per account, the broker time of the last adopted snapshot of ``book``."""

    def __init__(self, book: Book) -> None:
        self.book = book
        # Broker time of the latest snapshot adopted, per account.
        self.since: dict[str, datetime] = {}

    def snapshot_adopted(self, snap: BalanceSnapshot) -> None:
        """Call after ``book`` adopted ``snap``."""
        before = self.since.get(snap.account)
        self.since[snap.account] = snap.time if before is None else max(before, snap.time)

    def reflected(self, n: OrderNotice) -> bool:
        """Whether notice ``n`` is already part of a snapshot the book adopted (see module doc)."""
        since = self.since.get(n.account)
        if since is None or n.time > since or dedupe_key(n) in self.book._seen:
            return False
        if n.post_qty is None:
            return True
        row = self.book.row(n.key)
        held = row.qty if row else 0
        if n.kind is not NoticeKind.FILLED:
            return n.post_qty != held
        closing = n.side is (Side.BUY if n.credit.is_short else Side.SELL)
        return n.post_qty != (held - n.qty if closing else held + n.qty)

    def note(self, n: OrderNotice) -> Discrepancy:
        """The record kept for an absorbed notice, so ``jango why`` can show it."""
        return Discrepancy(
            n.account,
            n.code,
            n.kind.value,
            "",
            f"{n.side.value} {n.qty}@{n.price}",
            "notice already reflected in the broker snapshot; order state updated only",
            n.time,
            n.order_no,
            (("fill_id", n.fill_id),),
        )
