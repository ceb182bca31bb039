"""The nats-server configuration documented in docs/desk.md, run as written: agents publish only
their own subjects, the hub reads them, and a secrets file must be 0600."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import pytest

from jango.brokers.port import NoSuchOrder
from jango.desk import wire
from jango.desk.cli import HUB_INBOX, agent_inbox
from jango.desk.connect import DeskConfigError, nats_options, read_secret_file
from jango.desk.session import hub_session
from jango.sandbox.venue import DEMO_ACCOUNT
from tests.desk.harness import Desk, NatsServer, eventually, needs_nats

DOC = Path(__file__).parents[2] / "docs" / "desk.md"


def documented_config(port: int, store: Path) -> str:
    text = DOC.read_text()
    block = re.search(r"<!-- test: nats-server.conf -->\n```conf\n(.*?)```", text, re.S)
    assert block is not None, "docs/desk.md lost its server configuration block"
    conf = block.group(1).replace("127.0.0.1:4222", f"127.0.0.1:{port}")
    return conf.replace('"/var/lib/nats"', f'"{store}"')


def secret_file(path: Path, user: str) -> Path:
    path.write_text(f"user = {user}\npassword = {user}-secret-change-me\n")
    path.chmod(0o600)
    return path


@needs_nats
async def test_an_agent_may_publish_only_its_own_subjects(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    server.config = documented_config(server.port, tmp_path / "store")
    server.start()
    desk = Desk(tmp_path, server)
    try:
        hub_env = {"NATS_USER": "hub", "NATS_PASSWORD": "hub-secret-change-me"}
        options = nats_options(server.url, inbox=HUB_INBOX, env=hub_env)
        session, hub = hub_session({}, options, tmp_path / "hub.sqlite", ack_wait=1.5)
        async with session:
            # The hub creates the stream; a real agent then publishes under its own user.
            await eventually(lambda: hub._psub is not None, 15, "the hub's consumer")
            desk.agent("a1", "--seed", "1", "--nats-file", str(secret_file(tmp_path / "a1", "a1")))
            account = wire.qualify("a1", DEMO_ACCOUNT)
            await session.wait_for(lambda b: account in b.accounts, timeout=30)
            # Orders reach the agent and its answer comes back through the permissions.
            with pytest.raises(NoSuchOrder, match="agent a1"):
                await session.cancel(account, wire.qualify("a1", "9999999"))

            violations: list[str] = []

            async def on_error(exc: Exception) -> None:
                violations.append(str(exc))

            a1 = await nats.connect(
                server.url,
                user="a1",
                password="a1-secret-change-me",
                inbox_prefix=agent_inbox("a1"),
                error_cb=on_error,
            )
            try:
                js = a1.jetstream(timeout=1.0)
                own = await js.publish("jango.a1.-.error", b"{}", headers={"Nats-Msg-Id": "x1"})
                assert own.stream == wire.STREAM
                with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
                    await js.publish("jango.a2.-.notice", b"{}", headers={"Nats-Msg-Id": "x2"})
                with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
                    await js.stream_info(wire.STREAM)  # allowed: the agents' stream check
                    await js.delete_stream(wire.STREAM)
                await a1.subscribe("jango.a2.orders")  # refused by the server, said async
                await a1.flush()
                await asyncio.sleep(0.5)
            finally:
                await a1.close()
            said = [v.lower() for v in violations]
            assert 'permissions violation for publish to "jango.a2.-.notice"' in said[0], said
            assert any('subscription to "jango.a2.orders"' in v for v in said), said
            assert hub.bad_messages == 1  # the own-subject "{}" reached the hub and was refused
            # The stream holds a1's subjects and nothing of a2's (read as the hub, by nats-py).
            info = await hub._js.stream_info(wire.STREAM, subjects_filter="jango.>")  # type: ignore[union-attr]
            subjects = set(info.state.subjects or {})
            assert any(s.startswith("jango.a1.") for s in subjects), subjects
            assert not any(s.startswith("jango.a2.") for s in subjects), subjects
        desk.stop("a1")
    finally:
        desk.close()
        server.stop()


def test_a_secrets_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = secret_file(tmp_path / "nats", "a1")
    assert read_secret_file(path) == {"user": "a1", "password": "a1-secret-change-me"}
    path.chmod(0o644)
    with pytest.raises(DeskConfigError, match="readable by others"):
        read_secret_file(path)
    with pytest.raises(DeskConfigError, match="must not carry a password"):
        nats_options("nats://a1:pw@127.0.0.1:4222", env={})
