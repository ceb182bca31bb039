"""What the web page is sent: :func:`~jango.views.report.book_report` with account numbers hidden.

The page and the API never carry a full account number: each account gets an opaque id
(``a0``, ``a1`` …) for the API and a masked label (``******5601``) for display. Rows are keyed by
a string made of that id and the rest of the holding key, so the page can keep one DOM row per
holding row.
"""

from __future__ import annotations

from typing import Any

from jango.domain.book import Account, Book, PnlMode, Row
from jango.domain.model import Credit, Discrepancy, HoldingKey, OrderNotice, mask_account
from jango.engine import Session, Status
from jango.views.report import (
    LABELS,
    account_report,
    cash_report,
    discrepancy_report,
    order_report,
    row_report,
    status_report,
    totals_report,
)

# How many of the latest notices and discrepancies the page shows.
NOTICES_SHOWN = 20
DISCREPANCIES_SHOWN = 50

# Page strings that the shared report labels do not cover.
WEB_LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "잔고",
        "all_accounts": "전체 계좌",
        "trend": "추이",
        "charts": "차트",
        "chart_day": "오늘의 평가금액과 평가손익",
        "chart_holdings": "종목별 평가금액 (색: 손익)",
        "chart_markets": "시장별 평가금액 (색: 손익)",
        "others": "기타",
        "market_name_UNKNOWN": "시장 미확인",
        "charts_unavailable": "차트 라이브러리(uPlot)가 설치되지 않아 차트를 그릴 수 없습니다. "
        "src/jango/views/web/vendor 에서 npm ci 를 실행하세요.",
        "ticket": "주문",
        "order_type": "주문유형",
        "limit": "지정가",
        "market_order": "시장가",
        "place": "주문",
        "amend": "정정",
        "cancel": "취소",
        "download": "엑셀 다운로드",
        "lang_toggle": "English",
        "live": "실시간",
        "connecting": "연결 중",
        "reconnecting": "재연결 중",
        "engine_down": "브로커 연결 끊김",
        "reconnects": "재연결",
        "time": "시각",
        "kind": "구분",
        "action": "주문구분",
        "field": "항목",
        "computed": "계산값",
        "reported": "브로커값",
        "reason": "사유",
        "none": "없음",
        "accepted": "접수",
        "confirmed": "확인",
        "rejected": "거부",
        "filled": "체결",
        "new": "신규",
        "open": "미체결",
        "sent": "전송됨",
        "error": "오류",
        "subtotal": "계좌 합계",
        "search_placeholder": "종목코드·종목명 검색",
        "rows_shown": "{shown}/{total}종목",
        "close": "닫기",
        "since": "부터",
        "degraded": "일부 중단",
        "upper": "상한가",
        "lower": "하한가",
        "sending": "전송 중…",
        "answer_placed": "주문 접수",
        "answer_amended": "정정 접수",
        "answer_cancelled": "취소 접수",
        "rule_account": "계좌를 선택하세요",
        "rule_pick_order": "정정/취소할 주문을 미체결 목록에서 고르세요",
        "rule_not_open": "주문번호 {order_no}은(는) 미체결 주문이 아닙니다",
        "rule_code": "종목코드는 005930처럼 6자리입니다",
        "rule_qty": "주문수량은 1주 이상의 정수입니다",
        "rule_remaining": "정정수량은 미체결 수량({remaining}주) 이하여야 합니다",
        "rule_price": "주문가격을 원 단위 정수로 입력하세요",
        "rule_tick": "{price}원은 호가단위({tick}원)에 맞지 않습니다: {below}원 또는 {above}원",
        "rule_upper": "{price}원은 상한가 {upper}원을 넘습니다",
        "rule_lower": "{price}원은 하한가 {lower}원보다 낮습니다",
        "rule_sellable": "매도가능수량 {sellable}주를 넘습니다 (주문 {qty}주)",
        "rule_cash": "주문가능금액 {orderable}원이 부족합니다 (필요 {need}원)",
    },
    "en": {
        "title": "Holdings",
        "all_accounts": "All accounts",
        "trend": "Trend",
        "charts": "Charts",
        "chart_day": "Today's valuation and P&L",
        "chart_holdings": "Valuation by holding (colour: P&L)",
        "chart_markets": "Valuation by market (colour: P&L)",
        "others": "Others",
        "market_name_UNKNOWN": "Market unknown",
        "charts_unavailable": "The chart library (uPlot) is not installed, so there are no "
        "charts: run npm ci in src/jango/views/web/vendor.",
        "ticket": "Order ticket",
        "order_type": "Type",
        "limit": "Limit",
        "market_order": "Market",
        "place": "Place",
        "amend": "Amend",
        "cancel": "Cancel",
        "download": "Download Excel",
        "lang_toggle": "한국어",
        "live": "Live",
        "connecting": "Connecting",
        "reconnecting": "Reconnecting",
        "engine_down": "Broker disconnected",
        "reconnects": "Reconnects",
        "time": "Time",
        "kind": "Kind",
        "action": "Action",
        "field": "Field",
        "computed": "Computed",
        "reported": "Broker",
        "reason": "Reason",
        "none": "None",
        "accepted": "Accepted",
        "confirmed": "Confirmed",
        "rejected": "Rejected",
        "filled": "Filled",
        "new": "New",
        "open": "Open",
        "sent": "Sent",
        "error": "Error",
        "subtotal": "Account total",
        "search_placeholder": "Search code or name",
        "rows_shown": "{shown}/{total} rows",
        "close": "Close",
        "since": "since",
        "degraded": "Degraded",
        "upper": "Upper limit",
        "lower": "Lower limit",
        "sending": "Sending…",
        "answer_placed": "Order accepted",
        "answer_amended": "Amend accepted",
        "answer_cancelled": "Cancel accepted",
        "rule_account": "Choose an account",
        "rule_pick_order": "Pick the order to amend or cancel from the open orders",
        "rule_not_open": "Order {order_no} is not open",
        "rule_code": "A stock code has 6 characters, like 005930",
        "rule_qty": "The quantity is a whole number of at least 1",
        "rule_remaining": "The new quantity must not exceed the {remaining} shares still open",
        "rule_price": "Enter the price in whole won",
        "rule_tick": "{price} is off the tick grid ({tick} won): {below} or {above}",
        "rule_upper": "{price} is above the upper limit {upper}",
        "rule_lower": "{price} is below the lower limit {lower}",
        "rule_sellable": "Only {sellable} shares are sellable (order: {qty})",
        "rule_cash": "Not enough orderable cash: {orderable} won (needs {need})",
    },
}

