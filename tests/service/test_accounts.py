"""Several brokers and accounts in one session: the sim, the KIS sandbox and the CYBOS emulator
as three ``[[accounts]]`` entries of one ``jango run``, one book, totals per account, broker and
overall; the KIS sandbox stopped and started again while the others go on."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import jango
from jango.brokers.port import ConnectionStatus, OrderRequest
from jango.brokers.sim.broker import SimBroker
from jango.client import Client
from jango.config import ConfigError, account_entries, load_settings
from jango.domain.model import Code, OrderType, Side
from jango.fanin import FanIn, Member, broker_statuses
from jango.sandbox.kis import DEMO_USER, KisSandbox, SandboxUser
from jango.sandbox.venue import Venue
from tests.service.helpers import TIMEOUT, Profile, stop


async def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` (blocking calls run in a thread: the sandbox shares this loop)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            found = await asyncio.to_thread(check)
            if found:
                return found
            await asyncio.sleep(0.1)
    raise AssertionError(what)


def config_for(folder: Path, sandbox: KisSandbox, rest_url: str = "", ws_url: str = "") -> Path:
    user = sandbox.credentials
    rest_url, ws_url = rest_url or sandbox.rest_url, ws_url or sandbox.ws_url
    path = folder / "config.toml"
    path.write_text(
        f"""
[[accounts]]
name = "sim"
broker = "sim"
seed = 1
demo = false

[[accounts]]
name = "kis"
broker = "kis"
app_key = "{user.app_key}"
app_secret = "{user.app_secret}"
account = "{user.accounts[0]}"
hts_id = "{user.hts_id}"
mode = "{sandbox.mode}"
rest_url = "{rest_url}"
ws_url = "{ws_url}"
token_cache = "{folder / "kis-token.json"}"

[[accounts]]
name = "cybos"
broker = "cybos"
emulator = true
seed = 2
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


@pytest.fixture
async def kis() -> AsyncIterator[KisSandbox]:
    sandbox = KisSandbox(Venue(seed=31), tick_interval=0.05)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


