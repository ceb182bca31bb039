"""What attaching to the running session costs against a session of one's own.

A ``jango balance`` and a ``jango order`` as real processes on the sim, run N times in turns:
attached to a ``jango run`` hosting the profile, and on a second data dir where none runs (each
starts, loads and prices its own session). The host runs throughout, so both compete with it
for the CPU alike. Also ``python -c "import jango.cli"`` (what every command pays before any
work), and in one process ``Client.book()`` over the socket against ``open_session`` + start +
stop. Medians; the ratios are what to read.

    .venv/bin/python -m benchmarks.bench_attach
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jango
from jango.client import Client

RUNS = 5


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JANGO_")}
    return {**env, "JANGO_DATA_DIR": str(folder), "JANGO_CONFIG": os.devnull}


def timed(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jango.cli", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start


def imported(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jango.cli"], env=env, check=True)
    return time.perf_counter() - start


async def own_session() -> None:
    async with jango.open_session("sim", seed=1, sim_demo="false") as session:
        assert session.book.accounts


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="jba-", dir="/tmp"))
    alone = Path(tempfile.mkdtemp(prefix="jbo-", dir="/tmp"))
    env, env_alone = environment(folder), environment(alone)
    commands = {
        "balance": ("balance", "--format", "json", "--no-demo"),
        "order": ("order", "buy", "005930", "1", "--no-demo", "--wait", "5"),
    }
    own: dict[str, list[float]] = {name: [] for name in commands}
    attached: dict[str, list[float]] = {name: [] for name in commands}
    try:
        host = subprocess.Popen(
            [sys.executable, "-m", "jango.cli", "run", "--format", "json", "--seconds", "600",
             "--no-demo"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not (folder / "sim.sock").exists():
                time.sleep(0.05)
            with Client(folder / "sim.sock") as live:
                live.status()
                for _ in range(RUNS):
                    for name, args in commands.items():
                        own[name].append(timed(env_alone, *args))
                        attached[name].append(timed(env, *args))
                imports = statistics.median(imported(env) for _ in range(RUNS))
                reads = []
                for _ in range(50):
                    start = time.perf_counter()
                    live.book()
                    reads.append(time.perf_counter() - start)
        finally:
            host.terminate()
            host.wait()
        opens = []
        for _ in range(RUNS):
            start = time.perf_counter()
            asyncio.run(own_session())
            opens.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(alone, ignore_errors=True)

    print(f"{'what':<28} {'own session':>12} {'attached':>10} {'own/attached':>13}")
    for name in commands:
        mine, theirs = statistics.median(own[name]), statistics.median(attached[name])
        print(
            f"jango {name:<22} {mine * 1000:>9.0f} ms {theirs * 1000:>7.0f} ms "
            f"{mine / theirs:>12.1f}x"
        )
    print(f"{'import jango.cli':<28} {imports * 1000:>9.0f} ms")
    book, opened = statistics.median(reads), statistics.median(opens)
    print(
        f"{'book in Python':<28} {opened * 1000:>9.0f} ms {book * 1000:>7.1f} ms "
        f"{opened / book:>12.0f}x"
    )


if __name__ == "__main__":
    main()
