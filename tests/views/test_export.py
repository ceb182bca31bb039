"""Excel and CSV export: written, opened again, and checked cell by cell."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from jango.domain.book import Book, PnlMode
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)
from jango.views.export import BLUE, EXPORT_COLUMNS, RED, export_book, write_csv
from jango.views.report import label

ACC = "5012345601"
SAMSUNG = Code("005930")
HYNIX = Code("000660")
NAVER = Code("035420")
LOAN = date(2026, 2, 2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=KST)
COL = {name: i for i, name in enumerate(EXPORT_COLUMNS, start=1)}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def notice(
    kind: NoticeKind, side: Side, order_no: str, code: Code, qty: int, price: int, **kw: object
) -> OrderNotice:
    return OrderNotice(
        ACC,
        kind,
        OrderAction.NEW,
        side,
        code,
        order_no,
        qty,
        price,
        at(1),
        market=Market.KOSPI,
        **kw,  # type: ignore[arg-type]
    )


def sample_book() -> Book:
    """Samsung cash (up) and margin, Hynix (down), Naver bought then partly sold, an open order."""
    book = Book()
    rows = (
        BalanceRow(
            ACC, SAMSUNG, 10, 10, 700_000, name="삼성전자", market=Market.KOSPI, price=72_000
        ),
        BalanceRow(
            ACC,
            SAMSUNG,
            3,
            3,
            200_000,
            credit=Credit.MARGIN_SELF,
            loan_date=LOAN,
            name="삼성전자",
            market=Market.KOSPI,
            price=72_000,
        ),
        BalanceRow(
            ACC, HYNIX, 5, 5, 1_000_000, name="SK하이닉스", market=Market.KOSPI, price=190_000
        ),
    )
    book.apply(BalanceSnapshot(ACC, rows, Cash(10_000_000, 10_000_000), T0))
    book.apply(Tick(SAMSUNG, 72_000, 1_000, 100, at(1)))
    book.apply(Tick(HYNIX, 190_000, -2_000, 100, at(1)))
    book.apply(notice(NoticeKind.ACCEPTED, Side.BUY, "1", NAVER, 4, 200_000, name="NAVER"))
    book.apply(
        notice(NoticeKind.FILLED, Side.BUY, "1", NAVER, 4, 200_000, fill_id="f1", name="NAVER")
    )
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "2", NAVER, 1, 210_000))
    book.apply(notice(NoticeKind.FILLED, Side.SELL, "2", NAVER, 1, 210_000, fill_id="f2"))
    book.apply(notice(NoticeKind.ACCEPTED, Side.SELL, "3", HYNIX, 2, 195_000))
    return book


def sheet(path: Path, title: str) -> Worksheet:
    wb = openpyxl.load_workbook(path)
    ws = wb[title]
    assert isinstance(ws, Worksheet)
    return ws


def find_row(ws: Worksheet, code: str, credit: str = "현금") -> int:
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, COL["code"]).value == code and ws.cell(r, COL["credit"]).value == credit:
            return r
    raise AssertionError(f"no row for {code} {credit}")


# --------------------------------------------------------------------- xlsx


def test_xlsx_has_one_sheet_per_account_and_an_orders_sheet(tmp_path: Path) -> None:
    path = export_book(sample_book(), tmp_path / "book.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == [ACC, "주문"]
    assert openpyxl.load_workbook(
        export_book(sample_book(), tmp_path / "en.xlsx", lang="en")
    ).sheetnames == [ACC, "Orders"]


def test_xlsx_header_is_bold_filled_frozen_and_labelled_in_korean(tmp_path: Path) -> None:
    ws = sheet(export_book(sample_book(), tmp_path / "b.xlsx"), ACC)
    assert [ws.cell(1, c).value for c in COL.values()] == [label(c, "ko") for c in EXPORT_COLUMNS]
    for c in COL.values():
        cell = ws.cell(1, c)
        assert cell.font.b
        assert cell.fill.fill_type == "solid"
    assert ws.freeze_panes == "A2"


def test_xlsx_english_labels(tmp_path: Path) -> None:
    ws = sheet(export_book(sample_book(), tmp_path / "b.xlsx", lang="en"), ACC)
    assert ws.cell(1, COL["pnl"]).value == "P&L"
    assert ws.cell(find_row(ws, SAMSUNG, "cash"), COL["credit"]).value == "cash"


def test_xlsx_rows_hold_exact_values_with_number_formats(tmp_path: Path) -> None:
    book = sample_book()
    ws = sheet(export_book(book, tmp_path / "b.xlsx"), ACC)
    r = find_row(ws, SAMSUNG)
    values = {name: ws.cell(r, c).value for name, c in COL.items()}
    assert values == {
        "code": "005930",
        "name": "삼성전자",
        "credit": "현금",
        "loan_date": None,
        "qty": 10,
        "sellable": 10,
        "avg_price": 70_000,
        "purchase_amount": 700_000,
        "price": 72_000,
        "value": 720_000,
        "pnl": 20_000,
        "pnl_rate": pytest.approx(2.85),
        "loan_amount": 0,
    }
    assert ws.cell(r, COL["qty"]).number_format == "#,##0"
    assert ws.cell(r, COL["value"]).number_format == "#,##0"
    assert ws.cell(r, COL["avg_price"]).number_format == "#,##0.0000"
    assert ws.cell(r, COL["pnl_rate"]).number_format == "0.00"
    margin = find_row(ws, SAMSUNG, "자기융자")
    assert ws.cell(margin, COL["loan_date"]).value == datetime(2026, 2, 2)
    assert ws.cell(margin, COL["avg_price"]).value == pytest.approx(66_666.6666)
    naver = book.row(next(k for k in book.accounts[ACC].rows if k.code == NAVER))
    assert naver is not None
    assert (
        ws.cell(find_row(ws, NAVER), COL["purchase_amount"]).value
        == naver.purchase_amount
        == 600_000
    )


def test_xlsx_colours_gains_red_and_losses_blue(tmp_path: Path) -> None:
    ws = sheet(export_book(sample_book(), tmp_path / "b.xlsx"), ACC)
    up, down = find_row(ws, SAMSUNG), find_row(ws, HYNIX)
    for col in ("pnl", "pnl_rate", "price"):
        assert ws.cell(up, COL[col]).font.color.rgb == RED
        assert ws.cell(down, COL[col]).font.color.rgb == BLUE
    # Amounts that carry no direction keep the default (theme) colour.
    assert ws.cell(up, COL["value"]).font.color.type == "theme"


def test_xlsx_totals_row_is_bold_and_matches_the_book(tmp_path: Path) -> None:
    book = sample_book()
    t = book.accounts[ACC].totals
    ws = sheet(export_book(book, tmp_path / "b.xlsx"), ACC)
    total = 2 + len(book.accounts[ACC].rows)
    assert ws.cell(total, COL["code"]).value == "합계"
    assert ws.cell(total, COL["purchase_amount"]).value == t.purchase_amount
    assert ws.cell(total, COL["value"]).value == t.value
    assert ws.cell(total, COL["pnl"]).value == t.pnl
    assert ws.cell(total, COL["qty"]).value is None
    for c in (COL["code"], COL["value"], COL["pnl"]):
        assert ws.cell(total, c).font.b
    assert ws.cell(total, COL["value"]).number_format == "#,##0"
    sign = RED if t.pnl > 0 else BLUE
    assert ws.cell(total, COL["pnl"]).font.color.rgb == sign


def test_xlsx_lists_cash_and_realized_pnl_under_the_totals(tmp_path: Path) -> None:
    book = sample_book()
    acc = book.accounts[ACC]
    ws = sheet(export_book(book, tmp_path / "b.xlsx"), ACC)
    summary = {
        ws.cell(r, 1).value: ws.cell(r, 2)
        for r in range(2 + len(acc.rows) + 1, ws.max_row + 1)
        if ws.cell(r, 1).value
    }
    assert summary["예수금"].value == acc.deposit
    assert summary["D+2 예수금"].value == acc.d2
    assert summary["주문가능"].value == acc.orderable
    assert summary["실현손익(세전)"].value == acc.totals.realized_gross == 10_000
    assert summary["실현손익(세전)"].font.color.rgb == RED
    assert summary["실현손익(세후)"].value == acc.totals.realized_net
    assert summary["수수료"].value == acc.totals.commission
    assert summary["세금"].value == acc.totals.tax
    assert summary["예수금"].number_format == "#,##0"


def test_xlsx_pnl_follows_the_chosen_mode(tmp_path: Path) -> None:
    book = sample_book()
    ws = sheet(export_book(book, tmp_path / "b.xlsx", mode=PnlMode.NET), ACC)
    r = find_row(ws, SAMSUNG)
    row = next(x for x in book.rows(ACC) if x.key.code == SAMSUNG and x.key.credit is Credit.CASH)
    assert ws.cell(r, COL["pnl"]).value == row.pnl_net < row.pnl


def test_xlsx_orders_sheet_lists_every_order_with_its_state(tmp_path: Path) -> None:
    ws = sheet(export_book(sample_book(), tmp_path / "b.xlsx"), "주문")
    assert ws.freeze_panes == "A2"
    assert ws.cell(1, 1).font.b
    lines = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert lines == [
        [ACC, "1", "035420", "매수", "현금", 4, 200_000, 4, 0, "filled"],
        [ACC, "2", "035420", "매도", "현금", 1, 210_000, 1, 0, "filled"],
        [ACC, "3", "000660", "매도", "현금", 2, 195_000, 0, 2, "open"],
    ]
    assert ws.cell(2, 7).number_format == "#,##0"


def test_xlsx_columns_are_wide_enough_for_korean_names(tmp_path: Path) -> None:
    ws = sheet(export_book(sample_book(), tmp_path / "b.xlsx"), ACC)
    # "SK하이닉스" is 2 + 4×2 = 10 cells wide on screen.
    assert (ws.column_dimensions["B"].width or 0) >= 10
    assert (ws.column_dimensions["J"].width or 0) >= len("1,120,000")


def test_empty_book_exports_an_orders_sheet_only(tmp_path: Path) -> None:
    path = export_book(Book(), tmp_path / "empty.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == ["주문"]


def test_unsupported_suffix_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.xlsx or \.csv"):
        export_book(sample_book(), tmp_path / "book.pdf")
    assert not (tmp_path / "book.pdf").exists()


# --------------------------------------------------------------------- csv


def test_csv_file_starts_with_a_bom_and_parses_back(tmp_path: Path) -> None:
    book = sample_book()
    path = export_book(book, tmp_path / "b.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == [label("account", "ko"), *(label(c, "ko") for c in EXPORT_COLUMNS)]
    body = lines[1:-1]
    assert len(body) == len(book.accounts[ACC].rows)
    samsung = next(x for x in body if x[1] == "005930" and x[3] == "현금")
    assert samsung == [
        ACC,
        "005930",
        "삼성전자",
        "현금",
        "",
        "10",
        "10",
        "70000.0000",
        "700000",
        "72000",
        "720000",
        "20000",
        "2.85",
        "0",
    ]
    margin = next(x for x in body if x[3] == "자기융자")
    assert margin[4] == "2026-02-02"
    assert margin[7] == "66666.6666"
    # A margin row the snapshot gave no loan amount for is taken as fully lent by default.
    assert margin[-1] == margin[8]


def test_csv_ends_with_a_totals_line_per_account() -> None:
    book = sample_book()
    t = book.accounts[ACC].totals
    stream = io.StringIO()
    write_csv(book, stream, lang="en")
    lines = list(csv.reader(io.StringIO(stream.getvalue().removeprefix("\ufeff"))))
    assert lines[0][:3] == ["Account", "Code", "Name"]
    total = lines[-1]
    assert total[0] == ACC
    assert total[1] == "Total"
    assert total[COL["purchase_amount"]] == str(t.purchase_amount)
    assert total[COL["value"]] == str(t.value)
    assert total[COL["pnl"]] == str(t.pnl)
    assert total[COL["qty"]] == ""


def test_csv_amounts_sum_to_the_totals() -> None:
    stream = io.StringIO()
    write_csv(sample_book(), stream)
    lines = list(csv.reader(io.StringIO(stream.getvalue().removeprefix("\ufeff"))))
    body, total = lines[1:-1], lines[-1]
    for col in ("purchase_amount", "value", "pnl"):
        i = COL[col]
        assert sum(int(x[i]) for x in body) == int(total[i])
