"""The base classes every emulated CYBOS Plus COM object shares.

Every object belongs to the thread that dispatched it and refuses calls from other threads
(``RPC_E_WRONG_THREAD``), as an unmarshalled apartment-threaded COM object does under pywin32.
Method names keep COM's PascalCase so a trader's script runs unchanged.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from jango.sandbox.cybos import frames
from jango.sandbox.cybos.runtime import (
    LT_NONTRADE_REQUEST,
    LT_TRADE_REQUEST,
    RPC_E_WRONG_THREAD,
    ComError,
)

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator


RQ_OK = 0
RQ_COMM_FAILED = 1
RQ_CONFIRM_CANCELLED = 2
RQ_INTERNAL = 3
RQ_LIMIT = 4


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
