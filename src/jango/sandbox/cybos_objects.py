"""The emulated CYBOS Plus COM objects, each answering from the simulated venue.

Every object belongs to the thread that dispatched it and refuses calls from other threads
(``RPC_E_WRONG_THREAD``), as an unmarshalled apartment-threaded COM object does under pywin32.
Method names keep COM's PascalCase so a trader's script runs unchanged.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from jango.domain.model import (
    BalanceSnapshot,
    Code,
    Condition,
    Credit,
    InvalidCode,
    OrderType,
    Side,
    parse_code,
)
from jango.sandbox import cybos_frames as frames
from jango.sandbox.cybos_runtime import (
    LT_NONTRADE_REQUEST,
    LT_SUBSCRIBE,
    LT_TRADE_REQUEST,
    RPC_E_WRONG_THREAD,
    ComError,
)

if TYPE_CHECKING:
    from jango.sandbox.cybos_com import CybosEmulator

# BlockRequest return codes.
RQ_OK = 0
RQ_COMM_FAILED = 1
RQ_CONFIRM_CANCELLED = 2
RQ_INTERNAL = 3
RQ_LIMIT = 4

MARKETEYE_MAX_CODES = 200
MARKETEYE_MAX_FIELDS = 64
BALANCE_PAGE_MAX = 50
BALANCE_PAGE_DEFAULT = 14


class ComObject:
    """Common surface: owner-thread check and event handlers attached with ``WithEvents``."""

    progid = ""

    def __init__(self, emulator: CybosEmulator) -> None:
        self._emu = emulator
        self._owner = threading.get_ident()
        self._handlers: list[Any] = []

    @property
    def owner_thread(self) -> int:
        return self._owner

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise ComError(
                RPC_E_WRONG_THREAD,
                "The application called an interface that was marshalled for a different thread.",
            )

    def attach_handler(self, handler: Any) -> None:
        """Keep ``handler`` alive and call it for this object's events (``WithEvents``)."""
        self._handlers.append(handler)

    def _fire(self, method: str, *fallbacks: str) -> None:
        for handler in list(self._handlers):
            for name in (method, *fallbacks):
                callback = getattr(handler, name, None)
                if callback is not None:
                    callback()
                    break

    def __getattr__(self, name: str) -> Any:
        # IDispatch resolves member names case-insensitively (GetIDsOfNames), so pywin32's
        # dynamic objects accept ``getHeaderValue`` as well as ``GetHeaderValue``.
        if name.startswith("_"):
            raise AttributeError(name)
        wanted = name.lower()
        for cls in type(self).__mro__:
            for member in vars(cls):
                if member.lower() == wanted and member != name and not member.startswith("_"):
                    return getattr(self, member)
        raise AttributeError(f"{self.progid}.{name}")

    def __repr__(self) -> str:
        return f"<COMObject {self.progid}>"


class DibObject(ComObject):
    """A request/subscription object (IDib / ISysDib / ICpTdDib)."""

    service = ""
    limit_type: int | None = LT_NONTRADE_REQUEST

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._inputs: dict[int, object] = {}
        self._header: dict[int, object] = {}
        self._data: dict[int, list[object]] = {}
        self._event_header: dict[int, object] | None = None
        self._continue = 0
        self._status = 0
        self._msg = ""

    # -- inputs and outputs ---------------------------------------------------------------------
    def SetInputValue(self, index: int, value: object) -> None:
        self._check_thread()
        self._inputs[int(index)] = value
        self._inputs_changed()

    def GetInputValue(self, index: int) -> object:
        self._check_thread()
        return self._inputs.get(int(index))

    def GetHeaderValue(self, index: int) -> object:
        self._check_thread()
        header = self._event_header if self._event_header is not None else self._header
        return header.get(int(index))

    def GetDataValue(self, kind: int, index: int) -> object:
        self._check_thread()
        column = self._data.get(int(kind), [])
        return column[index] if 0 <= index < len(column) else None

    def GetDibStatus(self) -> int:
        self._check_thread()
        return self._status

    def GetDibMsg1(self) -> str:
        self._check_thread()
        return self._msg

    def GetDibMsg2(self) -> str:
        self._check_thread()
        return ""

    @property
    def Continue(self) -> int:
        self._check_thread()
        return self._continue

    # -- requests -------------------------------------------------------------------------------
    def BlockRequest(self) -> int:
        self._check_thread()
        if not self._emu.connected:
            return self._fail(RQ_COMM_FAILED, "통신 연결이 끊어졌습니다")
        if self.limit_type == LT_NONTRADE_REQUEST:
            # Quote requests over the limit wait inside the call, as CYBOS does.
            self._emu.windows.take_blocking(LT_NONTRADE_REQUEST)
        return self._serve()

    def BlockRequest2(self, option: int = 0) -> int:
        return self.BlockRequest()

    def Request(self) -> int | None:
        """Asynchronous request: the answer arrives as ``OnReceived`` on the next pump."""
        rc = self.BlockRequest()
        header = dict(self._header)
        self._post_event(header)
        return rc if self.limit_type == LT_TRADE_REQUEST else None

    def _serve(self) -> int:
        raise NotImplementedError

    def _inputs_changed(self) -> None:
        """Hook: paging objects start over when their inputs change."""

    def _ok(self, text: str = "조회가 완료되었습니다", code: str = "0027") -> int:
        self._status = 0
        self._msg = f"{code} {text}.({self.service})"
        return RQ_OK

    def _fail(self, rc: int, text: str, code: str = "9999") -> int:
        self._status = -1
        self._msg = f"{code} {text}.({self.service})"
        return rc

    def _refuse(self, text: str, code: str = "9999") -> int:
        """A request the server answered with an error: the call succeeds, the status is -1."""
        self._fail(RQ_OK, text, code)
        return RQ_OK

    # -- events ---------------------------------------------------------------------------------
    def _post_event(self, header: dict[int, object]) -> None:
        def deliver() -> None:
            self._event_header = header
            try:
                self._fire("OnReceived")
            finally:
                self._event_header = None

        self._emu.queues.post(self._owner, f"{self.progid}.OnReceived", deliver)


