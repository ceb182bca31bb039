"""Daishin's sample (the seed) runs unchanged on the emulator and shows what the adapter shows —
and its bugs, which the adapter does not have (see test_broker.py for the adapter's side)."""

from __future__ import annotations

import asyncio
import ctypes
import sys
import types
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jango.brokers.cybos import CybosBroker
from jango.domain.model import Credit, OrderType, Side
from jango.sandbox.cybos.emulator import CybosEmulator, install
from jango.sandbox.cybos.pywin32 import pump_until, uninstall
from jango.sandbox.venue import DEMO_ACCOUNT, Venue

from .conftest import BIG, big_venue

# The repository root's parent holds shared/ (on CI too: a clean clone with shared/ beside it).
SEED = Path(__file__).resolve().parents[2] / ".." / "shared" / "seed" / "cybos_balance_example.txt"


def seed_source() -> str:
    """The Python part of the sample: everything from its first ``import sys`` line."""
    text = SEED.read_text(encoding="utf-8")
    return text[text.index("import sys") :]


class _Signal:
    def connect(self, slot: object) -> None:
        self.slot = slot


class _Widget:
    """Just enough of PyQt5 for the sample's window to be built without a display."""

    def __init__(self, *args: object) -> None:
        self.clicked = _Signal()

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def qt_shim() -> dict[str, types.ModuleType]:
    widgets = types.ModuleType("PyQt5.QtWidgets")
    widgets.__all__ = ["QApplication", "QMainWindow", "QPushButton"]  # type: ignore[attr-defined]
    for name in widgets.__all__:  # type: ignore[attr-defined]
        setattr(widgets, name, type(name, (_Widget,), {}))
    package = types.ModuleType("PyQt5")
    package.QtWidgets = widgets  # type: ignore[attr-defined]
    package.__path__ = []  # type: ignore[attr-defined]
    return {"PyQt5": package, "PyQt5.QtWidgets": widgets}


class _Shell32:
    @staticmethod
    def IsUserAnAdmin() -> int:
        return 1


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, Any], CybosEmulator]]:
    """Load the sample's classes over an emulator of a demo-account venue."""
    venue = Venue(seed=3)
    venue.open_demo_account()
    yield load(venue, monkeypatch)


def load(venue: Venue, monkeypatch: pytest.MonkeyPatch) -> Any:
    emulator = install(venue)
    for name, module in qt_shim().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(shell32=_Shell32), raising=False)
    namespace: dict[str, Any] = {"__name__": "cybos_seed_sample"}
    exec(compile(seed_source(), str(SEED), "exec"), namespace)
    uninstall()
    return namespace, emulator


def adapter_rows(venue: Venue, account: str) -> list[Any]:
    async def read() -> list[Any]:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            return list((await broker.balance(account)).rows)
        finally:
            await broker.close()

    return asyncio.run(read())


def test_the_sample_shows_the_adapters_rows_prices_and_ticks(seed: Any) -> None:
    namespace, emulator = seed
    venue: Venue = emulator.venue
    window = namespace["MyWindow"]()
    rows = adapter_rows(venue, DEMO_ACCOUNT)
    cash_rows = {f"A{r.code}": r for r in rows if r.credit is Credit.CASH}
    assert set(window.jangoData) == set(cash_rows)
    for code, item in window.jangoData.items():
        if item["현금신용"] == "현금":
            row = cash_rows[code]
            assert (item["잔고수량"], item["매도가능"]) == (row.qty, row.sellable)
            assert Decimal(str(item["장부가"])) * row.qty == row.purchase_amount
        assert window.curDatas[code]["cur"] == venue.quote(code).price
    assert set(window.objCur) == set(cash_rows)
    ticks = []
    while not any(f"A{t.code}" in window.jangoData and not t.expected for t in ticks):
        ticks = venue.step()
    emulator.PumpWaitingMessages()
    for tick in ticks:
        if f"A{tick.code}" in window.jangoData:
            assert window.jangoData[f"A{tick.code}"]["현재가"] == venue.quote(tick.code).price
    assert emulator.queues.handler_errors == []


