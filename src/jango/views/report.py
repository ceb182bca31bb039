"""The book as plain data (the JSON every command prints) and as a static rich table.

One shape everywhere: ``jango replay --format json``, ``jango run --format json``,
``jango balance --format json``, the web page's snapshots and the exports all use
:func:`book_report`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from jango.domain.book import Account, Book, Order, PnlMode, Row
from jango.domain.model import Credit, Discrepancy

LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "account": "계좌",
        "code": "종목코드",
        "name": "종목명",
        "market": "시장",
        "credit": "신용",
        "loan_date": "대출일",
        "qty": "잔고수량",
        "sellable": "매도가능",
        "avg_price": "매입단가",
        "purchase_amount": "매입금액",
        "price": "현재가",
        "diff": "대비",
        "value": "평가금액",
        "pnl": "평가손익",
        "pnl_rate": "수익률(%)",
        "deposit": "예수금",
        "d1": "D+1 예수금",
        "d2": "D+2 예수금",
        "loan_amount": "대출금액",
        "market_unknown": "시장 미확인: 세금 추정",
        "orderable": "주문가능",
        "realized_gross": "실현손익(세전)",
        "realized_net": "실현손익(세후)",
        "commission": "수수료",
        "tax": "세금",
        "total": "합계",
        "order_no": "주문번호",
        "side": "매매",
        "order_qty": "주문수량",
        "order_price": "주문가격",
        "filled": "체결수량",
        "remaining": "미체결",
        "status": "상태",
        "buy": "매수",
        "sell": "매도",
        "holdings": "잔고",
        "orders": "미체결 주문",
        "notices": "최근 체결/주문",
        "discrepancies": "불일치",
        "connection": "연결",
    },
    "en": {
        "account": "Account",
        "code": "Code",
        "name": "Name",
        "market": "Market",
        "credit": "Credit",
        "loan_date": "Loan date",
        "qty": "Qty",
        "sellable": "Sellable",
        "avg_price": "Avg price",
        "purchase_amount": "Cost",
        "price": "Price",
        "diff": "Diff",
        "value": "Value",
        "pnl": "P&L",
        "pnl_rate": "P&L %",
        "deposit": "Deposit",
        "d1": "D+1 cash",
        "d2": "D+2 cash",
        "loan_amount": "Loan",
        "market_unknown": "market unknown: tax estimated",
        "orderable": "Orderable",
        "realized_gross": "Realized (gross)",
        "realized_net": "Realized (net)",
        "commission": "Commission",
        "tax": "Tax",
        "total": "Total",
        "order_no": "Order",
        "side": "Side",
        "order_qty": "Qty",
        "order_price": "Price",
        "filled": "Filled",
        "remaining": "Remaining",
        "status": "Status",
        "buy": "Buy",
        "sell": "Sell",
        "holdings": "Holdings",
        "orders": "Open orders",
        "notices": "Latest notices",
        "discrepancies": "Discrepancies",
        "connection": "Connection",
    },
}


def label(key: str, lang: str = "ko") -> str:
    return LABELS.get(lang, LABELS["ko"]).get(key, key)


def row_report(row: Row, mode: PnlMode = PnlMode.GROSS) -> dict[str, Any]:
    key = row.key
    return {
        "account": key.account,
        "code": key.code,
        "name": row.name,
        "market": row.market.value,
        "credit": key.credit.value,
        "loan_date": key.loan_date.isoformat() if key.loan_date else None,
        "qty": row.qty,
        "sellable": row.sellable,
        "purchase_amount": row.purchase_amount,
        "avg_price": str(row.avg_price),
        "price": row.price,
        "diff": row.diff,
        "value": row.value,
        "pnl": row.pnl if mode is PnlMode.GROSS else row.pnl_net,
        "pnl_gross": row.pnl,
        "pnl_net": row.pnl_net,
        "pnl_rate": str(row.pnl_rate(mode)),
        "loan_amount": row.loan_amount,
        "market_known": row.market_known,
    }


def order_report(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "orig_order_no": order.orig_order_no,
        "code": order.code,
        "side": order.side.value,
        "credit": order.credit.value,
        "loan_date": order.loan_date.isoformat() if order.loan_date else None,
        "qty": order.qty,
        "price": order.price,
        "filled": order.filled,
        "remaining": order.remaining,
        "status": order.status.value,
        "order_type": order.order_type.value,
        "condition": order.condition.value,
        "time": order.time.isoformat(),
    }


def discrepancy_report(d: Discrepancy) -> dict[str, Any]:
    return {
        "account": d.account,
        "code": d.code,
        "field": d.field,
        "computed": d.computed,
        "reported": d.reported,
        "reason": d.reason,
        "order_no": d.order_no,
        "time": d.time.isoformat() if d.time else None,
        **dict(d.extra),
    }


def cash_report(acc: Account) -> dict[str, int]:
    return {"deposit": acc.deposit, "d1": acc.d1, "d2": acc.d2, "orderable": acc.orderable}


def totals_report(acc: Account, mode: PnlMode) -> dict[str, int]:
    t = acc.totals
    return {
        "purchase_amount": t.purchase_amount,
        "value": t.value,
        "pnl": t.pnl if mode is PnlMode.GROSS else t.pnl_net,
        "pnl_gross": t.pnl,
        "pnl_net": t.pnl_net,
        "realized_gross": t.realized_gross,
        "realized_net": t.realized_net,
        "commission": t.commission,
        "tax": t.tax,
    }


def account_report(book: Book, acc: Account, mode: PnlMode) -> dict[str, Any]:
    return {
        "account": acc.account,
        "rows": [row_report(r, mode) for r in book.rows(acc.account)],
        "cash": cash_report(acc),
        "totals": totals_report(acc, mode),
        "open_orders": [order_report(o) for o in book.open_orders(acc.account)],
        "discrepancies": [
            discrepancy_report(d) for d in book.discrepancies if d.account == acc.account
        ],
    }


def book_report(book: Book, mode: PnlMode | None = None) -> dict[str, Any]:
    """The whole book as JSON-ready data, one entry per account."""
    mode = mode or book.pnl_mode
    return {
        "format": "jango-book",
        "version": 1,
        "pnl_mode": mode.value,
        "accounts": [account_report(book, book.accounts[a], mode) for a in sorted(book.accounts)],
    }


def won(amount: int) -> str:
    return f"{amount:,}"


def signed_text(amount: int, text: str | None = None) -> Text:
    """Korean convention: red for up, blue for down."""
    style = "red" if amount > 0 else "blue" if amount < 0 else ""
    return Text(text if text is not None else won(amount), style=style)


ROW_COLUMNS = (
    "code",
    "name",
    "credit",
    "loan_date",
    "qty",
    "sellable",
    "avg_price",
    "purchase_amount",
    "price",
    "value",
    "pnl",
    "pnl_rate",
)


def credit_label(credit: Credit, lang: str = "ko") -> str:
    return credit.label_ko if lang == "ko" else credit.value.replace("_", " ")


def shown_name(row: Row, lang: str = "ko") -> str:
    """The row's name, flagged when its market (and so its sell tax) is not known."""
    if row.market_known:
        return row.name
    return f"{row.name} ※{label('market_unknown', lang)}"