class TradeObject(DibObject):
    """A ``CpTrade.*`` request: needs ``TradeInit`` and answers 4 over the trade window."""

    limit_type = LT_TRADE_REQUEST

    def BlockRequest(self) -> int:
        self._check_thread()
        if not self._emu.connected:
            return self._fail(RQ_COMM_FAILED, "통신 연결이 끊어졌습니다")
        if not self._emu.trade_initialized:
            return self._fail(RQ_INTERNAL, "주문 초기화(TradeInit)가 필요합니다")
        if self._is_order() and self._emu.take_confirm_cancel():
            return self._fail(RQ_CONFIRM_CANCELLED, "주문확인창에서 취소되었습니다")
        if not self._emu.windows.try_take(LT_TRADE_REQUEST):
            return self._fail(RQ_LIMIT, "주문요청 제한 개수를 초과하였습니다")
        return self._serve()

    def _is_order(self) -> bool:
        return False

    def _account_goods(self, acc_index: int, goods_index: int) -> str | None:
        account = str(self._inputs.get(acc_index, ""))
        # A request without 상품관리구분코드 uses the account's stock goods (scripts from the
        # well-known algorithmic-trading book leave it out and are answered).
        goods = str(self._inputs.get(goods_index, frames.GOODS_STOCK))
        if account not in self._emu.venue.accounts():
            return None
        if goods != frames.GOODS_STOCK:
            return None
        return account


# --- CpUtil ------------------------------------------------------------------------------------


class CpCybos(ComObject):
    """Connection state, request limits, and the ``OnDisconnect`` event."""

    progid = "CpUtil.CpCybos"

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        emulator.register_status_object(self)

    @property
    def IsConnect(self) -> int:
        self._check_thread()
        return 1 if self._emu.connected else 0

    @property
    def ServerType(self) -> int:
        self._check_thread()
        return self._emu.server_type if self._emu.connected else 0

    @property
    def LimitRequestRemainTime(self) -> int:
        self._check_thread()
        return self._emu.windows.remain_ms()

    def GetLimitRemainCount(self, limit_type: int) -> int:
        self._check_thread()
        if limit_type == LT_SUBSCRIBE:
            return self._emu.subscription_limit - self._emu.subscription_count()
        return self._emu.windows.remaining(int(limit_type))

    def GetLimitRemainTime(self, limit_type: int) -> int:
        self._check_thread()
        if limit_type == LT_SUBSCRIBE:
            return 0
        return self._emu.windows.remain_ms(int(limit_type))

    def post_disconnect(self) -> None:
        self._emu.queues.post(
            self._owner, "CpCybos.OnDisconnect", lambda: self._fire("OnDisconnect", "OnDisConnect")
        )


# --- CpTrade.CpTdUtil --------------------------------------------------------------------------


