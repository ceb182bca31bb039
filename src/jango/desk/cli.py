"""``jango agent`` and ``jango hub``: a desk across machines over NATS JetStream.

Register both with :func:`add_parsers` on the ``jango`` command's subparsers; each command is
``func(args) -> int``. ``python -m jango.desk`` runs them on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from jango import config
from jango.brokers.registry import BROKERS
from jango.config import PROFILE, SECONDS, argument, load_settings, prepare_data_dir
from jango.desk import wire
from jango.desk.connect import DeskConfigError, NatsOptions, nats_options
from jango.desk.wire import DURABLE

URL_ENV = "JANGO_NATS_URL"
HUB_INBOX = "_INBOX.hub"


def agent_inbox(agent: str) -> str:
    """Where an agent's replies arrive: an inbox prefix of its own (see docs/desk.md)."""
    return f"_INBOX.agent.{agent}"


def add_parsers(subparsers: Any) -> None:
    """Add ``agent`` and ``hub`` to the ``jango`` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="run a session and publish its journal to NATS JetStream (a desk agent)"
    )
    _nats_arguments(p)
    p.add_argument("--agent", type=_agent_id, help="agent id (default: the profile)")
    p.add_argument(
        "--profile", type=argument(PROFILE, str), help="journal profile (default: the agent id)"
    )
    p.add_argument("--broker", choices=BROKERS, help="adapter (default: sim)")
    p.add_argument("--seed", type=int, help="seed of the simulated market")
    p.add_argument("--no-demo", action="store_true", help="sim: no demo trader")
    p.add_argument("--pnl", choices=("gross", "net"))
    p.add_argument("--lang", choices=("ko", "en"))
    p.add_argument(
        "--format",
        choices=("live", "json"),
        default="live",
        help="live terminal view, or run headless and print the desk status as JSON",
    )
    p.add_argument("--seconds", type=argument(SECONDS, float), help="stop after this many seconds")
    p.add_argument(
        "--drain",
        type=argument(SECONDS, float),
        default=10.0,
        help="on stop, seconds to wait for NATS to acknowledge what is left",
    )
    p.set_defaults(func=cmd_agent)

    p = subparsers.add_parser("hub", help="one consolidated book of every desk agent")
    _nats_arguments(p)
    p.add_argument(
        "--profile",
        type=argument(PROFILE, str),
        default="hub",
        help="the hub's state file <profile>.hub.sqlite (default: hub)",
    )
    p.add_argument("--state", type=Path, help="the hub's state file (default: from --profile)")
    p.add_argument("--durable", default=DURABLE, help=f"JetStream consumer (default: {DURABLE})")
    p.add_argument("--pnl", choices=("gross", "net"))
    p.add_argument("--lang", choices=("ko", "en"))
    p.add_argument(
        "--format",
        choices=("live", "json", "web"),
        default="live",
        help="terminal view, headless JSON report at the end, or the web page",
    )
    p.add_argument("--port", type=int, default=8000, help="web page port (with --format web)")
    p.add_argument("--seconds", type=argument(SECONDS, float), help="stop after this many seconds")
    p.add_argument(
        "--ack-wait",
        type=argument(SECONDS, float),
        default=10.0,
        help="seconds before JetStream hands an unacknowledged row out again (a killed hub's)",
    )
    p.add_argument(
        "--gap-timeout",
        type=argument(SECONDS, float),
        default=30.0,
        help="seconds (at least twice --ack-wait) to wait for a missing row of an agent that is "
        "up before applying past it",
    )
    p.set_defaults(func=cmd_hub)


def _nats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nats", help=f"NATS server URL (default: ${URL_ENV})")
    p.add_argument(
        "--nats-file",
        type=Path,
        help="0600 key = value file with NATS credentials (default: $JANGO_NATS_FILE)",
    )


def _agent_id(text: str) -> str:
    try:
        return wire.check_agent(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _options(args: argparse.Namespace, name: str, inbox: str) -> NatsOptions:
    url = args.nats or os.environ.get(URL_ENV)
    if not url:
        raise DeskConfigError(f"no NATS server: give --nats URL or set ${URL_ENV}")
    return nats_options(url, file=args.nats_file, name=name, inbox=inbox)


def _settings(args: argparse.Namespace) -> dict[str, str]:
    settings = load_settings(getattr(args, "config", None))
    for name in ("broker", "seed", "lang", "pnl"):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = str(value)
    settings.setdefault("broker", "sim")
    if getattr(args, "no_demo", False):
        settings["sim.demo"] = "false"
    return settings


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def _until(stop: asyncio.Event, seconds: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _print(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------- agent


def _need_nats() -> None:
    # nats-py is the desk extra: without it the rest of jango works and these say what to do.
    if importlib.util.find_spec("nats") is None:
        raise DeskConfigError("jango agent and hub need the NATS client: pip install 'jango[desk]'")


def cmd_agent(args: argparse.Namespace) -> int:
    """Run the agent: a journaled session, published to JetStream as it journals."""
    _need_nats()
    from jango.desk.agent import AgentDesk
    from jango.desk.session import agent_session

    settings = _settings(args)
    profile = args.profile or args.agent or settings.get("profile")
    if not profile:
        raise DeskConfigError("an agent needs --agent ID or --profile NAME (its journal)")
    agent = args.agent or wire.check_agent(config.check("profile", profile))
    options = _options(args, f"jango-agent-{agent}", agent_inbox(agent))
    session, journal = agent_session(settings, profile)
    desk = AgentDesk(session, journal, agent, options)
    session.run_alongside("desk", desk.run)
    if args.format == "live":
        from jango.views.terminal import run_terminal

        code = run_terminal(session, lang=settings.get("lang", "ko"), seconds=args.seconds)
        desk.forget_link()  # it lived on the terminal view's loop, which has ended
        left = asyncio.run(_finish_agent(desk, args.drain))
        return code or left
    return asyncio.run(_agent_headless(session, desk, args.seconds, args.drain))


async def _agent_headless(session: Any, desk: Any, seconds: float | None, drain: float) -> int:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with session:
        await _until(stop, seconds)
    left = await _finish_agent(desk, drain)
    _print(
        {
            "agent": desk.status(),
            "sent": desk.sent,
            "duplicates": desk.duplicates,
            "orders": desk.orders,
        }
    )
    return 1 if session.failures or left else 0


async def _finish_agent(desk: Any, drain: float) -> int:
    """Publish what is left (the journal is closed now), then close the link."""
    try:
        done = await desk.drain(drain)
    finally:
        await desk.close()
    return 0 if done else 1


# --------------------------------------------------------------------- hub


def cmd_hub(args: argparse.Namespace) -> int:
    """Run the hub: the desk's consolidated book, in the terminal view, as JSON or on the web."""
    _need_nats()
    from jango.desk.session import hub_session

    settings = _settings(args)
    options = _options(args, "jango-hub", HUB_INBOX)
    store = args.state or (
        prepare_data_dir() / f"{config.check('profile', args.profile)}.hub.sqlite"
    )
    session, broker = hub_session(
        settings,
        options,
        store,
        durable=args.durable,
        gap_timeout=args.gap_timeout,
        ack_wait=args.ack_wait,
    )
    lang = settings.get("lang", "ko")
    if args.format == "live":
        from jango.views.terminal import run_terminal

        return run_terminal(session, lang=lang, seconds=args.seconds)
    if args.format == "web":
        from jango.views.web.app import serve

        return serve(session, port=args.port, token=os.environ.get("JANGO_WEB_TOKEN"), lang=lang)
    return asyncio.run(_hub_headless(session, broker, args.seconds))


def hub_report(session: Any, broker: Any) -> dict[str, Any]:
    """The hub's JSON report: the desk's status and totals, and the whole book."""
    from jango.desk.hub import desk_totals
    from jango.views.report import book_report

    return {
        "desk": broker.status(),
        "totals": desk_totals(session.book),
        "book": book_report(session.book, status=session.status),
    }


async def _hub_headless(session: Any, broker: Any, seconds: float | None) -> int:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with session:
        await _until(stop, seconds)
    _print(hub_report(session, broker))
    return 1 if session.failures else 0
