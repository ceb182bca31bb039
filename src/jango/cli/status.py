"""``jango status``: which sessions run, on which brokers, since when, and their health."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jango.config import data_dir
from jango.service import SUFFIX, ServiceError, remove_if_stale


def running() -> tuple[list[dict[str, Any]], list[str]]:
    """Each running session's status, and the notes (stale sockets removed, sockets refused)."""
    from jango.client import Client

    folder = data_dir()
    found: list[dict[str, Any]] = []
    notes: list[str] = []
    if not folder.is_dir():
        return found, notes
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            note = remove_if_stale(path)
            if note:
                notes.append(note)
                continue
            with Client(path) as client:
                found.append(client.status())
        except ServiceError as exc:
            notes.append(str(exc))
    return found, notes


def _since(text: str) -> str:
    return text[:19].replace("T", " ")


def cmd_status(args: argparse.Namespace) -> int:
    sessions, notes = running()
    for note in notes:
        print(f"jango: {note}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(json.dumps(sessions, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not sessions:
        print(f"no session is running (data dir {data_dir()})")
        return 0
    for s in sessions:
        health = "ok" if s["connected"] else s["detail"]
        if s["degraded"]:
            health = "degraded: " + "; ".join(p["text"] for p in s["problems"])
        print(
            f"{s['name']}: jango {s['command']} (pid {s['pid']}) since {_since(s['started'])}, "
            f"{s['accounts']} account(s), {health}"
        )
        for b in s["brokers"]:
            state = "up" if b["connected"] else "DOWN"
            print(
                f"  {b['name']:<12} {b['broker']:<6} {state:<4} since {_since(b['since'])}  "
                f"{b['detail']}"
            )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``status``."""
    p = sub.add_parser("status", help="the running sessions: brokers, since when, health")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_status)
