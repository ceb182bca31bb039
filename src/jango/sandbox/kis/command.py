"""``jango sandbox kis`` and ``python -m jango.sandbox.kis``: serve the KIS protocol until
interrupted, printing the demo credentials (one set per ``--users``) the adapter needs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from jango.sandbox.kis.auth import demo_user
from jango.sandbox.kis.server import KisSandbox
from jango.sandbox.venue import Venue

MAX_USERS = 20


def main(
    argv: list[str] | None = None,
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> int:
    """``jango sandbox kis``: serve the KIS protocol over a seeded venue until interrupted."""
    from jango.config import PORT, SEED, argument

    parser = parser_class(prog="jango sandbox kis", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    port = argument(PORT, int)
    parser.add_argument("--port", type=port, default=0, help="REST port (0: any free port)")
    parser.add_argument("--ws-port", type=port, default=0, help="WebSocket port (0: any)")
    parser.add_argument("--seed", type=argument(SEED, int), default=0)
    parser.add_argument("--mode", choices=("real", "paper"), default="real")
    parser.add_argument("--tick-interval", type=float, default=0.5)
    parser.add_argument(
        "--users",
        type=int,
        choices=range(1, MAX_USERS + 1),
        default=1,
        metavar=f"1..{MAX_USERS}",
        help="demo customers, each with its own app key and account",
    )
    args = parser.parse_args(argv)

    async def run() -> None:
        sandbox = KisSandbox(
            Venue(seed=args.seed),
            host=args.host,
            port=args.port,
            ws_port=args.ws_port,
            mode=args.mode,
            tick_interval=args.tick_interval,
            users=tuple(demo_user(index) for index in range(args.users)),
        )
        await sandbox.start()
        print(f"KIS sandbox ({args.mode}) on {sandbox.rest_url} and {sandbox.ws_url}")
        for index, user in enumerate(sandbox.users):
            if args.users > 1:
                print(f"# user {index + 1}")
            print("Demo credentials (sandbox only) for the KIS adapter:")
            print(f"JANGO_KIS_APP_KEY={user.app_key}")
            print(f"JANGO_KIS_APP_SECRET={user.app_secret}")
            print(f"JANGO_KIS_ACCOUNT={user.accounts[0]}")
            print(f"JANGO_KIS_HTS_ID={user.hts_id}")
        print(f"JANGO_KIS_MODE={args.mode}")
        print(f"JANGO_KIS_REST_URL={sandbox.rest_url}")
        print(f"JANGO_KIS_WS_URL={sandbox.ws_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
