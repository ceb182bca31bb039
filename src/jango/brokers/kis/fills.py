"""KIS fill notices → fills with their order's cumulative filled quantity.

Fill notices (``H0STCNI0``/``H0STCNI9``) carry no fill id and no cumulative quantity, so the
adapter stamps :attr:`OrderNotice.filled_total` itself: a per-order counter of filled shares,
seeded from the orders-of-day inquiry each time the notice subscription is (re)established, then
``counter += qty`` per fill. Two fills with the same quantity, price and second are two fills:
nothing is ever deduplicated by content.

While the counters are not seeded (from the moment a session drops, or before the first seed),
every pushed item is held back, in order, and released when a seeding read has answered:

* a fill that arrived **before the seeding request was sent** happened before the read, so the
  read's ``tot_ccld_qty`` already counts it; held fills of one order are stamped so that the
  last of them equals that total (earlier ones count back from it);
* a fill that arrived **while the request was in flight** may or may not be in the read. The
  read is then repeated (each repeat is sent after every held fill arrived, so it counts them
  all), up to three reads (``broker.SEED_READS``);
* only if fills keep arriving during every one of those reads is there a race window left: the
  last read's in-flight fills (after the subscription ack, between that read's send and its
  reply) are taken as not counted (``filled_total`` = seed + qty). If the read did count one,
  ``filled_total`` runs ahead of the truth by that fill and the book applies it on top of a
  snapshot that already holds it; the next reconcile (a balance snapshot, whose rows and order
  watermarks are read afresh) finds the difference and records it as a discrepancy, and the
  book follows the broker from there;
* a fill after the reply counts up from the seed.

If the seeding read fails, the held items are released with ``filled_total`` unknown (None) for
orders the adapter has no count of, a warning is logged, and the next balance snapshot seeds the
counters from its own order read. See ``docs/kis-notices.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from jango.brokers.port import ConnectionStatus, PushItem, Received
from jango.domain.model import NoticeKind, OrderNotice, OrderState

log = logging.getLogger(__name__)


def fill_of(item: PushItem) -> OrderNotice | None:
    """The fill notice ``item`` carries, if it carries one."""
    if (
        isinstance(item, Received)
        and isinstance(item.event, OrderNotice)
        and item.event.kind is NoticeKind.FILLED
    ):
        return item.event
    return None


class FillCounter:
    """Per-order filled counters between the WebSocket and the adapter's event queue.

    ``push`` every item as it arrives; while unseeded the items are held (in order) and
    ``push`` returns True when a reconnect asks for a seeding read. The adapter then notes
    :meth:`mark` before sending the read and calls :meth:`release` with the read's filled
    quantities (or None if it failed), which stamps and passes on everything held.
    """

    def __init__(self, emit: Callable[[PushItem], None]) -> None:
        self._emit_raw = emit
        self._filled: dict[str, int] = {}  # order no → filled shares so far
        self.seeded = False  # False: hold every pushed item until a seeding read answers
        self.known = False  # whether the last seed succeeded (orders absent from it had 0)
        self._held: list[tuple[int, PushItem]] = []
        self._arrivals = 0  # sequence number of held items
        self.generation = 0  # bumped by every drop, so a stale seed is abandoned

    def unseed(self) -> None:
        """Hold everything from now on until the next :meth:`release`."""
        self.seeded = False

    def push(self, item: PushItem) -> bool:
        """Take one pushed item; True if it is a reconnect and a seeding read should start."""
        if isinstance(item, ConnectionStatus) and not item.connected:
            # Fills may be missed while down: the counters are stale until the next seed. The
            # drop itself is told at once (nothing held is older than it unless already down).
            self.seeded = False
            self.generation += 1
            if not self._held:
                self._emit_raw(item)
                return False
        if self.seeded:
            self._emit(item, self._stamp(item))
            return False
        self._arrivals += 1
        self._held.append((self._arrivals, item))
        return isinstance(item, ConnectionStatus) and item.reconnected

    def mark(self) -> int:
        """The arrival number up to which held items arrived before a read is sent now."""
        return self._arrivals

    def fills_since(self, mark: int) -> bool:
        """Whether a fill arrived after ``mark`` (while a read was in flight)."""
        return any(fill_of(item) is not None for seq, item in self._held if seq > mark)

    def release(self, seed: Mapping[str, int] | None, sent_at: int) -> None:
        """Seed the counters from a read's filled quantities (None: the read failed) and pass
        on every held item, fills stamped as the module docstring says."""
        self.known = seed is not None
        seed = seed or {}
        held, self._held = self._held, []
        counted: dict[str, int] = {}  # per order: shares of held fills the seed already counts
        for seq, item in held:
            fill = fill_of(item)
            if fill is not None and seq <= sent_at and fill.order_no in seed:
                counted[fill.order_no] = counted.get(fill.order_no, 0) + fill.qty
        for order_no, shares in counted.items():
            if shares > seed[order_no]:
                # The read counts fewer shares than the fills seen before it: treat them as
                # not counted rather than stamp a total below a fill's own quantity.
                log.warning(
                    "KIS order %s: %d shares of fills before the seeding read, but the read "
                    "counts %d; counting them on top",
                    order_no,
                    shares,
                    seed[order_no],
                )
                counted[order_no] = 0
        self._filled = {no: filled - counted.get(no, 0) for no, filled in seed.items()}
        for seq, item in held:
            fill = fill_of(item)
            if fill is not None and seq <= sent_at and counted.get(fill.order_no):
                # Already in the seed: step up to it without counting the fill twice.
                total = self._filled[fill.order_no] + fill.qty
                self._filled[fill.order_no] = total
                self._emit(item, total)
            else:
                self._emit(item, self._stamp(item))
        self.seeded = True

    def reseed(self, orders: list[OrderState]) -> None:
        """Seed counters from a snapshot's order read when the connect-time seed failed."""
        for order in orders:
            self._filled.setdefault(order.order_no, order.filled)
        self.known = True
        log.info("KIS fill counters seeded from the balance snapshot's order read")

    def _stamp(self, item: PushItem) -> int | None:
        """Count a live fill: counter += qty (None while the order's count is unknown)."""
        fill = fill_of(item)
        if fill is None:
            return None
        known = self._filled.get(fill.order_no)
        if known is None and not self.known:
            return None
        total = (known or 0) + fill.qty
        self._filled[fill.order_no] = total
        return total

    def _emit(self, item: PushItem, filled_total: int | None) -> None:
        fill = fill_of(item)
        if fill is not None and isinstance(item, Received):
            item = replace(item, event=replace(fill, filled_total=filled_total))
        self._emit_raw(item)
