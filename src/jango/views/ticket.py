"""The terminal view's order ticket: a new order on a holding, or an amend or cancel of an open
order, checked against the book before it is sent and answered with what the broker said.

It is a modal screen over the live view: the balance keeps moving behind it. Enter sends, Esc
closes. A check that fails (tick grid, price limits, sellable quantity, orderable cash) or a
broker that refuses keeps the ticket open with the reason in red; an accepted request closes
it and the live view shows the broker's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from jango.brokers.port import BrokerError, OrderAck, OrderRequest
from jango.domain import precheck
from jango.domain.model import Code, Credit, HoldingKey, OrderType, Side
from jango.domain.precheck import Refusal
from jango.engine import Session
from jango.views.report import won

TEXTS: dict[str, dict[str, str]] = {
    "ko": {
        "buy": "매수",
        "sell": "매도",
        "amend": "정정",
        "cancel": "취소",
        "qty": "수량",
        "price": "가격 (비우면 시장가)",
        "amend_price": "정정 가격",
        "amend_qty": "정정 수량 (비우면 잔량 전부)",
        "cancel_qty": "취소 수량 (비우면 잔량 전부)",
        "keys": "Enter 보내기 · Esc 닫기",
        "sending": "보내는 중…",
        "sellable": "매도가능",
        "orderable": "주문가능",
        "remaining": "미체결",
        "whole_number": "{field}: 숫자만 입력하세요",
        "answer": "{what} 접수: 주문번호 {order_no}",
        "refused": "거부: {message}",
        precheck.QTY_NOT_POSITIVE: "수량은 1 이상이어야 합니다",
        precheck.PRICE_NOT_POSITIVE: "가격은 0보다 커야 합니다",
        precheck.OFF_TICK: "호가단위({limit}원)에 맞지 않는 가격입니다",
        precheck.ABOVE_UPPER: "상한가 {limit}원을 넘습니다",
        precheck.BELOW_LOWER: "하한가 {limit}원보다 낮습니다",
        precheck.OVER_SELLABLE: "매도가능수량 {limit}주를 넘습니다",
        precheck.OVER_ORDERABLE: "주문가능금액 {limit}원을 넘습니다",
        precheck.NOT_OPEN: "미체결 주문이 아닙니다",
        precheck.OVER_REMAINING: "미체결 잔량 {limit}주를 넘습니다",
    },
    "en": {
        "buy": "Buy",
        "sell": "Sell",
        "amend": "Amend",
        "cancel": "Cancel",
        "qty": "Quantity",
        "price": "Price (empty: market)",
        "amend_price": "New price",
        "amend_qty": "New quantity (empty: all remaining)",
        "cancel_qty": "Quantity to cancel (empty: all remaining)",
        "keys": "Enter send · Esc close",
        "sending": "sending…",
        "sellable": "sellable",
        "orderable": "orderable",
        "remaining": "remaining",
        "whole_number": "{field}: digits only",
        "answer": "{what} accepted: order {order_no}",
        "refused": "refused: {message}",
        precheck.QTY_NOT_POSITIVE: "the quantity must be at least 1",
        precheck.PRICE_NOT_POSITIVE: "the price must be above 0",
        precheck.OFF_TICK: "the price is off the tick grid ({limit} won)",
        precheck.ABOVE_UPPER: "above the upper limit of {limit} won",
        precheck.BELOW_LOWER: "below the lower limit of {limit} won",
        precheck.OVER_SELLABLE: "more than the {limit} shares that can be sold",
        precheck.OVER_ORDERABLE: "more than the {limit} won of orderable cash",
        precheck.NOT_OPEN: "the order is not open",
        precheck.OVER_REMAINING: "more than the {limit} shares still open",
    },
}


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A new order on one holding row (or a code), prefilled as the key that opened it asked."""

    account: str
    code: Code
    name: str
    side: Side
    credit: Credit = Credit.CASH
    loan_date: date | None = None
    qty: int | None = None
    price: int | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    account: str
    order_no: str
    code: Code
    price: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Cancel:
    account: str
    order_no: str
    code: Code
    remaining: int


Ticket = NewOrder | Amend | Cancel
# What sends the request once the checks pass.
_Send = Callable[[], Awaitable[OrderAck]]


