"""The live terminal view (``jango run``): holdings, totals, open orders and notices, in place.

The view redraws what changed, not the screen: the session's change sets are gathered as they
come and applied at most ten times a second, and then only the cells whose shown text or colour
differs are updated (``DataTable.update_cell``); rows are added and removed by key, and account
totals are refreshed only for the accounts a change set names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from jango.brokers.port import BrokerError
from jango.domain.book import Account, Book, Changes, Order, OrderStatus, PnlMode, Row
from jango.domain.model import Credit, HoldingKey, NoticeKind, OrderAction, OrderNotice, Side
from jango.engine import Session
from jango.views.export import export_book
from jango.views.report import (
    ROW_COLUMNS,
    book_table,
    label,
    problem_line,
    row_cells,
    signed_text,
    won,
)
from jango.views.ticket import Amend, Cancel, NewOrder, Ticket, TicketScreen

# Redraw at most this often (seconds): ticks arrive far faster than anyone reads.
REDRAW_INTERVAL = 0.1
# Same code the CLI uses for errors a user can cause (a broker that refuses to start).
EXIT_STARTUP_ERROR = 2
# A task was given up during the run: the book stopped following part of the market.
EXIT_TASK_FAILED = 1
NOTICE_LINES = 6

TOTAL_COLUMNS = (
    "account",
    "purchase_amount",
    "value",
    "pnl",
    "realized_gross",
    "realized_net",
    "commission",
    "tax",
    "deposit",
    "d2",
    "orderable",
)
ORDER_COLUMNS = ("order_no", "code", "side", "order_qty", "order_price", "filled", "remaining")
LEFT = frozenset({"account", "code", "name", "order_no", "side", "credit", "loan_date"})

TEXTS: dict[str, dict[str, str]] = {
    "ko": {
        "keys": "b 매수 · s 매도 · x 전량매도 · a 정정 · c 취소 · Tab 표 이동 · e 엑셀 · p 스냅샷"
        " · ? 도움말 · q 종료",
        "help": "b  선택한 종목 매수\ns  선택한 잔고 일부 매도\nx  선택한 잔고 전량 매도 (현재가)\n"
        "a  선택한 미체결 주문 정정\nc  선택한 미체결 주문 취소\nTab  잔고 ↔ 미체결 표 이동\n"
        "e  엑셀 저장\np  스냅샷 저장\nq  종료\n\nEsc 닫기",
        "no_row": "잔고에서 종목을 먼저 고르세요",
        "no_order": "미체결 주문을 먼저 고르세요 (Tab)",
        "exported": "엑셀 저장",
        "snapshot": "스냅샷 저장",
        "failed": "저장 실패",
        "connected": "연결됨",
        "disconnected": "연결 끊김",
        "accepted": "접수",
        "confirmed": "확인",
        "rejected": "거부",
        "filled": "체결",
        "new": "신규",
        "amend": "정정",
        "cancel": "취소",
    },
    "en": {
        "keys": "b buy · s sell · x sell all · a amend · c cancel · Tab switch table · e xlsx"
        " · p snapshot · ? help · q quit",
        "help": "b  buy more of the selected row\ns  sell part of the selected row\n"
        "x  sell all of the selected row (at the last price)\na  amend the selected open order\n"
        "c  cancel the selected open order\nTab  holdings <-> open orders\n"
        "e  export xlsx\np  save a snapshot\nq  quit\n\nEsc to close",
        "no_row": "select a holding first",
        "no_order": "select an open order first (Tab)",
        "exported": "exported",
        "snapshot": "snapshot saved",
        "failed": "could not save",
        "connected": "connected",
        "disconnected": "disconnected",
        "accepted": "accepted",
        "confirmed": "confirmed",
        "rejected": "rejected",
        "filled": "filled",
        "new": "new",
        "amend": "amend",
        "cancel": "cancel",
    },
}

Cell = Text | str
_SORT_COLUMNS = ("account", "code", "credit", "loan_date")
_CREDIT_ORDER = {c.label_ko: i for i, c in enumerate(Credit)}
# What a cell shows, as text and colour: cells are rewritten only when this differs.
Shown = tuple[str, str]


@dataclass(slots=True)
class Redraws:
    """What the view has redrawn so far; the last flush's cells are kept for inspection."""

    flushes: int = 0
    cells: int = 0
    rows_added: int = 0
    rows_removed: int = 0
    # (table id, row key, column key) of every cell the last redraw rewrote
    last_cells: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass(slots=True)
