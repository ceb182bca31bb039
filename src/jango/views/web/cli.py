"""``jango serve``: the live web page.

Registered on the ``jango`` command's subparsers by :func:`add_commands`. The session is built
the way every other command builds it (``jango.cli._session``); both are imported only when the
command runs, so ``jango --help`` stays fast and the web stack loads only for ``serve``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

TOKEN_ENV = "JANGO_WEB_TOKEN"


def add_commands(subparsers: Any) -> None:
    """Add ``serve`` to the ``jango`` command's subparsers."""
    from jango.brokers.registry import BROKERS
    from jango.config import PORT, SEED, argument

    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="the live balance as a web page (127.0.0.1 by default)"
    )
    p.add_argument("--broker", choices=BROKERS, help="adapter (default: sim)")
    p.add_argument("--seed", type=argument(SEED, int), help="seed of the simulated market")
    p.add_argument("--lang", choices=("ko", "en"), help="page labels (default: ko)")
    p.add_argument("--pnl", choices=("gross", "net"), help="P&L style: KIS gross or Kiwoom net")
    p.add_argument("--no-demo", action="store_true", help="sim: no demo trader")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=argument(PORT, int), default=8000, help="port (default: 8000; 0 picks one)"
    )
    p.add_argument(
        "--token",
        help=f"access token (default: ${TOKEN_ENV}; generated when binding beyond loopback)",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from jango.cli import _session, _settings, check_port_free
    from jango.views.web.app import serve

    check_port_free(args.host, args.port)
    settings = _settings(args)
    # A token on the command line shows in the process list; the environment does not.
    token = args.token or os.environ.get(TOKEN_ENV) or settings.get("web.token") or None
    return serve(
        _session(settings),
        host=args.host,
        port=args.port,
        token=token,
        lang=settings.get("lang", "ko"),
    )
