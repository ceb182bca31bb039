"""Events arrive the way they do on Windows: under whatever pumps the thread's messages — a Qt
event loop (real PyQt5, offscreen, or the stand-in where none is installed), PumpMessages — and
never outside them. And the runner behaves like ``python script.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from jango.sandbox.cybos import qt_hook, qt_shim
from jango.sandbox.cybos.emulator import CybosEmulator
from jango.sandbox.cybos.runtime import MessageQueues
from jango.sandbox.venue import Venue

RUNNER = [sys.executable, "-m", "jango.sandbox.cybos_run"]
TIMEOUT = 120  # a guard against hanging, not a timing expectation


def run(
    script: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNER, str(script), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )


QT_SCRIPT = """
import sys
import win32com.client
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QMainWindow, QPushButton


class Events:
    def OnReceived(self):
        window.ticks.append(window.cur.GetHeaderValue(13))
        if len(window.ticks) == 3:
            print("ticks", len(window.ticks), "pending before exec", window.before)
            QApplication.instance().quit()


class Window(QMainWindow):
    def __init__(self):
        super().__init__()
        self.ticks = []
        self.cur = win32com.client.Dispatch("DsCbo1.StockCur")
        self.cur.SetInputValue(0, "A005930")
        self.handler = win32com.client.WithEvents(self.cur, Events)
        self.cur.Subscribe()
        QPushButton("buy", self).clicked.connect(lambda: None)


app = QApplication(sys.argv)
window = Window()
window.show()
import time
time.sleep(0.5)  # ticks arrive meanwhile, but nothing pumps: none is delivered yet
window.before = len(window.ticks)
QTimer.singleShot(0, lambda: None)
sys.exit(app.exec_())
"""


@pytest.mark.parametrize("qt", ["auto", "shim"])
def test_a_pyqt_script_gets_its_events_from_app_exec(tmp_path: Path, qt: str) -> None:
    if qt == "auto" and not qt_hook.qt_available():
        pytest.skip("no real PyQt5 installed here; the stand-in case runs below")
    script = tmp_path / "window.py"
    script.write_text(QT_SCRIPT, encoding="utf-8")
    done = run(script, "--step-interval", "0.02", "--qt", qt, "--seconds", "60")
    assert done.returncode == 0, done.stderr
    assert "ticks 3 pending before exec 0" in done.stdout


def test_the_stand_in_loop_pumps_only_while_it_runs() -> None:
    queues = MessageQueues()
    modules = qt_shim.install_shim(queues, force=True)
    try:
        core = modules["PyQt5.QtCore"]
        widgets = modules["PyQt5.QtWidgets"]
        delivered: list[str] = []
        app = widgets.QApplication([])
        queues.post(threading.get_ident(), "test", lambda: delivered.append("event"))
        assert delivered == []  # posted, not pumped
        core.QTimer.singleShot(10, app.quit)
        assert app.exec_() == 0
        assert delivered == ["event"]
        timer = core.QTimer()
        timer.timeout.connect(lambda: delivered.append("tick"))
        timer.start(1)
        core.QTimer.singleShot(30, app.quit)
        app.exec_()
        assert delivered.count("tick") >= 1
    finally:
        for name in modules:
            sys.modules.pop(name, None)


def test_real_pyqt_wakes_on_a_posted_event(tmp_path: Path) -> None:
    pytest.importorskip("PyQt5")
    code = textwrap.dedent(
        """
        import os, threading
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from jango.sandbox.cybos.runtime import MessageQueues
        from jango.sandbox.cybos.qt_hook import hook_qt
        queues = MessageQueues()
        hook_qt(queues)
        from PyQt5.QtWidgets import QApplication
        app = QApplication([])
        main = threading.get_ident()
        seen = []
        def deliver():
            seen.append(threading.get_ident() == main)
            app.quit()
        # Posted from another thread, delivered on the GUI thread by the Qt loop itself.
        threading.Timer(0.05, lambda: queues.post(main, "x", deliver)).start()
        app.exec_()
        print("delivered on the GUI thread:", seen)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "delivered on the GUI thread: [True]" in done.stdout


