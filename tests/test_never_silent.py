"""Never silent, never stuck: a task that dies is shown, journaled, restarted or reported.

Faults here are real: the KIS sandbox answers balance paging with SYDB0050 ("data changed, read
again") after dropping every socket, so the reconcile that follows the reconnect fails for real;
a strategy task that raises; a listener that raises. Brokers, sockets and tasks are the real
ones, on loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import websockets
from rich.text import Text
from textual.widgets import Static

from jango.brokers.kis import KisBroker
from jango.brokers.port import OrderRequest
from jango.brokers.sim.broker import SimBroker
from jango.domain.book import Row
from jango.domain.model import BalanceRow, Discrepancy, Event, HoldingKey, Side
from jango.engine import Session
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from jango.supervisor import Backoff, Problem
from jango.views.report import book_report
from jango.views.terminal import JangoApp
from jango.views.web.hub import Hub
from jango.views.web.payload import status_payload
from tests.kis.helpers import FAST, config_for
from tests.web.live import LiveServer

ACCOUNT = "5012345601"
QUICK = Backoff(initial=0.01, factor=2.0, maximum=0.05, attempts=3, healthy_after=0.3)
WAIT = 20.0  # a safety net on every wait, never a measurement


class Capture:
    """A recorder keeping what the session journaled, errors with their source."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.errors: list[tuple[str, str, str]] = []  # (source, error, raw)

    def record_event(self, event: Event, *, raw: str, source: str, at: datetime) -> None:
        self.events.append(event)

    def record_error(self, *, raw: str, error: str, source: str, at: datetime) -> None:
        self.errors.append((source, error, raw))

    def record_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        pass


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def rows_of(rows: Iterable[Row | BalanceRow]) -> dict[HoldingKey, tuple[int, int]]:
    return {r.key: (r.qty, r.sellable) for r in rows}


def pump_deaths(session: Session) -> list[Problem]:
    return [p for p in session.supervisor.incidents if p.task == "pump"]


async def kis_session(tmp_path: Path, capture: Capture) -> tuple[Venue, KisSandbox, Session]:
    venue = Venue(seed=11, depth_won=10**12)
    # Four rows a page: the demo account's seven rows take two pages, so a reconcile pages.
    sandbox = KisSandbox(venue, tick_interval=0.02, page_size=4)
    await sandbox.start()
    broker = KisBroker(config_for(sandbox, tmp_path / "token.json"), tuning=FAST)
    session = Session(broker, recorder=capture, poll_interval=0.1, restart=QUICK)
    return venue, sandbox, session


async def drop_with_balance_changing(sandbox: KisSandbox, failing_pages: int) -> None:
    """Drop every socket; the next ``failing_pages`` balance continuations answer SYDB0050."""
    sandbox.set_faults(data_changed=failing_pages, drop=True)


async def test_a_pump_whose_reconcile_fails_is_restarted_and_applies_a_later_fill(
    tmp_path: Path,
) -> None:
    capture = Capture()
    venue, sandbox, session = await kis_session(tmp_path, capture)
    degraded_at_death: list[bool] = []
    session.supervisor.listen(
        lambda task, problem, error: (
            degraded_at_death.append(session.status.degraded) if error is not None else None
        )
    )
    try:
        async with session:
            assert not session.status.degraded
            # Enough SYDB0050 answers that one whole balance read (the adapter's own restarts
            # included) fails: the reconcile after the reconnect raises inside the pump.
            await drop_with_balance_changing(sandbox, FAST.balance_restarts + 1)
            await until(lambda: len(pump_deaths(session)) == 1, "the pump to die once")
            [death] = pump_deaths(session)
            assert "BrokerError" in death.error and not death.permanent
            assert degraded_at_death == [True]  # the status said so the moment it died
            await until(lambda: not session.status.degraded, "the pump to recover")
            assert session.failures == ()
            assert rows_of(session.book.rows()) == rows_of(venue.balance(ACCOUNT).rows)

            new = next(
                i.code for i in venue.instruments() if i.code not in session.book.held_codes()
            )
            quote = await session.broker.quote(new)
            await session.place(OrderRequest(ACCOUNT, Side.BUY, new, 3, quote.upper))
            await session.wait_for(
                lambda book: any(r.key.code == new and r.qty == 3 for r in book.rows()), WAIT
            )
            assert rows_of(session.book.rows()) == rows_of(venue.balance(ACCOUNT).rows)
        assert await session.stop() == ()
    finally:
        await sandbox.stop()
    [(_, error, raw)] = [e for e in capture.errors if e[0] == "jango:pump"]
    assert error == death.describe()
    assert "SYDB0050" in error
    assert raw.startswith("Traceback") and "BrokerError" in raw  # the whole traceback is kept


