"""``jango replay`` of a 1,000,000-event file as a whole process, and a journal's rebuild.

The file: a demo account's snapshot, then sim ticks and notices as the venue made them (a demo
trader trading while prices move across 1,000 codes), in the recorded format. Baselines in the
same run: a bare ``json.loads`` loop over the same file's lines (in this process), and the same
``jango replay`` process run on the code before this round if ``--before SRC`` names its
``src`` folder. Peak memory is the child's maximum resident set size.

Then the same events journaled (batch durability, no checkpoints), and ``Journal.rebuild`` from
scratch (no checkpoint) timed in a child process, for this code and the ``--before`` code.

Run: ``python benchmarks/bench_replay.py [--events 1000000] [--before /path/to/old/src]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from jango.brokers.sim.demo import DemoTrader
from jango.domain.model import KST, Event, OrderNotice, Tick
from jango.journal import Journal
from jango.recorded import dump_line, header_line
from jango.sandbox.instruments import synthetic_instruments
from jango.sandbox.venue import Venue

AT = datetime(2026, 3, 4, 9, 0, tzinfo=KST)


def events(n: int) -> list[Event]:
    specs = synthetic_instruments(1000, seed=1)
    venue = Venue(specs, seed=1, codes_per_step=100)
    venue.open_demo_account()
    account = venue.accounts()[0]
    out: list[Event] = [venue.balance(account)]

    def keep(batch: list[Tick | OrderNotice]) -> None:
        out.extend(batch)

    venue.add_burst_listener(keep)
    trader = DemoTrader(venue, account, seed=1)
    while len(out) < n:
        trader.act()
        venue.step()
    return out[:n]


def replay_process(path: Path, src: str | None) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and the last line of ``jango replay`` over ``path``."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    # The child reports its own peak RSS (VmHWM, KiB) on its last stderr line. Not getrusage:
    # Linux carries the forking parent's peak across exec into the child's ru_maxrss.
    code = (
        "import sys\n"
        "from jango.cli import main\n"
        "try:\n"
        "    code = main()\n"
        "finally:\n"
        "    with open('/proc/self/status') as status:\n"
        "        hwm = [l.split()[1] for l in status if l.startswith('VmHWM:')][0]\n"
        "    print(hwm, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "replay", str(path), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"replay failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak / 1024, done.stdout[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--before", help="the src folder of the code to compare with")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    stream = events(args.events)
    notices = sum(isinstance(e, OrderNotice) for e in stream)
    print(f"events: {len(stream):,} ({notices:,} notices)\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("w", encoding="utf-8") as f:
            f.write(header_line() + "\n")
            for event in stream:
                f.write(dump_line(event) + "\n")
        size = path.stat().st_size
        t0 = time.perf_counter()
        with path.open("rb") as f:
            for line in f:
                json.loads(line)
        bare = time.perf_counter() - t0
        print(f"file: {size / 2**20:,.0f} MiB\n")
        print("| run | seconds | events/s | peak RSS | vs bare json.loads loop |")
        print("|---|---:|---:|---:|---:|")
        print(
            f"| bare `json.loads` loop, in process (baseline) | {bare:.2f} | "
            f"{len(stream) / bare:,.0f} | | 1.00× |"
        )
        runs = [("`jango replay`, this code", None)]
        if args.before:
            runs.insert(0, ("`jango replay`, before", args.before))
        for label, src in runs:
            seconds, peak, _ = replay_process(path, src)
            print(
                f"| {label} | {seconds:.2f} | {len(stream) / seconds:,.0f} | {peak:,.0f} MiB | "
                f"{seconds / bare:.2f}× |"
            )

        journal_path = Path(tmp) / "rebuild.sqlite"
        with Journal(
            journal_path, durability="batch", checkpoint_every=10**9, max_queue=4 * len(stream)
        ) as journal:
            for event in stream:
                journal.record_event(event, raw="", source="sim", at=AT)
        print("\n| rebuild without a checkpoint | seconds (best of 2) | CPU seconds | events/s |")
        print("|---|---:|---:|---:|")
        for label, src in [(s.replace("`jango replay`", "rebuild"), p) for s, p in runs]:
            seconds, cpu, read = rebuild_process(journal_path, src)
            print(f"| {label} | {seconds:.2f} | {cpu:.2f} | {read / seconds:,.0f} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


def rebuild_process(path: Path, src: str | None) -> tuple[float, float, int]:
    """Best wall seconds and its CPU seconds of two ``Journal.rebuild(use_checkpoints=False)``
    in a child process running the code in ``src`` (this checkout's if None); rows read."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from jango.journal import Journal\n"
        "with Journal(Path(sys.argv[1]), checkpoint_every=10**9) as journal:\n"
        "    best = (float('inf'), 0.0)\n"
        "    for _ in range(2):\n"
        "        t0, c0 = time.perf_counter(), time.process_time()\n"
        "        journal.rebuild(use_checkpoints=False)\n"
        "        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))\n"
        "    print(best[0], best[1], journal.last_rebuild.events_read)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, cpu, read = done.stdout.split()
    return float(seconds), float(cpu), int(read)


if __name__ == "__main__":
    main()
