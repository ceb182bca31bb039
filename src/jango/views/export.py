"""The book as a spreadsheet: a formatted ``.xlsx`` workbook, or a ``.csv`` file Excel opens.

The workbook has one sheet per account (holdings, a bold totals row, then the account's cash and
realized P&L) and one sheet of orders. Numbers are written as numbers, not text, so a trader can
sort and sum them; the thousands separators and the red-up / blue-down colours are formats.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from jango.domain.book import Account, Book, Order, PnlMode, Row
from jango.views.report import ROW_COLUMNS, label, shown_name

# The screen's columns, and the loan of each row (a sheet has room for it).
EXPORT_COLUMNS = (*ROW_COLUMNS, "loan_amount")

Value = str | int | Decimal | date | None

# Korean convention: gains red, losses blue.
RED = "FFFF0000"
BLUE = "FF0000FF"
HEADER_FILL = PatternFill("solid", start_color="FFD9E1F2", end_color="FFD9E1F2")
MONEY = "#,##0"
AVG_PRICE = "#,##0.0000"
RATE = "0.00"
DATE = "yyyy-mm-dd"

FORMATS: dict[str, str] = {
    "qty": MONEY,
    "sellable": MONEY,
    "avg_price": AVG_PRICE,
    "purchase_amount": MONEY,
    "price": MONEY,
    "value": MONEY,
    "pnl": MONEY,
    "pnl_rate": RATE,
    "loan_date": DATE,
    "loan_amount": MONEY,
}
# Cells coloured by the sign of the row's P&L (price: by the sign of its change).
SIGNED = frozenset({"pnl", "pnl_rate"})

ORDER_COLUMNS = (
    "account",
    "order_no",
    "code",
    "side",
    "credit",
    "order_qty",
    "order_price",
    "filled",
    "remaining",
    "status",
)
ORDER_FORMATS = {"order_qty": MONEY, "order_price": MONEY, "filled": MONEY, "remaining": MONEY}
ORDERS_SHEET = {"ko": "주문", "en": "Orders"}
SUMMARY = (
    "deposit",
    "d1",
    "d2",
    "orderable",
    "realized_gross",
    "realized_net",
    "commission",
    "tax",
)

# Excel forbids these in sheet titles, and titles longer than 31 characters.
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def export_book(
    book: Book, path: str | Path, *, lang: str = "ko", mode: PnlMode | None = None
) -> Path:
    """Write ``book`` to ``path``; the suffix (``.xlsx`` or ``.csv``) picks the format.

    Raises :class:`ValueError` for any other suffix. Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        workbook(book, lang=lang, mode=mode).save(path)
    elif suffix == ".csv":
        # newline="" because the csv module writes its own line endings (\r\n, as Excel expects).
        with path.open("w", encoding="utf-8", newline="") as stream:
            write_csv(book, stream, lang=lang, mode=mode)
    else:
        raise ValueError(f"cannot export to {path.name!r}: the file name must end in .xlsx or .csv")
    return path


# --------------------------------------------------------------------- csv


def write_csv(
    book: Book,
    stream: TextIO,
    *,
    lang: str = "ko",
    mode: PnlMode | None = None,
    bom: bool = True,
) -> None:
    """Write every row of every account, then one totals line per account, as CSV.

    Files start with a UTF-8 byte order mark, which is what makes Excel read the Korean names;
    ``bom=False`` leaves it out for pipes. Amounts are plain integers (no separators), so the
    file parses back exactly.
    """
    mode = mode or book.pnl_mode
    out = csv.writer(stream)
    if bom:
        stream.write("\ufeff")
    out.writerow([label("account", lang), *(label(c, lang) for c in EXPORT_COLUMNS)])
    for account in sorted(book.accounts):
        for row in book.rows(account):
            out.writerow([account, *(_csv(v) for v in row_values(row, mode, lang))])
    for account in sorted(book.accounts):
        out.writerow(
            [account, *(_csv(v) for v in totals_values(book.accounts[account], mode, lang))]
        )


