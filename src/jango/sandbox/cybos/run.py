"""Run a trader's existing CYBOS Plus script, unchanged, against the simulated venue.

    python -m jango.sandbox.cybos_run script.py [--seed N] [--step-interval 0.2]
        [--seconds N] [--input TEXT ...] [--qt auto|shim] [--] [script args...]

It behaves like ``python script.py`` on a Windows PC with CYBOS Plus logged in:

* the emulator stands in for ``win32com.client`` (also ``gencache.EnsureDispatch``),
  ``pythoncom`` and ``pywintypes``; ``ctypes.windll.shell32.IsUserAnAdmin()`` answers yes;
* the script's folder is first on ``sys.path`` (its helper modules import), ``__file__`` and
  ``sys.argv`` are as given, the working directory is left as it is;
* events reach the script on the thread that created its objects whenever that thread pumps
  messages: ``pythoncom.PumpWaitingMessages``/``PumpMessages``, ``win32gui.PumpMessages``, or a
  PyQt/PySide event loop (``exec_``, ``processEvents``, timers) — see
  :mod:`jango.sandbox.cybos.qt_hook`. Where no PyQt5 is installed a small stand-in is provided
  so GUI scripts still run headless;
* ``input()`` is answered from ``--input`` (in order; then end of input), and ``--seconds N``
  ends a script that never exits after N seconds (exit status 0, a note on stderr);
* the venue knows the bundled instruments plus :mod:`jango.sandbox.cybos.master`'s listings and
  index codes, opens a demo account, and moves prices in a background thread.
"""

from __future__ import annotations

import argparse
import builtins
import ctypes
import os
import runpy
import signal
import sys
import threading
import time
import types
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path

from jango.sandbox.clock import SESSION_CLOSE, SESSION_OPEN
from jango.sandbox.cybos.emulator import CybosEmulator, install
from jango.sandbox.cybos.listing import krx_listing
from jango.sandbox.cybos.qt_hook import QtHook, hook_qt
from jango.sandbox.cybos.qt_shim import install_shim
from jango.sandbox.instruments import load_instruments
from jango.sandbox.venue import Venue


class _Shell32:
    @staticmethod
    def IsUserAnAdmin() -> int:
        return 1


