"""Coalesced updates for every WebSocket client of the page.

The engine publishes a change set for every tick and notice, which at a high tick rate is far
more than a browser should repaint. The hub only collects *which* rows, accounts and lists
changed; at most every ``interval`` seconds it renders each changed row and account once (as
JSON text) and marks it pending for every client. Each client's sender then sends one delta
holding only its pending keys, so a slow client simply gets larger, rarer deltas: nothing queues
up without bound (what a client has pending is at most every row and account of the book), and a
row that changed ten times since the last push is sent once. The session's status, with any task
that stopped, is pushed the same way as soon as it changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jango.domain.book import Changes
from jango.domain.model import HoldingKey, OrderNotice
from jango.engine import Session
from jango.supervisor import Supervised
from jango.views.web.payload import (
    DISCREPANCIES_SHOWN,
    AccountIds,
    account_payload,
    discrepancy_payload,
    grand_totals,
    latest_notices,
    row_key,
    row_payload,
    snapshot,
    status_payload,
)

# At most ten pushes a second per client.
PUSH_INTERVAL = 0.1


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False, slots=True)
class Client:
    """What one WebSocket client has not been sent yet."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0
    rows: set[HoldingKey] = field(default_factory=set)
    removed: set[HoldingKey] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    notices: bool = False
    status: bool = False
    discrepancies_seen: int = 0


@dataclass(slots=True)
class _Pending:
    rows: set[HoldingKey] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)


class Hub:
    """Collects the session's change sets and renders snapshots and deltas for clients."""

    def __init__(self, session: Session, *, interval: float = PUSH_INTERVAL) -> None:
        self.session = session
        self.ids = AccountIds()
        self.interval = interval
        self.clients: set[Client] = set()
        self.flushes = 0  # how many coalesced pushes were prepared (tests and benchmarks read it)
        self._pending = _Pending()
        self._dirty = asyncio.Event()
        self._rows: dict[HoldingKey, str] = {}
        self._accounts: dict[str, str] = {}
        self._account_data: dict[str, dict[str, Any]] = {}
        self._grand = "{}"
        self._notices = "[]"
        self._last_notice: OrderNotice | None = None
        self._status: tuple[object, ...] = ()
        self._remove: Callable[[], None] | None = None
        self._task: Supervised | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Follow the session's changes and start pushing. Call on the session's loop."""
        for number in sorted(self.session.book.accounts):
            self.ids.id(number)  # ids in account order, not in order of first change
        self._remove = self.session.on_change(self._collect)
        # Supervised by the session: a hub that dies is shown, journaled and restarted.
        self._task = self.session.supervisor.spawn("web hub", self._run)

    async def stop(self) -> None:
        """Stop following the session; connected clients' streams end."""
        if self._remove is not None:
            self._remove()
            self._remove = None
        if self._task is not None:
            await self._task.stop()
            self._task = None

    def join(self) -> Client:
        """A new client; send it :meth:`snapshot` first, then :meth:`delta` whenever it is ready."""
        client = Client()
        self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    # ----------------------------------------------------------------- messages

    def snapshot(self, client: Client) -> str:
        """The whole book for ``client`` (sequence 0); what it had pending is now covered."""
        data = snapshot(self.ids, self.session)
        client.seq = 0
        client.rows.clear()
        client.removed.clear()
        client.accounts.clear()
        client.notices = client.status = False
        client.discrepancies_seen = len(self.session.book.discrepancies)
        return _dumps({"type": "snapshot", "seq": 0, **data})

    def delta(self, client: Client) -> str | None:
        """What changed for ``client`` since its last message, or ``None`` if nothing did."""
        parts: list[str] = []
        if client.rows:
            parts.append('"rows":[' + ",".join(self._rows[k] for k in client.rows) + "]")
        if client.removed:
            removed = [row_key(self.ids, k) for k in client.removed]
            parts.append('"removed":' + _dumps(removed))
        client.rows.clear()
        client.removed.clear()
        parts += self._shared_parts(client)
        if not parts:
            return None
        client.seq += 1
        return f'{{"type":"delta","seq":{client.seq},' + ",".join(parts) + "}"

    def _shared_parts(self, client: Client) -> list[str]:
        """The account totals, notices, status and new discrepancies pending for ``client``,
        as JSON members, marked sent (every kind of hub sends these the same way)."""
        parts: list[str] = []
        if client.accounts:
            accounts = ",".join(self._accounts[a] for a in client.accounts)
            parts.append(f'"accounts":[{accounts}],"grand":{self._grand}')
        if client.notices:
            parts.append(f'"notices":{self._notices}')
        if client.status:
            parts.append('"status":' + _dumps(status_payload(self.session.status)))
        found = self.session.book.discrepancies
        if len(found) > client.discrepancies_seen:
            new = found[client.discrepancies_seen :][-DISCREPANCIES_SHOWN:]
            parts.append(
                '"discrepancies":' + _dumps([discrepancy_payload(self.ids, d) for d in new])
            )
            client.discrepancies_seen = len(found)
        client.accounts.clear()
        client.notices = client.status = False
        return parts

    # ----------------------------------------------------------------- collecting

    def _collect(self, changes: Changes) -> None:
        # Only keys here: rendering waits for the next push, however many ticks come first.
        pending = self._pending
        pending.rows |= changes.rows
        pending.rows |= changes.removed
        pending.accounts |= changes.accounts
        orders = self.session.book.orders
        for order_no in changes.orders:
            order = orders.get(order_no)
            if order is not None:
                pending.accounts.add(order.account)
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            self.flush()
            await asyncio.sleep(self.interval)

    def flush(self) -> None:
        """Render what changed since the last flush and mark it pending for every client."""
        self.flushes += 1
        pending, self._pending = self._pending, _Pending()
        book = self.session.book
        mode = book.pnl_mode
        updated: set[HoldingKey] = set()
        removed: set[HoldingKey] = set()
        # The book now, not the change sets, decides: a row removed and re-added is an update.
        for key in pending.rows:
            row = book.row(key)
            if row is None:
                self._rows.pop(key, None)
                removed.add(key)
            else:
                self._rows[key] = _dumps(row_payload(self.ids, row, mode))
                updated.add(key)
        accounts = {a for a in pending.accounts if a in book.accounts}
        for number in accounts:
            self._render_account(number)
        if accounts:
            for number in book.accounts.keys() - self._account_data.keys():
                self._render_account(number)
            self._grand = _dumps(grand_totals(list(self._account_data.values())))
        notices = self.session.notices
        last = notices[-1] if notices else None
        notices_changed = last is not self._last_notice
        if notices_changed:
            self._last_notice = last
            self._notices = _dumps(latest_notices(self.ids, self.session))
        st = self.session.status
        status = (st.connected, st.detail, st.reconnects, st.problems)
        status_changed = status != self._status
        self._status = status
        for client in self.clients:
            client.rows -= removed
            client.rows |= updated
            client.removed -= updated
            client.removed |= removed
            client.accounts |= accounts
            client.notices |= notices_changed
            client.status |= status_changed
            client.ready.set()

    def _render_account(self, number: str) -> None:
        book = self.session.book
        data = account_payload(self.ids, book, book.accounts[number])
        self._account_data[number] = data
        self._accounts[number] = _dumps(data)
