"""The desk over NATS JetStream: N agent processes on one machine, a hub, a local nats-server.

Run: ``.venv/bin/python benchmarks/desk_agents.py [--agents 4] [--rate 10000] [--seconds 10]``
(``JANGO_LONG=1``: 60 s at the rate and a 1,000,000-row backlog). Prints markdown for
BENCHMARKS.md. Each agent is a real ``jango`` agent process: a journaled sim session (no demo
trader) whose journal gets synthetic ticks recorded at ``rate / agents`` a second, published by
the agent's outbox exactly as in production (journal commit → read-only reader → JetStream with
acks). The hub is a :class:`~jango.desk.hub.HubBroker` in this process; its ``events()`` is read
directly, so "at the hub" means committed to the hub's file, acknowledged and applied to the
desk book.

1. **Latency at a steady rate**: for every tick, hub time − the time the agent recorded it
   (one machine, one clock): median, p99, max; and the rate the hub applied.
2. **Full speed, end to end**: each agent starts with ``--prefill`` rows already journaled and
   publishes them as fast as it can while the hub applies them.
3. **Catch-up**: a fresh hub (new file, new durable consumer) reads the whole stream from the
   start — the hub back after being offline — rows/s.
4. **Baseline, same run**: bare nats-py publishing the same number of same-size messages with
   async acks, then one pull consumer fetching and acknowledging them: the ceiling jango's
   numbers are ratios of.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import nats

from jango.brokers.port import Received
from jango.desk.connect import nats_options
from jango.desk.hub import HubBroker
from jango.domain.model import KST, Code, Tick

LONG = os.environ.get("JANGO_LONG") == "1"
CODES = [Code(c) for c in ("005930", "000660", "035420", "005380", "069500", "247540")]


# --------------------------------------------------------------------- one agent (a subprocess)


async def agent_main(agent: str, url: str, rate: float, seconds: float, prefill: int) -> None:
    from jango.desk.agent import AgentDesk
    from jango.desk.session import agent_session

    settings = {"broker": "sim", "sim.demo": "false", "sim.tick_interval": "1"}
    session, path = agent_session(settings, agent)
    desk = AgentDesk(session, path, agent, nats_options(url, env={}))
    async with session:
        journal = session.recorder
        assert journal is not None
        n = 0

        def record(count: int) -> None:
            nonlocal n
            now = datetime.now(KST)
            for _ in range(count):
                n += 1
                tick = Tick(CODES[n % len(CODES)], 70_000 + n % 100 * 100, 0, n, now)
                journal.record_event(tick, raw="", source="bench", at=now)

        record(prefill)
        task = asyncio.create_task(desk.run())
        loop = asyncio.get_running_loop()
        start = loop.time()
        step = 0.01
        while loop.time() - start < seconds:
            due = int((loop.time() - start) * rate) + prefill - n
            if due > 0:
                record(due)
            await asyncio.sleep(step)
        task.cancel()
    await desk.drain(60)
    await desk.close()


# --------------------------------------------------------------------- the run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nats(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port = free_port()
    log = (folder / "nats.log").open("wb")
    proc = subprocess.Popen(
        [server, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder / "js")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while "Server is ready" not in (folder / "nats.log").read_text():
        if time.monotonic() > deadline:
            raise SystemExit("nats-server did not start")
        time.sleep(0.05)
    return proc, f"nats://127.0.0.1:{port}"


def agents(
    folder: Path, url: str, count: int, rate: float, seconds: float, prefill: int, tag: str
) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "JANGO_DATA_DIR": str(folder / "data"), "XDG_CONFIG_HOME": str(folder)}
    return [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--agent-process",
                f"{tag}{i}",
                "--url",
                url,
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--prefill",
                str(prefill),
            ],
            env=env,
        )
        for i in range(count)
    ]


async def hub_run(
    url: str,
    store: Path,
    durable: str,
    procs: list[subprocess.Popen[bytes]],
    tag: str,
    skip: float = 0.0,
) -> tuple[int, float, list[float]]:
    """A hub (resuming from ``store`` and its durable consumer, or fresh) reading the stream
    until it applied every row in it once the agents ``procs`` have exited; (ticks of agents
    named ``tag…``, seconds from the first to the last, latencies in ms of those recorded
    by the benchmark after the first ``skip`` seconds)."""
    hub = HubBroker(nats_options(url, env={}), store, durable=durable)
    hub.load()
    await hub.connect()
    loop = asyncio.get_running_loop()
    times: list[float] = []
    latencies: list[float] = []

    async def read() -> None:
        async for item in hub.events():
            if (
                isinstance(item, Received)
                and isinstance(item.event, Tick)
                and item.source.startswith(tag)
                and item.source.endswith(":bench")
            ):
                now = loop.time()
                times.append(now)
                if now - times[0] >= skip:
                    latencies.append((datetime.now(KST) - item.at).total_seconds() * 1000)

    reader = asyncio.create_task(read())
    try:
        while any(p.poll() is None for p in procs):
            await asyncio.sleep(0.1)
        nc = await nats.connect(url)
        rows = (await nc.jetstream().stream_info("JANGO")).state.messages
        await nc.close()
        deadline = loop.time() + 600
        while hub._applied_n < rows and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return len(times), (times[-1] - times[0]) if times else 0.0, latencies
    finally:
        reader.cancel()
        await hub.close()


async def baseline(url: str, count: int, size: int) -> tuple[float, float]:
    """Bare nats-py: publish ``count`` messages of ``size`` bytes with async acks, then fetch
    and ack them with one pull consumer; (published/s, consumed/s)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="BASE", subjects=["base.>"])
    payload = b"x" * size
    start = time.perf_counter()
    for i in range(0, count, 1000):
        futures = [
            await js.publish_async(f"base.a.{i % 7}", payload, headers={"Nats-Msg-Id": str(i + j)})
            for j in range(min(1000, count - i))
        ]
        await asyncio.gather(*futures)
    published = count / (time.perf_counter() - start)
    sub = await js.pull_subscribe("base.>", durable="base", stream="BASE")
    got = 0
    start = time.perf_counter()
    while got < count:
        for msg in await sub.fetch(1000, timeout=5):
            await msg.ack()
            got += 1
    consumed = count / (time.perf_counter() - start)
    await nc.close()
    return published, consumed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10_000, help="events/s, all agents together")
    parser.add_argument("--seconds", type=float, default=60 if LONG else 10)
    # Above 10,000 rows at once the journal itself samples ticks (it is "behind"): stay below.
    parser.add_argument("--prefill", type=int, default=8_000, help="rows per agent, full speed")
    parser.add_argument("--agent-process")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.agent_process:
        asyncio.run(agent_main(args.agent_process, args.url, args.rate, args.seconds, args.prefill))
        return
    folder = Path(tempfile.mkdtemp(prefix="jango-desk-bench-"))
    proc, url = start_nats(folder)
    try:
        report(folder, url, args)
    finally:
        proc.terminate()
        proc.wait()
        if os.environ.get("JANGO_BENCH_KEEP") != "1":
            shutil.rmtree(folder, ignore_errors=True)


