"""``jango serve``: the live web page.

The web stack is imported only when the command runs, so ``jango --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os

from jango.cli.common import (
    PORT,
    check_port_free,
    host_service,
    session_arguments,
    session_of,
    settings_of,
)

TOKEN_ENV = "JANGO_WEB_TOKEN"


def cmd_serve(args: argparse.Namespace) -> int:
    from jango.views.web.app import serve

    check_port_free(args.host, args.port)
    settings = settings_of(args)
    # A token on the command line shows in the process list; the environment does not.
    token = args.token or os.environ.get(TOKEN_ENV) or settings.get("web.token") or None
    session = session_of(settings)
    release = host_service(session, settings, "serve")
    try:
        return serve(
            session,
            host=args.host,
            port=args.port,
            token=token,
            lang=settings.get("lang", "ko"),
        )
    finally:
        release()  # a weak token or a busy port ends it before the session ever starts


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    p = sub.add_parser("serve", help="the live balance as a web page (127.0.0.1 by default)")
    session_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=PORT, default=8000, help="port (default: 8000; 0 picks one)")
    p.add_argument(
        "--token",
        help=f"access token (default: ${TOKEN_ENV}; generated when binding beyond loopback)",
    )
    p.set_defaults(func=cmd_serve)
