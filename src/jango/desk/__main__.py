"""``python -m jango.desk agent|hub …``: the desk commands on their own (see :mod:`.cli`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from jango.desk.cli import add_parsers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jango.desk")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        result: int = args.func(args)
        return result
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"jango: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
