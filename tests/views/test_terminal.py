"""The live terminal view: driven through textual's pilot on a sim session, and for real under tmux.

Nothing here waits for a fixed time: every wait polls for a condition with a bounded timeout.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path

import openpyxl
from textual.pilot import Pilot
from textual.widgets import DataTable

from jango.brokers.port import OrderRequest
from jango.brokers.sim.broker import SimBroker
from jango.domain.model import BalanceRow, Code, HoldingKey, OrderType, Side
from jango.engine import Session
from jango.sandbox.instruments import load_instruments
from jango.sandbox.venue import Venue
from jango.views.report import ROW_COLUMNS, won
from jango.views.terminal import EXIT_STARTUP_ERROR, JangoApp, row_id

ACC = "5099999901"
SAMSUNG = Code("005930")
HYNIX = Code("000660")
NAVER = Code("035420")
SAMSUNG_ID = row_id(HoldingKey(ACC, SAMSUNG))
HYNIX_ID = row_id(HoldingKey(ACC, HYNIX))
NAVER_ID = row_id(HoldingKey(ACC, NAVER))
TICK_COLUMNS = {"price", "value", "pnl", "pnl_rate"}
TIMEOUT = 15.0


def synchronously(test: Callable[..., Coroutine[object, object, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop, as the rest of the suite does."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def make_venue() -> Venue:
    """Three instruments, two of them held; depth so large that market orders fill at once."""
    specs = [s for s in load_instruments() if s.code in (SAMSUNG, HYNIX, NAVER)]
    venue = Venue(specs, seed=7, depth_won=10**15)
    venue.open_account(
        ACC,
        cash=100_000_000,
        holdings=[
            BalanceRow(ACC, SAMSUNG, 10, 10, 700_000),
            BalanceRow(ACC, HYNIX, 5, 5, 1_000_000),
        ],
    )
    return venue


def make_app(venue: Venue, tmp_path: Path) -> JangoApp:
    # tick_interval=0: the test steps the venue itself, so it knows exactly what moved.
    return JangoApp(Session(SimBroker(venue, tick_interval=0)), lang="en", export_dir=tmp_path)


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def shown(table: DataTable[object], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


def row_keys(table: DataTable[object]) -> list[str]:
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def holdings(app: JangoApp) -> DataTable[object]:
    return app.query_one("#holdings", DataTable)


def row_ids(table: DataTable[object]) -> set[str]:
    return {str(k.value) for k in table.rows}


# --------------------------------------------------------------------- pilot


@synchronously
async def test_a_tick_redraws_only_the_cells_it_changed(tmp_path: Path) -> None:
    venue = make_venue()
    app = make_app(venue, tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        table = holdings(app)
        await until(pilot, lambda: table.row_count == 2, "two holdings")
        hynix_before = shown(table, HYNIX_ID)
        samsung_before = shown(table, SAMSUNG_ID)
        book = app.session.book
        # Step one code at a time until a held code's price really moves.
        while True:
            (tick,) = venue.step(1)
            row = book.row(HoldingKey(ACC, tick.code))
            if row is not None and not tick.expected and tick.price != row.price:
                break
        moved_id = row_id(HoldingKey(ACC, tick.code))
        await until(
            pilot,
            lambda: str(table.get_cell(moved_id, "price")) == won(tick.price),
            "the new price on screen",
        )
        updated = {(k, c) for t, k, c in app.redraws.last_cells if t == "holdings"}
        assert {c for _, c in updated} <= TICK_COLUMNS
        assert {"price", "value", "pnl"} <= {c for _, c in updated}
        assert {k for k, _ in updated} == {moved_id}
        totals_updated = {(k, c) for t, k, c in app.redraws.last_cells if t == "totals"}
        assert {k for k, _ in totals_updated} == {ACC}
        assert {c for _, c in totals_updated} <= {"value", "pnl"}
        still_id, still_before = (
            (HYNIX_ID, hynix_before) if tick.code == SAMSUNG else (SAMSUNG_ID, samsung_before)
        )
        assert shown(table, still_id) == still_before
        moved_before = samsung_before if tick.code == SAMSUNG else hynix_before
        after = shown(table, moved_id)
        unchanged = [i for i, (a, b) in enumerate(zip(moved_before, after, strict=True)) if a == b]
        assert len(unchanged) >= len(after) - len(TICK_COLUMNS)
        totals = app.query_one("#totals", DataTable)
        value = book.accounts[ACC].totals.value
        await until(
            pilot, lambda: str(totals.get_cell(ACC, "value")) == won(value), "totals redrawn"
        )


@synchronously
async def test_rows_appear_and_disappear_as_holdings_open_and_close(tmp_path: Path) -> None:
    venue = make_venue()
    app = make_app(venue, tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        table = holdings(app)
        await until(pilot, lambda: table.row_count == 2, "two holdings")
        session = app.session
        await session.place(OrderRequest(ACC, Side.SELL, HYNIX, 5, 0, order_type=OrderType.MARKET))
        await until(pilot, lambda: HYNIX_ID not in row_ids(table), "the sold row to go")
        assert row_ids(table) == {SAMSUNG_ID}
        await session.place(OrderRequest(ACC, Side.BUY, NAVER, 3, 0, order_type=OrderType.MARKET))
        await until(pilot, lambda: NAVER_ID in row_ids(table), "the bought row to appear")
        # New rows take their place in book order, not at the bottom.
        assert row_keys(table) == [SAMSUNG, NAVER]
        assert str(table.get_cell(NAVER_ID, "qty")) == "3"


@synchronously
async def test_open_orders_are_listed_until_cancelled(tmp_path: Path) -> None:
    venue = make_venue()
    app = make_app(venue, tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: holdings(app).row_count == 2, "two holdings")
        orders = app.query_one("#orders", DataTable)
        lower = venue.quote(SAMSUNG).lower  # a valid price that will not fill
        ack = await app.session.place(OrderRequest(ACC, Side.BUY, SAMSUNG, 2, lower))
        await until(pilot, lambda: ack.order_no in row_ids(orders), "the open order")
        assert shown(orders, ack.order_no)[:5] == [ack.order_no, SAMSUNG, "Buy", "2", won(lower)]
        await app.session.cancel(ACC, ack.order_no)
        await until(pilot, lambda: orders.row_count == 0, "the cancelled order to go")


@synchronously
async def test_export_and_snapshot_keys_write_files_and_say_where(tmp_path: Path) -> None:
    app = make_app(make_venue(), tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: holdings(app).row_count == 2, "two holdings")
        await pilot.press("e")
        (xlsx,) = tmp_path.glob("jango-*.xlsx")
        assert openpyxl.load_workbook(xlsx).sheetnames == [ACC, "Orders"]
        await pilot.press("p")
        (snap,) = tmp_path.glob("jango-snapshot-*.txt")
        text = snap.read_text(encoding="utf-8")
        assert "005930" in text and "Holdings" in text
        message = str(app.query_one("#message").render())
        assert str(snap) in message


@synchronously
async def test_quitting_stops_the_session_and_closes_subscriptions(tmp_path: Path) -> None:
    venue = make_venue()
    app = make_app(venue, tmp_path)
    broker = app.session.broker
    assert isinstance(broker, SimBroker)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: holdings(app).row_count == 2, "two holdings")
        assert broker.subscriptions == {SAMSUNG, HYNIX}
        await pilot.press("q")
    assert app.return_code == 0
    assert not app.session.status.connected
    assert broker.subscriptions == frozenset()


@synchronously
async def test_seconds_makes_the_view_quit_by_itself(tmp_path: Path) -> None:
    session = Session(SimBroker(make_venue(), tick_interval=0))
    app = JangoApp(session, lang="en", seconds=0.2, export_dir=tmp_path)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.return_code is not None, "the app to quit")
    assert app.return_code == 0
    assert session.status.detail == "stopped"


@synchronously
async def test_a_broker_that_fails_to_start_exits_non_zero_with_its_message(
    tmp_path: Path,
) -> None:
    session = Session(SimBroker(make_venue(), tick_interval=0), accounts=["0000000000"])
    app = JangoApp(session, lang="en", export_dir=tmp_path)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.return_code is not None, "the app to give up")
    assert app.return_code == EXIT_STARTUP_ERROR
    assert app.error is not None and "0000000000" in app.error


# --------------------------------------------------------------------- tmux


class Tmux:
    """A private tmux server (its own socket) running one command in a 200×50 pane."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        # pytest exports COLUMNS=80/LINES=24; passed on, they would pin the app to 80×24.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, env=env
        )
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "jango")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "jango", *keys)


