"""Journal replay by sequence number, and the startup fence it relies on.

The fence itself lives in the book, by order state: a balance snapshot lists the account's
orders of the day with their filled quantities, the book takes those as each order's filled
watermark, and a fill notice at or below its order's watermark is already counted (see
:class:`~jango.domain.book.Book`). The session subscribes to notices before it reads the
balance, so notices that arrive while the snapshot is read wait in the adapter's queue and are
applied after it, each judged against the watermark. No exchange time is ever compared with a
local time.

Replaying a journal uses the journal's own sequence numbers as identity: the book remembers the
last sequence number it applied (``Book.last_seq``), so applying the same journaled event twice,
or replaying an export twice, changes nothing.

Journals written before the order-state fence kept a ``reflected`` flag on notices the old
time-based fence had judged already held by a snapshot; :func:`absorb` repeats that decision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from jango.domain.book import NOTHING, Book, Changes, OrderStatus
from jango.domain.model import Event, NoticeKind, OrderNotice, Tick


def apply_journaled(book: Book, seq: int, event: Event, *, reflected: bool = False) -> Changes:
    """Apply journal event ``seq`` to ``book`` once: a sequence number already applied is
    skipped. ``reflected`` (old journals only) applies a notice to its order alone."""
    if seq and seq <= book.last_seq:
        return NOTHING
    if reflected and isinstance(event, OrderNotice):
        absorb(book, event)
        changes = NOTHING
    else:
        changes = book.apply(event)
    if seq:
        book.last_seq = seq
    return changes


def apply_journaled_all(book: Book, events: Iterable[tuple[int, Event, bool]]) -> None:
    """Apply ``(seq, event, reflected)`` in order as :func:`apply_journaled` on each would,
    with each run of consecutive ticks in one :meth:`Book.apply_ticks` call (the batch path)."""
    run: list[Tick] = []
    last = 0
    for seq, event, reflected in events:
        if seq and seq <= book.last_seq:
            continue
        if type(event) is Tick:
            run.append(event)
            last = seq
            continue
        if run:
            book.apply_ticks(run)
            run = []
            if last:
                book.last_seq = last
        apply_journaled(book, seq, event, reflected=reflected)
    if run:
        book.apply_ticks(run)
        if last:
            book.last_seq = last


def absorb(book: Book, n: OrderNotice) -> None:
    """Apply a notice to its order only; the row and cash stay as a snapshot said."""
    key = Book.dedupe_key(n)
    if key is not None:
        book._seen.add(key)
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
