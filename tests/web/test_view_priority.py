"""A page that says which rows are on its screen gets those rows' cells every frame and the rest
of the book coalesced at least every half second, so a 5,000-row book costs a frame what its
visible rows cost, and the page's model still ends exact."""

from __future__ import annotations

import asyncio
import json

import pytest

from jango.brokers.sim.broker import SimBroker
from jango.engine import Session
from jango.views.web.grid import BACKGROUND_SECONDS, VIEW_LIMIT, GridHub, parse_view
from tests.web.live import LiveServer, big_venue
from tests.web.test_stream import Mirror, _connect, _row_ids, _step, _until_exact


def test_a_view_message_is_a_short_list_of_row_ids_and_nothing_else_counts() -> None:
    assert parse_view('{"type":"view","rows":[3,1,2]}') == [3, 1, 2]
    assert parse_view('{"type":"view","rows":[]}') == []
    for bad in (
        '{"type":"view","rows":[true]}',
        '{"type":"view","rows":[-1]}',
        '{"type":"view","rows":[1.5]}',
        '{"type":"view","rows":"1,2"}',
        '{"type":"views","rows":[1]}',
        '["view",[1]]',
        "not json",
        "[" * 5_000 + "]" * 5_000,
        json.dumps({"type": "view", "rows": list(range(VIEW_LIMIT + 1))}),
    ):
        assert parse_view(bad) is None, bad


def test_rows_in_view_go_every_frame_and_the_rest_once_the_background_interval_passed() -> None:
    async def run() -> None:
        venue = big_venue(accounts=1)
        session = Session(SimBroker(venue, tick_interval=0))
        await session.start()
        clock = [1_000.0]
        hub = GridHub(session, clock=lambda: clock[0])
        hub.start()
        try:
            client = hub.join()
            hub.snapshot_messages(client)
            rids = sorted(hub._values)
            view = set(rids[:40])
            hub.view_changed(client, view)
            hub.flush()
            hub.delta_messages(client)  # the first delta after joining carries everything
            venue.step(10_000)  # every code moves: every row changes
            await asyncio.sleep(0.05)  # the session applies the step
            hub.flush()
            first = _cells_of(hub.delta_messages(client))
            assert first and first <= view
            clock[0] += BACKGROUND_SECONDS  # the interval passes
            hub.flush()
            rest = _cells_of(hub.delta_messages(client))
            assert rest and rest.isdisjoint(view)
            assert client.sent == hub._values  # the client holds the whole book again
        finally:
            await hub.stop()
            await session.stop()

    asyncio.run(run())


def _cells_of(messages: list[str]) -> set[int]:
    out: set[int] = set()
    for text in messages:
        out |= set(_row_ids(json.loads(text).get("cells", [])))
    return out


def test_a_page_with_a_view_still_ends_with_the_whole_book_exact() -> None:
    with LiveServer(big_venue(accounts=2)) as server:

        async def run() -> Mirror:
            ws, mirror = await _connect(server)
            await ws.send(json.dumps({"type": "view", "rows": sorted(mirror.rows)[:5]}))
            follower = asyncio.create_task(mirror.follow(ws))
            await asyncio.to_thread(_step, server.venue, 20)
            await _until_exact(server, [mirror])
            follower.cancel()
            await ws.close()
            return mirror

        mirror = asyncio.run(run())
    assert mirror.seq > 0


@pytest.mark.parametrize("garbage", ["hello", "{}", '{"type":"view","rows":[true]}', "[" * 9000])
def test_what_a_page_sends_besides_its_view_is_dropped_and_the_stream_goes_on(
    garbage: str,
) -> None:
    with LiveServer() as server:

        async def run() -> Mirror:
            ws, mirror = await _connect(server)
            await ws.send(garbage)
            follower = asyncio.create_task(mirror.follow(ws))
            await asyncio.to_thread(_step, server.venue, 10)
            await _until_exact(server, [mirror])
            follower.cancel()
            await ws.close()
            return mirror

        mirror = asyncio.run(run())
    assert mirror.seq > 0
