"""Real processes for the desk tests: a nats-server with JetStream on loopback, agents and hubs
run as ``python -m jango.desk``, and the agents' own journals read back for comparison."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jango.domain.book import Book
from jango.journal.fence import apply_journaled
from jango.journal.store import EVENT_KINDS, read_entries

NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
)
needs_nats = pytest.mark.skipif(
    NATS_SERVER is None,
    reason="nats-server is not installed (Debian: apt-get install nats-server; .ci/run does it)",
)


def free_port() -> int:
    """A free port below the ephemeral range: a client reconnecting to a stopped server on an
    ephemeral port can be handed that very port as its own and connect to itself, keeping
    the server from binding it again."""
    low, _ = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    """``wait_until`` for async tests: the loop runs meanwhile."""
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class NatsServer:
    """``nats-server -js`` on 127.0.0.1, its store in ``folder``; kill -9 and restart it."""

    def __init__(self, folder: Path, config: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert NATS_SERVER is not None
        self.starts += 1
        log = (self.folder / f"nats-{self.starts}.log").open("wb")
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config is not None:
            conf = self.folder / "nats.conf"
            conf.write_text(self.config)
            args += ["-c", str(conf)]
        else:
            args += ["-js", "-sd", str(self.folder / "store")]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, 10, "nats-server to listen")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"nats-server exited: {self.log()}")
        return "Server is ready" in self.log()

    def log(self) -> str:
        return (self.folder / f"nats-{self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Desk:
    """Agents and hubs as processes sharing one data folder; each is stopped by the test."""

    def __init__(self, folder: Path, nats: NatsServer, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.nats = nats
        self.env = {
            **os.environ,
            "JANGO_DATA_DIR": str(folder / "data"),
            "JANGO_SIM_DEMO_PERIOD": "0.15",
            "XDG_CONFIG_HOME": str(folder / "config"),
            **(env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.runs: dict[str, int] = {}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.runs[name] = self.runs.get(name, 0) + 1
        run = self.runs[name]
        out = (self.folder / f"{name}-{run}.out").open("wb")
        err = (self.folder / f"{name}-{run}.err").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jango.desk", *args],
            stdout=out,
            stderr=err,
            env=self.env,
        )
        self.procs[name] = proc
        return proc

    def agent(self, agent: str, *extra: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            agent,
            ["agent", "--nats", self.nats.url, "--agent", agent, "--format", "json", *extra],
        )

    def hub(self, *extra: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            "hub",
            [
                "hub",
                "--nats",
                self.nats.url,
                "--format",
                "json",
                "--ack-wait",
                "1.5",
                "--gap-timeout",
                "4",
                *extra,
            ],
        )

    def stop(self, name: str) -> dict[str, Any]:
        """SIGTERM ``name``, wait, and return the JSON it printed."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        out = self.output(name)
        assert code == 0, f"{name} exited {code}: {self.errors(name)}"
        return out

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def output(self, name: str) -> dict[str, Any]:
        text = (self.folder / f"{name}-{self.runs[name]}.out").read_text()
        return dict(json.loads(text))

    def errors(self, name: str) -> str:
        return "".join(
            (self.folder / f"{name}-{run}.err").read_text(errors="replace")
            for run in range(1, self.runs.get(name, 0) + 1)
        )

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)

    # ----------------------------------------------------------------- reading back

    def journal(self, agent: str) -> Path:
        return self.folder / "data" / f"{agent}.journal.sqlite"

    def hub_file(self) -> Path:
        return self.folder / "data" / "hub.hub.sqlite"

    def hub_applied(self) -> dict[str, int]:
        """Each agent's last row committed at the hub, read from the hub's file."""
        path = self.hub_file()
        if not path.exists():
            return {}
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            try:
                return dict(db.execute("SELECT agent, applied_seq FROM agents").fetchall())
            except sqlite3.OperationalError:
                return {}

    def hub_rows(self, agent: str) -> list[tuple[int, str, str]]:
        """(seq, kind, body) of every row of ``agent`` the hub holds, in the hub's order."""
        with sqlite3.connect(f"file:{self.hub_file()}?mode=ro", uri=True) as db:
            return db.execute(
                "SELECT seq, kind, body FROM inbox WHERE agent = ? ORDER BY n", (agent,)
            ).fetchall()


def journal_rows(path: Path) -> list[tuple[int, str, str]]:
    """(seq, kind, body) of every row of an agent's journal."""
    return [(e.seq, e.kind, e.body) for e in read_entries(path)]


def journal_book(path: Path) -> Book:
    """The agent's book as its own journal replays it (jango's journal code, not the desk's)."""
    book = Book()
    for e in read_entries(path, kinds=EVENT_KINDS):
        apply_journaled(book, e.seq, e.event(), reflected=e.reflected)
    return book


def fills(rows: list[tuple[int, str, str]]) -> list[int]:
    """Seqs of the fill notices among ``rows``."""
    return [seq for seq, kind, body in rows if kind == "notice" and '"kind":"filled"' in body]