def row_cells(row: Row, mode: PnlMode, lang: str = "ko") -> list[Text | str]:
    """Display cells of one row, in :data:`ROW_COLUMNS` order."""
    pnl = row.pnl if mode is PnlMode.GROSS else row.pnl_net
    key = row.key
    return [
        key.code,
        shown_name(row, lang),
        credit_label(key.credit, lang),
        key.loan_date.isoformat() if key.loan_date else "",
        won(row.qty),
        won(row.sellable),
        f"{row.avg_price:,.4f}",
        won(row.purchase_amount),
        signed_text(row.diff, won(row.price)) if row.priced else "-",
        won(row.value),
        signed_text(pnl),
        signed_text(pnl, f"{row.pnl_rate(mode)}"),
    ]


def book_table(book: Book, *, lang: str = "ko", mode: PnlMode | None = None) -> Group:
    """A static rendering of every account: holdings, totals and open orders."""
    mode = mode or book.pnl_mode
    parts: list[Table] = []
    for account in sorted(book.accounts):
        acc = book.accounts[account]
        table = Table(title=f"{label('holdings', lang)} — {account}", title_justify="left")
        for col in ROW_COLUMNS:
            table.add_column(
                label(col, lang), justify="left" if col in ("code", "name") else "right"
            )
        for row in book.rows(account):
            table.add_row(*row_cells(row, mode, lang))
        t = acc.totals
        pnl = t.pnl if mode is PnlMode.GROSS else t.pnl_net
        table.add_section()
        table.add_row(
            label("total", lang),
            "",
            "",
            "",
            "",
            "",
            "",
            won(t.purchase_amount),
            "",
            won(t.value),
            signed_text(pnl),
            "",
        )
        parts.append(table)
        summary = Table(show_header=True)
        for col in (
            "deposit",
            "d1",
            "d2",
            "orderable",
            "realized_gross",
            "realized_net",
            "commission",
            "tax",
        ):
            summary.add_column(label(col, lang), justify="right")
        summary.add_row(
            won(acc.deposit),
            won(acc.d1),
            won(acc.d2),
            won(acc.orderable),
            signed_text(t.realized_gross),
            signed_text(t.realized_net),
            won(t.commission),
            won(t.tax),
        )
        parts.append(summary)
        orders = book.open_orders(account)
        if orders:
            ot = Table(title=label("orders", lang), title_justify="left")
            for col in (
                "order_no",
                "code",
                "side",
                "order_qty",
                "order_price",
                "filled",
                "remaining",
            ):
                ot.add_column(label(col, lang))
            for o in orders:
                ot.add_row(
                    o.order_no,
                    o.code,
                    label(o.side.value, lang),
                    won(o.qty),
                    won(o.price),
                    won(o.filled),
                    won(o.remaining),
                )
            parts.append(ot)
    return Group(*parts)