def by_broker(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {report["brokers"][a["account"]]: a for a in report["accounts"]}


def brokers_up(live: Client) -> dict[str, bool]:
    return {b["name"]: b["connected"] for b in live.status()["brokers"]}


async def test_three_brokers_in_one_book_and_one_going_down(kis: KisSandbox) -> None:
    folder = Path(tempfile.mkdtemp(prefix="jsa-", dir="/tmp"))
    profile = Profile(folder, config_for(folder, kis))
    proc = profile.start("run", "--format", "json", "--seconds", "300")
    sandbox = kis
    try:
        await until(lambda: profile.socket("accounts").exists() or proc.poll() is not None, "up")
        assert proc.poll() is None, stop(proc)
        live = Client(profile.socket("accounts"))
        assert await until(lambda: all(brokers_up(live).values()), "all up")

        report = (await asyncio.to_thread(live.book)).report
        accounts = by_broker(report)
        assert set(accounts) == {"sim", "kis", "cybos"}
        # Every row is labelled with its broker entry and its own account number.
        for label, acc in accounts.items():
            assert acc["account"].startswith(f"{label}:")
            assert acc["rows"] and all(r["account"] == acc["account"] for r in acc["rows"])
        grand = report["grand"]
        assert grand["currency"] == "KRW"
        for acc in report["accounts"]:
            rows_value = sum(r["value"] for r in acc["rows"])
            rows_cost = sum(r["purchase_amount"] for r in acc["rows"])
            mine = grand["accounts"][acc["account"]]
            assert (mine["value"], mine["purchase_amount"]) == (rows_value, rows_cost)
            assert grand["brokers"][report["brokers"][acc["account"]]]["value"] == rows_value
        every_row = [r for acc in report["accounts"] for r in acc["rows"]]
        assert grand["overall"]["value"] == sum(r["value"] for r in every_row)
        assert grand["overall"]["pnl"] == sum(r["pnl_gross"] for r in every_row)

        # KIS goes away: only KIS is down, and the sim keeps ticking.
        port, ws_port = (
            int(sandbox.rest_url.rsplit(":", 1)[1]),
            int(sandbox.ws_url.rsplit(":", 1)[1]),
        )
        await sandbox.stop()
        await until(
            lambda: brokers_up(live) == {"sim": True, "kis": False, "cybos": True}, "kis down"
        )
        status = await asyncio.to_thread(live.status)
        assert "kis down" in status["detail"]
        shown = (await asyncio.to_thread(profile.jango, "status")).stdout.splitlines()
        assert "3 account(s), kis down (" in shown[0]
        assert [line.split()[:3] for line in shown[1:]] == [
            ["sim", "sim", "up"],
            ["kis", "kis", "DOWN"],
            ["cybos", "cybos", "up"],
        ]

        def sim_prices() -> list[int]:
            return [r["price"] for r in by_broker(live.book().report)["sim"]["rows"]]

        first = await asyncio.to_thread(sim_prices)
        await until(lambda: sim_prices() != first, "a sim price to move while KIS is down")

        # Meanwhile the KIS account trades in its market (another program, say).
        kis_account = sandbox.credentials.accounts[0]
        held = sandbox.venue.balance(kis_account).rows[0]
        sandbox.venue.place(kis_account, Side.SELL, held.code, 1, order_type=OrderType.MARKET)
        sandbox.venue.step(0)

        # KIS comes back on the same ports: it reconnects and the book takes the venue's truth.
        again = KisSandbox(sandbox.venue, port=port, ws_port=ws_port, tick_interval=0.05)
        await again.start()
        try:
            await until(lambda: all(brokers_up(live).values()), "kis back up")

            def kis_qty() -> dict[tuple[str, str], int]:
                rows = by_broker(live.book().report)["kis"]["rows"]
                return {(r["code"], r["credit"]): r["qty"] for r in rows}

            truth = {(r.code, r.credit.value): r.qty for r in again.venue.balance(kis_account).rows}
            await until(lambda: kis_qty() == truth, "the KIS rows to equal its venue")
            assert (await asyncio.to_thread(live.status))["reconnects"] >= 1
        finally:
            live.close()
            _, err = await asyncio.to_thread(stop, proc)
            await again.stop()
        assert "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_accounts_entries_are_read_in_order_with_their_own_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'seed = 9\n[[accounts]]\nbroker = "sim"\n[[accounts]]\nbroker = "sim"\nseed = 4\n'
        '[[accounts]]\nname = "main"\nbroker = "cybos"\nemulator = true\n'
    )
    settings = load_settings(path, env={})
    entries = account_entries(settings)
    assert [(e.label, e.broker) for e in entries] == [
        ("sim", "sim"),
        ("sim2", "sim"),
        ("main", "cybos"),
    ]
    assert entries[0].settings(settings)["seed"] == "9"  # inherited
    assert entries[1].settings(settings)["seed"] == "4"  # its own
    assert entries[2].settings(settings)["cybos.emulator"] == "true"


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[[accounts]]\nbroker = "ibkr"\n', "accounts.0.broker = 'ibkr'.*one of sim"),
        ('[[accounts]]\nbroker = "sim"\napp_key = "x"\n', "sim takes no app_key"),
        ('[[accounts]]\nbroker = "sim"\nseed = "x"\n', "whole number"),
        ('[[accounts]]\nbroker = "sim"\nname = "a"\n[[accounts]]\nbroker = "sim"\nname = "a"\n',
         "name 'a' is taken"),
        ('[[accounts]]\nbroker = "sim"\nname = "a/b"\n', "plain name"),
        ("accounts = [1]\n", "must be a table"),
    ],
)  # fmt: skip
def test_a_bad_accounts_entry_is_one_error_naming_it(tmp_path: Path, toml: str, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError, match=says):
        load_settings(path, env={})