class CpTdUtil(ComObject):
    """Trade initialisation, account numbers and goods codes."""

    progid = "CpTrade.CpTdUtil"

    def TradeInit(self, reserved: int = 0) -> int:
        self._check_thread()
        if not self._emu.connected:
            return -1
        return self._emu.trade_init()

    @property
    def AccountNumber(self) -> tuple[str, ...]:
        self._check_thread()
        return tuple(self._emu.venue.accounts())

    def GoodsList(self, account: str, goods_filter: int) -> tuple[str, ...]:
        self._check_thread()
        if account not in self._emu.venue.accounts():
            return ()
        return (frames.GOODS_STOCK,) if goods_filter == -1 or goods_filter & 1 else ()


# --- subscriptions -------------------------------------------------------------------------------


class SubscribeObject(DibObject):
    """A realtime (SB) object; ``Subscribe`` registers it with the emulator."""

    limit_type = None

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self.subscribed = False

    def _serve(self) -> int:
        return self._ok()

    def Subscribe(self) -> None:
        self._check_thread()
        if not self.subscribed:
            self._register()
            self.subscribed = True

    def SubscribeLatest(self) -> None:
        # The emulator delivers every change either way; only the newest matters to a snapshot.
        self.Subscribe()

    def Unsubscribe(self) -> None:
        self._check_thread()
        if self.subscribed:
            self._emu.unregister(self)
            self.subscribed = False

    def _register(self) -> None:
        raise NotImplementedError

    def deliver(self, header: dict[int, object]) -> None:
        """Called by the emulator (any thread): queue an ``OnReceived`` for the owning thread."""
        self._post_event(header)


class StockCur(SubscribeObject):
    """Realtime ticks of the code in input 0."""

    progid = "DsCbo1.StockCur"

    def _register(self) -> None:
        self._emu.register_ticks(self, self._inputs.get(0))


class CpConclusion(SubscribeObject):
    """Realtime order/fill notices of every signed-on account."""

    progid = "DsCbo1.CpConclusion"

    def _register(self) -> None:
        self._emu.register_conclusion(self)


# --- account and orders --------------------------------------------------------------------------


class CpTd6033(TradeObject):
    """The balance of one account, 50 rows per page at most, paged with ``Continue``."""

    progid = "CpTrade.CpTd6033"
    service = "ordsb.cststkbal"

    def __init__(self, emulator: CybosEmulator) -> None:
        super().__init__(emulator)
        self._snapshot: BalanceSnapshot | None = None
        self._cursor = 0

    def _inputs_changed(self) -> None:
        self._snapshot = None
        self._continue = 0

    def _serve(self) -> int:
        account = self._account_goods(0, 1)
        if account is None:
            return self._refuse("계좌번호 또는 상품관리구분코드를 확인하십시오", "0001")
        size = int(str(self._inputs.get(2, BALANCE_PAGE_DEFAULT)))
        size = max(1, min(size, BALANCE_PAGE_MAX))
        if self._snapshot is None or not self._continue:
            # A new inquiry: the server reads the balance once and pages through that reading.
            self._snapshot = self._emu.venue.balance(account)
            self._cursor = 0
        snapshot = self._snapshot
        rows = snapshot.rows[self._cursor : self._cursor + size]
        self._cursor += len(rows)
        self._continue = 1 if self._cursor < len(snapshot.rows) else 0
        prices = {row.code: self._price(row.code) for row in snapshot.rows}
        columns = [
            frames.balance_columns(row, self._name(row.code), prices[row.code]) for row in rows
        ]
        self._data = {i: [c[i] for c in columns] for i in range(20) if i not in (8, 14)}
        self._header = self._summary(snapshot, prices, len(rows))
        if self._continue:
            return self._ok("조회가 계속됩니다", "0030")
        return self._ok()

    def _price(self, code: Code) -> int:
        try:
            return self._emu.venue.quote(code).price
        except Exception:
            return 0

    def _name(self, code: Code) -> str:
        try:
            return self._emu.venue.instrument(code).name
        except Exception:
            return ""

    def _summary(
        self, snapshot: BalanceSnapshot, prices: dict[Code, int], page_rows: int
    ) -> dict[int, object]:
        valuation = sum(prices[r.code] * r.qty for r in snapshot.rows)
        cost = sum(r.purchase_amount for r in snapshot.rows)
        qty = sum(r.qty for r in snapshot.rows)
        return {
            0: self._emu.account_name,
            1: qty,
            2: qty,
            3: snapshot.cash.d2 + valuation,
            4: valuation - cost,
            6: sum(r.purchase_amount for r in snapshot.rows if r.credit.is_loan),
            7: page_rows,
            8: float((valuation - cost) * 100 / cost) if cost else 0.0,
            9: snapshot.cash.d2,
            10: 0,
            11: valuation,
            12: 0,
        }


