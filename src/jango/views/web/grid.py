"""The holdings grid as the page keeps it: rows by number, changed cells as integers.

:class:`GridHub` extends :class:`~jango.views.web.hub.Hub`: accounts, notices and status travel
as the hub renders them, but a holding row is sent whole only once (when it appears), and after
that only the cells that changed, as ``[row id, count, column, value, column, value …]`` in one
flat list of integers. Every client keeps what it was last sent per row, so a client whose
socket is slow simply diffs against older values next time: it gets the latest state, never a
backlog. No message is longer than :data:`MESSAGE_LIMIT`; a big snapshot or delta is split.

Messages (JSON text):

* ``{"type": "snapshot", "seq": 0, "part": i, "parts": n, "rows": [row, …]}``; part 0 also
  carries ``columns`` (the value columns, in cell order), ``meta_columns``, ``accounts`` (cash,
  totals and open orders, without rows), ``grand``, ``notices``, ``discrepancies``, ``status``.
  A row is ``[rid, key, acct, code, name, market, credit, loan_date, market_known, v0, v1 …]``.
* ``{"type": "delta", "seq": n, "t": ms, …}``, numbered without gaps, with any of ``removed``
  (row ids), ``added`` (rows), ``cells``, ``accounts`` + ``grand``, ``notices``, ``status``,
  ``discrepancies``. ``t`` is when (epoch ms) the oldest change to a row in view reached the
  book.

The page may say which rows are on its screen: ``{"type": "view", "rows": [rid, …]}`` (at most
:data:`VIEW_LIMIT` ids). Those rows' cells go out every frame; the rest of the book's changes
still reach the page's model, coalesced, at least every :data:`BACKGROUND_SECONDS`. A client
that never says (a script, an old page) gets every changed row every frame.

Money and quantities are won and shares; ``avg_price`` is sent in 1/10,000 won and
``pnl_rate`` in hundredths of a percent, both truncated like the book's own decimals.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jango.domain.book import Book, Changes, PnlMode, Row
from jango.domain.model import HoldingKey
from jango.engine import Session
from jango.views.web.hub import Client, Hub, _dumps
from jango.views.web.messages import mask_accounts
from jango.views.web.payload import (
    DISCREPANCIES_SHOWN,
    account_payload,
    discrepancy_payload,
    grand_totals,
    latest_notices,
    row_key,
    status_payload,
)

# A frame: changes are coalesced per row for this long, then sent.
FRAME = 0.05
# Rows out of a client's view are sent at least this often (seconds), and at most this many ids
# make a view (a phone shows about 12 rows, a tall screen about 60).
BACKGROUND_SECONDS = 0.5
VIEW_LIMIT = 400
# No WebSocket message is longer than this (characters; the payload is ASCII but for names).
MESSAGE_LIMIT = 64_000
# What a message may hold before the next item would push it over the limit, leaving room for
# the envelope and the multi-byte characters of Korean names.
_BUDGET = MESSAGE_LIMIT - 4_000

# The integer cells of a row, in column-id order (the page gets this list in the snapshot).
VALUE_COLUMNS = (
    "qty",
    "sellable",
    "purchase_amount",
    "avg_price",
    "price",
    "diff",
    "value",
    "pnl",
    "pnl_rate",
    "loan_amount",
    "pnl_gross",
    "pnl_net",
)
# What a row never changes once it exists, sent with it when it first appears.
META_COLUMNS = ("key", "acct", "code", "name", "market", "credit", "loan_date", "market_known")

Values = tuple[int, ...]


def _truncated(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` truncated toward zero, as the book's ROUND_DOWN decimals."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator < 0) == (denominator < 0) else -quotient


def row_values(row: Row, mode: PnlMode) -> Values:
    """The row's cells in :data:`VALUE_COLUMNS` order, all integers.

    ``avg_price`` and ``pnl_rate`` in integers rather than through :class:`~decimal.Decimal`
    (5,000 rows a frame): the same truncation as :attr:`Row.avg_price` and :meth:`Row.pnl_rate`.
    """
    pnl = row.pnl if mode is PnlMode.GROSS else row.pnl_net
    purchase = row.purchase_amount
    avg = _truncated(purchase * 10_000, row.qty) if row.qty else 0
    rate = _truncated(pnl * 10_000, purchase) if purchase and row.price > 0 else 0
    return (
        row.qty,
        row.sellable,
        purchase,
        avg,
        row.price,
        row.diff,
        row.value,
        pnl,
        rate,
        row.loan_amount,
        row.pnl,
        row.pnl_net,
    )


def _cells(rid: int, before: Values, now: Values) -> str:
    # Both are VALUE_COLUMNS long (row_values); zip without strict= is the hot path's saving.
    changed = [f"{c},{v}" for c, v, was in zip(_COLUMN_IDS, now, before) if v != was]  # noqa: B905
    return f"{rid},{len(changed)}," + ",".join(changed) if changed else ""


_COLUMN_IDS = range(len(VALUE_COLUMNS))


@dataclass(eq=False, slots=True)
class GridClient(Client):
    """A :class:`Client` that also remembers the cells it was last sent, per row id."""

    sent: dict[int, Values] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)
    since: float | None = None  # when the oldest unsent change to a row in view happened
    view: frozenset[int] | None = None  # the row ids on its screen; None: all of them
    full_at: float = 0.0  # when (monotonic) it was last sent every dirty row

    def wants_all(self, now: float) -> bool:
        """Whether the next delta carries every dirty row, not just those in view."""
        return self.view is None or now - self.full_at >= BACKGROUND_SECONDS

    def set_view(self, rows: Iterable[int]) -> None:
        """The page's rows on screen now; what changed there goes out with the next frame."""
        self.view = frozenset(rows)
        if not self.dirty.isdisjoint(self.view):
            self.ready.set()


