"""The realtime (SB) objects of ticks and order notices: ``DsCbo1.StockCur`` and
``DsCbo1.CpConclusion``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jango.sandbox.cybos.base import (
    SubscribeObject,
)

if TYPE_CHECKING:
    pass


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
