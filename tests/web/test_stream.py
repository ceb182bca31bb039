"""The WebSocket stream: a snapshot, then numbered, coalesced deltas that keep clients exact."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from jango.domain.book import Changes
from jango.sandbox.venue import Venue
from tests.web.live import LiveServer, big_venue

CLIENTS = 20
STEPS = 100
TIMEOUT = 30.0


class Mirror:
    """What one client knows: the snapshot with every delta applied, as a page would."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == 0
        self.seq = 0
        self.deltas = 0
        self.rows = {r["key"]: r for a in snapshot["accounts"] for r in a["rows"]}
        self.accounts = {a["id"]: _summary(a) for a in snapshot["accounts"]}
        self.grand = snapshot["grand"]

    def apply(self, delta: dict[str, Any]) -> None:
        assert delta["type"] == "delta"
        assert delta["seq"] == self.seq + 1, "deltas come numbered, without gaps"
        self.seq = delta["seq"]
        self.deltas += 1
        keys = [r["key"] for r in delta.get("rows", [])]
        assert len(keys) == len(set(keys)), "a row appears once per delta however often it moved"
        for row in delta.get("rows", []):
            self.rows[row["key"]] = row
        for key in delta.get("removed", []):
            self.rows.pop(key, None)
        for account in delta.get("accounts", []):
            self.accounts[account["id"]] = _summary(account)
        if "accounts" in delta:
            self.grand = delta["grand"]

    def matches(self, book: dict[str, Any]) -> bool:
        rows = {r["key"]: r for a in book["accounts"] for r in a["rows"]}
        accounts = {a["id"]: _summary(a) for a in book["accounts"]}
        return self.rows == rows and self.accounts == accounts and self.grand == book["grand"]

    async def follow(self, ws: ClientConnection) -> None:
        async for message in ws:
            self.apply(json.loads(message))


def _summary(account: dict[str, Any]) -> dict[str, Any]:
    return {k: account[k] for k in ("id", "label", "cash", "totals", "open_orders")}


def _step(venue: Venue, steps: int) -> None:
    for _ in range(steps):
        venue.step()


async def _connect(server: LiveServer) -> tuple[ClientConnection, Mirror]:
    ws = await websockets.connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT)
    return ws, Mirror(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))


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
    # Coalesced: a client gets at most one delta per push, and a push covers many change sets.
    assert all(m.deltas <= flushes for m in mirrors)
    assert flushes < len(published)


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
