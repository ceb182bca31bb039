"""The WebSocket stream: a snapshot in parts, then numbered deltas of changed integer cells,
coalesced per row, never over 64 KB, that keep every client exact however slowly it reads."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from jango.domain.book import Book, Changes
from jango.sandbox.venue import Venue
from jango.views.web.grid import MESSAGE_LIMIT, GridClient
from tests.web.live import BIG_PAGES, LiveServer, big_venue, wide_venue

CLIENTS = 20
STEPS = 100
TIMEOUT = 30.0


def book_cells(row: dict[str, Any], columns: list[str]) -> list[int]:
    """A row of ``/api/book`` as the grid's integer cells: decimals in their smallest units."""
    scaled = {"avg_price": 4, "pnl_rate": 2}
    return [int(Decimal(row[c]).scaleb(scaled[c])) if c in scaled else int(row[c]) for c in columns]


class Mirror:
    """What one client knows: the snapshot parts with every delta applied, as the page does."""

    def __init__(self) -> None:
        self.seq = -1
        self.deltas = 0
        self.columns: list[str] = []
        self.rows: dict[int, list[Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.grand: dict[str, int] = {}
        self.largest = 0
        self.parts = 0

    def apply(self, text: str) -> None:
        self.largest = max(self.largest, len(text.encode()))
        message = json.loads(text)
        if message["type"] == "snapshot":
            assert message["seq"] == 0
            if message["part"] == 0:
                self.columns = message["columns"]
                self.rows = {}
                self.accounts = {a["id"]: a for a in message["accounts"]}
                self.grand = message["grand"]
            self.parts += 1
            for row in message["rows"]:
                self.rows[row[0]] = row
            if message["part"] == message["parts"] - 1:
                self.seq = 0
            return
        assert message["type"] == "delta"
        assert message["seq"] == self.seq + 1, "deltas come numbered, without gaps"
        self.seq = message["seq"]
        self.deltas += 1
        for rid in message.get("removed", []):
            del self.rows[rid]
        for row in message.get("added", []):
            assert row[0] not in self.rows, "a row id is never reused"
            self.rows[row[0]] = row
        cells = message.get("cells", [])
        seen: set[int] = set()
        i = 0
        while i < len(cells):
            rid, count = cells[i], cells[i + 1]
            assert rid not in seen, "a row appears once per delta however often it moved"
            seen.add(rid)
            for k in range(count):
                column, value = cells[i + 2 + 2 * k], cells[i + 3 + 2 * k]
                assert isinstance(column, int) and isinstance(value, int)
                self.rows[rid][9 + column] = value
            i += 2 + 2 * count
        for account in message.get("accounts", []):
            self.accounts[account["id"]] = account
        if "accounts" in message:
            self.grand = message["grand"]

    def by_key(self) -> dict[str, list[int]]:
        return {row[1]: row[9:] for row in self.rows.values()}

    def matches(self, book: dict[str, Any]) -> bool:
        rows = {r["key"]: book_cells(r, self.columns) for a in book["accounts"] for r in a["rows"]}
        totals = {a["id"]: (a["cash"], a["totals"]) for a in book["accounts"]}
        mine = {i: (a["cash"], a["totals"]) for i, a in self.accounts.items()}
        return self.seq >= 0 and self.by_key() == rows and mine == totals

    async def follow(self, ws: ClientConnection) -> None:
        async for message in ws:
            assert isinstance(message, str)
            self.apply(message)


def _step(venue: Venue, steps: int, codes: int | None = None) -> None:
    for _ in range(steps):
        venue.step(codes)


async def _connect(server: LiveServer) -> tuple[ClientConnection, Mirror]:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT, max_size=None
    )
    mirror = Mirror()
    while mirror.seq < 0:
        mirror.apply(str(await asyncio.wait_for(ws.recv(), TIMEOUT)))
    return ws, mirror


async def _until_exact(server: LiveServer, mirrors: list[Mirror]) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http, asyncio.timeout(TIMEOUT):
        while True:
            book = (await http.get("/api/book")).json()
            if all(m.matches(book) for m in mirrors):
                return
            await asyncio.sleep(0.05)


def test_many_clients_each_get_a_snapshot_then_deltas_that_keep_them_exact() -> None:
    with LiveServer(big_venue(accounts=2)) as server:
        published: list[Changes] = []

        async def count_change_sets() -> None:
            server.session.on_change(published.append)

        server.call(count_change_sets())

        async def run() -> list[Mirror]:
            connected = await asyncio.gather(*(_connect(server) for _ in range(CLIENTS)))
            followers = [asyncio.create_task(m.follow(ws)) for ws, m in connected]
            mirrors = [m for _, m in connected]
            await asyncio.to_thread(_step, server.venue, STEPS)
            upper = server.venue.quote("005930").upper
            order = {"account": "a1", "side": "buy", "code": "005930", "qty": 1, "price": upper}
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.post("/api/orders", json=order)).status_code == 200
            await _until_exact(server, mirrors)
            for ws, _ in connected:
                await ws.close()
            await asyncio.gather(*followers)
            return mirrors

        mirrors = asyncio.run(run())
        flushes = server.hub.flushes

    assert all(m.deltas > 0 for m in mirrors)
    # Coalesced: a client gets about one delta per push, and a push covers many change sets.
    assert flushes < len(published)


