"""A CYBOS Plus COM emulator over the simulated venue, for Linux, tests and CI.

:class:`CybosEmulator` plays the part of the CYBOS Plus client on a Windows PC: it dispatches the
COM objects a trader's program uses (``CpUtil.CpCybos``, ``CpTrade.CpTd6033``, ``DsCbo1.StockCur``
and the rest, see :mod:`jango.sandbox.cybos.registry`), enforces the request windows and the
400-subscription cap, and delivers realtime events only while the owning thread pumps messages.

Its modules stand in for pywin32::

    emulator = CybosEmulator(venue)
    client = emulator.win32com_client   # Dispatch, WithEvents
    pythoncom = emulator.pythoncom      # PumpWaitingMessages, CoInitialize, com_error

and :func:`install` puts them into ``sys.modules`` so ``import win32com.client`` and
``import pythoncom`` in an unchanged script resolve to the emulator.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from jango.domain import krx
from jango.domain.model import (
    BalanceSnapshot,
    Code,
    Condition,
    Credit,
    Instrument,
    InvalidCode,
    OrderNotice,
    OrderType,
    Quote,
    Side,
    Tick,
)
from jango.sandbox.cybos import frames, pywin32
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import ComObject, SubscribeObject
from jango.sandbox.cybos.day import DayOrder, DayOrders
from jango.sandbox.cybos.listing import com_parse
from jango.sandbox.cybos.master import IndexSpec
from jango.sandbox.cybos.quotes import Snapshot, StockJpBid, stockcur_extra
from jango.sandbox.cybos.realtime import CpConclusion
from jango.sandbox.cybos.registry import PROGIDS
from jango.sandbox.cybos.runtime import (
    E_FAIL,
    LT_NONTRADE_REQUEST,
    LT_TRADE_REQUEST,
    ComError,
    MessageQueues,
    RequestWindows,
)
from jango.sandbox.cybos.util import CpCybos
from jango.sandbox.instruments import InstrumentSpec

QUOTE_REQUESTS = 60
TRADE_REQUESTS = 20
WINDOW_SECONDS = 15.0
SUBSCRIPTIONS = 400
# CO_E_CLASSSTRING: the ProgID is not registered.
CO_E_CLASSSTRING = -2147221005


class VenueLike(Protocol):
    """The parts of :class:`jango.sandbox.venue.Venue` the emulator uses."""

    def instruments(self) -> list[Instrument]: ...
    def instrument(self, code: str) -> Instrument: ...
    def now(self) -> Any: ...
    def quote(self, code: str) -> Quote: ...
    def accounts(self) -> list[str]: ...
    def balance(self, account: str) -> BalanceSnapshot: ...
    def orderable_cash(self, account: str) -> int: ...
    def open_orders(self, account: str) -> list[Any]: ...
    def add_tick_listener(self, callback: Callable[[Tick], None]) -> Callable[[], None]: ...
    def add_notice_listener(
        self, callback: Callable[[OrderNotice], None]
    ) -> Callable[[], None]: ...
    def place(
        self,
        account: str,
        side: Side,
        code: str,
        qty: int,
        price: int = 0,
        *,
        order_type: OrderType = ...,
        condition: Condition = ...,
        credit: Credit = ...,
        loan_date: Any = ...,
    ) -> str: ...
    def amend(self, account: str, order_no: str, *, price: int, qty: int | None = None) -> str: ...
    def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> str: ...


class CybosEmulator:
    """The CYBOS Plus client of one emulated PC, answering from ``venue``.

    ``window_seconds`` and the limits are configurable so tests can use a short window. Test
    switches: :meth:`disconnect` / :meth:`reconnect`, :attr:`trade_init_result` (what
    ``TradeInit(0)`` returns: 0 ok, 1 업무키, 2 password, 3 cancelled, -1 error), and
    :meth:`cancel_next_confirm` (the user presses cancel in the next order-confirm dialog).
    """

    def __init__(
        self,
        venue: VenueLike,
        *,
        window_seconds: float = WINDOW_SECONDS,
        quote_requests: int = QUOTE_REQUESTS,
        trade_requests: int = TRADE_REQUESTS,
        subscription_limit: int = SUBSCRIPTIONS,
        account_name: str = "모의투자",
        listing: Callable[[Code], InstrumentSpec | None] | None = None,
    ) -> None:
        self.venue = venue
        # Codes beyond the venue's (every KRX listing), given to the venue as its listing too.
        self.listing = listing
        self.queues = MessageQueues()
        self.windows = RequestWindows(
            {LT_TRADE_REQUEST: trade_requests, LT_NONTRADE_REQUEST: quote_requests},
            window_seconds,
        )
        self.subscription_limit = subscription_limit
        self.account_name = account_name
        self.server_type = 1  # 1: CybosPlus server
        self.trade_init_result = 0
        self.trade_initialized = False
        self._lock = threading.Lock()
        self._connected = True
        self._confirm_cancels = 0
        self._tick_subs: dict[Code, list[SubscribeObject]] = {}
        self._index_subs: dict[str, list[SubscribeObject]] = {}
        # Last price and 기준가 of every code from the ticks, for index values in listeners
        # (which must not call back into the venue).
        self._prices: dict[Code, tuple[int, int]] = {}
        self._limits: dict[Code, tuple[object, int, int]] = {}
        self.intraday = mkt.Intraday()
        self._conclusion_subs: list[CpConclusion] = []
        self._status_objects: list[CpCybos] = []
        self._last_volume: dict[Code, int] = {}
        self._order_nos: dict[int, str] = {}
        self.day_orders = DayOrders()
        self._removers = [
            venue.add_tick_listener(self._on_tick),
            venue.add_notice_listener(self._on_notice),
        ]
        self.win32com_client = pywin32.client_module(self)
        self.pythoncom = pywin32.pythoncom_module(self)

    # -- pywin32 surface ------------------------------------------------------------------------
    def Dispatch(self, progid: str) -> ComObject:
        """Create the named object, owned by the calling thread."""
        cls = PROGIDS.get(str(progid).lower())
        if cls is None:
            raise ComError(CO_E_CLASSSTRING, f"Invalid class string: {progid}")
        return cls(self)

    def WithEvents(self, obj: ComObject, handler_class: type[Any]) -> Any:
        """Attach a new ``handler_class`` instance to ``obj``'s events and return it."""
        if not isinstance(obj, ComObject):
            raise TypeError(f"WithEvents needs a COM object, got {type(obj).__name__}")
        handler = handler_class()
        obj.attach_handler(handler)
        return handler

    def PumpWaitingMessages(self) -> int:
        """Deliver the calling thread's pending events; returns 0 (no WM_QUIT), as pywin32."""
        self.queues.pump()
        return 0

    # -- test switches --------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def disconnect(self) -> None:
        """Drop the connection: requests fail, subscriptions die, ``OnDisconnect`` is posted."""
        with self._lock:
            self._connected = False
            self.trade_initialized = False
            subs: list[SubscribeObject] = [o for objs in self._tick_subs.values() for o in objs]
            subs += [o for objs in self._index_subs.values() for o in objs]
            subs += self._conclusion_subs
            self._tick_subs.clear()
            self._index_subs.clear()
            self._conclusion_subs.clear()
            status_objects = list(self._status_objects)
        for obj in subs:
            obj.subscribed = False
        for status in status_objects:
            status.post_disconnect()

    def reconnect(self) -> None:
        """Log back in (what restarting CYBOS Plus does); the program must TradeInit again."""
        with self._lock:
            self._connected = True

    def cancel_next_confirm(self, times: int = 1) -> None:
        """The next ``times`` orders meet a user who cancels the confirm dialog (return 2)."""
        with self._lock:
            self._confirm_cancels += times

    def push_conclusion(self, header: dict[int, object]) -> None:
        """Send a CpConclusion event with exactly these header values to every subscriber, as
        the server would send one the venue cannot produce (a flag value the help does not
        list, a fill made at another branch)."""
        with self._lock:
            objs = list(self._conclusion_subs)
        for obj in objs:
            obj.deliver(dict(header))

    def close(self) -> None:
        """Stop listening to the venue."""
        for remove in self._removers:
            remove()
        self._removers = []

    # -- used by the objects --------------------------------------------------------------------
    def trade_init(self) -> int:
        self.trade_initialized = self.trade_init_result == 0
        return self.trade_init_result

    def take_confirm_cancel(self) -> bool:
        with self._lock:
            if self._confirm_cancels:
                self._confirm_cancels -= 1
                return True
            return False

    def register_status_object(self, obj: CpCybos) -> None:
        with self._lock:
            self._status_objects.append(obj)

    def subscription_count(self) -> int:
        # Assumption (cybos.md leaves it open): CpConclusion does not count toward the 400.
        with self._lock:
            count = sum(len(objs) for objs in self._tick_subs.values())
            return count + sum(len(objs) for objs in self._index_subs.values())

    def register_ticks(self, obj: SubscribeObject, raw_code: object) -> None:
        """Register a realtime object for the code ``raw_code`` (stock or index); an unknown
        code is refused with the COM error a real object raises."""
        spec = mkt.index_spec(str(raw_code))
        if spec is not None:
            self._register_index(obj, spec)
            return
        quote = self.quote_of(raw_code, join=True)
        if quote is None:
            raise ComError(E_FAIL, f"종목코드가 잘못되었습니다: {raw_code!r}")
        code = quote.code
        with self._lock:
            self._last_volume.setdefault(code, quote.volume)
            self._prices.setdefault(code, (quote.price, quote.base))
            self._limits[code] = (self.venue.now().date(), quote.upper, quote.lower)
            self._check_capacity()
            self._tick_subs.setdefault(code, []).append(obj)

    def _check_capacity(self) -> None:
        count = sum(len(objs) for objs in self._tick_subs.values())
        count += sum(len(objs) for objs in self._index_subs.values())
        if count >= self.subscription_limit:
            raise ComError(E_FAIL, f"실시간 등록 개수({self.subscription_limit})를 초과하였습니다")
        if not self._connected:
            raise ComError(E_FAIL, "통신 연결이 끊어졌습니다")

    def _register_index(self, obj: SubscribeObject, spec: IndexSpec) -> None:
        quotes = [self.venue.quote(i.code) for i in self.venue.instruments()]
        with self._lock:
            for quote in quotes:
                self._prices.setdefault(quote.code, (quote.price, quote.base))
            self._check_capacity()
            self._index_subs.setdefault(spec.code, []).append(obj)

    def quote_of(self, raw: object, *, join: bool = False) -> Quote | None:
        """The quote of a stock code given as COM would (``'A005930'``, ``'Q500061'``);
        ``None`` for anything neither the venue nor the listing knows.

        A listed code the venue has not met yet is answered at its 기준가, untraded, which is
        exactly what the venue shows once it lists it: reading a whole market's codes (a
        screen, a name table) does not make them all join the market, so the codes a script
        trades keep moving. ``join`` makes the code join (a subscription needs its ticks)."""
        try:
            code = com_parse(raw)
        except InvalidCode:
            return None
        if not join and self.listing is not None and code not in self.known_codes():
            spec = self.listing(code)
            if spec is not None:
                return self._untraded(spec)
        try:
            return self.venue.quote(code)
        except Exception:
            return None

    def known_codes(self) -> set[Code]:
        """The codes the venue trades now."""
        return {i.code for i in self.venue.instruments()}

    def _untraded(self, spec: InstrumentSpec) -> Quote:
        base, market = spec.base_price, spec.market
        limited = krx.has_price_limit(market)
        upper, lower = (
            krx.price_limits(base, market, self.venue.now().date()) if limited else (0, 0)
        )
        return Quote(spec.code, base, 0, 0, base, upper, lower, spec.name, market)

    def index_values(self, spec: IndexSpec) -> tuple[float, float]:
        """(now, at the open) of an index, from the venue's current quotes."""
        quotes = [self.venue.quote(i.code) for i in self.venue.instruments()]
        return mkt.index_value(spec, quotes), mkt.index_value(spec, quotes, use_base=True)

    def register_conclusion(self, obj: CpConclusion) -> None:
        with self._lock:
            if not self._connected:
                raise ComError(E_FAIL, "통신 연결이 끊어졌습니다")
            self._conclusion_subs.append(obj)

    def unregister(self, obj: SubscribeObject) -> None:
        with self._lock:
            for subs in (self._tick_subs, self._index_subs):
                for key, objs in list(subs.items()):
                    if obj in objs:
                        objs.remove(obj)
                    if not objs:
                        del subs[key]  # type: ignore[arg-type]
            if obj in self._conclusion_subs:
                self._conclusion_subs.remove(obj)

    def order_no_int(self, order_no: str) -> int:
        """The venue's order number as the long CYBOS sends, remembered for the way back."""
        number = int(order_no)
        with self._lock:
            self._order_nos[number] = order_no
        return number

    def order_no_str(self, number: int) -> str:
        with self._lock:
            return self._order_nos.get(number, str(number))

    def orders_of(self, account: str) -> list[DayOrder]:
        """The account's orders of the day (the server's order log), oldest first."""
        self.day_orders.merge_open([_day_order(o) for o in self.venue.open_orders(account)])
        return self.day_orders.of(account)

    def orderable_cash(self, account: str) -> int:
        return self.venue.orderable_cash(account)

    def name_of(self, code: Code) -> str:
        try:
            return self.venue.instrument(code).name
        except Exception:
            return ""

    # -- venue listeners (run on the venue's thread, under its lock: only queue work) ------------
    def _on_tick(self, tick: Tick) -> None:
        # The venue's thread, under its lock: only our own state, never a call into the venue.
        self.intraday.on_tick(tick)
        with self._lock:
            objs = list(self._tick_subs.get(tick.code, ()))
            previous = self._last_volume.get(tick.code, tick.volume)
            if not tick.expected:
                self._last_volume[tick.code] = tick.volume
                self._prices[tick.code] = (tick.price, tick.price - tick.diff)
            index_subs = {k: list(v) for k, v in self._index_subs.items()}
            limits = self._limits.get(tick.code)
        for code, subscribers in index_subs.items():
            self._deliver_index(code, subscribers, tick)
        if not objs:
            return
        quote = self._quote_from_tick(tick, limits)
        snapshot = Snapshot(self, quote, tick.time)
        instant = 0 if tick.expected else max(0, tick.volume - previous)
        header = frames.stockcur_header(tick, quote.name, instant, quote)
        header.update(stockcur_extra(snapshot))
        for obj in objs:
            if isinstance(obj, StockJpBid):
                obj.deliver(obj.header_for(snapshot))
            else:
                obj.deliver(dict(header))

    def _quote_from_tick(self, tick: Tick, limits: tuple[object, int, int] | None) -> Quote:
        instrument = self.venue.instrument(tick.code)
        base = tick.price - tick.diff
        if limits is not None and limits[0] == tick.time.date():
            upper, lower = limits[1], limits[2]
        elif krx.has_price_limit(instrument.market):
            upper, lower = krx.price_limits(base, instrument.market, tick.time.date())
        else:
            upper, lower = 0, 0
        return Quote(
            code=tick.code,
            price=tick.price,
            diff=tick.diff,
            volume=tick.volume,
            base=base,
            upper=upper,
            lower=lower,
            name=instrument.name,
            market=instrument.market,
        )

    def _deliver_index(self, code: str, subscribers: list[SubscribeObject], tick: Tick) -> None:
        spec = mkt.index_spec(code)
        if spec is None:
            return
        with self._lock:
            prices = dict(self._prices)
        quotes = []
        for stock, (price, base) in prices.items():
            instrument = self.venue.instrument(stock)
            quotes.append(
                Quote(stock, price, price - base, 0, base, 0, 0, instrument.name, instrument.market)
            )
        value = mkt.index_value(spec, quotes)
        opened = mkt.index_value(spec, quotes, use_base=True)
        header: dict[int, object] = {
            0: spec.code,
            1: spec.name,
            2: round(value - opened, 2),
            3: frames.hhmm(tick.time),
            4: opened,
            5: max(value, opened),
            6: min(value, opened),
            9: 0,
            13: value,
            18: frames.hhmmss(tick.time),
            19: frames.char("2"),
            20: frames.char("2"),
            22: frames.char(frames.sign_flag(1, int((value - opened) * 100), 0, 0)),
        }
        for obj in subscribers:
            obj.deliver(dict(header))

    def _on_notice(self, notice: OrderNotice) -> None:
        self.day_orders.on_notice(notice)
        with self._lock:
            objs = list(self._conclusion_subs)
        if not objs:
            return
        header = frames.conclusion_header(
            notice,
            account_name=self.account_name,
            order_no=self.order_no_int(notice.order_no),
            orig_order_no=self.order_no_int(notice.orig_order_no) if notice.orig_order_no else 0,
            post_qty=notice.post_qty or 0,
            post_sellable=notice.post_sellable or 0,
            post_book_price=notice.post_book_price or Decimal(0),
        )
        for obj in objs:
            obj.deliver(dict(header))

    def modules(self) -> dict[str, types.ModuleType]:
        """The ``sys.modules`` entries that make pywin32 imports resolve to this emulator."""
        return pywin32.modules(self)


def _day_order(order: Any) -> DayOrder:
    """A venue's open order as the day log's entry."""
    return DayOrder(
        order_no=order.order_no,
        account=order.account,
        code=order.code,
        side=order.side,
        qty=order.qty,
        price=order.price,
        time=order.time,
        orig_order_no=order.orig_order_no,
        credit=order.credit,
        loan_date=order.loan_date,
        order_type=order.order_type,
        condition=order.condition,
        filled=order.filled,
        remaining=order.remaining,
    )


def install(venue: VenueLike, **options: Any) -> CybosEmulator:
    """Create an emulator over ``venue`` and make ``import win32com.client`` / ``import
    pythoncom`` / ``import pywintypes`` resolve to it; returns the emulator."""
    emulator = CybosEmulator(venue, **options)
    sys.modules.update(emulator.modules())
    return emulator
