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