async def test_a_pump_that_cannot_recover_is_given_up_and_every_report_says_so(
    tmp_path: Path,
) -> None:
    capture = Capture()
    venue, sandbox, session = await kis_session(tmp_path, capture)
    try:
        async with session:
            await drop_with_balance_changing(sandbox, 10**6)
            await until(lambda: bool(session.failures), "the pump to be given up")
            [failure] = session.failures
            assert failure.task == "pump" and failure.permanent
            assert failure.restarts == QUICK.attempts
            assert session.status.degraded
            held_before = session.book.held_codes()
            # With the pump gone a fill is no longer followed, and the status keeps saying so.
            new = next(i.code for i in venue.instruments() if i.code not in held_before)
            quote = await session.broker.quote(new)
            await session.place(OrderRequest(ACCOUNT, Side.BUY, new, 1, quote.upper))
            await until(lambda: any(r.code == new for r in venue.balance(ACCOUNT).rows), "the fill")
            assert session.book.held_codes() == held_before
            # What is still pushed is taken and counted, so it does not pile up in the adapter.
            await until(lambda: session.stats.discarded > 0, "pushed items to be drained")
            report = book_report(session.book, status=session.status)["status"]
            assert report["degraded"] is True
            [shown] = report["problems"]
            assert shown["task"] == "pump" and shown["permanent"] is True
            assert "given up after 3 restarts" in shown["text"]
            assert status_payload(session.status)["problems"] == report["problems"]
        assert await session.stop() == (failure,)
    finally:
        await sandbox.stop()
    deaths = [e for e in capture.errors if e[0] == "jango:pump"]
    assert len(deaths) == QUICK.attempts + 1
    assert deaths[-1][1] == failure.describe()


async def test_a_strategy_task_that_keeps_failing_degrades_the_status_and_stop_reports_it() -> None:
    venue = Venue(seed=7)
    venue.open_demo_account()
    capture = Capture()
    session = Session(SimBroker(venue, tick_interval=0.0), recorder=capture, restart=QUICK)
    runs = 0

    async def strategy() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0)
        raise ZeroDivisionError("division by zero in my signal")

    async with session:
        session.spawn("my strategy", strategy)
        await until(lambda: bool(session.failures), "the strategy to be given up")
        assert runs == QUICK.attempts + 1
        assert [p.task for p in session.status.problems] == ["my strategy"]
        # The book goes on: the pump is unaffected.
        ticks = session.stats.ticks
        for _ in range(20):
            venue.step()
        await until(lambda: session.stats.ticks > ticks, "ticks after the failure")
    [failure] = await session.stop()
    assert failure.task == "my strategy"
    assert "ZeroDivisionError: division by zero in my signal" in failure.describe()
    assert [e[0] for e in capture.errors] == ["jango:my strategy"] * (QUICK.attempts + 1)


async def test_a_listener_that_raises_is_reported_once_and_the_book_goes_on() -> None:
    venue = Venue(seed=7)
    venue.open_demo_account()
    capture = Capture()
    seen = 0

    def fragile(changes: object) -> None:
        nonlocal seen
        seen += 1
        raise KeyError("a view bug")

    async with Session(SimBroker(venue, tick_interval=0.0), recorder=capture) as session:
        session.on_change(fragile)
        for _ in range(50):
            venue.step()
        await until(lambda: seen >= 10, "the listener to be called again and again")
        assert session.stats.listener_errors == seen
        assert not session.status.degraded
        assert session.supervisor.incidents == type(session.supervisor.incidents)()
    [(source, error, _)] = capture.errors
    assert source == "jango:listener" and "KeyError" in error


