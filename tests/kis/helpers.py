"""Shared set-up for the KIS tests: a venue, the sandbox on loopback and an adapter on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jango.brokers.kis import KisBroker, KisConfig
from jango.brokers.kis.config import KisTuning
from jango.brokers.port import PushItem
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue

# Short waits so retries and reconnects happen quickly; none of them is asserted on.
FAST = KisTuning(
    token_retry_wait=0.3,
    rate_retry_wait=0.01,
    reconnect_initial=0.05,
    reconnect_max=0.2,
    ack_timeout=5.0,
)
WAIT = 10.0  # upper bound on waiting for one pushed item; a safety net, not a measurement


def config_for(sandbox: KisSandbox, cache: Path, **overrides: Any) -> KisConfig:
    user = sandbox.credentials
    values: dict[str, Any] = {
        "app_key": user.app_key,
        "app_secret": user.app_secret,
        "account": user.accounts[0],
        "hts_id": user.hts_id,
        "mode": sandbox.mode,
        "rest_url": sandbox.rest_url,
        "ws_url": sandbox.ws_url,
        "token_cache": cache,
    }
    values.update(overrides)
    return KisConfig(**values)


@dataclass
class Rig:
    venue: Venue
    sandbox: KisSandbox
    broker: KisBroker
    stream: AsyncIterator[PushItem]

    async def next_item(self, accept: Callable[[PushItem], bool], limit: int = 2000) -> PushItem:
        """The next pushed item ``accept`` takes, skipping at most ``limit`` others."""
        for _ in range(limit):
            item = await asyncio.wait_for(anext(self.stream), WAIT)
            if accept(item):
                return item
        raise AssertionError(f"no matching item within {limit} pushes")


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    venue: Venue | None = None,
    tuning: KisTuning = FAST,
    connect: bool = True,
    **sandbox_options: Any,
) -> AsyncIterator[Rig]:
    """A venue, a sandbox serving it (stepped by the test) and a connected adapter."""
    venue = venue or Venue(seed=7, depth_won=10**12)
    sandbox_options.setdefault("tick_interval", None)
    sandbox = KisSandbox(venue, **sandbox_options)
    await sandbox.start()
    broker = KisBroker(config_for(sandbox, tmp_path / "token.json"), tuning=tuning)
    try:
        if connect:
            await broker.connect()
        yield Rig(venue, sandbox, broker, broker.events())
    finally:
        await broker.close()
        await sandbox.stop()
