"""``jango run`` as a real process: a task given up during the run means a non-zero exit.

The fault is real: the KIS sandbox (on loopback, in this process) drops every socket and then
answers every balance continuation with SYDB0050, so the reconcile after the reconnect can never
succeed. The process must say so, show it in its JSON report, journal it, and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue

WAIT = 60.0  # a safety net on the whole run, never a measurement
RUN_SECONDS = 10


def kis_env(sandbox: KisSandbox, data: Path) -> dict[str, str]:
    user = sandbox.credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith("JANGO_")}
    env.update(
        HOME=str(data),
        XDG_CONFIG_HOME=str(data / "config"),
        JANGO_DATA_DIR=str(data),
        JANGO_KIS_APP_KEY=user.app_key,
        JANGO_KIS_APP_SECRET=user.app_secret,
        JANGO_KIS_ACCOUNT=user.accounts[0],
        JANGO_KIS_HTS_ID=user.hts_id,
        JANGO_KIS_MODE=sandbox.mode,
        JANGO_KIS_REST_URL=sandbox.rest_url,
        JANGO_KIS_WS_URL=sandbox.ws_url,
        # Give up quickly: two restarts, short waits.
        JANGO_RESTART_ATTEMPTS="2",
        JANGO_RESTART_INITIAL="0.05",
    )
    return env


async def jango(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jango.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_run_whose_pump_is_given_up_reports_it_and_exits_non_zero(tmp_path: Path) -> None:
    venue = Venue(seed=11, depth_won=10**12)
    # Four rows a page, so every balance read pages (the demo account has seven rows).
    sandbox = KisSandbox(venue, tick_interval=0.05, page_size=4)
    await sandbox.start()
    env = kis_env(sandbox, tmp_path)
    try:
        run = asyncio.create_task(
            jango(env, "run", "--broker", "kis", "--seconds", str(RUN_SECONDS), "--format", "json")
        )
        # Started once every held code is registered (plus the notice registration): the
        # startup balance has been read, so the fault hits the reconcile after the reconnect.
        account = sandbox.credentials.accounts[0]
        held = {r.code for r in venue.balance(account).rows}
        async with asyncio.timeout(WAIT):
            while len(sandbox.registrations()) < len(held) + 1:
                assert not run.done(), run.result()
                await asyncio.sleep(0.05)
        sandbox.set_faults(data_changed=10**6, drop=True)
        code, out, err = await run
    finally:
        await sandbox.stop()

    assert code == 1, err
    status = json.loads(out)["status"]
    assert status["degraded"] is True
    [problem] = status["problems"]
    assert problem["task"] == "pump" and problem["permanent"] is True
    assert "SYDB0050" in problem["error"]
    assert "pump stopped at" in err and "given up after 2 restarts" in err
    assert "Traceback" not in err

    code, listed, _ = await jango(env, "journal", "--profile", "kis", "--errors")
    assert code == 0
    deaths = [line for line in listed.splitlines() if "pump stopped at" in line]
    assert len(deaths) == 3  # the first death and both restarts, each journaled