def wait(predicate: Callable[[], object], what: str, tmux: Tmux) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen:\n{tmux.screen()}")
        time.sleep(0.1)


def samsung_price(screen: str) -> str | None:
    """The price cell of the Samsung cash row (columns: code name credit qty sellable avg cost
    price ...; the loan date of a cash row is blank)."""
    for line in screen.splitlines():
        cells = line.split()
        # A capture can catch a line half drawn: only a whole row (less its blank loan date) counts.
        if cells[:1] == ["005930"] and "현금" in cells and len(cells) == len(ROW_COLUMNS) - 1:
            return cells[7]
    return None


def test_jango_run_in_a_real_terminal_updates_exports_and_quits(tmux: Tmux, tmp_path: Path) -> None:
    run = shlex.join([sys.executable, "-m", "jango.cli", "run", "--seed", "1", "--lang", "en"])
    exit_file = tmp_path / "exit"
    script = (
        f"cd {shlex.quote(str(tmp_path))} && JANGO_EXPORT_DIR={shlex.quote(str(tmp_path))} "
        f"{run}; echo EXIT=$? > {shlex.quote(str(exit_file))}"
    )
    tmux.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "jango", "sh", "-c", script)
    wait(lambda: samsung_price(tmux.screen()), "the holdings", tmux)
    screen = tmux.screen()
    assert "Holdings" in screen and "삼성전자" in screen and "connected" in screen
    first = samsung_price(screen)
    wait(lambda: samsung_price(tmux.screen()) not in (None, first), "a price to change", tmux)

    tmux.keys("e")
    wait(lambda: "exported:" in tmux.screen(), "the export message", tmux)
    (xlsx,) = tmp_path.glob("jango-*.xlsx")
    assert str(xlsx) in tmux.screen().replace("\n", "")
    sheet = openpyxl.load_workbook(xlsx)["5012345601"]
    assert sheet.cell(1, 1).value == "Code"
    assert "005930" in [sheet.cell(r, 1).value for r in range(2, sheet.max_row + 1)]

    tmux.keys("q")
    wait(exit_file.exists, "jango to exit", tmux)
    assert exit_file.read_text().strip() == "EXIT=0"
