"""End to end: the engine's session on the KIS adapter against the KIS sandbox, on loopback."""

import asyncio
from pathlib import Path

from jango.brokers.kis import KisBroker
from jango.brokers.port import OrderRequest
from jango.domain.model import Side
from jango.engine import Session
from jango.sandbox.kis_server import KisSandbox
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, config_for

ACCOUNT = "5012345601"


def test_the_engine_keeps_the_book_true_through_a_fill_and_a_reconnect(tmp_path: Path) -> None:
    async def scenario() -> None:
        venue = Venue(seed=11, depth_won=10**12)
        sandbox = KisSandbox(venue, tick_interval=0.02, page_size=4)
        await sandbox.start()
        broker = KisBroker(config_for(sandbox, tmp_path / "token.json"), tuning=FAST)
        try:
            async with Session(broker, poll_interval=0.1) as session:
                truth = {r.key: (r.qty, r.sellable) for r in venue.balance(ACCOUNT).rows}
                assert {r.key: (r.qty, r.sellable) for r in session.book.rows()} == truth
                new = next(
                    i.code for i in venue.instruments() if i.code not in session.book.held_codes()
                )
                quote = await broker.quote(new)
                await session.place(OrderRequest(ACCOUNT, Side.BUY, new, 2, quote.upper))
                await session.wait_for(
                    lambda book: any(r.key.code == new and r.qty == 2 for r in book.rows())
                )
                sandbox.set_faults(drop=True)
                for _ in range(1000):  # until the adapter has reconnected and re-registered
                    if sandbox.sessions and len(sandbox.registrations()) > 1:
                        break
                    await asyncio.sleep(0.01)
                truth = {r.key: (r.qty, r.sellable) for r in venue.balance(ACCOUNT).rows}
                await session.wait_for(
                    lambda book: {r.key: (r.qty, r.sellable) for r in book.rows()} == truth
                )
        finally:
            await broker.close()
            await sandbox.stop()

    asyncio.run(scenario())
