"""The Book against NautilusTrader's portfolio, in one process, on the same ticks.

Each side holds one long position per code (the same quantities and average prices), and both
are fed the same random price ticks. Per tick, timed:

* **jango, per tick**: ``Book.apply_tick``, then the account totals read (they are kept current
  by deltas, so after every tick they are already right).
* **jango, batch path**: ``Book.apply_ticks`` on bursts of 20 ticks (a KIS frame), totals read
  after each burst.
* **NautilusTrader, quote only**: ``cache.add_quote_tick`` + ``portfolio.update_quote_tick``
  (what its data engine does per quote): no totals.
* **NautilusTrader, totals current**: the same, then ``portfolio.unrealized_pnls(venue)`` and
  ``portfolio.net_exposures(venue)`` after every tick (its venue-wide P&L and exposure).

After the run the totals are cross-checked: jango's value and gross P&L, NautilusTrader's net
exposure and unrealized P&L, and a straightforward recomputation over the positions must all be
equal, to the won.

Needs the peer environment (``bash benchmarks/peer/setup.sh``); NautilusTrader is never a
dependency of jango. Run: ``benchmarks/peer/.venv/bin/python benchmarks/peer/bench_nautilus.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from datetime import datetime, timedelta

import nautilus_trader
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.model.currencies import KRW
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.events import AccountState
from nautilus_trader.model.identifiers import (
    AccountId,
    InstrumentId,
    PositionId,
    Symbol,
    TraderId,
    Venue,
)
from nautilus_trader.model.instruments import Equity
from nautilus_trader.model.objects import AccountBalance, Money, Price, Quantity
from nautilus_trader.model.position import Position
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.execution import TestExecStubs
from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs

from jango.domain.book import Book
from jango.domain.model import KST, BalanceRow, BalanceSnapshot, Cash, Code, Tick

ACC = "5012345601"
VENUE = Venue("XKRX")
START = datetime(2026, 3, 4, 9, 0, tzinfo=KST)
BURST = 20


class Market:
    """``rows`` codes, one long position each, and ``count`` random ticks over them."""

    def __init__(self, rows: int, count: int, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.codes = [Code(f"{i:06d}") for i in range(rows)]
        self.qty = {c: rng.randint(1, 50) for c in self.codes}
        self.avg = {c: rng.randint(1_000, 90_000) for c in self.codes}
        price = {c: self.avg[c] for c in self.codes}
        self.ticks: list[Tick] = []
        for i in range(count):
            code = self.codes[rng.randrange(rows)]
            price[code] = max(1, price[code] + rng.randint(-50, 50))
            when = START + timedelta(microseconds=i)
            self.ticks.append(Tick(code, price[code], 0, i, when))
        self.last = price

    def book(self) -> Book:
        rows = tuple(
            BalanceRow(ACC, c, self.qty[c], self.qty[c], self.qty[c] * self.avg[c])
            for c in self.codes
        )
        book = Book()
        book.apply(BalanceSnapshot(ACC, rows, Cash(10**12, 10**12), START))
        # Every row priced once at its average, as NautilusTrader's positions start.
        book.apply_ticks([Tick(c, self.avg[c], 0, 0, START) for c in self.codes])
        return book

    def recomputed(self, prices: dict[Code, int]) -> tuple[int, int]:
        """Value and gross P&L over the positions, summed from scratch."""
        value = sum(self.qty[c] * prices[c] for c in self.codes)
        cost = sum(self.qty[c] * self.avg[c] for c in self.codes)
        return value, value - cost


class Peer:
    """NautilusTrader's portfolio, cache and account holding the same positions."""

    def __init__(self, market: Market) -> None:
        clock = TestClock()
        trader = TraderId("BENCH-001")
        self.cache = Cache(database=None)
        msgbus = MessageBus(trader_id=trader, clock=clock)
        self.portfolio = Portfolio(msgbus=msgbus, cache=self.cache, clock=clock)
        account_id = AccountId("XKRX-001")
        state = AccountState(
            account_id=account_id,
            account_type=AccountType.CASH,
            base_currency=KRW,
            reported=True,
            balances=[AccountBalance(Money(10**12, KRW), Money(0, KRW), Money(10**12, KRW))],
            margins=[],
            info={},
            event_id=TestIdStubs.uuid(),
            ts_event=0,
            ts_init=0,
        )
        self.cache.add_account(_account(state))
        self.portfolio.update_account(state)
        self.ids: dict[Code, InstrumentId] = {}
        self.instruments: dict[Code, Equity] = {}
        for i, code in enumerate(market.codes):
            iid = InstrumentId(Symbol(code), VENUE)
            instrument = Equity(
                instrument_id=iid,
                raw_symbol=Symbol(code),
                currency=KRW,
                price_precision=0,
                price_increment=Price(1, 0),
                lot_size=Quantity(1, 0),
                ts_event=0,
                ts_init=0,
            )
            self.cache.add_instrument(instrument)
            self.ids[code] = iid
            self.instruments[code] = instrument
            order = TestExecStubs.market_order(
                instrument=instrument,
                order_side=OrderSide.BUY,
                quantity=Quantity(market.qty[code], 0),
            )
            fill = TestEventStubs.order_filled(
                order,
                instrument,
                account_id=account_id,
                position_id=PositionId(f"P-{i}"),
                last_px=Price(market.avg[code], 0),
            )
            position = Position(instrument, fill)
            self.cache.add_position(position, OmsType.NETTING)
            self.portfolio.update_position(TestEventStubs.position_opened(position))
        self.quotes = [self.quote(t) for t in market.ticks]
        for code in market.codes:
            start = Tick(code, market.avg[code], 0, 0, START)
            self.cache.add_quote_tick(self.quote(start))

    def quote(self, tick: Tick) -> QuoteTick:
        px = Price(tick.price, 0)
        size = Quantity(1, 0)
        ns = int(tick.time.timestamp() * 1e9)
        return QuoteTick(self.ids[tick.code], px, px, size, size, ns, ns)

    def totals(self) -> tuple[int, int]:
        value = self.portfolio.net_exposures(VENUE)[KRW]
        pnl = self.portfolio.unrealized_pnls(VENUE)[KRW]
        return int(value.as_decimal()), int(pnl.as_decimal())


