"""The CYBOS adapter's reconnect loop runs under the session's supervisor: a bug in it is logged,
shown as degraded, and the loop restarted until CYBOS Plus is back (issue 11)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from jango.brokers.cybos import CybosBroker
from jango.brokers.cybos.broker import RECONNECT_TASK
from jango.brokers.port import ConnectionStatus
from jango.sandbox.venue import Venue
from jango.supervisor import Backoff, Supervisor, UsesSupervisor

from .test_broker import WAIT, next_item, run


async def until(condition: Any) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT)


def test_the_adapter_takes_the_sessions_supervisor(venue: Venue) -> None:
    assert isinstance(CybosBroker.for_emulator(venue), UsesSupervisor)


def test_a_bug_in_the_reconnect_loop_is_shown_and_the_loop_restarted(
    venue: Venue, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        supervisor = Supervisor(Backoff(initial=0.01, maximum=0.05, healthy_after=60))
        broker = CybosBroker.for_emulator(venue, reconnect_interval=0.01)
        broker.use_supervisor(supervisor)
        await broker.connect()
        events = broker.events()
        assert broker._com is not None
        com = broker._com
        restore = com.restore
        calls: list[int] = []

        def buggy_restore() -> bool:
            # A fault injected into one call: the first reconnect attempt hits a bug.
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("bug while restoring the pushes")
            return restore()

        com.restore = buggy_restore  # type: ignore[method-assign]
        try:
            broker.emulator.disconnect()
            down = await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(down, ConnectionStatus) and not down.connected
            await until(lambda: RECONNECT_TASK in supervisor.problems)
            problem = supervisor.problems[RECONNECT_TASK]
            assert supervisor.degraded and not problem.permanent
            assert problem.error == "RuntimeError: bug while restoring the pushes"
            assert any(
                RECONNECT_TASK in r.getMessage() and "restarting" in r.getMessage()
                for r in caplog.records
                if r.levelno == logging.ERROR
            )
            broker.emulator.reconnect()
            up = await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(up, ConnectionStatus) and up.connected and up.reconnected
            assert len(calls) >= 2  # the restarted loop tried again and got through
            await until(lambda: RECONNECT_TASK not in supervisor.problems)
            assert not supervisor.degraded and not supervisor.failures
        finally:
            await broker.close()
            assert await supervisor.stop() == ()

    with caplog.at_level(logging.ERROR):
        run(scenario)


def test_used_on_its_own_the_adapter_still_supervises_its_reconnects(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue, reconnect_interval=0.01)
        await broker.connect()
        events = broker.events()
        try:
            broker.emulator.disconnect()
            await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            broker.emulator.reconnect()
            up = await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(up, ConnectionStatus) and up.reconnected
        finally:
            await broker.close()

    run(scenario)
