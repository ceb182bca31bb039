"""The KIS sandbox's record of each account's orders of the day, as KIS's order inquiries show it.

The venue forgets an order once it is filled or cancelled; KIS's daily-orders inquiry
(``inquire-daily-ccld``) lists every order of the day with its cumulative filled quantity, and the
pending-orders inquiry (``inquire-psbl-rvsecncl``) lists what can still be amended or cancelled.
This ledger is fed by the venue's notices, synchronously (the venue calls its listeners under its
own lock, right after its state changed), so an inquiry always agrees with the venue's balance.

Rows follow KIS's own layout: an amend is a row of its own (``orgn_odno`` names the original,
whose remaining quantity drops to 0); a cancel request is a row of its own with ``cncl_yn`` "Y" and
the cancelled quantity confirmed in ``cnc_cfrm_qty``; an order the exchange cancelled by itself
(an IOC/FOK remainder, or expiry at the close) keeps its row with the cancelled part confirmed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date, datetime

from jango.domain.model import (
    Code,
    Condition,
    Credit,
    HoldingKey,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Side,
)


@dataclass(slots=True)
class DayOrder:
    """One order-number row of the day (a new order, an amend, or a cancel request)."""

    order_no: str
    account: str
    side: Side
    code: Code
    name: str
    qty: int
    price: int
    time: datetime
    order_type: OrderType
    condition: Condition
    credit: Credit
    loan_date: date | None
    orig_order_no: str = ""
    action: OrderAction = OrderAction.NEW
    filled: int = 0
    filled_amount: int = 0
    remaining: int = 0
    cancelled: int = 0  # cancel confirmed on this row (cnc_cfrm_qty)
    rejected: int = 0

    @property
    def is_cancel_request(self) -> bool:
        return self.action is OrderAction.CANCEL

    @property
    def average_price(self) -> int:
        """Average fill price in whole won (avg_prvs), 0 before the first fill."""
        return self.filled_amount // self.filled if self.filled else 0


class OrderLedger:
    """Orders of the day per account, kept from venue notices; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, DayOrder] = {}
        self._day: date | None = None

    def on_notice(self, notice: OrderNotice) -> None:
        """Record one venue notice (called from the venue's listener, under its lock)."""
        with self._lock:
            day = notice.time.date()
            if self._day is not None and day > self._day:
                # A new trading day: yesterday's orders are no longer "of the day".
                self._orders = {}
            self._day = day if self._day is None or day > self._day else self._day
            self._apply(notice)

    def orders(self, account: str) -> list[DayOrder]:
        """Copies of ``account``'s rows, oldest first (order numbers rise with time)."""
        with self._lock:
            rows = [o for o in self._orders.values() if o.account == account]
            return [replace(o) for o in rows]

    def traded_today(self, account: str) -> dict[HoldingKey, tuple[int, int]]:
        """Shares filled today per balance row key: (bought, sold)."""
        traded: dict[HoldingKey, tuple[int, int]] = {}
        with self._lock:
            for order in self._orders.values():
                if order.account != account or not order.filled:
                    continue
                key = HoldingKey(account, order.code, order.credit, order.loan_date)
                bought, sold = traded.get(key, (0, 0))
                if order.side is Side.BUY:
                    bought += order.filled
                else:
                    sold += order.filled
                traded[key] = (bought, sold)
        return traded

    def _row(self, notice: OrderNotice, action: OrderAction, qty: int) -> DayOrder:
        row = DayOrder(
            order_no=notice.order_no,
            account=notice.account,
            side=notice.side,
            code=notice.code,
            name=notice.name,
            qty=qty,
            price=notice.price,
            time=notice.time,
            order_type=notice.order_type,
            condition=notice.condition,
            credit=notice.credit,
            loan_date=notice.loan_date,
            orig_order_no=notice.orig_order_no,
            action=action,
            remaining=qty,
        )
        self._orders[row.order_no] = row
        return row

    def _apply(self, notice: OrderNotice) -> None:
        row = self._orders.get(notice.order_no)
        if notice.kind is NoticeKind.ACCEPTED:
            if row is None:
                self._row(notice, notice.action, notice.qty)
        elif notice.kind is NoticeKind.FILLED:
            if row is None:  # the order predates the ledger: count from here
                row = self._row(notice, OrderAction.NEW, notice.qty)
            row.filled += notice.qty
            row.filled_amount += notice.qty * notice.price
            row.remaining = max(0, row.remaining - notice.qty)
        elif notice.kind is NoticeKind.REJECTED:
            if row is None:
                row = self._row(notice, notice.action, notice.qty)
            row.rejected = row.remaining
            row.remaining = 0
        elif notice.action is OrderAction.AMEND:
            original = self._orders.get(notice.orig_order_no)
            if original is not None:
                original.remaining = 0  # all of it was replaced by the amend
            self._row(notice, OrderAction.AMEND, notice.qty)
        elif notice.action is OrderAction.CANCEL:
            if notice.order_no == notice.orig_order_no:
                # The exchange cancelled the order's own remainder (IOC/FOK, expiry).
                if row is not None:
                    row.cancelled += notice.qty
                    row.remaining = max(0, row.remaining - notice.qty)
                return
            original = self._orders.get(notice.orig_order_no)
            if original is not None:
                original.remaining = max(0, original.remaining - notice.qty)
            cancel = self._row(notice, OrderAction.CANCEL, notice.qty)
            cancel.cancelled = notice.qty
            cancel.remaining = 0