_ORDER_TYPES = {
    "01": OrderType.LIMIT,
    "03": OrderType.MARKET,
    "05": OrderType.CONDITIONAL,
    "12": OrderType.BEST,
    "13": OrderType.PRIORITY,
}
_CONDITIONS = {"0": Condition.NONE, "1": Condition.IOC, "2": Condition.FOK}


class _OrderObject(TradeObject):
    service = "ordss.cststkord"

    def _is_order(self) -> bool:
        return True

    def _send(self, action: str, call: Any) -> str | None:
        """Run a venue call; a venue refusal becomes status -1 with its reason (``None``)."""
        try:
            return str(call())
        except Exception as exc:
            reason = getattr(exc, "reason_code", None)
            if reason is None:
                raise
            self._fail(RQ_OK, f"{action}: {getattr(exc, 'message', exc)}", str(reason))
            return None

    def _code(self, index: int) -> Code | None:
        try:
            return parse_code(self._inputs.get(index))
        except InvalidCode:
            return None


class CpTd0311(_OrderObject):
    """A new cash order."""

    progid = "CpTrade.CpTd0311"

    def _serve(self) -> int:
        account = self._account_goods(1, 2)
        code = self._code(3)
        side = {"1": Side.SELL, "2": Side.BUY}.get(str(self._inputs.get(0, "")))
        order_type = _ORDER_TYPES.get(str(self._inputs.get(8, "01")))
        condition = _CONDITIONS.get(str(self._inputs.get(7, "0")))
        if account is None or code is None or side is None:
            return self._refuse("주문 입력값을 확인하십시오", "0002")
        if order_type is None or condition is None:
            return self._refuse("지원하지 않는 주문호가구분 또는 주문조건입니다", "0003")
        qty = int(str(self._inputs.get(4, 0)))
        price = int(str(self._inputs.get(5, 0)))
        order_no = self._send(
            "주문거부",
            lambda: self._emu.venue.place(
                account,
                side,
                code,
                qty,
                price,
                order_type=order_type,
                condition=condition,
                credit=Credit.CASH,
                loan_date=None,
            ),
        )
        if order_no is None:
            return RQ_OK
        self._header = {i: self._inputs.get(i) for i in range(6)}
        self._header.update(
            {
                8: self._emu.order_no_int(order_no),
                9: self._emu.account_name,
                10: self._emu.name_of(code),
                12: self._inputs.get(7, "0"),
                13: self._inputs.get(8, "01"),
            }
        )
        word = "매도" if side is Side.SELL else "매수"
        return self._ok(f"{word}주문이 접수되었습니다", "10766")


class CpTd0313(_OrderObject):
    """A price amendment of an open order."""

    progid = "CpTrade.CpTd0313"
    service = "ordss.cststkmod"

    def _serve(self) -> int:
        account = self._account_goods(2, 3)
        code = self._code(4)
        if account is None or code is None:
            return self._refuse("정정 입력값을 확인하십시오", "0002")
        original = self._emu.order_no_str(int(str(self._inputs.get(1, 0))))
        qty = int(str(self._inputs.get(5, 0)))
        price = int(str(self._inputs.get(6, 0)))
        order_no = self._send(
            "정정거부",
            lambda: self._emu.venue.amend(account, original, price=price, qty=qty or None),
        )
        if order_no is None:
            return RQ_OK
        self._header = {
            7: self._emu.order_no_int(order_no),
            8: self._emu.account_name,
            9: self._emu.name_of(code),
        }
        return self._ok("정정주문이 접수되었습니다", "10766")


class CpTd0314(_OrderObject):
    """A cancellation of (part of) an open order."""

    progid = "CpTrade.CpTd0314"
    service = "ordss.cststkcan"

    def _serve(self) -> int:
        account = self._account_goods(2, 3)
        code = self._code(4)
        if account is None or code is None:
            return self._refuse("취소 입력값을 확인하십시오", "0002")
        original = self._emu.order_no_str(int(str(self._inputs.get(1, 0))))
        qty = int(str(self._inputs.get(5, 0)))
        order_no = self._send(
            "취소거부", lambda: self._emu.venue.cancel(account, original, qty=qty or None)
        )
        if order_no is None:
            return RQ_OK
        self._header = {
            6: self._emu.order_no_int(order_no),
            7: self._emu.account_name,
            8: self._emu.name_of(code),
        }
        return self._ok("취소주문이 접수되었습니다", "10766")
