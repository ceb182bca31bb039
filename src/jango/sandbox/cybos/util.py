"""``CpUtil.CpCybos`` (connection, request limits, ``OnDisconnect``) and ``CpTrade.CpTdUtil``
(trade initialisation, accounts, goods)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jango.sandbox.cybos import frames
from jango.sandbox.cybos.base import (
    ComObject,
)
from jango.sandbox.cybos.runtime import (
    LT_SUBSCRIBE,
)

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator


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

    def PlusDisconnect(self) -> None:
        """Log CYBOS Plus off (newer type library): every object is disconnected after it."""
        self._check_thread()
        self._emu.disconnect()

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
