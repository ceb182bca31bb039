"""Real ``jango`` processes on one private data dir, and their socket."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIMEOUT = 60.0  # a safety net on each wait, never a measurement


def wait_until(predicate: Callable[[], object], what: str, *, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Profile:
    """A data dir (short, so its socket path fits) and the environment that points jango at it."""

    def __init__(self, folder: Path, config: Path | None = None) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JANGO_")}
        self.env.update(
            JANGO_DATA_DIR=str(folder),
            JANGO_CONFIG=str(config) if config else os.devnull,
            HOME=str(folder),
            PYTHONUNBUFFERED="1",
        )
        for name in ("COLUMNS", "LINES"):
            self.env.pop(name, None)

    def socket(self, name: str = "sim") -> Path:
        return self.folder / f"{name}.sock"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "jango.cli", *args]

    def jango(self, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def profile() -> Iterator[Profile]:
    folder = Path(tempfile.mkdtemp(prefix="jsv-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        yield Profile(folder)
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Interrupt ``proc`` (by its own pid) and collect what it printed."""
    if proc.poll() is None:
        proc.send_signal(2)
    try:
        return proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
