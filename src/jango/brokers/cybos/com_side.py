"""Everything the CYBOS adapter does with COM objects; every method runs on the COM thread.

Methods return plain values, or :class:`RetryAfter` when a request limit says "not now", so that
the waiting happens on the asyncio side and the COM thread keeps pumping meanwhile. Pushed events
are read here (on the thread that owns the objects, while it pumps), decoded by :mod:`wire`, and
handed to ``push`` as port items.

**A fill's cumulative quantity (``OrderNotice.filled_total``).** CpConclusion gives each fill's
own quantity (3) but not the order's total so far, so the adapter counts: a counter per (day,
account, order number), plus the fill's quantity on every 체결 event. The counter must start at
what the order had filled *when the subscription opened*; the stream carries exactly the fills
after that moment. The adapter reads the day's fills (CpTd5341) once before subscribing (A) and
once after (B), with no message pumped in between, so no event is delivered meanwhile:

* an order whose total is the same in A and B (0 if it is absent) had no fill in between, hence
  none around the subscription: its counter starts at that total and every later fill's
  ``filled_total`` is exact;
* an order whose total differs had a fill in between, before or after the subscription opened —
  which one the stream cannot tell (CpConclusion has no fill id). Its fills get
  ``filled_total=None`` and no ``fill_id`` for the rest of the session, and the engine's fence
  falls back to the snapshot for that order;
* an order first seen in the stream (placed after B, or an amendment's new order number, which
  CYBOS counts from zero) starts at 0.

On reconnect the counters are seeded again the same way (fills during the outage never reach the
stream). ``fill_id`` is ``"<order>:<filled_total>"`` where the total is exact, else empty.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jango.brokers.cybos import wire
from jango.brokers.port import (
    BrokerError,
    ConnectionStatus,
    Disconnected,
    OrderRefused,
    PushItem,
    Received,
    StartupError,
    Undecodable,
)
from jango.domain.model import BalanceRow, Code, Market, NoticeKind, OrderNotice, cybos_code

SOURCE = "cybos"

# CpCybos limit types.
LT_TRADE = 0
LT_QUOTE = 1
LT_SUBSCRIBE = 2

RQ_OK = 0
RQ_CONFIRM_CANCELLED = 2
RQ_LIMIT = 4

_TRADE_INIT = {
    -1: "TradeInit(0) failed (-1: error)",
    1: "TradeInit(0) failed (1: 업무키 입력 잘못됨)",
    2: "TradeInit(0) failed (2: 계좌 비밀번호 입력 잘못됨)",
    3: "TradeInit(0) was cancelled by the user (3: 취소)",
}


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """A request limit is exhausted; try again after ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class BalancePage:
    rows: list[BalanceRow]
    more: bool
    d2: int
    loan: int  # header 6 대출금액 of the account


@dataclass(frozen=True, slots=True)
class OrderPage:
    rows: list[dict[int, object]]
    more: bool


@dataclass(frozen=True, slots=True)
class OrderReply:
    order_no: str
    message: str


class Sink:
    """Event handler class given to ``WithEvents``; the adapter sets ``target`` afterwards."""

    target: Callable[[], None] | None = None

    def OnReceived(self) -> None:
        if self.target is not None:
            self.target()

    def OnDisconnect(self) -> None:
        if self.target is not None:
            self.target()