_CREDIT_EN = {
    Credit.CASH: "Cash",
    Credit.MARGIN_KSFC: "Margin (KSFC)",
    Credit.MARGIN_SELF: "Margin (own)",
    Credit.SHORT_KSFC: "Short (KSFC)",
    Credit.SHORT_SELF: "Short (own)",
    Credit.STOCK_LOAN: "Stock loan",
    Credit.PURCHASE_LOAN: "Purchase loan",
    Credit.OTHER: "Other",
}


def page_labels() -> dict[str, dict[str, str]]:
    """Every label the page uses, for both languages (credit types as ``credit_<value>``)."""
    out: dict[str, dict[str, str]] = {}
    for lang in ("ko", "en"):
        labels = {**LABELS[lang], **WEB_LABELS[lang]}
        for credit in Credit:
            labels[f"credit_{credit.value}"] = (
                credit.label_ko if lang == "ko" else _CREDIT_EN[credit]
            )
        out[lang] = labels
    return out


class AccountIds:
    """Opaque, stable ids for account numbers, assigned in the order accounts are first seen."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._accounts: dict[str, str] = {}

    def id(self, account: str) -> str:
        """The id of ``account``, assigning the next one if it is new."""
        known = self._ids.get(account)
        if known is None:
            known = self._ids[account] = f"a{len(self._ids)}"
            self._accounts[known] = account
        return known

    def account(self, account_id: str) -> str | None:
        """The account number behind ``account_id``, or ``None`` if no account has that id."""
        return self._accounts.get(account_id)


def row_key(ids: AccountIds, key: HoldingKey) -> str:
    """The page's key of a holding row: account id, code, credit type and loan date."""
    loan = key.loan_date.isoformat() if key.loan_date else ""
    return f"{ids.id(key.account)}|{key.code}|{key.credit.value}|{loan}"


