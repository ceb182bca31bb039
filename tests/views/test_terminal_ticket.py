"""Orders from the terminal view: a ticket on the selected holding (buy more, sell part, sell
all) and on the selected open order (amend, cancel), checked before sending and answered with
the broker's reply, while the balance keeps moving behind it."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from jango.domain.book import OrderStatus, Row
from jango.domain.model import HoldingKey, Side
from jango.views.report import ROW_COLUMNS
from jango.views.terminal import JangoApp
from jango.views.ticket import TicketScreen
from tests.views.test_terminal import (
    ACC,
    HYNIX,
    SAMSUNG,
    SAMSUNG_ID,
    Tmux,
    holdings,
    make_app,
    make_venue,
    synchronously,
    until,
    wait,
)

SAMSUNG_KEY = HoldingKey(ACC, SAMSUNG)


async def _started(pilot: Pilot[int], app: JangoApp) -> None:
    await until(pilot, lambda: holdings(app).row_count == 2, "two holdings")
    await until(pilot, lambda: app.session.book.price_limits(SAMSUNG) is not None, "a price")


async def _select_samsung(pilot: Pilot[int], app: JangoApp) -> None:
    table = holdings(app)
    table.focus()
    table.move_cursor(row=table.get_row_index(SAMSUNG_ID))
    await pilot.pause()


def _ticket(app: JangoApp) -> TicketScreen:
    screen = app.screen
    assert isinstance(screen, TicketScreen), f"no ticket open, but {screen!r}"
    return screen


async def _fill(pilot: Pilot[int], app: JangoApp, field: str, text: str) -> None:
    box = _ticket(app).query_one(f"#{field}", Input)
    box.value = text
    box.focus()
    await pilot.pause()


def _error(app: JangoApp) -> str:
    return str(_ticket(app).query_one("#ticket-error", Static).render())


def _message(app: JangoApp) -> str:
    return str(app.query_one("#message", Static).render())


def _samsung(app: JangoApp) -> Row:
    row = app.session.book.row(SAMSUNG_KEY)
    assert row is not None
    return row


def _upper(app: JangoApp) -> int:
    limits = app.session.book.price_limits(SAMSUNG)
    assert limits is not None
    return limits[0]


@synchronously
async def test_sell_part_of_a_row_then_amend_and_cancel_it_from_the_keyboard(
    tmp_path: Path,
) -> None:
    app = make_app(make_venue(), tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await _started(pilot, app)
        book = app.session.book
        await _select_samsung(pilot, app)
        await pilot.press("s")
        await _fill(pilot, app, "qty", "4")
        # At the upper limit the sell rests: nothing on the sim buys that high.
        await _fill(pilot, app, "price", str(_upper(app)))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, TicketScreen), "the ticket to close")
        assert "Sell accepted: order" in _message(app)
        await until(pilot, lambda: _samsung(app).sellable == 6, "sellable 10 → 6")
        orders: DataTable[object] = app.query_one("#orders", DataTable)
        await until(pilot, lambda: orders.row_count == 1, "the open order in its table")
        (first,) = [o for o in book.orders.values() if o.status is OrderStatus.OPEN]

        await pilot.press("tab")
        await until(pilot, lambda: orders.has_focus, "the orders table focused")
        await pilot.press("a")
        lower_price = _upper(app) - 1_000
        await _fill(pilot, app, "price", str(lower_price))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, TicketScreen), "the amend to go")
        assert "Amend accepted" in _message(app)
        await until(
            pilot,
            lambda: any(
                o.status is OrderStatus.OPEN and o.price == lower_price
                for o in book.orders.values()
            ),
            "the amended order open at its new price",
        )
        assert book.orders[first.order_no].status is not OrderStatus.OPEN

        (second,) = [o for o in book.orders.values() if o.status is OrderStatus.OPEN]
        await until(
            pilot,
            lambda: [str(k.value) for k in orders.rows] == [second.order_no],
            "only the new order in the table",
        )
        orders.focus()
        orders.move_cursor(row=0)
        await pilot.press("c")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, TicketScreen), "the cancel to go")
        assert "Cancel accepted" in _message(app)
        await until(pilot, lambda: _samsung(app).sellable == 10, "sellable back to 10")
        await until(pilot, lambda: orders.row_count == 0, "no open order left")


@synchronously
async def test_a_ticket_refuses_what_the_exchange_would_and_stays_open(tmp_path: Path) -> None:
    app = make_app(make_venue(), tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await _started(pilot, app)
        await _select_samsung(pilot, app)
        await pilot.press("x")
        assert _ticket(app).query_one("#qty", Input).value == "10"  # sell all: every share
        await _fill(pilot, app, "qty", "11")
        await pilot.press("enter")
        assert "more than the 10 shares that can be sold" in _error(app)
        await _fill(pilot, app, "qty", "1")
        await _fill(pilot, app, "price", str(_upper(app) + 100))
        await pilot.press("enter")
        assert f"above the upper limit of {_upper(app):,} won" in _error(app)
        await _fill(pilot, app, "price", str(_upper(app) - 50))
        await pilot.press("enter")
        assert "off the tick grid (100 won)" in _error(app)
        assert not any(o for o in app.session.book.orders.values())
        await pilot.press("escape")
        assert not isinstance(app.screen, TicketScreen)


@synchronously
async def test_buy_more_at_market_fills_and_the_row_grows(tmp_path: Path) -> None:
    app = make_app(make_venue(), tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await _started(pilot, app)
        await _select_samsung(pilot, app)
        await pilot.press("b")
        ticket = _ticket(app)
        assert ticket.ticket.side is Side.BUY
        await _fill(pilot, app, "qty", "2")
        await _fill(pilot, app, "price", "")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, TicketScreen), "the ticket to close")
        book = app.session.book
        await until(pilot, lambda: _samsung(app).qty == 12, "12 shares after the fill")
        assert book.row(HoldingKey(ACC, HYNIX)) is not None


@synchronously
async def test_question_mark_lists_every_key(tmp_path: Path) -> None:
    app = make_app(make_venue(), tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await _started(pilot, app)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help", Static).render())
        for key in ("b ", "s ", "x ", "a ", "c ", "Tab", "e ", "p ", "q "):
            assert key in text
        await pilot.press("escape")
        assert not app.screen.query("#help")


# --------------------------------------------------------------------- tmux


def _cells(screen: str, first: str, width: int) -> list[str] | None:
    """The cells of the whole line whose first cell is ``first`` and that has ``width`` cells."""
    for line in screen.splitlines():
        cells = line.split()
        if cells[:1] == [first] and len(cells) == width:
            return cells
    return None


def _hynix(screen: str) -> list[str] | None:
    # code name credit qty sellable avg cost price value pnl rate (a cash row's loan date blank)
    return _cells(screen, "000660", len(ROW_COLUMNS) - 1)


def _open_orders(screen: str) -> list[list[str]]:
    # order_no code side qty price filled remaining
    return [
        cells
        for cells in (line.split() for line in screen.splitlines())
        if len(cells) == 7 and cells[0].isdigit() and cells[1] == "000660"
    ]


def _box(screen: str, title: str) -> str | None:
    """What the ticket's input box under ``title`` shows (its middle line, between the bars)."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if title in line and i + 2 < len(lines):
            return lines[i + 2].split("▊", 1)[-1].split("▎", 1)[0].strip()
    return None


