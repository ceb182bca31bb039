"""What the emulator does with the venue's events: ticks become StockCur, StockJpBid and index
pushes, order notices become CpConclusion events; and the venue surface the emulator needs.

Listeners run on the venue's thread under its lock: they only read the emulator's own state and
queue events (the objects' owning threads deliver them when they pump).
"""

from __future__ import annotations

import threading
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
    OrderNotice,
    OrderType,
    Quote,
    Side,
    Tick,
)
from jango.sandbox.cybos import frames
from jango.sandbox.cybos import market as mkt
from jango.sandbox.cybos.base import SubscribeObject
from jango.sandbox.cybos.day import DayOrder, DayOrders
from jango.sandbox.cybos.quotes import Snapshot, StockJpBid, stockcur_extra
from jango.sandbox.cybos.realtime import CpConclusion


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


class VenueFeed:
    """Mixed into :class:`~jango.sandbox.cybos.emulator.CybosEmulator`: the venue listeners
    and the order numbers CYBOS sends as longs. The emulator sets the state declared here."""

    venue: VenueLike
    account_name: str
    intraday: mkt.Intraday
    day_orders: DayOrders
    _lock: threading.Lock
    _tick_subs: dict[Code, list[SubscribeObject]]
    _index_subs: dict[str, list[SubscribeObject]]
    _conclusion_subs: list[CpConclusion]
    _prices: dict[Code, tuple[int, int]]
    _limits: dict[Code, tuple[object, int, int]]
    _last_volume: dict[Code, int]
    _order_nos: dict[int, str]

    def order_no_int(self, order_no: str) -> int:
        """The venue's order number as the long CYBOS sends, remembered for the way back."""
        number = int(order_no)
        with self._lock:
            self._order_nos[number] = order_no
        return number

    def order_no_str(self, number: int) -> str:
        with self._lock:
            return self._order_nos.get(number, str(number))

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


def day_order(order: Any) -> DayOrder:
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
