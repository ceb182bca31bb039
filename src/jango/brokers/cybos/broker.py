"""The CYBOS Plus adapter: the broker port over Daishin's COM objects.

Every COM call runs on one :class:`ComThread`; this class is the asyncio face of it. Request
limits come from CYBOS itself (``GetLimitRemainCount`` / ``LimitRequestRemainTime``): a quote
request waits until the quote window has room, a trade request answered with 4 is retried after
the window, and subscriptions stop at the 400 cap with a :class:`BrokerError` so the engine polls.
On ``OnDisconnect`` the adapter reports the loss, then keeps trying to restore the session and
reports ``reconnected=True`` when it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib
import struct
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from jango.brokers.cybos import wire
from jango.brokers.cybos.com_side import (
    BalancePage,
    ComSide,
    OrderPage,
    OrderReply,
    RetryAfter,
)
from jango.brokers.cybos.com_thread import ComThread
from jango.brokers.port import (
    BrokerError,
    BrokerLimits,
    ConnectionStatus,
    NoSuchOrder,
    NotSupported,
    OrderAck,
    OrderRequest,
    PushItem,
    RateLimited,
    Received,
    StartupError,
)
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    OrderNotice,
    Quote,
    Side,
    cybos_code,
)
from jango.supervisor import Supervised, Supervisor

T = TypeVar("T")
RECONNECT_TASK = "cybos reconnect"

CYBOS_LIMITS = BrokerLimits(
    subscription_capacity=400,
    quote_batch=200,
    quote_requests=60,
    trade_requests=20,
    window_seconds=15.0,
    balance_page_size=50,
)
NEEDS_WINDOWS = (
    "CYBOS Plus needs Windows with 32-bit Python and pywin32 (pip install jango[cybos]); use "
    "the emulator instead: CybosBroker.for_emulator(venue) or `jango --broker cybos` with "
    "cybos.emulator = true, or run a CYBOS script with `python -m jango.sandbox.cybos_run`"
)


def _windows_admin() -> bool:
    import ctypes

    return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(KST)


class CybosBroker:
    """The :class:`~jango.brokers.port.Broker` for CYBOS Plus (and its emulator).

    ``dispatch_module`` is ``win32com.client`` (anything with ``Dispatch`` and ``WithEvents``)
    and ``pump_module`` is ``pythoncom`` (``PumpWaitingMessages``, ``CoInitialize``,
    ``CoUninitialize``); both are imported lazily on Windows when left ``None``. ``is_admin``
    replaces the administrator check. ``trade_retries`` bounds how many request windows a trade
    request answered with 4 waits for before :class:`RateLimited`.
    """

    name = "cybos"

    def __init__(
        self,
        dispatch_module: Any = None,
        pump_module: Any = None,
        *,
        limits: BrokerLimits = CYBOS_LIMITS,
        is_admin: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = _now,
        reconnect_interval: float = 1.0,
        trade_retries: int = 8,
    ) -> None:
        self.limits = limits
        self._dispatch_module = dispatch_module
        self._pump_module = pump_module
        self._is_admin = is_admin
        self._clock = clock
        self._reconnect_interval = reconnect_interval
        self._trade_retries = trade_retries
        self._thread: ComThread | None = None
        self._com: ComSide | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[PushItem] = asyncio.Queue()
        self._accounts: list[str] = []
        self._order_codes: dict[str, Code] = {}
        self._supervisor: Supervisor | None = None
        self._reconnector: Supervised | None = None
        self.reconnect_attempts = 0
        self.emulator: Any = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def for_emulator(
        cls, venue: Any, *, emulator_options: Mapping[str, Any] | None = None, **options: Any
    ) -> CybosBroker:
        """An adapter over a :class:`~jango.sandbox.cybos.emulator.CybosEmulator` of ``venue``
        (available as :attr:`emulator`); limits follow the emulator's configuration."""
        from jango.sandbox.cybos.emulator import CybosEmulator

        emulator = CybosEmulator(venue, **dict(emulator_options or {}))
        limits = BrokerLimits(
            subscription_capacity=emulator.subscription_limit,
            quote_batch=200,
            quote_requests=emulator.windows.limits[1],
            trade_requests=emulator.windows.limits[0],
            window_seconds=emulator.windows.window_seconds,
            balance_page_size=50,
        )
        options.setdefault("is_admin", lambda: True)
        options.setdefault("clock", venue.now)
        broker = cls(emulator.win32com_client, emulator.pythoncom, limits=limits, **options)
        broker.emulator = emulator
        return broker

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> CybosBroker:
        """Build from flat settings: ``cybos.emulator = "true"`` runs over a fresh simulated
        venue (seeded by ``seed``) with a demo account; otherwise the real CYBOS Plus."""
        if settings.get("cybos.emulator", "false") == "true":
            from jango.sandbox.venue import Venue

            venue = Venue(seed=int(settings.get("seed", "0")))
            venue.open_demo_account()
            return cls.for_emulator(venue)
        return cls()

    def _modules(self) -> tuple[Any, Any]:
        if self._dispatch_module is not None and self._pump_module is not None:
            return self._dispatch_module, self._pump_module
        if sys.platform != "win32" or struct.calcsize("P") != 4:
            raise StartupError(NEEDS_WINDOWS)
        try:
            pythoncom = importlib.import_module("pythoncom")
            client = importlib.import_module("win32com.client")
        except ImportError:
            raise StartupError(NEEDS_WINDOWS) from None
        if self._is_admin is None:
            self._is_admin = _windows_admin
        return client, pythoncom

    # -- lifecycle ------------------------------------------------------------------------------
    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Reconnect under ``supervisor`` (the session's): a bug in the reconnect loop is
        logged, shown as degraded and the loop restarted, never a silent dead task."""
        self._supervisor = supervisor

    async def connect(self) -> None:
        """Start the COM thread and run the startup checks (admin, IsConnect, ServerType,
        TradeInit(0)); read accounts and goods codes; open the order-notice push."""
        if self._thread is not None:
            return
        client, pythoncom = self._modules()
        is_admin = self._is_admin or _windows_admin
        self._loop = asyncio.get_running_loop()
        self._thread = ComThread(
            pythoncom.PumpWaitingMessages,
            initialize=pythoncom.CoInitialize,
            uninitialize=pythoncom.CoUninitialize,
        )
        self._thread.start()
        self._com = ComSide(client, self._push_threadsafe, self._clock, self._on_disconnect)
        com = self._com
        try:
            self._accounts = await self._thread.call(lambda: com.start(is_admin))
        except BaseException:
            self._thread.stop()
            self._thread = None
            raise

    async def close(self) -> None:
        """Unsubscribe everything, stop reconnecting and stop the COM thread. Safe twice."""
        if self._reconnector is not None:
            await self._reconnector.stop()
            self._reconnector = None
        thread, com = self._thread, self._com
        self._thread = None
        if thread is None or com is None:
            return
        with contextlib.suppress(Exception):
            await thread.call(com.close)
        await asyncio.to_thread(thread.stop)

    def _require(self) -> tuple[ComThread, ComSide]:
        if self._thread is None or self._com is None:
            raise BrokerError("CybosBroker is not connected; call connect() first")
        return self._thread, self._com

    # -- pushes ---------------------------------------------------------------------------------
    def _push_threadsafe(self, item: PushItem) -> None:
        # Called on the COM thread: hand the item to the engine's loop.
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._accept, item)

    def _accept(self, item: PushItem) -> None:
        if isinstance(item, Received) and isinstance(item.event, OrderNotice):
            self._order_codes[item.event.order_no] = item.event.code
        self._queue.put_nowait(item)

    async def events(self) -> AsyncIterator[PushItem]:
        """Ticks, order notices, connection changes and undecodable events, in arrival order."""
        while True:
            yield await self._queue.get()

    def _on_disconnect(self) -> None:
        # COM thread, during a pump: report, then let the loop start reconnecting.
        _, com = self._require()
        self._push_threadsafe(com.disconnected_status())
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._start_reconnect)

    def _start_reconnect(self) -> None:
        if self._reconnector is None or self._reconnector.done:
            if self._supervisor is None:
                # Used on its own, the adapter still restarts and reports a failing loop.
                self._supervisor = Supervisor()
            self._reconnector = self._supervisor.spawn(RECONNECT_TASK, self._reconnect)

    async def _reconnect(self) -> None:
        thread, com = self._require()
        while True:
            await asyncio.sleep(self._reconnect_interval)
            self.reconnect_attempts += 1
            try:
                restored = await thread.call(com.restore)
            except BrokerError:
                continue
            if restored:
                self._queue.put_nowait(
                    ConnectionStatus(True, "CYBOS Plus reconnected", self._clock(), True)
                )
                if self._supervisor is not None:
                    # Done for good: a death on the way (a bug) is over, not still degraded.
                    self._supervisor.clear(RECONNECT_TASK)
                return

    # -- limits ---------------------------------------------------------------------------------
    async def _quote_call(self, fn: Callable[[], RetryAfter | T]) -> T:
        """A quote request: wait (off the COM thread) while the quote window is exhausted."""
        thread, _ = self._require()
        while True:
            result = await thread.call(fn)
            if not isinstance(result, RetryAfter):
                return result
            await asyncio.sleep(result.seconds)

    async def _trade_call(self, fn: Callable[[], RetryAfter | T], what: str) -> T:
        """A trade request: CYBOS answers 4 over the limit; retry after the window."""
        thread, _ = self._require()
        for _ in range(self._trade_retries + 1):
            result = await thread.call(fn)
            if not isinstance(result, RetryAfter):
                return result
            await asyncio.sleep(result.seconds)
        raise RateLimited(f"{what}: the trade request limit did not free up", code="4")

    # -- queries --------------------------------------------------------------------------------
    async def accounts(self) -> list[str]:
        """Accounts signed on in this CYBOS login (``CpTdUtil.AccountNumber``)."""
        self._require()
        return list(self._accounts)

    async def balance(self, account: str) -> BalanceSnapshot:
        """Every CpTd6033 page (50 rows each, following ``Continue``), one row per (code,
        신용구분, 대출일), each loan row with its share of 대출금액 (header 6, see
        :func:`wire.with_loan_amounts`) and its market from CpCodeMgr (so ETF rows are ETF, not
        taxed as stocks); cash (예수금 from CpTdNew5331A, D+2 from CpTd6033); and
        the day's orders with their filled watermarks: the day's orders and fills (CpTd5341),
        read after the balance, then the open orders (CpTd5339) for what remains."""
        _, com = self._require()
        size = self.limits.balance_page_size
        rows: list[BalanceRow] = []
        first = True
        d2 = loan = 0
        while True:
            page: BalancePage = await self._trade_call(
                functools.partial(com.balance_page, account, first, size), "CpTd6033"
            )
            rows.extend(page.rows)
            d2, loan = page.d2, page.loan
            first = False
            if not page.more:
                break
        deposit: int = await self._trade_call(lambda: com.deposit(account), "CpTdNew5331A")
        thread, _ = self._require()
        codes = sorted({row.code for row in rows})
        markets = await thread.call(lambda: com.markets(codes))
        rows = [dataclasses.replace(row, market=markets.get(row.code, row.market)) for row in rows]
        daily = await self._order_rows(com, wire.DAILY_ORDERS, account)
        open_rows = await self._order_rows(com, wire.OPEN_ORDERS, account)
        stamp = self._clock()
        try:
            orders = wire.order_states(account, daily, open_rows, stamp.date())
        except wire.WireError as exc:
            raise BrokerError(f"order inquiry of {account}: {exc}") from None
        return BalanceSnapshot(
            account,
            tuple(wire.with_loan_amounts(rows, loan)),
            Cash(deposit, d2),
            stamp,
            self.name,
            orders,
        )

    async def _order_rows(self, com: ComSide, progid: str, account: str) -> list[dict[int, object]]:
        inputs, header = wire.ORDER_INQUIRIES[progid]
        rows: list[dict[int, object]] = []
        first = True
        while True:
            page: OrderPage = await self._trade_call(
                functools.partial(com.order_page, progid, account, first, inputs, header), progid
            )
            rows.extend(page.rows)
            first = False
            if not page.more:
                return rows

    async def quote(self, code: Code) -> Quote:
        """One price from StockMst."""
        _, com = self._require()
        result: Quote = await self._quote_call(lambda: com.quote(code))
        return result

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        """Prices from MarketEye, one request per 200 codes; unknown codes are left out."""
        _, com = self._require()
        batch = self.limits.quote_batch
        found: list[Quote] = []
        for start in range(0, len(codes), batch):
            chunk = list(codes[start : start + batch])
            part: list[Quote] = await self._quote_call(functools.partial(com.quotes, chunk))
            found.extend(part)
        return found

    async def subscribe(self, code: Code) -> None:
        """Open a StockCur push for ``code`` (once; a second call is a no-op). Raises
        :class:`BrokerError` when the 400 registrations (or ``limits``) are used up."""
        thread, com = self._require()
        capacity = self.limits.subscription_capacity
        await thread.call(lambda: com.subscribe(code, capacity))

    async def unsubscribe(self, code: Code) -> None:
        """Close the StockCur push of ``code``; unknown codes are ignored."""
        thread, com = self._require()
        await thread.call(lambda: com.unsubscribe(code))

    # -- orders ---------------------------------------------------------------------------------
    async def _order(self, progid: str, inputs: dict[int, object], no_field: int) -> OrderAck:
        _, com = self._require()
        reply: OrderReply = await self._trade_call(
            lambda: com.order(progid, inputs, no_field), progid
        )
        return OrderAck(reply.order_no, self._clock(), reply.message)

    async def place(self, order: OrderRequest) -> OrderAck:
        """A cash order through CpTd0311, or a 신용융자 (자기융자) order through CpTd0312: a
        buy that borrows, or a sell that repays the loan of ``order.loan_date``. Raises
        :class:`OrderRefused` when the broker refuses it or the user cancels the order-confirm
        dialog (return code 2), :class:`NotSupported` for a credit kind CYBOS cannot order."""
        _, com = self._require()
        type_code = wire.ORDER_TYPE_CODES.get(order.order_type)
        if type_code is None:
            raise NotSupported(f"order type {order.order_type} has no CYBOS 주문호가구분")
        if order.credit is Credit.CASH:
            inputs: dict[int, object] = {
                0: wire.SIDE_CODES[order.side],
                1: order.account,
                2: com.goods(order.account),
                3: cybos_code(order.code),
                4: order.qty,
                5: order.price,
                7: wire.CONDITION_CODES[order.condition],
                8: type_code,
            }
            ack = await self._order("CpTrade.CpTd0311", inputs, 8)
        else:
            ack = await self._order("CpTrade.CpTd0312", self._credit_inputs(order, type_code), 9)
        self._order_codes[ack.order_no] = order.code
        return ack

    def _credit_inputs(self, order: OrderRequest, type_code: str) -> dict[int, object]:
        """CpTd0312's inputs; only 신용융자 (33) is a credit CYBOS orders this way."""
        if order.credit is not Credit.MARGIN_SELF:
            raise NotSupported(
                f"CYBOS orders credit {order.credit} not through CpTd0312 (신용융자 is 자기융자)"
            )
        if order.side is Side.SELL and order.loan_date is None:
            raise NotSupported("a 신용 sell repays one loan: give its loan date")
        _, com = self._require()
        inputs: dict[int, object] = {
            0: wire.SIDE_CODES[order.side],
            1: wire.CREDIT_ORDER_MARGIN,
            2: order.account,
            3: com.goods(order.account),
            4: cybos_code(order.code),
            5: order.qty,
            6: order.price,
            8: wire.CONDITION_CODES[order.condition],
            10: type_code,
        }
        if order.side is Side.SELL and order.loan_date is not None:
            day = order.loan_date
            inputs[9] = day.year * 10000 + day.month * 100 + day.day
        return inputs

    def _known(self, order_no: str) -> Code:
        code = self._order_codes.get(order_no)
        if code is None:
            raise NoSuchOrder(f"order {order_no} is unknown to this session")
        return code

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        """A price amendment through CpTd0313 (quantity 0 = the whole remainder)."""
        _, com = self._require()
        code = self._known(order_no)
        inputs: dict[int, object] = {
            1: int(order_no),
            2: account,
            3: com.goods(account),
            4: cybos_code(code),
            5: qty or 0,
            6: price,
        }
        ack = await self._order("CpTrade.CpTd0313", inputs, 7)
        self._order_codes[ack.order_no] = code
        return ack

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        """A cancellation through CpTd0314 (quantity 0 = the whole remainder)."""
        _, com = self._require()
        code = self._known(order_no)
        inputs: dict[int, object] = {
            1: int(order_no),
            2: account,
            3: com.goods(account),
            4: cybos_code(code),
            5: qty or 0,
        }
        ack = await self._order("CpTrade.CpTd0314", inputs, 6)
        self._order_codes[ack.order_no] = code
        return ack