# ---------------------------------------------------------------------------------------------
# reply rows

_CREDIT_NAMES = {
    Credit.CASH: "현금",
    Credit.MARGIN_SELF: "자기융자",
    Credit.MARGIN_KSFC: "유통융자",
    Credit.SHORT_SELF: "자기대주",
    Credit.SHORT_KSFC: "유통대주",
    Credit.PURCHASE_LOAN: "매입담보",
    Credit.STOCK_LOAN: "주식담보",
    Credit.OTHER: "기타",
}
_TYPE_NAMES = {
    OrderType.LIMIT: "지정가",
    OrderType.MARKET: "시장가",
    OrderType.CONDITIONAL: "조건부지정가",
    OrderType.BEST: "최유리지정가",
    OrderType.PRIORITY: "최우선지정가",
    OrderType.OTHER: "기타",
}
_CONDITION_NAMES = {Condition.NONE: "없음", Condition.IOC: "IOC", Condition.FOK: "FOK"}


def _side_name(order: DayOrder) -> str:
    verb = "매도" if order.side is Side.SELL else "매수"
    prefix = _CREDIT_NAMES[order.credit]
    if order.action is OrderAction.AMEND:
        verb += "정정"
    elif order.action is OrderAction.CANCEL:
        verb += "취소"
    return prefix + verb


def daily_item(order: DayOrder, *, branch: str, division: str) -> dict[str, str]:
    """One ``output1`` row of inquire-daily-ccld (every column KIS's sample names)."""
    stamp = order.time.strftime("%H%M%S")
    return {
        "ord_dt": order.time.strftime("%Y%m%d"),
        "ord_gno_brno": branch,
        "odno": order.order_no,
        "orgn_odno": order.orig_order_no,
        "ord_dvsn_name": _TYPE_NAMES[order.order_type],
        "sll_buy_dvsn_cd": "01" if order.side is Side.SELL else "02",
        "sll_buy_dvsn_cd_name": _side_name(order),
        "pdno": order.code,
        "prdt_name": order.name,
        "ord_qty": str(order.qty),
        "ord_unpr": str(order.price),
        "ord_tmd": stamp,
        "tot_ccld_qty": str(order.filled),
        "avg_prvs": str(order.average_price),
        "cncl_yn": "Y" if order.is_cancel_request else "N",
        "tot_ccld_amt": str(order.filled_amount),
        "loan_dt": order.loan_date.strftime("%Y%m%d") if order.loan_date else "",
        "ordr_empno": "OpnAPI",
        "ord_dvsn_cd": division,
        "cnc_cfrm_qty": str(order.cancelled),
        "rmn_qty": str(order.remaining),
        "rjct_qty": str(order.rejected),
        "ccld_cndt_name": _CONDITION_NAMES[order.condition],
        "inqr_ip_addr": "",
        "cpbc_ordp_ord_rcit_dvsn_cd": "",
        "cpbc_ordp_infm_mthd_dvsn_cd": "",
        "infm_tmd": stamp if order.filled else "",
        "ctac_tlno": "",
        "prdt_type_cd": "300",
        "excg_dvsn_cd": "01",
        "cpbc_ordp_mtrl_dvsn_cd": "",
        "ord_orgno": branch,
        "rsvn_ord_end_dt": "",
        # Spelled as KIS's sample lists it (sic: capital C).
        "excg_id_dvsn_Cd": "KRX",
        "stpm_cndt_pric": "0",
        "stpm_efct_occr_dtmd": "",
    }


def daily_totals(orders: list[DayOrder]) -> dict[str, str]:
    """``output2`` of inquire-daily-ccld over every row of the inquiry (all pages)."""
    placed = [o for o in orders if not o.is_cancel_request]
    filled = sum(o.filled for o in placed)
    amount = sum(o.filled_amount for o in placed)
    return {
        "tot_ord_qty": str(sum(o.qty for o in placed)),
        "tot_ccld_qty": str(filled),
        "tot_ccld_amt": str(amount),
        "prsm_tlex_smtl": "0",
        "pchs_avg_pric": str(amount // filled if filled else 0) + ".0000",
    }


def pending_item(order: DayOrder, *, branch: str, division: str) -> dict[str, str]:
    """One ``output`` row of inquire-psbl-rvsecncl: an order that can still be amended."""
    return {
        "ord_gno_brno": branch,
        "odno": order.order_no,
        "orgn_odno": order.orig_order_no,
        "ord_dvsn_name": _TYPE_NAMES[order.order_type],
        "pdno": order.code,
        "prdt_name": order.name,
        "rvse_cncl_dvsn_name": "정정" if order.action is OrderAction.AMEND else "",
        "ord_qty": str(order.qty),
        "ord_unpr": str(order.price),
        "ord_tmd": order.time.strftime("%H%M%S"),
        "tot_ccld_qty": str(order.filled),
        "tot_ccld_amt": str(order.filled_amount),
        "psbl_qty": str(order.remaining),
        "sll_buy_dvsn_cd": "01" if order.side is Side.SELL else "02",
        "ord_dvsn_cd": division,
        "mgco_aptm_odno": "",
        "excg_dvsn_cd": "01",
        "excg_id_dvsn_cd": "KRX",
        "excg_id_dvsn_name": "한국거래소",
        "stpm_cndt_pric": "0",
        "stpm_efct_occr_yn": "N",
    }
