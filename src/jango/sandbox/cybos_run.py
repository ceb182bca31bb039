"""Run a trader's existing CYBOS Plus script, unchanged, against the simulated venue.

    python -m jango.sandbox.cybos_run script.py [--seed N] [--step-interval 0.2] [args...]

The emulator is installed as ``win32com.client`` / ``pythoncom`` / ``pywintypes``, a demo
account is opened, the venue moves prices in a background thread, and ``ctypes.windll``'s
administrator check answers yes when the platform has none. Events reach the script whenever it
calls ``pythoncom.PumpWaitingMessages()`` on the thread that created its objects.
"""

from __future__ import annotations

import argparse
import ctypes
import runpy
import sys
import threading
import types

from jango.sandbox.cybos_com import install
from jango.sandbox.venue import Venue


class _Shell32:
    @staticmethod
    def IsUserAnAdmin() -> int:
        return 1


def _market(venue: Venue, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        venue.step()


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
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    options = parser.parse_args(argv)
    venue = Venue(seed=options.seed)
    venue.open_demo_account()
    install(venue)
    if not hasattr(ctypes, "windll"):
        ctypes.windll = types.SimpleNamespace(shell32=_Shell32)  # type: ignore[attr-defined]
    stop = threading.Event()
    if options.step_interval > 0:
        threading.Thread(
            target=_market, args=(venue, options.step_interval, stop), daemon=True
        ).start()
    sys.argv = [options.script, *options.args]
    try:
        runpy.run_path(options.script, run_name="__main__")
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