async def test_one_entry_failing_its_stream_leaves_the_others_running() -> None:
    class Failing(SimBroker):
        async def events(self) -> AsyncIterator[Any]:  # type: ignore[override]
            raise OSError("wire cut")
            yield

    fan = FanIn([Member("a", SimBroker(seed=1, demo_trader=False)), Member("b", Failing(seed=2))])
    await fan.connect()
    try:
        accounts = await fan.accounts()
        assert [a.split(":")[0] for a in accounts] == ["a", "b"]
        stream = fan.events()
        seen: list[Any] = []
        async with asyncio.timeout(TIMEOUT):
            async for item in stream:
                seen.append(item)
                if isinstance(item, ConnectionStatus) and not item.connected:
                    break
        assert (fan.statuses["a"].connected, fan.statuses["b"].connected) == (True, False)
        assert "b down (push stream failed: wire cut)" in seen[-1].detail
        # The healthy one still answers.
        assert (await fan.balance(accounts[0])).account == accounts[0]
    finally:
        await fan.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_a_broker_down_at_start_joins_the_book_when_it_comes_up() -> None:
    folder = Path(tempfile.mkdtemp(prefix="jsl-", dir="/tmp"))
    port, ws_port = free_port(), free_port()
    later = KisSandbox(Venue(seed=32), port=port, ws_port=ws_port, tick_interval=0.05)
    config = config_for(folder, later, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{ws_port}")
    profile = Profile(folder, config)
    proc = profile.start("run", "--format", "json", "--seconds", "300")
    started = False
    try:
        await until(lambda: profile.socket("accounts").exists() or proc.poll() is not None, "up")
        assert proc.poll() is None, stop(proc)
        live = Client(profile.socket("accounts"))
        status = await until(
            lambda: (s := live.status())["brokers"][1]["detail"].startswith("not started") and s,
            "the session to run without KIS",
        )
        assert [b["connected"] for b in status["brokers"]] == [True, False, True]
        assert "kis down (not started" in status["detail"]
        assert [p["task"] for p in status["problems"]] == ["broker kis"]
        report = (await asyncio.to_thread(live.book)).report
        assert set(by_broker(report)) == {"sim", "cybos"}

        await later.start()
        started = True
        await until(lambda: "kis" in by_broker(live.book().report), "the KIS account to join")
        status = await asyncio.to_thread(live.status)
        assert all(b["connected"] for b in status["brokers"]) and not status["problems"]
        rows = by_broker((await asyncio.to_thread(live.book)).report)["kis"]["rows"]
        account = later.credentials.accounts[0]
        assert {r["code"]: r["qty"] for r in rows if r["credit"] == "cash"} == {
            r.code: r.qty for r in later.venue.balance(account).rows if r.credit.value == "cash"
        }
        live.close()
    finally:
        _, err = await asyncio.to_thread(stop, proc)
        if started:
            await later.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert "Traceback" not in err, err


async def test_two_kis_app_keys_are_two_accounts_of_one_session(tmp_path: Path) -> None:
    second = SandboxUser(
        app_key="PSjangoSandboxSecondKey0000000000000",
        app_secret="jango-sandbox-second-secret-" + "1" * 152,
        hts_id="jangotwo",
        accounts=("5099887701",),
    )
    sandbox = KisSandbox(Venue(seed=33), tick_interval=0.05, users=(DEMO_USER, second))
    await sandbox.start()

    def entry(name: str, user: SandboxUser) -> dict[str, str]:
        return {
            "name": name,
            "broker": "kis",
            "app_key": user.app_key,
            "app_secret": user.app_secret,
            "account": user.accounts[0],
            "hts_id": user.hts_id,
            "mode": sandbox.mode,
            "rest_url": sandbox.rest_url,
            "ws_url": sandbox.ws_url,
            "token_cache": str(tmp_path / "tokens.json"),
        }

    try:
        entries = [entry("main", DEMO_USER), entry("isa", second)]
        async with jango.open_session(accounts=entries, journal="false") as session:
            assert session.accounts == ["main:5012345601", "isa:5099887701"]
            # One WebSocket per app key, each its own: no ALREADY IN USE between them.
            sessions = sandbox.app_key_sessions()
            assert len(sessions) == 2 and all(
                (s.live, s.refused) == (1, 0) for s in sessions.values()
            )
            assert all(b["connected"] for b in broker_statuses(session))
            acks = [
                await session.place(
                    OrderRequest(account, Side.BUY, Code("005930"), 1, order_type=OrderType.MARKET)
                )
                for account in session.accounts
            ]
            await session.wait_for(
                lambda book: all(
                    a.order_no in book.orders and book.orders[a.order_no].filled == 1 for a in acks
                ),
                timeout=TIMEOUT,
            )
        # Each order went to its own account at the venue.
        for account, ack in zip(("5012345601", "5099887701"), acks, strict=True):
            own = ack.order_no.split(":", 1)[1]
            assert [o.order_no for o in sandbox.orders.orders(account)] == [own]
    finally:
        await sandbox.stop()