def _public_row(ids: AccountIds, report: dict[str, Any], key: HoldingKey) -> dict[str, Any]:
    report.pop("account")
    report["acct"] = ids.id(key.account)
    report["key"] = row_key(ids, key)
    return report


def row_payload(ids: AccountIds, row: Row, mode: PnlMode) -> dict[str, Any]:
    """One row as the page gets it."""
    return _public_row(ids, row_report(row, mode), row.key)


def account_payload(ids: AccountIds, book: Book, acc: Account) -> dict[str, Any]:
    """An account without its rows: cash, totals and open orders (what a delta carries).

    The totals are those of :func:`~jango.views.report.account_report`, computed without
    building every row's report, since a delta must cost what changed, not the whole book.
    """
    mode = book.pnl_mode
    return {
        "id": ids.id(acc.account),
        "label": mask_account(acc.account),
        "cash": cash_report(acc),
        "totals": totals_report(acc, mode),
        "open_orders": [order_report(o) for o in book.open_orders(acc.account)],
    }


def grand_totals(accounts: list[dict[str, Any]]) -> dict[str, int]:
    """All-accounts totals: the sum of every account's totals and cash."""
    out: dict[str, int] = {}
    for acc in accounts:
        for part in ("totals", "cash"):
            for name, value in acc[part].items():
                out[name] = out.get(name, 0) + value
    return out


def notice_payload(ids: AccountIds, n: OrderNotice) -> dict[str, Any]:
    return {
        "acct": ids.id(n.account),
        "time": n.time.isoformat(),
        "kind": n.kind.value,
        "action": n.action.value,
        "side": n.side.value,
        "code": n.code,
        "name": n.name,
        "credit": n.credit.value,
        "order_no": n.order_no,
        "orig_order_no": n.orig_order_no,
        "qty": n.qty,
        "price": n.price,
    }


def discrepancy_payload(ids: AccountIds, d: Discrepancy) -> dict[str, Any]:
    report = discrepancy_report(d)
    report["account"] = mask_account(d.account)
    report["acct"] = ids.id(d.account)
    return report


def status_payload(status: Status) -> dict[str, Any]:
    return status_report(status)


def latest_notices(ids: AccountIds, session: Session) -> list[dict[str, Any]]:
    """The latest notices, newest first."""
    notices = list(session.notices)[-NOTICES_SHOWN:]
    return [notice_payload(ids, n) for n in reversed(notices)]


def snapshot(ids: AccountIds, session: Session) -> dict[str, Any]:
    """The whole book as :func:`~jango.views.report.book_report` shapes it, made public."""
    book = session.book
    accounts = []
    for number in sorted(book.accounts):
        acc = book.accounts[number]
        report = account_report(book, acc, book.pnl_mode)
        report.pop("account")
        report.pop("discrepancies")  # sent once for the whole book, below
        report["id"] = ids.id(number)
        report["label"] = mask_account(number)
        report["rows"] = [
            _public_row(ids, r, row.key)
            for r, row in zip(report["rows"], book.rows(number), strict=True)
        ]
        accounts.append(report)
    return {
        "format": "jango-book",
        "version": 1,
        "pnl_mode": book.pnl_mode.value,
        "accounts": accounts,
        "grand": grand_totals(accounts),
        "notices": latest_notices(ids, session),
        "discrepancies": [
            discrepancy_payload(ids, d) for d in book.discrepancies[-DISCREPANCIES_SHOWN:]
        ],
        "status": status_payload(session.status),
    }