class GridHub(Hub):
    """A :class:`Hub` whose rows travel as numbered rows and changed integer cells."""

    def __init__(
        self,
        session: Session,
        *,
        interval: float = FRAME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(session, interval=interval)
        self.clock = clock  # seconds, for the background interval (tests pass their own)
        self.largest_message = 0  # the longest message sent so far (tests and benchmarks)
        self._rid: dict[HoldingKey, int] = {}
        self._key: dict[int, HoldingKey] = {}  # the inverse of _rid
        self._rendered_all_at = 0.0  # when (monotonic) every pending row was last rendered
        self._values: dict[int, Values] = {}
        self._meta: dict[int, str] = {}
        # A row's values before its last render, and the cells that render changed: what every
        # client that was sent those values gets, encoded once rather than once per client.
        self._before: dict[int, Values] = {}
        self._diff: dict[int, str] = {}
        self._next_rid = 0
        self._changed_at: float | None = None

    def join(self) -> GridClient:
        """A new client; send it :meth:`snapshot_messages`, then :meth:`delta_messages`."""
        client = GridClient()
        self.clients.add(client)
        return client

    # ----------------------------------------------------------------- collecting

    async def _run(self) -> None:
        # A frame every ``interval`` from start to start: a flush that took part of the frame
        # (thousands of rows) shortens the wait instead of adding to it.
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            started = loop.time()
            self.flush()
            if self._pending.rows:
                self._dirty.set()  # rows out of every view wait for a later frame
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    def _collect(self, changes: Changes) -> None:
        if self._changed_at is None:
            self._changed_at = time.time()
        super()._collect(changes)

    def flush(self) -> None:
        """Render the changed rows' cells, then let the hub do accounts, notices and status.

        Rows that no client shows wait, rendered once :data:`BACKGROUND_SECONDS` has passed
        since all were: a frame costs what the rows on screens cost, not the whole book.
        """
        rows = self._due_rows()
        later, self._pending.rows = self._pending.rows, set()
        changed_at, self._changed_at = self._changed_at, None
        changed = self._render_all(rows)
        super().flush()
        self._pending.rows |= later
        for client in self.clients:
            assert isinstance(client, GridClient)
            client.dirty |= changed
            seen = client.view is None or not changed.isdisjoint(client.view)
            if changed_at is not None and client.since is None and seen:
                client.since = changed_at

    def _due_rows(self) -> set[HoldingKey]:
        """The pending rows to render now; the rest stay pending."""
        pending = self._pending.rows
        now = self.clock()
        views: set[int] = set()
        for client in self.clients:
            assert isinstance(client, GridClient)
            if client.view is None:
                views = set()
                break
            views |= client.view
        else:
            if self.clients and now - self._rendered_all_at < BACKGROUND_SECONDS:
                keys = self._key
                shown = {keys[rid] for rid in views if rid in keys}
                due = pending & shown
                # New rows (no id yet) are rendered at once: every page must learn of them.
                due |= {key for key in pending if key not in self._rid}
                self._pending.rows = pending - due
                return due
        self._pending.rows = set()
        self._rendered_all_at = now
        return pending

    def view_changed(self, client: GridClient, rows: Iterable[int]) -> None:
        """``client`` shows ``rows`` now: render and send what changed there next frame."""
        client.set_view(rows)
        self._dirty.set()

    def _render_all(self, keys: Iterable[HoldingKey]) -> set[int]:
        """Render ``keys``; the ids of the rows whose cells changed (or that went away)."""
        book = self.session.book
        render = self._render
        return {rid for key in keys if (rid := render(book, key)) is not None}

    def _render(self, book: Book, key: HoldingKey) -> int | None:
        row = book.row(key)
        rid = self._rid.get(key)
        if row is None:
            if rid is None:
                return None
            del self._rid[key], self._key[rid], self._values[rid], self._meta[rid]
            self._before.pop(rid, None)
            self._diff.pop(rid, None)
            return rid
        if rid is None:
            # A new number even for a key seen before: a client can never confuse the two.
            rid = self._rid[key] = self._next_rid
            self._key[rid] = key
            self._next_rid += 1
            self._meta[rid] = self._encode_meta(rid, row)
        now = row_values(row, book.pnl_mode)
        before = self._values.get(rid)
        if before is not None:
            if now == before:
                return None  # a tick at the same price: nothing for anyone
            # The cells are encoded when a client first needs them (once for all clients).
            self._before[rid] = before
            self._diff.pop(rid, None)
        self._values[rid] = now
        return rid

    def _encode_meta(self, rid: int, row: Row) -> str:
        key = row.key
        meta = [
            rid,
            row_key(self.ids, key),
            self.ids.id(key.account),
            key.code,
            row.name,
            row.market.value,
            key.credit.value,
            key.loan_date.isoformat() if key.loan_date else None,
            1 if row.market_known else 0,
        ]
        return _dumps(meta)[:-1]  # the values follow: "[rid,…,known" + ",v,v…]"

    def _added(self, rid: int) -> str:
        return self._meta[rid] + "," + ",".join(map(str, self._values[rid])) + "]"

    # ----------------------------------------------------------------- messages

    def snapshot_messages(self, client: Client) -> list[str]:
        """The whole book for ``client`` as one or more ``snapshot`` messages (sequence 0).

        The first carries the columns, accounts, notices and status; every part carries rows.
        The page shows the book once it has the last part.
        """
        assert isinstance(client, GridClient)
        self.flush_rows()
        book = self.session.book
        accounts = [
            account_payload(self.ids, book, book.accounts[n]) for n in sorted(book.accounts)
        ]
        head = {
            "type": "snapshot",
            "seq": 0,
            "format": "jango-grid",
            "version": 1,
            "pnl_mode": book.pnl_mode.value,
            "meta_columns": list(META_COLUMNS),
            "columns": list(VALUE_COLUMNS),
            "accounts": accounts,
            "grand": grand_totals(accounts),
            "notices": latest_notices(self.ids, self.session),
            "discrepancies": [
                discrepancy_payload(self.ids, d) for d in book.discrepancies[-DISCREPANCIES_SHOWN:]
            ],
            "status": status_payload(self.session.status),
        }
        client.seq = 0
        client.rows.clear()
        client.removed.clear()
        client.accounts.clear()
        client.notices = client.status = False
        client.discrepancies_seen = len(book.discrepancies)
        client.sent = dict(self._values)
        client.dirty.clear()
        client.since = None
        first = self._mask(_dumps(head))[:-1]  # "{…" and the rows follow
        chunks = list(_pack(len(first), (self._added(rid) for rid in sorted(self._values))))
        parts = len(chunks)
        messages = []
        for i, rows in enumerate(chunks):
            envelope = first if i == 0 else '{"type":"snapshot","seq":0'
            messages.append(f'{envelope},"part":{i},"parts":{parts},"rows":[{",".join(rows)}]}}')
        return self._measured(messages)

    def delta_messages(self, client: Client) -> list[str]:
        """What changed for ``client`` since its last message: zero or more numbered deltas."""
        assert isinstance(client, GridClient)
        parts = self._shared_parts(client)
        client.rows.clear()
        client.removed.clear()
        removed, added, cells = self._row_changes(client)
        since = client.since
        client.since = None
        if not (parts or removed or added or cells):
            return []
        fixed = self._mask(",".join(parts)) if parts else ""
        stamp = f',"t":{since * 1000:.1f}' if since is not None else ""
        messages: list[str] = []
        budget = len(fixed) + len(removed) * 8
        for chunk in _pack(budget, [*(("a", a) for a in added), *(("c", c) for c in cells)]):
            messages.append(self._delta(client, fixed, removed, chunk, stamp))
            fixed, removed, stamp = "", [], ""
        if not messages:
            messages.append(self._delta(client, fixed, removed, [], stamp))
        return self._measured(messages)

    def _delta(
        self, client: GridClient, fixed: str, removed: list[int], items: list[Any], stamp: str
    ) -> str:
        client.seq += 1
        out = [f'"type":"delta","seq":{client.seq}{stamp}']
        if fixed:
            out.append(fixed)
        if removed:
            out.append('"removed":' + _dumps(removed))
        added = [text for kind, text in items if kind == "a"]
        cells = [text for kind, text in items if kind == "c"]
        if added:
            out.append('"added":[' + ",".join(added) + "]")
        if cells:
            out.append('"cells":[' + ",".join(cells) + "]")
        return "{" + ",".join(out) + "}"

    def _row_changes(self, client: GridClient) -> tuple[list[int], list[str], list[str]]:
        removed: list[int] = []
        added: list[str] = []
        cells: list[str] = []
        values = self._values
        sent = client.sent
        now_at = self.clock()
        if client.wants_all(now_at):
            due, client.dirty = client.dirty, set()
            client.full_at = now_at
        else:
            assert client.view is not None
            due = client.dirty & client.view
            client.dirty -= due
        for rid in sorted(due):
            now = values.get(rid)
            before = sent.get(rid)
            if now is None:
                if before is not None:
                    del sent[rid]
                    removed.append(rid)
                continue
            sent[rid] = now
            if before is None:
                added.append(self._added(rid))
                continue
            if before is now:
                continue
            if before is self._before.get(rid):
                text = self._diff.get(rid)
                if text is None:
                    text = self._diff[rid] = _cells(rid, before, now)
            else:
                text = _cells(rid, before, now)
            if text:
                cells.append(text)
        return removed, added, cells

    def flush_rows(self) -> None:
        """Render rows that changed but were not flushed yet, so a snapshot is current."""
        rows, self._pending.rows = self._pending.rows, set()
        changed = self._render_all(rows)
        for client in self.clients:
            assert isinstance(client, GridClient)
            client.dirty |= changed

    def start(self) -> None:
        """Number every row of the book, then follow the session as the hub does."""
        super().start()
        book = self.session.book
        for row in book.rows():
            self._render(book, row.key)

    def _mask(self, text: str) -> str:
        # Accounts travel by id and masked label; this catches a number inside free text (a
        # broker's status detail, a discrepancy's reason) before it reaches a page.
        return mask_accounts(text, [*self.session.book.accounts, *self.session.accounts])

    def _measured(self, messages: list[str]) -> list[str]:
        for message in messages:
            size = len(message.encode())
            if size > self.largest_message:
                self.largest_message = size
        return messages


VIEW_MESSAGE_BYTES = 8_192


def parse_view(text: str) -> list[int] | None:
    """The row ids of a page's ``{"type": "view", "rows": [...]}`` message, or None for
    anything else (too long, not JSON, another shape): a page's message is never trusted."""
    if len(text) > VIEW_MESSAGE_BYTES:
        return None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("type") != "view":
        return None
    rows = message.get("rows")
    if not isinstance(rows, list) or len(rows) > VIEW_LIMIT:
        return None
    if not all(type(rid) is int and 0 <= rid < 2**53 for rid in rows):
        return None
    return rows


def _pack(used: int, items: Iterable[Any]) -> Iterator[list[Any]]:
    """Items grouped so that no group (plus ``used`` for the first) passes the budget."""
    group: list[Any] = []
    size = used
    for item in items:
        text = item if isinstance(item, str) else item[1]
        # Bytes, not characters: a Korean name takes three a character.
        cost = len(text.encode()) + 1
        if group and size + cost > _BUDGET:
            yield group
            group, size = [], 0
        group.append(item)
        size += cost
    if group:
        yield group