def test_a_script_imports_the_helper_module_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "creon_helpers.py").write_text(
        "import win32com.client\n"
        "def name(code):\n"
        "    return win32com.client.Dispatch('CpUtil.CpCodeMgr').CodeToName(code)\n",
        encoding="utf-8",
    )
    (folder / "main.py").write_text(
        "import sys\nfrom creon_helpers import name\nprint(name('A005930'), sys.argv[1:])\n",
        encoding="utf-8",
    )
    done = run(folder / "main.py", "--", "--live", "x")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "삼성전자 ['--live', 'x']"


def test_a_script_that_never_exits_is_bounded_and_input_is_answered(tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(
        "import time, pythoncom\n"
        "print('code', input('code? '))\n"
        "while True:\n"
        "    pythoncom.PumpWaitingMessages()\n"
        "    time.sleep(0.05)\n",
        encoding="utf-8",
    )
    done = run(script, "--seconds", "1", "--input", "A005930")
    assert done.returncode == 0, done.stderr
    assert "code A005930" in done.stdout
    assert "stopped after 1 s" in done.stderr


def test_no_pump_means_no_events() -> None:
    venue = Venue(seed=1)
    emu = CybosEmulator(venue)
    try:
        cur = emu.Dispatch("DsCbo1.StockCur")
        cur.SetInputValue(0, "A005930")

        class Handler:
            seen = 0

            def OnReceived(self) -> None:
                Handler.seen += 1

        emu.WithEvents(cur, Handler)
        cur.Subscribe()  # type: ignore[attr-defined]
        for _ in range(50):
            venue.step()
        pending = emu.queues.pending()
        assert Handler.seen == 0 and pending > 0
        emu.PumpWaitingMessages()
        assert Handler.seen == pending
    finally:
        emu.close()


SEED_UNDER_QT = """
import sys
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

namespace = {"__name__": "cybos_seed"}
exec(compile(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1], "exec"), namespace)
received = []
original = namespace["CpEvent"].OnReceived


def counting(self):
    received.append(self.name)
    original(self)


namespace["CpEvent"].OnReceived = counting
app = QApplication(sys.argv)
window = namespace["MyWindow"]()
window.show()
before = len(received)


def report():
    print("before exec", before, "ticks", received.count("stockcur") > 0)
    app.quit()


QTimer.singleShot(3000, report)
app.exec_()
"""


def test_the_seed_runs_unchanged_under_a_real_pyqt5_loop(tmp_path: Path) -> None:
    pytest.importorskip("PyQt5")
    from .test_seed_sample import seed_source

    seed = tmp_path / "seed.py"
    seed.write_text(seed_source(), encoding="utf-8")
    harness = tmp_path / "harness.py"
    harness.write_text(SEED_UNDER_QT, encoding="utf-8")
    done = run(harness, "--step-interval", "0.02", "--seconds", "60", "--", str(seed))
    assert done.returncode == 0, done.stderr
    assert "before exec 0 ticks True" in done.stdout


def test_the_stand_in_builds_designer_windows_and_reads_qt_constants() -> None:
    modules = qt_shim.install_shim(MessageQueues(), force=True)
    try:
        namespace: dict[str, object] = {}
        exec(
            "from PyQt5.QtWidgets import *\n"
            "from PyQt5.QtCore import *\n"
            "from PyQt5 import uic\n"
            "Form, Base = uic.loadUiType('main_window.ui')\n"
            "class Window(QMainWindow, Form):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.setupUi(self)\n"
            "        self.table = QTableWidget(self)\n"
            "        buttons = QMessageBox.Yes | QMessageBox.No\n"
            "        self.answer = QMessageBox.question(self, 't', 'q', buttons)\n"
            "        self.status = 'now ' + QTime.currentTime().toString('hh:mm:ss')\n"
            "window = Window()\n",
            namespace,
        )
        window = namespace["window"]
        assert window.status == "now "  # type: ignore[attr-defined]
    finally:
        for name in modules:
            sys.modules.pop(name, None)