def _account(state: AccountState) -> object:
    from nautilus_trader.accounting.factory import AccountFactory

    return AccountFactory.create(state)


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(rows: int, count: int, totals_count: int) -> dict[str, float]:
    market = Market(rows, count)
    ticks = market.ticks
    out: dict[str, float] = {}

    def jango_per_tick() -> None:
        book = market.book()
        totals = book.accounts[ACC].totals
        for tick in ticks:
            book.apply_tick(tick)
            _ = totals.value, totals.pnl

    def jango_batch() -> None:
        book = market.book()
        totals = book.accounts[ACC].totals
        for i in range(0, len(ticks), BURST):
            book.apply_ticks(ticks[i : i + BURST])
            _ = totals.value, totals.pnl

    # Setup outside the timing: a fresh book per run is part of what each run times, so time
    # setup alone and take it off.
    setup = best_of(3, market.book)
    out["jango per tick"] = (best_of(3, jango_per_tick) - setup) / count
    out["jango batch"] = (best_of(3, jango_batch) - setup) / count

    peer = Peer(market)
    cache, portfolio, quotes = peer.cache, peer.portfolio, peer.quotes

    def nautilus_quotes() -> None:
        for q in quotes:
            cache.add_quote_tick(q)
            portfolio.update_quote_tick(q)

    out["nautilus quote only"] = best_of(3, nautilus_quotes) / count

    # From the same raw prints: each side also builds its own tick object per print.
    raw = [(t.code, t.price, t.volume, t.time) for t in ticks]
    ids = peer.ids
    size = Quantity(1, 0)

    def jango_from_raw() -> None:
        book = market.book()
        totals = book.accounts[ACC].totals
        for code, price, volume, when in raw:
            book.apply_tick(Tick(code, price, 0, volume, when))
            _ = totals.value, totals.pnl

    def nautilus_from_raw() -> None:
        for code, price, _volume, when in raw:
            px = Price(price, 0)
            ns = int(when.timestamp() * 1e9)
            q = QuoteTick(ids[code], px, px, size, size, ns, ns)
            cache.add_quote_tick(q)
            portfolio.update_quote_tick(q)

    out["jango from raw"] = (best_of(3, jango_from_raw) - setup) / count
    out["nautilus from raw"] = best_of(3, nautilus_from_raw) / count
    few = quotes[:totals_count]

    def nautilus_totals() -> None:
        for q in few:
            cache.add_quote_tick(q)
            portfolio.update_quote_tick(q)
            portfolio.unrealized_pnls(VENUE)
            portfolio.net_exposures(VENUE)

    out["nautilus totals current"] = best_of(2, nautilus_totals) / len(few)
    # The cross-check: after every tick has been applied on both sides.
    for q in quotes:
        cache.add_quote_tick(q)
        portfolio.update_quote_tick(q)
    book = market.book()
    book.apply_ticks(ticks)
    totals = book.accounts[ACC].totals
    ours = (totals.value, totals.pnl)
    theirs = peer.totals()
    recomputed = market.recomputed(market.last)
    if not ours == theirs == recomputed:
        raise SystemExit(
            f"totals differ at {rows} rows: jango {ours}, NautilusTrader {theirs}, "
            f"recomputed {recomputed}"
        )
    out["value"], out["pnl"] = float(ours[0]), float(ours[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--rows", type=int, nargs="*", default=[200, 2_000, 20_000])
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, NautilusTrader {nautilus_trader.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "\n| rows | jango µs/tick | jango batch µs/tick | Nautilus quote-only µs/tick | "
        "Nautilus totals-current µs/tick | quote-only / jango | totals-current / jango | "
        "from raw prints: jango / Nautilus quote-only µs | totals cross-check |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for rows in args.rows:
        # The venue-wide queries walk every position: fewer ticks where that is slow.
        totals_count = max(50, min(args.ticks, 2_000_000 // rows))
        r = measure(rows, args.ticks, totals_count)
        us = {k: v * 1e6 for k, v in r.items() if k not in ("value", "pnl")}
        print(
            f"| {rows:,} | {us['jango per tick']:.2f} | {us['jango batch']:.2f} | "
            f"{us['nautilus quote only']:.2f} | {us['nautilus totals current']:,.1f} | "
            f"{us['nautilus quote only'] / us['jango per tick']:.1f}× | "
            f"{us['nautilus totals current'] / us['jango per tick']:,.0f}× | "
            f"{us['jango from raw']:.2f} / {us['nautilus from raw']:.2f} | "
            f"equal: value {r['value']:,.0f}, P&L {r['pnl']:,.0f} won |"
        )


if __name__ == "__main__":
    main()
