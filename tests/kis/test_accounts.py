"""Several accounts on one sandbox: one adapter per app key, side by side in one process.

KIS issues an app key per account and allows one WebSocket session per app key. The sandbox
serves several users at once and counts the sessions each app key opened, so tests can check
that a program keeps to one session per key.
"""

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from jango.brokers.kis import KisBroker
from jango.brokers.port import BrokerError, OrderRequest, Received
from jango.domain.model import NoticeKind, OrderNotice, Side
from jango.sandbox.kis import KisSandbox, demo_user
from jango.sandbox.kis.realtime import AppKeySessions
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, WAIT, config_for

USERS = (demo_user(0), demo_user(1))


def broker_for(sandbox: KisSandbox, index: int, cache: Path) -> KisBroker:
    user = USERS[index]
    config = config_for(
        sandbox,
        cache,
        app_key=user.app_key,
        app_secret=user.app_secret,
        account=user.accounts[0],
        hts_id=user.hts_id,
    )
    return KisBroker(config, tuning=FAST)


async def fill_notice(broker: KisBroker, order_no: str) -> OrderNotice:
    """The next fill notice of ``order_no`` on ``broker``'s stream."""
    stream = broker.events()
    async with asyncio.timeout(WAIT):
        async for item in stream:
            if isinstance(item, Received) and isinstance(item.event, OrderNotice):
                notice = item.event
                if notice.kind is NoticeKind.FILLED and notice.order_no == order_no:
                    return notice
    raise AssertionError("the stream ended")


def test_two_accounts_side_by_side_each_hear_only_their_own_fills(tmp_path: Path) -> None:
    async def scenario() -> None:
        venue = Venue(seed=21, depth_won=10**12)
        sandbox = KisSandbox(venue, tick_interval=None, users=USERS)
        await sandbox.start()
        first = broker_for(sandbox, 0, tmp_path / "token.json")
        second = broker_for(sandbox, 1, tmp_path / "token.json")  # one cache file, two keys
        try:
            await asyncio.gather(first.connect(), second.connect())
            assert sandbox.app_key_sessions() == {
                USERS[0].app_key: AppKeySessions(opened=1, live=1),
                USERS[1].app_key: AppKeySessions(opened=1, live=1),
            }
            balances = await asyncio.gather(
                first.balance(USERS[0].accounts[0]), second.balance(USERS[1].accounts[0])
            )
            for user, snapshot in zip(USERS, balances, strict=True):
                truth = venue.balance(user.accounts[0]).rows
                assert {r.key for r in snapshot.rows} == {r.key for r in truth}
            with pytest.raises(BrokerError):  # each adapter serves its own account only
                await first.balance(USERS[1].accounts[0])

            upper = venue.quote("005930").upper
            account = USERS[1].accounts[0]
            ack = await second.place(OrderRequest(account, Side.BUY, "005930", 2, upper))
            notice = await fill_notice(second, ack.order_no)
            assert (notice.account, notice.qty) == (account, 2)
            # The first adapter's stream has no notice of the second account.
            await first.close()
            heard = [item async for item in first.events()]
            assert not [
                i for i in heard if isinstance(i, Received) and isinstance(i.event, OrderNotice)
            ]
        finally:
            await first.close()
            await second.close()
            await sandbox.stop()

    asyncio.run(scenario())


def test_a_second_session_on_one_app_key_is_refused_and_counted(tmp_path: Path) -> None:
    async def scenario() -> None:
        sandbox = KisSandbox(Venue(seed=22), tick_interval=None, users=USERS)
        await sandbox.start()
        owner = broker_for(sandbox, 0, tmp_path / "token.json")
        intruder = broker_for(sandbox, 0, tmp_path / "token.json")
        try:
            await owner.connect()
            with pytest.raises(BrokerError, match="ALREADY IN USE appkey"):
                await intruder.connect()
            counts = sandbox.app_key_sessions()
            assert counts[USERS[0].app_key] == AppKeySessions(opened=1, live=1, refused=1)
            assert counts[USERS[1].app_key] == AppKeySessions()
            # The same counts over HTTP, for a sandbox run as a separate process.
            async with httpx.AsyncClient(base_url=sandbox.rest_url) as http:
                shown = (await http.get("/sandbox/sessions")).json()
            assert shown[USERS[0].app_key] == {"opened": 1, "live": 1, "refused": 1}
        finally:
            await intruder.close()
            await owner.close()
            await sandbox.stop()

    asyncio.run(scenario())


def test_python_m_serves_every_printed_user() -> None:
    async def scenario() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jango.sandbox.kis", "--users", "2", "--tick-interval", "0",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            printed: list[str] = []
            async with asyncio.timeout(WAIT):
                while not printed or not printed[-1].startswith("JANGO_KIS_WS_URL="):
                    printed.append((await process.stdout.readline()).decode().strip())
            values = [line.split("=", 1) for line in printed if line.startswith("JANGO_KIS_")]
            keys = [v for k, v in values if k == "JANGO_KIS_APP_KEY"]
            secrets = [v for k, v in values if k == "JANGO_KIS_APP_SECRET"]
            (rest,) = [v for k, v in values if k == "JANGO_KIS_REST_URL"]
            assert keys == [user.app_key for user in USERS]
            async with httpx.AsyncClient(base_url=rest) as http:
                for key, secret in zip(keys, secrets, strict=True):
                    body = {"grant_type": "client_credentials", "appkey": key, "appsecret": secret}
                    reply = await http.post("/oauth2/tokenP", json=body)
                    assert reply.status_code == 200 and reply.json()["access_token"]
        finally:
            process.terminate()
            await process.wait()

    asyncio.run(scenario())