class ComSide:
    """The adapter's COM objects and what it does with them (COM thread only)."""

    def __init__(
        self,
        client: Any,
        push: Callable[[PushItem], None],
        clock: Callable[[], datetime],
        on_disconnect: Callable[[], None],
    ) -> None:
        self._client = client
        self._push = push
        self._clock = clock
        self._on_disconnect = on_disconnect
        self.status: Any = None
        self._trade: Any = None
        self._conclusion: Any = None
        self._ticks: dict[Code, Any] = {}
        self._handlers: list[Any] = []
        self._objects: dict[str, Any] = {}
        self._goods: dict[str, str] = {}
        # (day, account, order number) -> filled so far; None marks an order whose start is
        # ambiguous (see the module docstring).
        self._filled: dict[tuple[str, str, str], int | None] = {}

    # -- startup --------------------------------------------------------------------------------
    def start(self, is_admin: Callable[[], bool]) -> list[str]:
        """The seed's startup checks, each with a message saying what to do; returns accounts."""
        if not is_admin():
            raise StartupError(
                "this process is not running as administrator; CYBOS Plus needs an elevated "
                "process (run the terminal or IDE 'as administrator')"
            )
        self.status = self._client.Dispatch("CpUtil.CpCybos")
        self._trade = self._client.Dispatch("CpTrade.CpTdUtil")
        self._listen(self.status, self._on_disconnect)
        self.check_connection()
        accounts = [str(a) for a in self._trade.AccountNumber]
        if not accounts:
            raise StartupError("CYBOS Plus reports no account for this login")
        for account in accounts:
            goods = tuple(self._trade.GoodsList(account, 1))
            if goods:
                self._goods[account] = str(goods[0])
        if not self._goods:
            raise StartupError("no stock goods code (GoodsList(acc, 1)) for any account")
        self._subscribe_seeded()
        return accounts

    def check_connection(self) -> None:
        if self.status.IsConnect == 0:
            raise StartupError(
                "CYBOS Plus is not connected: log in to CYBOS/CREON Plus (the 'Plus' mode of "
                "the login screen) before starting jango"
            )
        server = self.status.ServerType
        if server != 1:
            raise StartupError(
                f"CYBOS is logged in to server type {server}, not the Plus server (1); log out "
                "of the HTS and log in to CYBOS Plus"
            )
        rc = self._trade.TradeInit(0)
        if rc != 0:
            raise StartupError(_TRADE_INIT.get(rc, f"TradeInit(0) failed ({rc})"))

    def restore(self) -> bool:
        """After a disconnect: if CYBOS is back, initialise trading and re-open every push."""
        if self.status.IsConnect == 0:
            return False
        self.check_connection()
        self._subscribe_seeded()
        for code in list(self._ticks):
            del self._ticks[code]
            self.subscribe(code)
        return True

    def goods(self, account: str) -> str:
        try:
            return self._goods[account]
        except KeyError:
            raise BrokerError(f"account {account!r} is not signed on in CYBOS Plus") from None

    # -- requests -------------------------------------------------------------------------------
    def _object(self, progid: str) -> Any:
        obj = self._objects.get(progid)
        if obj is None:
            obj = self._objects[progid] = self._client.Dispatch(progid)
        return obj

    def _quote_slot(self) -> RetryAfter | None:
        if self.status.GetLimitRemainCount(LT_QUOTE) > 0:
            return None
        return RetryAfter(self._remain_seconds())

    def _remain_seconds(self) -> float:
        return max(int(self.status.LimitRequestRemainTime), 1) / 1000

    def _request(self, obj: Any, what: str) -> RetryAfter | None:
        rc = obj.BlockRequest()
        if rc == RQ_LIMIT:
            return RetryAfter(self._remain_seconds())
        if rc == RQ_CONFIRM_CANCELLED:
            raise OrderRefused("the order was cancelled in the order-confirm dialog", code="2")
        if rc != RQ_OK:
            if self.status.IsConnect == 0:
                raise Disconnected(f"{what}: CYBOS Plus is disconnected")
            raise BrokerError(f"{what}: BlockRequest returned {rc}: {obj.GetDibMsg1()}")
        return None

    def _status_error(self, obj: Any) -> tuple[str, str] | None:
        if obj.GetDibStatus() == 0:
            return None
        message = str(obj.GetDibMsg1())
        return message.split(" ", 1)[0], message

    def quote(self, code: Code) -> RetryAfter | Any:
        wait = self._quote_slot()
        if wait is not None:
            return wait
        obj = self._object("DsCbo1.StockMst")
        obj.SetInputValue(0, cybos_code(code))
        wait = self._request(obj, "StockMst")
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise BrokerError(f"StockMst {code}: {error[1]}", code=error[0])
        return wire.quote_from_stockmst({i: obj.GetHeaderValue(i) for i in wire.STOCKMST_FIELDS})

    def quotes(self, codes: list[Code]) -> RetryAfter | Any:
        wait = self._quote_slot()
        if wait is not None:
            return wait
        obj = self._object("CpSysDib.MarketEye")
        obj.SetInputValue(0, list(wire.MARKETEYE_FIELDS))
        obj.SetInputValue(1, [cybos_code(c) for c in codes])
        wait = self._request(obj, "MarketEye")
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise BrokerError(f"MarketEye: {error[1]}", code=error[0])
        count = int(obj.GetHeaderValue(2))
        columns = {
            col: [obj.GetDataValue(col, row) for row in range(count)]
            for col in range(len(wire.MARKETEYE_FIELDS))
        }
        return wire.quotes_from_marketeye(wire.MARKETEYE_FIELDS, columns, count)

    def balance_page(self, account: str, first: bool, page_size: int) -> RetryAfter | BalancePage:
        obj = self._object("CpTrade.CpTd6033")
        if first:
            obj.SetInputValue(0, account)
            obj.SetInputValue(1, self.goods(account))
            obj.SetInputValue(2, page_size)
        wait = self._request(obj, "CpTd6033")
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise BrokerError(f"CpTd6033: {error[1]}", code=error[0])
        count = int(obj.GetHeaderValue(7))
        try:
            rows = [
                wire.balance_row(account, {f: obj.GetDataValue(f, i) for f in wire.BALANCE_FIELDS})
                for i in range(count)
            ]
        except wire.WireError as exc:
            raise BrokerError(f"CpTd6033 row of {account}: {exc}") from None
        return BalancePage(
            rows,
            bool(obj.Continue),
            int(obj.GetHeaderValue(9) or 0),
            int(obj.GetHeaderValue(6) or 0),
        )

    def order_page(
        self, progid: str, account: str, first: bool, inputs: dict[int, object], count_header: int
    ) -> RetryAfter | OrderPage:
        """One page of an order inquiry (CpTd5339 open orders / CpTd5341 orders and fills):
        every data field 0..44 of each row, as read."""
        obj = self._object(progid)
        if first:
            obj.SetInputValue(0, account)
            obj.SetInputValue(1, self.goods(account))
            for index, value in inputs.items():
                obj.SetInputValue(index, value)
        wait = self._request(obj, progid)
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise BrokerError(f"{progid}: {error[1]}", code=error[0])
        count = int(obj.GetHeaderValue(count_header) or 0)
        rows = [
            {f: obj.GetDataValue(f, i) for f in wire.ORDER_FIELDS[progid]} for i in range(count)
        ]
        return OrderPage(rows, bool(obj.Continue))

    def _read_all(self, progid: str, account: str) -> list[dict[int, object]]:
        """Every page of an inquiry, waiting on this thread when the trade window is full (used
        at subscription time only, where nothing else may run in between)."""
        rows: list[dict[int, object]] = []
        first = True
        inputs, header = wire.ORDER_INQUIRIES[progid]
        while True:
            page = self.order_page(progid, account, first, inputs, header)
            if isinstance(page, RetryAfter):
                time.sleep(page.seconds)
                continue
            rows.extend(page.rows)
            first = False
            if not page.more:
                return rows

    def _fill_totals(self) -> dict[tuple[str, str, str], int]:
        day = self._clock().date().isoformat()
        totals: dict[tuple[str, str, str], int] = {}
        for account in self._goods:
            for order_no, total in wire.filled_totals(
                self._read_all(wire.DAILY_ORDERS, account)
            ).items():
                totals[(day, account, order_no)] = total
        return totals

    def _subscribe_seeded(self) -> None:
        """Open CpConclusion between two reads of the day's fills (module docstring)."""
        before = self._fill_totals()
        self._subscribe_conclusion()
        after = self._fill_totals()
        self._filled = {
            key: (total if before.get(key, 0) == total else None) for key, total in after.items()
        }
        for key, total in before.items():
            self._filled.setdefault(key, None if total else 0)

    def markets(self, codes: list[Code]) -> dict[Code, Market]:
        """Each code's market from CpCodeMgr (a local table: no request limit)."""
        mgr = self._object("CpUtil.CpCodeMgr")
        found: dict[Code, Market] = {}
        for code in codes:
            try:
                found[code] = wire.market_from_kinds(
                    mgr.GetStockMarketKind(cybos_code(code)),
                    mgr.GetStockSectionKind(cybos_code(code)),
                )
            except wire.WireError:
                found[code] = Market.UNKNOWN
        return found

    def deposit(self, account: str) -> RetryAfter | int:
        obj = self._object("CpTrade.CpTdNew5331A")
        obj.SetInputValue(0, account)
        obj.SetInputValue(1, self.goods(account))
        wait = self._request(obj, "CpTdNew5331A")
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise BrokerError(f"CpTdNew5331A: {error[1]}", code=error[0])
        return int(obj.GetHeaderValue(45) or 0)

    def order(self, progid: str, inputs: dict[int, object], no_field: int) -> RetryAfter | Any:
        obj = self._object(progid)
        for index, value in inputs.items():
            obj.SetInputValue(index, value)
        wait = self._request(obj, progid)
        if wait is not None:
            return wait
        error = self._status_error(obj)
        if error is not None:
            raise OrderRefused(f"{progid}: {error[1]}", code=error[0])
        return OrderReply(str(int(obj.GetHeaderValue(no_field))), str(obj.GetDibMsg1()))

    # -- subscriptions --------------------------------------------------------------------------
    def _listen(self, obj: Any, target: Callable[[], None]) -> None:
        handler = self._client.WithEvents(obj, Sink)
        handler.target = target
        # WithEvents handlers must stay referenced or events stop (a known CYBOS pitfall).
        self._handlers.append(handler)

    def subscribe(self, code: Code, capacity: int | None = None) -> None:
        if code in self._ticks:
            return  # already open: re-subscribing would double the events and the count
        if capacity is not None and len(self._ticks) >= capacity:
            raise BrokerError(f"subscription capacity ({capacity}) is full; poll {code}")
        if self.status.GetLimitRemainCount(LT_SUBSCRIBE) <= 0:
            raise BrokerError(f"CYBOS realtime registrations are exhausted; poll {code}")
        obj = self._client.Dispatch("DsCbo1.StockCur")
        obj.SetInputValue(0, cybos_code(code))
        self._listen(obj, lambda: self._on_tick(obj))
        try:
            obj.Subscribe()
        except Exception as exc:
            raise BrokerError(f"StockCur.Subscribe({code}) failed: {exc}") from None
        self._ticks[code] = obj

    def unsubscribe(self, code: Code) -> None:
        obj = self._ticks.pop(code, None)
        if obj is not None:
            obj.Unsubscribe()

    def subscribed(self) -> int:
        return len(self._ticks)

    def close(self) -> None:
        for code in list(self._ticks):
            self.unsubscribe(code)
        if self._conclusion is not None:
            self._conclusion.Unsubscribe()
            self._conclusion = None

    def _subscribe_conclusion(self) -> None:
        obj = self._client.Dispatch("DsCbo1.CpConclusion")
        self._listen(obj, lambda: self._on_conclusion(obj))
        obj.Subscribe()
        self._conclusion = obj

    # -- events (COM thread, while pumping) -----------------------------------------------------
    def _on_tick(self, obj: Any) -> None:
        values = {i: obj.GetHeaderValue(i) for i in wire.STOCKCUR_FIELDS}
        at = self._clock()
        raw = wire.raw_json(values)
        try:
            tick = wire.tick_from_stockcur(values, at.date())
        except wire.WireError as exc:
            self._push(Undecodable(raw, f"StockCur: {exc}", SOURCE, at))
            return
        self._push(Received(tick, raw, SOURCE, at))

    def _on_conclusion(self, obj: Any) -> None:
        values = {i: obj.GetHeaderValue(i) for i in wire.CONCLUSION_FIELDS}
        at = self._clock()
        raw = wire.raw_json(values)
        try:
            notice = wire.notice_from_conclusion(values, at)
        except wire.WireError as exc:
            self._push(Undecodable(raw, f"CpConclusion: {exc}", SOURCE, at))
            return
        self._push(Received(self._with_fill_id(notice), raw, SOURCE, at))

    def _with_fill_id(self, notice: OrderNotice) -> OrderNotice:
        # CpConclusion has no execution id; the order's cumulative filled quantity names each
        # fill uniquely (see the module docstring for when it is exact).
        if notice.kind is not NoticeKind.FILLED:
            return notice
        key = (notice.time.date().isoformat(), notice.account, notice.order_no)
        known = self._filled.get(key, 0)
        if known is None:
            return notice
        total = known + notice.qty
        self._filled[key] = total
        return dataclasses.replace(notice, fill_id=f"{notice.order_no}:{total}", filled_total=total)

    def disconnected_status(self) -> ConnectionStatus:
        return ConnectionStatus(False, "CYBOS Plus disconnected (OnDisconnect)", self._clock())