def _focus(tmux: Tmux, title: str) -> None:
    """Wait until the ticket marks the box under ``title`` as focused (▸): a key sent before
    textual has moved the focus would land elsewhere."""
    wait(lambda: f"▸ {title}" in tmux.screen(), f"the {title!r} box focused", tmux)


def _shows(tmux: Tmux, title: str, text: str, seconds: float = 3) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _box(tmux.screen(), title) == text:
            return True
        time.sleep(0.05)
    return False


def _type(tmux: Tmux, title: str, text: str) -> None:
    """Put ``text`` in the focused box under ``title`` and wait until it shows.

    Control keys only when the box holds something to clear, each send on its own, and the
    typing repeated if the box does not show it: under load textual was seen to drop digits
    that came in one read with the editing keys."""
    _focus(tmux, title)
    for _ in range(5):
        if _box(tmux.screen(), title) != "":
            tmux.keys("C-e")
            tmux.keys("C-u")
            if not _shows(tmux, title, ""):
                continue
        tmux.keys(text)
        if _shows(tmux, title, text):
            return
    raise AssertionError(f"{text} never showed in the {title!r} box; screen:\n{tmux.screen()}")


def test_sell_part_buy_amend_and_cancel_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    run = shlex.join(
        [sys.executable, "-m", "jango.cli", "run", "--seed", "1", "--lang", "en", "--no-demo"]
    )
    exit_file = tmp_path / "exit"
    script = f"{run}; echo EXIT=$? > {shlex.quote(str(exit_file))}"
    tmux.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "jango", "sh", "-c", script)
    wait(lambda: _hynix(tmux.screen()), "the holdings", tmux)
    hynix = _hynix(tmux.screen())
    assert hynix is not None and hynix[3:5] == ["14", "14"]  # the first row, selected

    tmux.keys("s")
    wait(lambda: "Sell 000660" in tmux.screen(), "the sell ticket", tmux)
    _type(tmux, "Quantity", "4")
    tmux.keys("Enter")
    wait(lambda: "Sell accepted: order" in tmux.screen(), "the broker's answer", tmux)
    wait(lambda: (_hynix(tmux.screen()) or [])[3:5] == ["10", "10"], "14 → 10 shares", tmux)

    price = int((_hynix(tmux.screen()) or [])[7].replace(",", ""))
    resting = price * 9 // 10 // 500 * 500  # on the 500-won grid, inside the day's limits
    tmux.keys("b")
    wait(lambda: "Buy 000660" in tmux.screen(), "the buy ticket", tmux)
    _type(tmux, "Quantity", "1")
    tmux.keys("Tab")
    _type(tmux, "Price (empty: market)", str(resting))
    tmux.keys("Enter")
    wait(lambda: "Buy accepted: order" in tmux.screen(), "the buy's answer", tmux)
    wait(lambda: _open_orders(tmux.screen()), "the resting buy in the orders table", tmux)
    (order,) = _open_orders(tmux.screen())
    assert order[4] == f"{resting:,}"

    tmux.keys("Tab", "a")
    wait(lambda: "Amend #" in tmux.screen(), "the amend ticket", tmux)
    _type(tmux, "New price", str(resting - 500))
    tmux.keys("Enter")
    wait(lambda: "Amend accepted" in tmux.screen(), "the amend's answer", tmux)
    wait(
        lambda: [o[4] for o in _open_orders(tmux.screen())] == [f"{resting - 500:,}"],
        "the order at its new price",
        tmux,
    )

    tmux.keys("c")
    wait(lambda: "Cancel #" in tmux.screen(), "the cancel ticket", tmux)
    _focus(tmux, "Quantity to cancel")
    tmux.keys("Enter")
    wait(lambda: "Cancel accepted" in tmux.screen(), "the cancel's answer", tmux)
    wait(lambda: not _open_orders(tmux.screen()), "no open order left", tmux)

    tmux.keys("q")
    wait(exit_file.exists, "jango to exit", tmux)
    assert exit_file.read_text().strip() == "EXIT=0"