def _market(venue: Venue, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        venue.step()


def _answers(answers: list[str]) -> object:
    pending = list(answers)

    def answer(prompt: object = "") -> str:
        sys.stdout.write(str(prompt))
        if not pending:
            raise EOFError("no more --input answers")
        value = pending.pop(0)
        sys.stdout.write(value + "\n")
        return value

    return answer


def _pump_messages(emulator: CybosEmulator, stop: threading.Event) -> None:
    """``PumpMessages``: deliver events until the process is told to stop (WM_QUIT)."""
    while not stop.is_set():
        emulator.PumpWaitingMessages()
        time.sleep(0.005)


def venue_for_scripts(seed: int) -> Venue:
    """The venue a script meets: the bundled master, and every other KRX listing joining the
    market at its 기준가 when a script first names it."""
    venue = Venue(load_instruments(), seed=seed, listing=krx_listing().spec)
    venue.open_demo_account()
    return venue


def trade_until(venue: Venue, at: clock_time) -> None:
    """Let the session trade from the open until ``at`` (with the emulator listening, so the
    day's high, low and trades are all seen): a script started at 10:30 finds the morning's
    trades, bars and volumes as it would on a real day."""
    while venue.now().time() < at:
        venue.step()


def _session_time(text: str) -> clock_time:
    """``--at``: a time of the simulated session, as HH:MM."""
    try:
        moment = datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HH:MM") from None
    if not SESSION_OPEN <= moment < SESSION_CLOSE:
        raise argparse.ArgumentTypeError(f"{text} is outside the session (09:00-15:19)")
    return moment


def main(
    argv: list[str] | None = None,
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> int:
    """Parse arguments, install the emulator and run the script as ``__main__``."""
    parser = parser_class(prog="python -m jango.sandbox.cybos_run")
    parser.add_argument("script", help="a CYBOS Plus Python script")
    parser.add_argument("--seed", type=int, default=0, help="the venue's random seed")
    parser.add_argument(
        "--step-interval", type=float, default=0.2, help="seconds between market steps (0: none)"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop a script that runs longer than this"
    )
    parser.add_argument(
        "--input", action="append", default=[], help="an answer to the script's input() calls"
    )
    parser.add_argument(
        "--at",
        type=_session_time,
        default=None,
        help="start the simulated session at HH:MM (09:00-15:19; default the open)",
    )
    parser.add_argument(
        "--qt",
        choices=("auto", "shim"),
        default="auto",
        help="auto: a real PyQt5 if installed, else the stand-in; shim: always the stand-in",
    )
    argv = sys.argv[1:] if argv is None else argv
    # Runner options may stand before or after the script; everything else, and everything
    # after a "--", is the script's.
    tail: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    options, rest = parser.parse_known_args(argv)
    script = Path(options.script)
    if not script.is_file():
        parser.error(f"no such script: {script}")
    if options.seconds is not None and not options.seconds > 0:
        parser.error("--seconds must be a positive number")
    args = [*rest, *tail]
    venue = venue_for_scripts(options.seed)
    emulator = install(venue, listing=krx_listing().spec)
    if options.at is not None:
        trade_until(venue, options.at)
    stop = threading.Event()
    _install_pumps(emulator, stop)
    hook = hook_qt(emulator.queues, seconds=options.seconds)
    install_shim(emulator.queues, seconds=options.seconds, force=options.qt == "shim")
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a GUI script runs headless here
    if not hasattr(ctypes, "windll"):
        ctypes.windll = types.SimpleNamespace(shell32=_Shell32)  # type: ignore[attr-defined]
    builtins.input = _answers(options.input)  # type: ignore[assignment]
    if options.step_interval > 0:
        threading.Thread(
            target=_market, args=(venue, options.step_interval, stop), daemon=True
        ).start()
    if options.seconds is not None:
        timer = threading.Timer(options.seconds, _interrupt, args=(hook,))
        timer.daemon = True
        timer.start()
    sys.argv = [options.script, *args]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except KeyboardInterrupt:
        if options.seconds is None:
            raise
        print(f"[cybos_run] stopped after {options.seconds:g} s (--seconds)", file=sys.stderr)
    finally:
        stop.set()
    return 0


def _interrupt(hook: QtHook) -> None:
    # A Qt application quits its own loop at the bound (the hook's timer); a signal is the
    # fallback, a moment later, for a script that goes on after its loop or never had one.
    if hook.applications and not hook.fallback_armed:
        hook.fallback_armed = True
        retry = threading.Timer(2.0, _interrupt, args=(hook,))
        retry.daemon = True
        retry.start()
        return
    # SIGINT wakes the main thread from a sleep or a pump loop with KeyboardInterrupt.
    os.kill(os.getpid(), signal.SIGINT)


def _install_pumps(emulator: CybosEmulator, stop: threading.Event) -> None:
    """``pythoncom.PumpMessages``, ``win32gui.PumpMessages`` and ``gencache.EnsureDispatch``."""
    emulator.pythoncom.PumpMessages = lambda: _pump_messages(emulator, stop)  # type: ignore[attr-defined]
    win32gui = types.ModuleType("win32gui", "CYBOS emulator stand-in for win32gui")
    win32gui.PumpMessages = emulator.pythoncom.PumpMessages  # type: ignore[attr-defined]
    win32gui.PumpWaitingMessages = emulator.PumpWaitingMessages  # type: ignore[attr-defined]
    sys.modules.setdefault("win32gui", win32gui)


if __name__ == "__main__":
    raise SystemExit(main())
