"""`python -m jango.sandbox.cybos_run` runs an unchanged CYBOS script in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import ctypes
import pythoncom
import win32com.client

if not ctypes.windll.shell32.IsUserAnAdmin():
    raise SystemExit("not admin")
status = win32com.client.Dispatch("CpUtil.CpCybos")
trade = win32com.client.Dispatch("CpTrade.CpTdUtil")
assert status.IsConnect == 1 and trade.TradeInit(0) == 0
acc = trade.AccountNumber[0]


class Handler:
    def OnReceived(self):
        self.seen.append(self.obj.GetHeaderValue(13))


cur = win32com.client.Dispatch("DsCbo1.StockCur")
cur.SetInputValue(0, "A005930")
handler = win32com.client.WithEvents(cur, Handler)
handler.obj, handler.seen = cur, []
cur.Subscribe()
while not handler.seen:
    pythoncom.PumpWaitingMessages()
print("account", acc, "tick", handler.seen[0])
"""


def test_an_unchanged_script_runs_against_the_simulated_venue(tmp_path: Path) -> None:
    script = tmp_path / "trader.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "jango.sandbox.cybos_run", str(script), "--step-interval", "0.01"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("account 5012345601 tick ")


MORNING = """
import win32com.client

mst = win32com.client.Dispatch("DsCbo1.StockMst")
mst.SetInputValue(0, "A005930")
mst.BlockRequest()
bid = win32com.client.Dispatch("Dscbo1.StockBid")
bid.SetInputValue(0, "A005930")
bid.SetInputValue(2, 80)
bid.BlockRequest()
rows = bid.GetHeaderValue(2)
print("time", mst.GetHeaderValue(4), "volume", mst.GetHeaderValue(18), "rows", rows)
print("newest", bid.GetDataValue(0, 0), bid.GetDataValue(5, 0))
"""


def test_at_starts_the_script_mid_session_after_the_mornings_trades(tmp_path: Path) -> None:
    script = tmp_path / "morning.py"
    script.write_text(MORNING, encoding="utf-8")
    runner = [sys.executable, "-m", "jango.sandbox.cybos_run", str(script)]
    done = subprocess.run(
        [*runner, "--at", "09:40", "--step-interval", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    _, hhmm, _, volume, _, rows = first.split()
    assert int(hhmm) >= 940 and int(volume) > 0 and int(rows) == 40  # one trade a minute
    assert second.split()[1:] == [hhmm, volume]  # the newest trade is StockMst's price and volume
    late = subprocess.run(
        [*runner, "--at", "16:00"], capture_output=True, text=True, timeout=120, check=False
    )
    assert late.returncode == 2 and "outside the session" in late.stderr
    assert "Traceback" not in late.stderr