async def test_a_reader_that_never_reads_holds_one_merged_change_set_not_a_queue() -> None:
    venue = Venue(seed=7)
    venue.open_demo_account()
    published = 0

    def count(changes: object) -> None:
        nonlocal published
        published += 1

    async with Session(SimBroker(venue, tick_interval=0.0)) as session:
        session.on_change(count)
        stream = session.changes()  # made, never read while the market moves
        rows = {r.key for r in session.book.rows()}
        for _ in range(100_000):  # bounded by steps, ended by a count of change sets
            if published >= 2000:
                break
            venue.step()
            await asyncio.sleep(0)
        assert published >= 2000
        queue = stream.queue
        assert queue.puts == published
        assert len(queue) == 1
        assert queue.size <= len(rows) + len(session.accounts) + len(session.book.orders)
        merged = await anext(stream)
        assert merged.rows <= rows and merged.rows  # every key at most once
        assert queue.take_nowait() is None
    # It ends with the session, after at most one merged set: what the venue had already made
    # when the session stopped is applied before the stop (so the book ends as the market).
    rest = [c async for c in stream]
    assert len(rest) <= 1 and all(c.rows <= rows for c in rest)


async def test_a_web_client_that_never_reads_has_at_most_the_book_pending() -> None:
    venue = Venue(seed=7)
    venue.open_demo_account()
    async with Session(SimBroker(venue, tick_interval=0.0)) as session:
        hub = Hub(session, interval=3600.0)
        hub.start()
        client = hub.join()
        hub.snapshot(client)
        for _ in range(300):
            venue.step()
            await asyncio.sleep(0)
            hub.flush()
        assert hub.flushes >= 300
        assert client.rows <= {r.key for r in session.book.rows()}
        assert len(client.accounts) <= len(session.book.accounts)
        await hub.stop()


def test_the_web_stream_pushes_a_failure_as_soon_as_it_happens() -> None:
    with LiveServer() as server:

        async def watch() -> dict[str, Any]:
            url = f"ws://127.0.0.1:{server.port}/ws"
            async with websockets.connect(url) as ws:
                snapshot = json.loads(await ws.recv())
                assert snapshot["status"]["degraded"] is False

                async def broken() -> None:
                    raise OSError("strategy lost its data feed")

                server.session.spawn("feed", broken, restart=False)
                async with asyncio.timeout(WAIT):
                    while True:
                        message = json.loads(await ws.recv())
                        status = message.get("status")
                        if status and status["degraded"]:
                            return dict(status)

        status = server.call(watch())
    [problem] = status["problems"]
    assert problem["task"] == "feed" and problem["permanent"] is True
    assert "OSError: strategy lost its data feed" in problem["text"]


async def test_the_terminal_status_line_shows_what_stopped_and_since_when_in_red() -> None:
    venue = Venue(seed=7)
    venue.open_demo_account()
    session = Session(SimBroker(venue, tick_interval=0.0), restart=QUICK)
    app = JangoApp(session, lang="en")

    async def broken() -> None:
        raise OSError("strategy lost its data feed")

    def status_line() -> Text:
        content = app.query_one("#status", Static).content
        assert isinstance(content, Text)
        return content

    async with app.run_test(size=(200, 50)) as pilot:
        await until(lambda: session.status.connected, "the session to start")
        session.spawn("feed", broken, restart=False)
        async with asyncio.timeout(WAIT):
            while "Degraded" not in status_line().plain:
                await pilot.pause(0.02)
        line = status_line()
        [failure] = session.failures
        first = line.plain.splitlines()[0]
        assert first == f"✖ Degraded: {failure.describe()}"
        assert f"feed stopped at {failure.since:%H:%M:%S}" in first
        assert any("red" in str(span.style) for span in line.spans)
        await pilot.press("q")
    assert session.failures == (failure,)