def report(folder: Path, url: str, args: Any) -> None:
    n, rate, seconds = args.agents, args.rate, args.seconds
    machine = platform.processor() or platform.machine()
    print(
        f"Machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"nats-server on loopback, {n} agent processes, load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    )
    print()
    # 1. steady rate
    procs = agents(folder, url, n, rate / n, seconds, 0, "s")
    got, span, lat = asyncio.run(hub_run(url, folder / "hub1.sqlite", "bench1", procs, "s", 2.0))
    lat.sort()
    print(f"| {n} agents at {rate:,.0f} events/s for {seconds:g} s | value |")
    print("|---|---|")
    print(f"| ticks applied at the hub | {got:,} |")
    print(f"| hub rate | {got / span if span else 0:,.0f} events/s |")
    print(f"| latency agent → hub book, median | {statistics.median(lat):.0f} ms |")
    print(f"| latency p99 | {lat[int(len(lat) * 0.99)]:.0f} ms |")
    print(f"| latency max | {lat[-1]:.0f} ms |")
    # 2. full speed
    prefill = args.prefill
    start = time.perf_counter()
    procs = agents(folder, url, n, 0, 0, prefill, "f")
    # The hub of part 1 again, resuming from its file and durable consumer: only new rows.
    got2, span2, _ = asyncio.run(hub_run(url, folder / "hub1.sqlite", "bench1", procs, "f", 1e9))
    wall = time.perf_counter() - start
    # 3. catch-up over the whole stream
    got3, span3, _ = asyncio.run(hub_run(url, folder / "hub3.sqlite", "bench3", [], "", 1e9))
    total = got3
    # 4. baseline
    size = 330  # about one tick message
    pub, con = asyncio.run(baseline(url, min(total, 100_000), size))
    full = got2 / span2 if span2 else 0
    catch = got3 / span3 if span3 else 0
    print()
    print("| path | events/s | ratio to bare nats-py |")
    print("|---|---|---|")
    print(f"| bare nats-py: publish with async acks ({size} B) | {pub:,.0f} | 1 |")
    print(f"| bare nats-py: pull consume + ack | {con:,.0f} | 1 |")
    print(f"| {n} agents full speed → hub book ({got2:,} ticks; {wall:.1f} s wall with start-up)"
          f" | {full:,.0f} | {full / pub:.2f} of publish |")  # fmt: skip
    print(f"| hub catch-up from the stream ({got3:,} ticks) | {catch:,.0f} | {catch / con:.2f} "
          "of consume |")  # fmt: skip


if __name__ == "__main__":
    main()