def test_the_sample_follows_a_buy_into_a_new_code_and_a_sell_out(seed: Any) -> None:
    namespace, emulator = seed
    venue: Venue = emulator.venue
    window = namespace["MyWindow"]()
    code = next(i.code for i in venue.instruments() if f"A{i.code}" not in window.jangoData)
    venue.place(DEMO_ACCOUNT, Side.BUY, code, 4, order_type=OrderType.MARKET)
    pump_until(emulator, lambda: f"A{code}" in window.jangoData)
    item = window.jangoData[f"A{code}"]
    assert item["잔고수량"] == 4 and item["현재가"] == venue.quote(code).price
    assert f"A{code}" in window.objCur  # priced and subscribed
    venue.place(DEMO_ACCOUNT, Side.SELL, code, 4, order_type=OrderType.MARKET)
    pump_until(emulator, lambda: f"A{code}" not in window.jangoData)
    assert f"A{code}" not in window.objCur  # unsubscribed
    assert emulator.queues.handler_errors == []


def test_the_sample_lets_a_credit_row_overwrite_the_cash_row(seed: Any) -> None:
    namespace, emulator = seed
    window = namespace["MyWindow"]()
    rows = adapter_rows(emulator.venue, DEMO_ACCOUNT)
    assert len(rows) == len(window.jangoData) + 1  # one code, two rows: the sample keeps one


def test_the_sample_crashes_on_a_credit_fill(seed: Any) -> None:
    namespace, emulator = seed
    venue: Venue = emulator.venue
    window = namespace["MyWindow"]()
    row = next(r for r in venue.balance(DEMO_ACCOUNT).rows if r.credit is Credit.MARGIN_SELF)
    venue.place(
        DEMO_ACCOUNT,
        Side.SELL,
        row.code,
        1,
        order_type=OrderType.MARKET,
        credit=row.credit,
        loan_date=row.loan_date,
    )
    pump_until(emulator, lambda: bool(emulator.queues.handler_errors))
    assert isinstance(emulator.queues.handler_errors[0].error, KeyError)  # '신용' in dicBorrow
    assert window.jangoData


def test_the_sample_crashes_on_an_unlisted_flag(seed: Any) -> None:
    namespace, emulator = seed
    namespace["MyWindow"]()
    emulator.push_conclusion({14: "0", 12: "2", 9: "A005930", 16: "1", 17: "1", 19: "0"})
    pump_until(emulator, lambda: bool(emulator.queues.handler_errors))
    assert isinstance(emulator.queues.handler_errors[0].error, KeyError)


def test_the_sample_crashes_on_a_tick_after_its_row_is_removed(seed: Any) -> None:
    namespace, emulator = seed
    venue: Venue = emulator.venue
    window = namespace["MyWindow"]()
    code = "000660"
    held = window.jangoData[f"A{code}"]["잔고수량"]
    # A tick is queued, then the sell-out notice; the tick is delivered first, then the
    # notice removes the row, then a second queued tick hits the missing key.
    while not any(t.code == code for t in venue.step()):
        pass
    venue.place(DEMO_ACCOUNT, Side.SELL, code, held, order_type=OrderType.MARKET)
    while not any(t.code == code for t in venue.step()):
        pass
    # The sample unsubscribed nothing yet: both ticks were posted before the notice ran.
    emulator.PumpWaitingMessages()
    assert f"A{code}" not in window.jangoData
    assert any(isinstance(e.error, KeyError) for e in emulator.queues.handler_errors)


def test_the_sample_doubles_events_when_it_subscribes_again(seed: Any) -> None:
    namespace, emulator = seed
    window = namespace["MyWindow"]()
    calls: list[str] = []
    window.updateJangoCurPBData = lambda item: calls.append(item["code"])
    publisher = namespace["CpPBStockCur"]()
    publisher.Subscribe("A005930", window)
    publisher.Subscribe("A005930", window)  # Unsubscribe + Subscribe, but a second handler
    venue: Venue = emulator.venue
    while not any(t.code == "005930" for t in venue.step()):
        pass
    emulator.PumpWaitingMessages()
    own = [c for c in calls if c == "A005930"]
    # window.objCur's own subscription gives one call, the republished object two.
    assert len(own) == 3


def test_the_sample_stops_at_200_holdings(monkeypatch: pytest.MonkeyPatch) -> None:
    venue = big_venue()
    namespace, _ = load(venue, monkeypatch)
    window = namespace["MyWindow"]()
    assert len(window.jangoData) == 200
    assert len(adapter_rows(venue, BIG)) == 262
