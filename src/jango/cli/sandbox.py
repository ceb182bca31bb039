"""``jango sandbox kis|cybos``: a protocol-faithful broker sandbox on loopback."""

from __future__ import annotations

import argparse

from jango.cli.common import Parser


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.which == "kis":
        from jango.sandbox.kis.command import main as kis_main

        return kis_main(args.rest, parser_class=Parser)
    from jango.sandbox.cybos_run import main as cybos_main

    return cybos_main(args.rest, parser_class=Parser)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sandbox``."""
    p = sub.add_parser("sandbox", help="run a protocol-faithful broker sandbox")
    p.add_argument("which", choices=("kis", "cybos"))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that sandbox")
    p.set_defaults(func=cmd_sandbox)