def _csv(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------- values


def row_values(row: Row, mode: PnlMode, lang: str) -> list[Value]:
    """One holding as typed values, in :data:`EXPORT_COLUMNS` order."""
    key = row.key
    pnl = row.pnl if mode is PnlMode.GROSS else row.pnl_net
    return [
        key.code,
        shown_name(row, lang),
        _credit(key.credit.label_ko, key.credit.value, lang),
        key.loan_date,
        row.qty,
        row.sellable,
        row.avg_price,
        row.purchase_amount,
        row.price if row.priced else None,
        row.value,
        pnl,
        row.pnl_rate(mode) if row.priced else None,
        row.loan_amount,
    ]


def totals_values(acc: Account, mode: PnlMode, lang: str) -> list[Value]:
    """The account's totals line, in :data:`EXPORT_COLUMNS` order (blank where a sum means
    nothing)."""
    t = acc.totals
    sums: dict[str, Value] = {
        "code": label("total", lang),
        "purchase_amount": t.purchase_amount,
        "value": t.value,
        "pnl": t.pnl if mode is PnlMode.GROSS else t.pnl_net,
        "loan_amount": sum(r.loan_amount for r in acc.rows.values()),
    }
    return [sums.get(col) for col in EXPORT_COLUMNS]


def _credit(ko: str, en: str, lang: str) -> str:
    return ko if lang == "ko" else en


# --------------------------------------------------------------------- xlsx


def workbook(book: Book, *, lang: str = "ko", mode: PnlMode | None = None) -> Workbook:
    """The formatted workbook: one sheet per account and an orders sheet."""
    mode = mode or book.pnl_mode
    wb = Workbook()
    first = wb.active
    assert first is not None  # a new workbook always has one sheet
    wb.remove(first)
    for account in sorted(book.accounts):
        _account_sheet(wb.create_sheet(sheet_title(account)), book, account, mode, lang)
    _orders_sheet(wb.create_sheet(ORDERS_SHEET.get(lang, ORDERS_SHEET["ko"])), book, lang)
    return wb


def sheet_title(account: str) -> str:
    """An account number as a valid, unique-enough Excel sheet title."""
    return _BAD_TITLE.sub("-", account)[:31] or "-"


def _account_sheet(ws: Worksheet, book: Book, account: str, mode: PnlMode, lang: str) -> None:
    _header(ws, [label(c, lang) for c in EXPORT_COLUMNS])
    acc = book.accounts[account]
    for r, row in enumerate(book.rows(account), start=2):
        pnl = row.pnl if mode is PnlMode.GROSS else row.pnl_net
        for c, (col, value) in enumerate(
            zip(EXPORT_COLUMNS, row_values(row, mode, lang), strict=True), start=1
        ):
            cell = ws.cell(r, c, value)
            _format(cell, FORMATS.get(col))
            if col in SIGNED:
                _colour(cell, pnl)
            elif col == "price":
                _colour(cell, row.diff)
    total_row = ws.max_row + 1
    totals = totals_values(acc, mode, lang)
    pnl_total = acc.totals.pnl if mode is PnlMode.GROSS else acc.totals.pnl_net
    for c, (col, value) in enumerate(zip(EXPORT_COLUMNS, totals, strict=True), start=1):
        cell = ws.cell(total_row, c, value)
        cell.font = Font(bold=True)
        _format(cell, FORMATS.get(col))
        if col == "pnl":
            _colour(cell, pnl_total, bold=True)
    # Cash and realized P&L below the table, one label/value pair per line.
    t = acc.totals
    amounts = {
        "deposit": acc.deposit,
        "d1": acc.d1,
        "d2": acc.d2,
        "orderable": acc.orderable,
        "realized_gross": t.realized_gross,
        "realized_net": t.realized_net,
        "commission": t.commission,
        "tax": t.tax,
    }
    for r, name in enumerate(SUMMARY, start=total_row + 2):
        ws.cell(r, 1, label(name, lang)).font = Font(bold=True)
        cell = ws.cell(r, 2, amounts[name])
        _format(cell, MONEY)
        if name.startswith("realized"):
            _colour(cell, amounts[name])
    ws.freeze_panes = "A2"
    _fit_widths(ws)


def _orders_sheet(ws: Worksheet, book: Book, lang: str) -> None:
    _header(ws, [label(c, lang) for c in ORDER_COLUMNS])
    orders = sorted(book.orders.values(), key=lambda o: (o.account, o.order_no))
    for r, order in enumerate(orders, start=2):
        for c, (col, value) in enumerate(
            zip(ORDER_COLUMNS, _order_values(order, lang), strict=True), start=1
        ):
            _format(ws.cell(r, c, value), ORDER_FORMATS.get(col))
    ws.freeze_panes = "A2"
    _fit_widths(ws)


def _order_values(o: Order, lang: str) -> list[Value]:
    return [
        o.account,
        o.order_no,
        o.code,
        label(o.side.value, lang),
        _credit(o.credit.label_ko, o.credit.value, lang),
        o.qty,
        o.price,
        o.filled,
        o.remaining,
        o.status.value,
    ]


def _header(ws: Worksheet, labels: Sequence[str]) -> None:
    for c, text in enumerate(labels, start=1):
        cell = ws.cell(1, c, text)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center")


def _format(cell: Cell, number_format: str | None) -> None:
    if number_format is not None:
        cell.number_format = number_format


def _colour(cell: Cell, sign: int, *, bold: bool = False) -> None:
    if sign:
        cell.font = Font(bold=bold, color=RED if sign > 0 else BLUE)


def _fit_widths(ws: Worksheet) -> None:
    """Widen each column to its longest shown value (Korean characters take two cells)."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or not isinstance(cell, Cell):
                continue
            shown = _shown(cell.value, cell.number_format)
            widths[cell.column] = max(widths.get(cell.column, 0), _display_width(shown))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(60, width + 2)


def _shown(value: object, number_format: str) -> str:
    """Roughly how Excel shows ``value`` under ``number_format``, for sizing only."""
    shows: dict[str, Callable[[object], str]] = {
        MONEY: lambda v: f"{v:,}",
        AVG_PRICE: lambda v: f"{v:,.4f}",
        RATE: lambda v: f"{v:.2f}",
    }
    show = shows.get(number_format)
    if show is not None and isinstance(value, int | float | Decimal):
        return show(value)
    return str(value)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
