"""SIGKILL a real ``jango run --broker kis`` again and again while the market goes on trading in
the sandbox (fills land while jango is down, and while it starts): after the last restart the
book equals the venue's account, and the journal rebuilds to that book.

``JANGO_LONG=1`` runs 60 kills instead of 30.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path

from jango.brokers.sim.demo import DemoTrader
from jango.journal import Journal
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.journal.streams import fills_journaled
from tests.test_exit_code import kis_env

KILLS = int(os.environ.get("JANGO_KILLS", "0")) or (60 if os.environ.get("JANGO_LONG") else 30)
WAIT = 120.0  # a safety net on each run, never a measurement


async def trade(venue: Venue, account: str, stop: asyncio.Event) -> None:
    trader = DemoTrader(venue, account, seed=3)
    while not stop.is_set():
        trader.act()
        await asyncio.sleep(0.1)


async def start(env: dict[str, str], seconds: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jango.cli", "run", "--broker", "kis",
        "--seconds", str(seconds), "--format", "json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def run_and_kill(env: dict[str, str], journal: Path, rng: random.Random) -> None:
    before = fills_journaled(journal)
    proc = await start(env, 300)
    async with asyncio.timeout(WAIT):
        if rng.random() < 0.33:
            await asyncio.sleep(rng.uniform(0.2, 2.0))  # somewhere in startup
        else:
            while fills_journaled(journal) <= before and proc.returncode is None:
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0, 1.0))
    assert proc.returncode is None, (await proc.communicate())[1].decode()[-3000:]
    proc.send_signal(signal.SIGKILL)
    _, err = await proc.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


async def test_a_kis_session_killed_again_and_again_ends_equal_to_the_venue(
    tmp_path: Path,
) -> None:
    venue = Venue(seed=21, depth_won=10**12)
    sandbox = KisSandbox(venue, tick_interval=0.05)
    await sandbox.start()
    env = kis_env(sandbox, tmp_path)
    account = sandbox.credentials.accounts[0]
    journal = tmp_path / "kis.journal.sqlite"
    stop = asyncio.Event()
    trading = asyncio.create_task(trade(venue, account, stop))
    rng = random.Random(20261202)
    try:
        for _ in range(KILLS):
            await run_and_kill(env, journal, rng)
        stop.set()
        await trading
        # The market is quiet now: the last run's startup snapshot and notices settle it.
        proc = await start(env, 3)
        async with asyncio.timeout(WAIT):
            out, err = await proc.communicate()
        truth = venue.balance(account)
    finally:
        stop.set()
        await sandbox.stop()
    assert proc.returncode == 0, err.decode()[-3000:]
    [acc] = json.loads(out)["accounts"]
    assert {(r["code"], r["credit"], r["loan_date"]): r["qty"] for r in acc["rows"]} == {
        (r.code, r.credit.value, r.loan_date and r.loan_date.isoformat()): r.qty
        for r in truth.rows
        if r.qty
    }
    assert acc["cash"]["d2"] == truth.cash.d2
    with Journal(journal) as j:
        rebuilt = j.rebuild()
    assert {r.key: r.qty for r in rebuilt.rows(account)} == {
        r.key: r.qty for r in truth.rows if r.qty
    }