class _Pending:
    """Change sets gathered between two redraws."""

    rows: set[HoldingKey] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    any: bool = False

    def add(self, changes: Changes) -> None:
        # Removed keys are kept with the rest: whether a row is shown is decided from the book
        # at redraw time, so a row removed and re-opened within one interval stays right.
        self.rows |= changes.rows | changes.removed
        self.accounts |= changes.accounts
        self.orders |= changes.orders
        self.any = True


def _book_order(columns: Sequence[str], cells: Sequence[Cell]) -> tuple[str | int, ...]:
    """Key order (account, code, credit type, loan date), read back from the shown cells."""
    return tuple(
        _CREDIT_ORDER.get(str(cell), -1) if col == "credit" else str(cell)
        for col, cell in zip(columns, cells, strict=True)
    )


def row_id(key: HoldingKey) -> str:
    """The DataTable row key of a holding."""
    return "|".join((key.account, key.code, key.credit.value, str(key.loan_date or "")))


def _shown(cell: Cell) -> Shown:
    if isinstance(cell, Text):
        return cell.plain, str(cell.style)
    return cell, ""


def _aligned(column: str, cell: Cell) -> Cell:
    """Numbers right-aligned, as every Korean HTS shows them."""
    if column in LEFT:
        return cell
    if isinstance(cell, Text):
        return Text(cell.plain, style=cell.style, justify="right")
    return Text(cell, justify="right")


class _Grid:
    """One DataTable kept in step with a keyed set of rows, cell by cell."""

    def __init__(self, table: DataTable[Cell], columns: Sequence[str], redraws: Redraws) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.redraws = redraws
        self._shown: dict[str, list[Shown]] = {}

    def put(self, key: str, cells: Sequence[Cell]) -> bool:
        """Show ``cells`` as row ``key``; True when the row is new."""
        shown = [_shown(c) for c in cells]
        old = self._shown.get(key)
        self._shown[key] = shown
        if old is None:
            self.table.add_row(*map(_aligned, self.columns, cells), key=key)
            self.redraws.rows_added += 1
            return True
        for col, before, after, cell in zip(self.columns, old, shown, cells, strict=True):
            if before != after:
                # A wider number must widen its column, or it is cut ("1,2" for "1,240").
                self.table.update_cell(key, col, _aligned(col, cell), update_width=True)
                self.redraws.cells += 1
                self.redraws.last_cells.add((str(self.table.id), key, col))
        return False

    def drop(self, key: str) -> None:
        if self._shown.pop(key, None) is not None:
            self.table.remove_row(key)
            self.redraws.rows_removed += 1


