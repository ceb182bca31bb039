"""End to end: the engine's session on the CYBOS adapter over the emulator."""

from __future__ import annotations

import asyncio

from jango.brokers.cybos import CybosBroker
from jango.brokers.port import OrderRequest
from jango.domain.model import Code, OrderType, Side
from jango.engine import Session
from jango.sandbox.venue import DEMO_ACCOUNT, Venue


def test_the_engine_keeps_the_book_true_through_a_buy_on_cybos() -> None:
    venue = Venue(seed=9)
    venue.open_demo_account()

    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        async with Session(broker, poll_interval=0.05) as session:
            truth = venue.balance(DEMO_ACCOUNT)
            assert {r.key for r in session.book.rows(DEMO_ACCOUNT)} == {r.key for r in truth.rows}
            code = Code("035720")
            await session.place(
                OrderRequest(DEMO_ACCOUNT, Side.BUY, code, 3, order_type=OrderType.MARKET)
            )
            await session.wait_for(
                lambda book: any(r.key.code == code for r in book.rows(DEMO_ACCOUNT)), 30
            )

            # The engine opens the new code's subscription right after the fill applies.
            async def subscribed() -> None:
                while code not in session.subscribed:
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(subscribed(), 30)
            assert broker.emulator.subscription_count() == len(session.subscribed)
            row = next(r for r in session.book.rows(DEMO_ACCOUNT) if r.key.code == code)
            assert row.qty == 3

    asyncio.run(scenario())
