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
from typing import Any

from jango.domain import krx
from jango.domain.model import (
    Code,
    InvalidCode,
    Quote,
)
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos import pywin32
from jango.sandbox.cybos.base import ComObject, SubscribeObject
from jango.sandbox.cybos.day import DayOrder, DayOrders
from jango.sandbox.cybos.feed import VenueFeed, VenueLike, day_order
from jango.sandbox.cybos.listing import com_parse
from jango.sandbox.cybos.master import IndexSpec
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


class CybosEmulator(VenueFeed):
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

    def orders_of(self, account: str) -> list[DayOrder]:
        """The account's orders of the day (the server's order log), oldest first."""
        self.day_orders.merge_open([day_order(o) for o in self.venue.open_orders(account)])
        return self.day_orders.of(account)

    def orderable_cash(self, account: str) -> int:
        return self.venue.orderable_cash(account)

    def name_of(self, code: Code) -> str:
        try:
            return self.venue.instrument(code).name
        except Exception:
            return ""

    def modules(self) -> dict[str, types.ModuleType]:
        """The ``sys.modules`` entries that make pywin32 imports resolve to this emulator."""
        return pywin32.modules(self)


def install(venue: VenueLike, **options: Any) -> CybosEmulator:
    """Create an emulator over ``venue`` and make ``import win32com.client`` / ``import
    pythoncom`` / ``import pywintypes`` resolve to it; returns the emulator."""
    emulator = CybosEmulator(venue, **options)
    sys.modules.update(emulator.modules())
    return emulator