class _NotANumber(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class TicketScreen(ModalScreen[str | None]):
    """One ticket; dismissed with the broker's answer (shown by the live view) or None."""

    DEFAULT_CSS = """
    TicketScreen { align: center middle; }
    #ticket { width: 64; height: auto; border: round $accent; padding: 0 1; background: $panel; }
    #ticket Input { width: 100%; }
    #ticket-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "close", show=False)]  # noqa: RUF012 - textual's style

    def __init__(self, session: Session, ticket: Ticket, *, lang: str = "ko") -> None:
        super().__init__()
        self.session = session
        self.ticket = ticket
        self.lang = lang
        self._t = TEXTS.get(lang, TEXTS["ko"])
        self._busy = False

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        t, ticket = self._t, self.ticket
        with Vertical(id="ticket"):
            yield Static(self._heading(), id="ticket-title")
            if isinstance(ticket, NewOrder):
                yield Static(t["qty"])
                yield Input(_text(ticket.qty), id="qty", restrict=r"\d*")
                yield Static(t["price"])
                yield Input(_text(ticket.price), id="price", restrict=r"\d*")
            elif isinstance(ticket, Amend):
                yield Static(t["amend_price"])
                yield Input(str(ticket.price), id="price", restrict=r"\d*")
                yield Static(t["amend_qty"])
                yield Input("", id="qty", restrict=r"\d*")
            else:
                yield Static(t["cancel_qty"])
                yield Input("", id="qty", restrict=r"\d*")
            yield Static("", id="ticket-error")
            yield Static(t["keys"], id="ticket-keys")

    def _heading(self) -> str:
        t, ticket, book = self._t, self.ticket, self.session.book
        if isinstance(ticket, NewOrder):
            row_label = f"{t[ticket.side.value]} {ticket.code} {ticket.name}"
            if ticket.credit is not Credit.CASH:
                row_label += f" [{ticket.credit.label_ko}]"
            if ticket.side is Side.SELL:
                row = book.row(
                    HoldingKey(ticket.account, ticket.code, ticket.credit, ticket.loan_date)
                )
                return f"{row_label} · {t['sellable']} {won(row.sellable if row else 0)}"
            acc = book.accounts.get(ticket.account)
            return f"{row_label} · {t['orderable']} {won(acc.orderable if acc else 0)}"
        what = t["amend"] if isinstance(ticket, Amend) else t["cancel"]
        return f"{what} #{ticket.order_no} {ticket.code} · {t['remaining']} {won(ticket.remaining)}"

    # ----------------------------------------------------------------- sending

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._busy:
            return
        try:
            refusal, send = self._prepare()
        except _NotANumber as exc:
            self._error(self._t["whole_number"].format(field=exc.field))
            return
        if refusal is not None:
            self._error(self._t[refusal.reason].format(limit=won(refusal.limit)))
            return
        self._busy = True
        self._error(self._t["sending"])
        try:
            ack = await send()
        except BrokerError as exc:
            self._error(self._t["refused"].format(message=str(exc)))
            return
        finally:
            self._busy = False
        what = self._t[self._kind()]
        answer = self._t["answer"].format(what=what, order_no=ack.order_no)
        self.dismiss(f"{answer} {ack.message}".strip())

    def _kind(self) -> str:
        ticket = self.ticket
        if isinstance(ticket, NewOrder):
            return ticket.side.value
        return "amend" if isinstance(ticket, Amend) else "cancel"

    def _prepare(self) -> tuple[Refusal | None, _Send]:
        book, ticket = self.session.book, self.ticket
        qty = self._number("qty")
        if isinstance(ticket, NewOrder):
            price = self._number("price") or 0
            order_type = OrderType.LIMIT if price else OrderType.MARKET
            request = OrderRequest(
                account=ticket.account,
                side=ticket.side,
                code=ticket.code,
                qty=qty or 0,
                price=price,
                order_type=order_type,
                credit=ticket.credit,
                loan_date=ticket.loan_date,
            )
            refusal = precheck.check_new(
                book,
                account=request.account,
                code=request.code,
                side=request.side,
                qty=request.qty,
                price=price,
                order_type=order_type,
                credit=request.credit,
                loan_date=request.loan_date,
            )
            return refusal, lambda: self.session.place(request)
        if isinstance(ticket, Amend):
            price = self._number("price") or 0
            refusal = precheck.check_amend(book, ticket.order_no, price=price, qty=qty)
            return refusal, lambda: self.session.amend(
                ticket.account, ticket.order_no, price=price, qty=qty
            )
        refusal = precheck.check_cancel(book, ticket.order_no, qty=qty)
        return refusal, lambda: self.session.cancel(ticket.account, ticket.order_no, qty=qty)

    def _number(self, field: str) -> int | None:
        text = self.query_one(f"#{field}", Input).value.strip()
        if not text:
            return None
        if not text.isdigit() or len(text) > 15:
            raise _NotANumber(self._t["qty" if field == "qty" else "price"])
        return int(text)

    def _error(self, text: str) -> None:
        self.query_one("#ticket-error", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
