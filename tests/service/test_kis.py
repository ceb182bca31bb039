"""On KIS, one app key has one WebSocket session: ``jango order`` beside a running ``jango run``
attaches to it, and with none running a one-shot order uses REST alone.

The sandbox answers a second WebSocket of the same app key with ``ALREADY IN USE appkey``, as
KIS does. Every WebSocket needs an approval key first (``/oauth2/Approval``), so the approval
keys the sandbox issued count the WebSocket sessions jango opened.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jango.client import Client
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.service.helpers import TIMEOUT, Profile, stop
from tests.test_exit_code import kis_env


@pytest.fixture
async def kis() -> AsyncIterator[tuple[KisSandbox, Profile]]:
    sandbox = KisSandbox(Venue(seed=41), tick_interval=0.05)
    await sandbox.start()
    folder = Path(tempfile.mkdtemp(prefix="jsk-", dir="/tmp"))
    profile = Profile(folder)
    profile.env.update(
        {k: v for k, v in kis_env(sandbox, folder).items() if k.startswith("JANGO_")}
    )
    profile.env["JANGO_CONFIG"] = "/dev/null"
    yield sandbox, profile
    await sandbox.stop()
    shutil.rmtree(folder, ignore_errors=True)


def websocket_sessions(sandbox: KisSandbox) -> int:
    """WebSocket sessions the sandbox saw opened, over every app key; none may be refused."""
    sessions = sandbox.app_key_sessions().values()
    assert sum(s.refused for s in sessions) == 0, "a second session on one app key"
    return sum(s.opened for s in sessions)


async def jango(profile: Profile, *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(profile.jango, *args)
    return done.returncode, done.stdout, done.stderr


async def test_an_order_beside_a_running_kis_session_opens_no_second_websocket(
    kis: tuple[KisSandbox, Profile],
) -> None:
    sandbox, profile = kis
    proc = profile.start("run", "--broker", "kis", "--format", "json", "--seconds", "120")
    try:
        async with asyncio.timeout(TIMEOUT):
            while not profile.socket("kis").exists() and proc.poll() is None:
                await asyncio.sleep(0.05)
        assert proc.poll() is None, await asyncio.to_thread(stop, proc)
        live = Client(profile.socket("kis"))
        # Answered once the session has started (the socket is claimed before that).
        assert (await asyncio.to_thread(live.status))["connected"]
        assert websocket_sessions(sandbox) == 1

        code, out, err = await jango(
            profile, "order", "buy", "005930", "3", "--broker", "kis", "--wait", "20"
        )

        assert code == 0, err
        assert "ALREADY IN USE" not in out + err
        assert "filled" in out, out
        order_no = out.split()[1]
        assert websocket_sessions(sandbox) == 1
        order = await asyncio.to_thread(live.order, order_no)
        live.close()
        assert (order["status"], order["filled"]) == ("filled", 3)
    finally:
        _, err = await asyncio.to_thread(stop, proc)
    assert "Traceback" not in err, err


async def test_a_one_shot_kis_order_uses_rest_alone(kis: tuple[KisSandbox, Profile]) -> None:
    sandbox, profile = kis

    code, out, err = await jango(profile, "order", "buy", "005930", "2", "--broker", "kis")

    assert code == 0, err
    assert websocket_sessions(sandbox) == 0
    order_no = out.split()[1]
    # What it printed is read back from the order inquiry (no notices without the WebSocket).
    assert f"order={order_no} filled=2 remaining=0" in out, out
    account = sandbox.credentials.accounts[0]
    assert [o.qty for o in sandbox.orders.orders(account) if o.order_no == order_no] == [2]


async def test_one_shot_amend_and_cancel_on_kis_use_rest_alone(
    kis: tuple[KisSandbox, Profile],
) -> None:
    sandbox, profile = kis
    quote = sandbox.venue.quote("005930")
    low = str(quote.lower)

    code, out, err = await jango(profile, "order", "buy", "005930", "2", "--price", low,
                                 "--broker", "kis", "--wait", "0")  # fmt: skip
    assert code == 0, err
    first = out.split()[1]
    code, out, err = await jango(profile, "amend", first, "--price", low, "--qty", "1",
                                 "--broker", "kis", "--wait", "0")  # fmt: skip
    assert code == 0, err
    second = out.split()[1]
    code, out, err = await jango(profile, "cancel", second, "--broker", "kis", "--wait", "0")
    assert code == 0, err
    code, out, err = await jango(profile, "cancel", "0000099999", "--broker", "kis")
    assert code == 2 and "0000099999" in err, err
    code, out, err = await jango(profile, "order", "buy", "005930", "1", "--broker", "kis",
                                 "--account", "11112222-01")  # fmt: skip
    assert (code, err.strip()) == (2, "jango: error: no such account 11112222-01")

    assert websocket_sessions(sandbox) == 0
    account = sandbox.credentials.accounts[0]
    assert not [o for o in sandbox.venue.balance(account).orders or () if o.remaining]