def test_a_5000_row_book_arrives_in_parts_and_no_message_passes_64_kb() -> None:
    with LiveServer(wide_venue(), limits=BIG_PAGES) as server:
        rows = len(list(server.session.book.rows()))
        assert rows >= 5_000

        async def run() -> Mirror:
            ws, mirror = await _connect(server)
            follower = asyncio.create_task(mirror.follow(ws))
            # Every code moves on every step: the busiest the sim gets.
            await asyncio.to_thread(_step, server.venue, 20, 10_000)
            await _until_exact(server, [mirror])
            await ws.close()
            await follower
            return mirror

        mirror = asyncio.run(run())
        largest = server.hub.largest_message
    assert len(mirror.rows) == rows
    assert mirror.parts > 1, "the snapshot is split"
    assert mirror.deltas > 0
    assert mirror.largest <= MESSAGE_LIMIT
    assert largest <= MESSAGE_LIMIT


def test_a_client_that_does_not_read_gets_the_latest_cells_not_a_backlog() -> None:
    with LiveServer(big_venue(accounts=1)) as server:
        hub = server.hub
        venue = server.venue
        mirror = Mirror()

        async def join() -> tuple[GridClient, list[str]]:
            client = hub.join()
            return client, hub.snapshot_messages(client)

        async def flush() -> None:
            hub.flush()

        async def deltas(client: GridClient) -> list[str]:
            return hub.delta_messages(client)

        def priced(book: Book) -> bool:
            return all(r.price == venue.quote(r.key.code).price for r in book.rows())

        client, snapshot = server.call(join())
        for text in snapshot:
            mirror.apply(text)
        # Thirty pushes while the client's sender is stuck: nothing queues up for it but the
        # set of rows it has not been sent, never more than the book's rows.
        for _ in range(30):
            _step(venue, 5)
            server.call(flush())
            assert len(client.dirty) <= len(list(server.session.book.rows()))
        server.call(server.session.wait_for(priced))
        server.call(flush())
        messages = server.call(deltas(client))
        book = httpx.get(server.url + "/api/book").json()

    assert 1 <= len(messages) <= 2  # one delta, split only by the size limit
    rows = [rid for m in messages for rid in _row_ids(json.loads(m).get("cells", []))]
    assert len(rows) == len(set(rows)), "each row once, with its latest values"
    for text in messages:
        mirror.apply(text)
    assert mirror.matches(book)


def _row_ids(cells: list[int]) -> list[int]:
    out = []
    i = 0
    while i < len(cells):
        out.append(cells[i])
        i += 2 + 2 * cells[i + 1]
    return out


def hub_snapshot_for(server: LiveServer) -> list[str]:
    async def snap() -> list[str]:
        return server.hub.snapshot_messages(server.hub.join())

    return server.call(snap())


def test_a_row_that_appears_is_sent_whole_once_then_as_cells() -> None:
    venue = Venue(seed=3)
    with LiveServer(venue) as server:

        async def run() -> tuple[Mirror, str]:
            ws, mirror = await _connect(server)
            follower = asyncio.create_task(mirror.follow(ws))
            # A buy of a code the account does not hold adds a row once it fills.
            held = set(server.held())
            code = next(i.code for i in venue.instruments() if i.code not in held)
            upper = venue.quote(code).upper
            order = {"account": "a0", "side": "buy", "code": code, "qty": 3, "price": upper}
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.post("/api/orders", json=order)).status_code == 200
            await asyncio.to_thread(_step, venue, 10)
            await _until_exact(server, [mirror])
            await ws.close()
            await follower
            return mirror, code

        mirror, code = asyncio.run(run())
    assert f"a0|{code}|cash|" in mirror.by_key()


def test_a_client_that_reconnects_gets_a_fresh_snapshot() -> None:
    with LiveServer() as server:

        async def run() -> tuple[Mirror, Mirror]:
            ws, first = await _connect(server)
            follower = asyncio.create_task(first.follow(ws))
            await asyncio.to_thread(_step, server.venue, 20)
            await _until_exact(server, [first])
            await ws.close()
            await follower
            await asyncio.to_thread(_step, server.venue, 20)
            ws, second = await _connect(server)
            await _until_exact(server, [second])
            await ws.close()
            return first, second

        first, second = asyncio.run(run())
    assert first.seq > 0
    assert second.seq == 0  # the snapshot alone brought it up to date


def test_loan_rows_keep_their_own_keys() -> None:
    with LiveServer(big_venue(accounts=1)) as server:
        snapshot = hub_snapshot_for(server)
    mirror = Mirror()
    for text in snapshot:
        mirror.apply(text)
    keys = mirror.by_key()
    loan = date(2024, 3, 4).isoformat()
    assert f"a0|005930|margin_self|{loan}" in keys
    assert "a0|005930|cash|" in keys
