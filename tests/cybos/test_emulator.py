"""The COM emulator behaves like CYBOS Plus objects: types, paging, events, limits."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from jango.domain.model import OrderType, Side
from jango.sandbox.cybos.emulator import CybosEmulator, install
from jango.sandbox.cybos.pywin32 import pump_until, uninstall
from jango.sandbox.cybos.runtime import LT_NONTRADE_REQUEST, ComError
from jango.sandbox.venue import Venue

from .conftest import BIG


class Recorder:
    """An event handler class the way CYBOS programs write them (no constructor arguments)."""

    def OnReceived(self) -> None:
        self.seen.append({i: self.obj.GetHeaderValue(i) for i in range(24)})

    def OnDisconnect(self) -> None:
        self.seen.append({"disconnect": True})


def attach(emu: CybosEmulator, obj: Any) -> Any:
    handler = emu.WithEvents(obj, Recorder)
    handler.obj, handler.seen = obj, []
    return handler


def test_balance_pages_of_50_follow_continue_with_every_row(emulator: CybosEmulator) -> None:
    util = emulator.Dispatch("CpTrade.CpTdUtil")
    assert util.TradeInit(0) == 0
    assert util.GoodsList(BIG, 1) == ("01",)
    rq = emulator.Dispatch("CpTrade.CpTd6033")
    rq.SetInputValue(0, BIG)
    rq.SetInputValue(1, "01")
    rq.SetInputValue(2, 80)  # above the maximum: served as 50
    pages, keys = [], set()
    while True:
        assert rq.BlockRequest() == 0
        assert rq.GetDibStatus() == 0
        pages.append(rq.GetHeaderValue(7))
        for i in range(rq.GetHeaderValue(7)):
            code = rq.GetDataValue(12, i)
            assert code.startswith("A")
            assert isinstance(rq.GetDataValue(1, i), int)  # 신용구분 is a char
            keys.add((code, rq.GetDataValue(1, i), rq.GetDataValue(2, i)))
        if not rq.Continue:
            break
    assert pages == [50, 50, 50, 50, 50, 12]
    assert len(keys) == 262
    assert rq.GetDibMsg1().endswith("(ordsb.cststkbal)")


def test_marketeye_columns_follow_the_fields_sorted_ascending(emulator: CybosEmulator) -> None:
    eye = emulator.Dispatch("CpSysDib.MarketEye")
    eye.SetInputValue(0, [17, 4, 0, 10, 3, 2, 1])
    eye.SetInputValue(1, ["A005930", "A000660"])
    assert eye.BlockRequest() == 0
    assert eye.GetHeaderValue(0) == 7
    assert eye.GetHeaderValue(2) == 2
    assert eye.GetDataValue(0, 0) == "A005930"
    assert eye.GetDataValue(4, 0) == emulator.venue.quote("005930").price
    assert eye.GetDataValue(6, 1) == "SK하이닉스"
    eye.SetInputValue(1, [f"A{i.code}" for i in emulator.venue.instruments()[:201]])
    eye.BlockRequest()
    assert eye.GetDibStatus() == -1


def test_events_arrive_only_while_the_owning_thread_pumps(emulator: CybosEmulator) -> None:
    cur = emulator.Dispatch("DsCbo1.StockCur")
    cur.SetInputValue(0, "A005930")
    handler = attach(emulator, cur)
    cur.Subscribe()
    venue: Venue = emulator.venue
    while not any(t.code == "005930" for t in venue.step(200)):
        pass
    assert handler.seen == []
    emulator.PumpWaitingMessages()
    assert handler.seen and handler.seen[-1][0] == "A005930"
    assert isinstance(handler.seen[-1][19], int)  # 예상체결 구분 is a char


def test_a_com_object_refuses_calls_from_another_thread(emulator: CybosEmulator) -> None:
    status = emulator.Dispatch("CpUtil.CpCybos")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            status.GetLimitRemainCount(1)
        except ComError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_quote_requests_over_the_limit_wait_for_the_window(venue: Venue) -> None:
    emu = CybosEmulator(venue, window_seconds=0.3, quote_requests=3)
    mst = emu.Dispatch("DsCbo1.StockMst")
    status = emu.Dispatch("CpUtil.CpCybos")
    mst.SetInputValue(0, "A005930")
    for _ in range(3):
        assert mst.BlockRequest() == 0
    assert status.GetLimitRemainCount(LT_NONTRADE_REQUEST) == 0
    assert status.LimitRequestRemainTime > 0
    assert mst.BlockRequest() == 0  # blocks inside, then succeeds
    times = [t for kind, t in emu.windows.served if kind == LT_NONTRADE_REQUEST]
    assert times[3] >= times[0] + 0.3
    emu.close()


def test_trade_requests_over_the_limit_return_4(venue: Venue) -> None:
    emu = CybosEmulator(venue, window_seconds=60, trade_requests=2)
    emu.Dispatch("CpTrade.CpTdUtil").TradeInit(0)
    rq = emu.Dispatch("CpTrade.CpTd6033")
    rq.SetInputValue(0, BIG)
    rq.SetInputValue(1, "01")
    assert [rq.BlockRequest() for _ in range(3)] == [0, 0, 4]
    emu.close()


def test_the_401st_subscription_is_refused(emulator: CybosEmulator) -> None:
    status = emulator.Dispatch("CpUtil.CpCybos")
    codes = [i.code for i in emulator.venue.instruments()]
    for code in codes[:400]:
        cur = emulator.Dispatch("DsCbo1.StockCur")
        cur.SetInputValue(0, "A" + code)
        cur.Subscribe()
    assert status.GetLimitRemainCount(2) == 0
    extra = emulator.Dispatch("DsCbo1.StockCur")
    extra.SetInputValue(0, "A" + codes[400])
    with pytest.raises(ComError):
        extra.Subscribe()


def test_an_order_the_user_cancels_in_the_confirm_dialog_returns_2(
    emulator: CybosEmulator,
) -> None:
    emulator.Dispatch("CpTrade.CpTdUtil").TradeInit(0)
    order = emulator.Dispatch("CpTrade.CpTd0311")
    for index, value in enumerate(["2", BIG, "01", "A005930", 1, 0]):
        order.SetInputValue(index, value)
    order.SetInputValue(8, "03")
    emulator.cancel_next_confirm()
    assert order.BlockRequest() == 2
    assert order.BlockRequest() == 0
    assert order.GetHeaderValue(8) > 0


def test_conclusion_carries_every_field_with_flags_as_strings(emulator: CybosEmulator) -> None:
    conc = emulator.Dispatch("DsCbo1.CpConclusion")
    handler = attach(emulator, conc)
    conc.Subscribe()
    emulator.venue.place(BIG, Side.BUY, "005930", 2, 0, order_type=OrderType.MARKET)
    emulator.PumpWaitingMessages()
    accepted, filled = handler.seen[0], handler.seen[1]
    assert (accepted[14], accepted[16], accepted[12], accepted[15]) == ("4", "1", "2", "00")
    assert filled[14] == "1" and filled[3] == 2 and filled[9] == "A005930"
    assert filled[23] == accepted[23] + 2  # post-fill balance of the row


def test_disconnect_fires_on_disconnect_and_fails_requests(emulator: CybosEmulator) -> None:
    status = emulator.Dispatch("CpUtil.CpCybos")
    handler = attach(emulator, status)
    mst = emulator.Dispatch("DsCbo1.StockMst")
    mst.SetInputValue(0, "A005930")
    emulator.disconnect()
    assert status.IsConnect == 0
    assert mst.BlockRequest() == 1
    pump_until(emulator, lambda: bool(handler.seen))
    emulator.reconnect()
    assert status.IsConnect == 1 and mst.BlockRequest() == 0


def test_install_makes_pywin32_imports_resolve_to_the_emulator(venue: Venue) -> None:
    emu = install(venue)
    try:
        import pythoncom  # type: ignore[import-not-found]
        import win32com.client  # type: ignore[import-not-found]

        assert win32com.client.Dispatch("CpUtil.CpCybos").IsConnect == 1
        assert pythoncom.PumpWaitingMessages() == 0
    finally:
        uninstall()
        emu.close()
