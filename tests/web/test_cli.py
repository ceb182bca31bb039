"""``jango serve``: the command the web page is started with."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys

import httpx

from jango.cli.serve import add_commands, cmd_serve

TIMEOUT = 15.0

# The command as ``jango`` will register it, run in a process of its own.
SERVE = """
import argparse, sys
from jango.cli.serve import add_commands
parser = argparse.ArgumentParser(prog="jango")
add_commands(parser.add_subparsers(dest="command", required=True))
parser.add_argument("--config")
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_serve_is_registered_with_loopback_defaults() -> None:
    parser = argparse.ArgumentParser(prog="jango")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve"])
    assert args.func is cmd_serve
    assert (args.host, args.port, args.token) == ("127.0.0.1", 8000, None)
    args = parser.parse_args(["serve", "--broker", "sim", "--port", "0", "--lang", "en"])
    assert (args.broker, args.port, args.lang) == ("sim", 0, "en")


def test_jango_serve_runs_the_sim_book_on_loopback_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "JANGO_CONFIG": os.devnull}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", "0", "--no-demo", "--seed", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/$", line.strip())
        assert found, line
        book = httpx.get(f"http://127.0.0.1:{found.group(1)}/api/book", timeout=TIMEOUT)
        assert book.status_code == 200
        assert book.json()["accounts"][0]["rows"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