class JangoApp(App[int]):
    """The live balance of a :class:`Session`; ``run_terminal`` is the way to start it."""

    TITLE = "jango 잔고"
    CSS = """
    Screen { layout: vertical; }
    .title { height: 1; text-style: bold; padding: 0 1; }
    #status { height: auto; max-height: 5; padding: 0 1; background: $panel; }
    #holdings { height: 1fr; }
    #totals { height: auto; max-height: 6; }
    #orders { height: auto; max-height: 8; }
    #notices { height: auto; padding: 0 1; }
    #message { height: 1; padding: 0 1; background: $panel; }
    """
    BINDINGS = [  # noqa: RUF012 - textual's own declaration style
        Binding("e", "export", show=False),
        Binding("p", "snapshot", show=False),
        Binding("q", "quit", show=False),
        Binding("b", "ticket('buy')", show=False),
        Binding("s", "ticket('sell')", show=False),
        Binding("x", "ticket('sell_all')", show=False),
        Binding("a", "amend", show=False),
        Binding("c", "cancel_order", show=False),
        Binding("question_mark", "help", show=False),
    ]

    def __init__(
        self,
        session: Session,
        *,
        lang: str = "ko",
        seconds: float | None = None,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.lang = lang
        self.seconds = seconds
        self.export_dir = export_dir or Path(os.environ.get("JANGO_EXPORT_DIR") or Path.cwd())
        self.redraws = Redraws()
        self.error: str | None = None
        self._texts = TEXTS.get(lang, TEXTS["ko"])
        self._pending = _Pending()
        self._redraw_due = False
        self._remove_listener: Callable[[], None] | None = None
        self._last_notice: OrderNotice | None = None
        self._quitting = False
        self._holdings: _Grid | None = None
        self._totals: _Grid | None = None
        self._orders: _Grid | None = None
        self._row_keys: dict[str, HoldingKey] = {}  # holdings table row id -> holding

    @property
    def book(self) -> Book:
        return self.session.book

    @property
    def mode(self) -> PnlMode:
        return self.book.pnl_mode

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield Static(label("holdings", self.lang), classes="title")
        yield DataTable[Cell](id="holdings", zebra_stripes=True, cursor_type="row")
        totals = DataTable[Cell](id="totals", cursor_type="none")
        totals.can_focus = False  # Tab goes holdings ↔ open orders, the two one can act on
        yield totals
        yield Static(label("orders", self.lang), classes="title")
        yield DataTable[Cell](id="orders", cursor_type="row")
        yield Static(label("notices", self.lang), classes="title")
        yield Static(id="notices")
        yield Static(self._texts["keys"], id="message")

    async def on_mount(self) -> None:
        self._show_status()
        try:
            await self.session.start()
        except BrokerError as exc:
            self.error = str(exc)
            await self.session.stop()
            self.exit(return_code=EXIT_STARTUP_ERROR)
            return
        self._build_tables()
        self._remove_listener = self.session.on_change(self._on_change)
        self._redraw_all()
        if self.seconds is not None:
            self.set_timer(self.seconds, self.action_quit)

    def _build_tables(self) -> None:
        # Several accounts in one table need the account to tell their rows apart.
        several = len(self.book.accounts) > 1
        holding_cols = ("account", *ROW_COLUMNS) if several else ROW_COLUMNS
        order_cols = ("account", *ORDER_COLUMNS) if several else ORDER_COLUMNS
        grids = []
        for name, cols in (
            ("holdings", holding_cols),
            ("totals", TOTAL_COLUMNS),
            ("orders", order_cols),
        ):
            table: DataTable[Cell] = self.query_one(f"#{name}", DataTable)
            for col in cols:
                table.add_column(label(col, self.lang), key=col)
            grids.append(_Grid(table, cols, self.redraws))
        self._holdings, self._totals, self._orders = grids

    # ----------------------------------------------------------------- redrawing

    def _on_change(self, changes: Changes) -> None:
        self._pending.add(changes)
        if not self._redraw_due:
            self._redraw_due = True
            self.set_timer(REDRAW_INTERVAL, self._redraw_pending)

    def _redraw_pending(self) -> None:
        self._redraw_due = False
        pending, self._pending = self._pending, _Pending()
        if not pending.any or self._holdings is None:
            return
        self.redraws.flushes += 1
        self.redraws.last_cells = set()
        self._redraw_rows(pending.rows)
        self._redraw_orders(pending.orders)
        for account in pending.accounts:
            self._redraw_account(account)
        self._show_notices()
        self._show_status()

    def _redraw_all(self) -> None:
        self._redraw_rows({row.key for row in self.book.rows()})
        self._redraw_orders(set(self.book.orders))
        for account in self.book.accounts:
            self._redraw_account(account)
        self._show_notices()
        self._show_status()

    def _redraw_rows(self, keys: set[HoldingKey]) -> None:
        grid = self._holdings
        assert grid is not None  # built before the first redraw
        added = False
        for key in keys:
            row = self.book.row(key)
            if row is None:
                grid.drop(row_id(key))
                self._row_keys.pop(row_id(key), None)
            else:
                added |= grid.put(row_id(key), self._row_cells(row, grid.columns))
                self._row_keys[row_id(key)] = key
        if added:
            columns = [c for c in _SORT_COLUMNS if c in grid.columns]
            grid.table.sort(*columns, key=lambda cells: _book_order(columns, cells))

    def _row_cells(self, row: Row, columns: Sequence[str]) -> list[Cell]:
        cells = row_cells(row, self.mode)
        return [row.key.account, *cells] if len(columns) > len(cells) else cells

    def _redraw_orders(self, order_nos: set[str]) -> None:
        grid = self._orders
        assert grid is not None
        for order_no in sorted(order_nos):
            order = self.book.orders.get(order_no)
            if order is None or order.status is not OrderStatus.OPEN:
                grid.drop(order_no)
            else:
                grid.put(order_no, self._order_cells(order, grid.columns))

    def _order_cells(self, o: Order, columns: Sequence[str]) -> list[Cell]:
        cells: list[Cell] = [
            o.order_no,
            o.code,
            signed_text(1 if o.side is Side.BUY else -1, label(o.side.value, self.lang)),
            won(o.qty),
            won(o.price),
            won(o.filled),
            won(o.remaining),
        ]
        return [o.account, *cells] if len(columns) > len(cells) else cells

    def _redraw_account(self, account: str) -> None:
        grid = self._totals
        acc = self.book.accounts.get(account)
        assert grid is not None
        if acc is None:
            grid.drop(account)
        else:
            grid.put(account, self._total_cells(acc))

    def _total_cells(self, acc: Account) -> list[Cell]:
        t = acc.totals
        return [
            acc.account,
            won(t.purchase_amount),
            won(t.value),
            signed_text(t.pnl if self.mode is PnlMode.GROSS else t.pnl_net),
            signed_text(t.realized_gross),
            signed_text(t.realized_net),
            won(t.commission),
            won(t.tax),
            won(acc.deposit),
            won(acc.d2),
            won(acc.orderable),
        ]

    def _show_notices(self) -> None:
        notices = self.session.notices
        latest = notices[-1] if notices else None
        if latest is self._last_notice:
            return
        self._last_notice = latest
        lines = [self._notice_line(n) for n in list(notices)[-NOTICE_LINES:]]
        self.query_one("#notices", Static).update(Text("\n").join(reversed(lines)))

    def _notice_line(self, n: OrderNotice) -> Text:
        t = self._texts
        what = t[n.kind.value]
        if n.action is not OrderAction.NEW:
            what = f"{t[n.action.value]} {what}"
        side = signed_text(1 if n.side is Side.BUY else -1, label(n.side.value, self.lang))
        return Text.assemble(
            f"{n.time:%H:%M:%S} ",
            (f"{what} ", "bold" if n.kind is NoticeKind.FILLED else ""),
            side,
            f" {n.code} {n.name} {won(n.qty)} @ {won(n.price)}  #{n.order_no}",
        )

    def _show_status(self) -> None:
        status = self.session.status
        state = self._texts["connected" if status.connected else "disconnected"]
        mark = Text("● ", style="green") if status.connected else Text("○ ", style="red")
        found = len(self.book.discrepancies)
        line = Text.assemble(
            mark,
            f"{label('connection', self.lang)}: {state} ({status.detail})",
            "   ",
            (
                f"{label('discrepancies', self.lang)}: {found}",
                "bold yellow" if found else "",
            ),
            f"   {', '.join(self.book.accounts)}",
        )
        # What stopped and since when, in red, above everything else the line says.
        problems = [
            Text(f"✖ {label('degraded', self.lang)}: {problem_line(p, self.lang)}", "bold red")
            for p in status.problems
        ]
        self.query_one("#status", Static).update(Text("\n").join([*problems, line]))

    def _say(self, text: str) -> None:
        self.query_one("#message", Static).update(f"{text}   ({self._texts['keys']})")

    # ----------------------------------------------------------------- keys

    def action_export(self) -> None:
        """Write the book to ``jango-<timestamp>.xlsx`` and show where."""
        path = _free_path(self.export_dir, "jango", ".xlsx")
        # Written under a hidden name, then renamed: a watcher never sees half a workbook.
        partial = path.with_name(f".{path.stem}.partial.xlsx")
        try:
            export_book(self.book, partial, lang=self.lang)
            partial.replace(path)
        except OSError as exc:
            self._say(f"{self._texts['failed']}: {exc}")
            return
        self._say(f"{self._texts['exported']}: {path}")

    def action_snapshot(self) -> None:
        """Write the static book table to ``jango-snapshot-<timestamp>.txt`` and show where."""
        path = _free_path(self.export_dir, "jango-snapshot", ".txt")
        try:
            with path.open("w", encoding="utf-8") as f:
                console = Console(file=f, width=max(120, self.size.width), color_system=None)
                console.print(book_table(self.book, lang=self.lang))
        except OSError as exc:
            self._say(f"{self._texts['failed']}: {exc}")
            return
        self._say(f"{self._texts['snapshot']}: {path}")

    def action_ticket(self, kind: str) -> None:
        """Open a ticket on the selected holding: ``buy``, ``sell`` (part) or ``sell_all``."""
        key = self._selected("holdings")
        row = self.book.row(self._row_keys[key]) if key in self._row_keys else None
        if row is None:
            self._say(self._texts["no_row"])
            return
        hk = row.key
        selling = kind != "buy"
        ticket = NewOrder(
            account=hk.account,
            code=hk.code,
            name=row.name,
            side=Side.SELL if selling else Side.BUY,
            # A buy of a credit row's code is a cash buy; a sell closes that very row.
            credit=hk.credit if selling else Credit.CASH,
            loan_date=hk.loan_date if selling else None,
            qty=row.sellable if kind == "sell_all" else None,
            price=(self.book.last_price(hk.code) or row.price or None),
        )
        self._open(ticket)

    def action_amend(self) -> None:
        """Open an amend ticket on the selected open order."""
        order = self._selected_order()
        if order is not None:
            self._open(
                Amend(order.account, order.order_no, order.code, order.price, order.remaining)
            )

    def action_cancel_order(self) -> None:
        """Open a cancel ticket on the selected open order."""
        order = self._selected_order()
        if order is not None:
            self._open(Cancel(order.account, order.order_no, order.code, order.remaining))

    def action_help(self) -> None:
        """Every key, in a box; Esc closes it."""
        self.push_screen(HelpScreen(self._texts["help"]))

    def _open(self, ticket: Ticket) -> None:
        if self._holdings is None:
            return  # still starting: there is nothing to trade on yet
        self.push_screen(TicketScreen(self.session, ticket, lang=self.lang), self._answered)

    def _answered(self, answer: str | None) -> None:
        if answer:
            self._say(answer)

    def _selected(self, table_id: str) -> str | None:
        table: DataTable[Cell] = self.query_one(f"#{table_id}", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def _selected_order(self) -> Order | None:
        order_no = self._selected("orders")
        order = self.book.orders.get(order_no) if order_no is not None else None
        if order is None or order.status is not OrderStatus.OPEN:
            self._say(self._texts["no_order"])
            return None
        return order

    async def action_quit(self) -> None:
        """Stop the session (which closes every subscription), then leave with code 0."""
        if self._quitting:
            return
        self._quitting = True
        await self._stop()
        self.exit(return_code=0)

    async def on_unmount(self) -> None:
        # Any other way out (ctrl+c, an error) still closes the broker.
        await self._stop()

    async def _stop(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        await self.session.stop()


class HelpScreen(ModalScreen[None]):
    """The keys, listed; any of Esc, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: auto; height: auto; border: round $accent; padding: 0 2; background: $panel; }
    """
    BINDINGS = [  # noqa: RUF012 - textual's own declaration style
        Binding("escape", "close", show=False),
        Binding("question_mark", "close", show=False),
        Binding("q", "close", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="help")

    def action_close(self) -> None:
        self.dismiss(None)


def _free_path(directory: Path, stem: str, suffix: str) -> Path:
    """``<stem>-<timestamp><suffix>`` in ``directory``, numbered if that name is taken."""
    base = f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
    path = directory / f"{base}{suffix}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{base}-{n}{suffix}"
    return path


def run_terminal(session: Session, *, lang: str = "ko", seconds: float | None = None) -> int:
    """Run the live view until ``q`` (or for ``seconds``); returns the process exit code.

    A broker that fails to start prints one line to stderr and returns non-zero; so does each
    task the session gave up on (exit code :data:`EXIT_TASK_FAILED`).
    """
    app = JangoApp(session, lang=lang, seconds=seconds)
    app.run()
    if app.error is not None:
        print(f"jango: error: {app.error}", file=sys.stderr)
    code = app.return_code if app.return_code is not None else 1
    for failure in session.failures:
        print(f"jango: error: {failure.describe()}", file=sys.stderr)
    if session.failures and code == 0:
        code = EXIT_TASK_FAILED
    return code
