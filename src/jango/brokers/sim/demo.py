"""A demo trader that keeps the sim account busy, so fills appear without anyone typing.

Each :meth:`DemoTrader.act` does one small thing on the venue: a buy or sell near the market
price on a held or random code, or an amend or cancel of one of its open orders. It draws from
its own seeded generator, so with the same venue history it does the same things.
"""

from __future__ import annotations

import random

from jango.domain import krx
from jango.domain.model import BalanceRow, Code, Credit, Side
from jango.sandbox.venue import Venue, VenueRefusal

# Spend at most this much on one demo buy, so the demo account lasts a long session.
_BUY_BUDGET = 1_000_000


class DemoTrader:
    """Places, amends and cancels small orders for ``account`` on ``venue``."""

    def __init__(self, venue: Venue, account: str, *, seed: int | str = 0) -> None:
        self._venue = venue
        self._account = account
        self._rng = random.Random(f"demo-trader-{seed}")
        self.actions = 0
        self.refusals = 0  # requests the venue refused (e.g. out of cash); the demo goes on

    def act(self) -> None:
        """Do one thing: mostly a new order, sometimes an amend or cancel of an open one."""
        self.actions += 1
        try:
            opens = self._venue.open_orders(self._account)
            if opens and self._rng.random() < 0.3:
                order = self._rng.choice(opens)
                if self._rng.random() < 0.5:
                    self._venue.cancel(self._account, order.order_no)
                else:
                    price = self._near_market(order.code, order.side)
                    self._venue.amend(self._account, order.order_no, price=price)
                return
            rows = [r for r in self._venue.balance(self._account).rows if r.sellable > 0]
            if rows and self._rng.random() < 0.45:
                self._sell(self._rng.choice(rows))
            else:
                self._buy(rows)
        except VenueRefusal:
            self.refusals += 1

    def _sell(self, row: BalanceRow) -> None:
        qty = self._rng.randint(1, max(1, row.sellable // 4))
        self._venue.place(
            self._account,
            Side.SELL,
            row.code,
            qty,
            self._near_market(row.code, Side.SELL),
            credit=row.credit,
            loan_date=row.loan_date,
        )

    def _buy(self, held: list[BalanceRow]) -> None:
        codes = [r.code for r in held if r.credit is Credit.CASH]
        if not codes or self._rng.random() < 0.4:
            codes = [i.code for i in self._venue.instruments()]
        code = self._rng.choice(codes)
        price = self._near_market(code, Side.BUY)
        qty = self._rng.randint(1, max(1, _BUY_BUDGET // price))
        self._venue.place(self._account, Side.BUY, code, qty, price)

    def _near_market(self, code: Code, side: Side) -> int:
        """A valid price a few ticks on the passive side of the market, or just through it."""
        quote = self._venue.quote(code)
        market = quote.market
        price = quote.price
        day = self._venue.now().date()
        ticks = self._rng.randint(-1, 2)
        # Positive ticks move away from the market: down for a buy, up for a sell.
        upward = (side is Side.SELL) == (ticks > 0)
        for _ in range(abs(ticks)):
            if upward:
                price += krx.tick_size(price, market, day)
            elif price > 1:
                price -= krx.tick_size(price - 1, market, day)
        return min(max(price, quote.lower), quote.upper)
