"""Each WebSocket client's pusher runs under the session's supervisor: a bug in it is shown in
the status and restarted with a fresh snapshot, and a client that leaves takes its problem along."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import websockets

from jango.views.web.grid import GridClient, GridHub
from tests.web.live import LiveServer

TIMEOUT = 30.0


def _fail_once(hub: GridHub) -> list[int]:
    """Make ``hub.delta_messages`` raise the first time it is called; count its calls."""
    real: Callable[[GridClient], Iterator[str]] = hub.delta_messages  # type: ignore[assignment]
    calls: list[int] = []

    def flaky(client: GridClient) -> Iterator[str]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug while encoding a delta")
        return real(client)

    hub.delta_messages = flaky  # type: ignore[method-assign]
    return calls


def test_a_pusher_that_dies_is_shown_and_restarted_with_a_fresh_snapshot() -> None:
    with LiveServer() as server:
        calls = _fail_once(server.app.state.hub)

        async def run() -> list[dict[str, object]]:
            # Step the market until the restarted pusher has sent a delta after its snapshot.
            received: list[dict[str, object]] = []
            async with websockets.connect(
                f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT, max_size=None
            ) as ws:
                async with asyncio.timeout(TIMEOUT):
                    while [m["type"] for m in received][-2:] != ["snapshot", "delta"]:
                        await asyncio.to_thread(server.venue.step)
                        try:
                            received.append(json.loads(await asyncio.wait_for(ws.recv(), 0.2)))
                        except TimeoutError:
                            continue
            return received

        received = asyncio.run(run())
        incidents = [p for p in server.session.supervisor.incidents if p.task.startswith("web ")]
    assert len(calls) >= 2
    assert [m["type"] for m in received] == ["snapshot", "snapshot", "delta"]
    assert incidents and incidents[0].error == "RuntimeError: a bug while encoding a delta"
    assert not incidents[0].permanent


def test_the_status_shows_a_dead_pusher_until_its_client_leaves() -> None:
    with LiveServer() as server:
        hub: GridHub = server.app.state.hub

        def broken(client: GridClient) -> Iterator[str]:
            raise RuntimeError("always broken")

        hub.delta_messages = broken  # type: ignore[method-assign]

        async def run() -> tuple[list[str], list[str]]:
            async with websockets.connect(
                f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT, max_size=None
            ) as ws:
                await ws.recv()
                await asyncio.to_thread(server.venue.step)
                async with asyncio.timeout(TIMEOUT):
                    while not server.session.status.problems:
                        await asyncio.sleep(0.02)
                while_connected = [p.task for p in server.session.status.problems]
            async with asyncio.timeout(TIMEOUT):
                while server.session.status.problems:
                    await asyncio.sleep(0.02)
            return while_connected, [p.task for p in server.session.status.problems]

        while_connected, after = asyncio.run(run())
    assert len(while_connected) == 1 and while_connected[0].startswith("web client ")
    assert after == []
