"""Agent mode: a normal journaled session whose journal is also the outbox to NATS JetStream.

The agent reads its own journal file (a second, read-only SQLite connection: the journal's
writer thread is not touched) from the last row JetStream acknowledged, publishes each row on
``jango.<agent>.<account>.<kind>`` with ``Nats-Msg-Id: <agent>:<seq>``, waits for the stream's
acknowledgements of the whole batch and only then advances ``published_seq``, kept in a sidecar
file beside the journal (``<profile>.outbox.sqlite``). After a restart, a NATS outage or a lost
acknowledgement it publishes again from there; JetStream drops the rows it already holds (same
message id) and the hub skips any that slip past its duplicate window (same agent, same seq).

NATS down never stops the session: the status says ``desk: NATS down, N unpublished`` (a
problem of the session's supervisor, so the terminal view and the web page show it) until the
agent is connected and caught up again.

The agent also answers orders routed by the hub (``jango.<agent>.orders``) with its broker's
reply, and sends a heartbeat (``jango.<agent>.status``) every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from jango.brokers.port import BrokerError, OrderAck
from jango.desk import wire
from jango.desk.connect import NatsOptions
from jango.desk.stream import ensure_stream
from jango.domain.model import KST
from jango.engine import Session
from jango.journal.schema import open_readonly

log = logging.getLogger("jango.desk.agent")

_COLUMNS = "seq, kind, at, source, account, code, order_no, body, raw, reflected"


class DeskDown(Exception):
    """The desk link is down or behind; the message is what the status shows."""


def outbox_path(journal: Path) -> Path:
    """The sidecar beside ``<profile>.journal.sqlite``: ``<profile>.outbox.sqlite``."""
    name = journal.name.removesuffix(".journal.sqlite").removesuffix(".sqlite")
    return journal.with_name(f"{name}.outbox.sqlite")


class Outbox:
    """How far each agent id has published this journal: the last seq JetStream acknowledged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (agent TEXT PRIMARY KEY, published_seq INTEGER "
            "NOT NULL, at TEXT NOT NULL)"
        )

    def published(self, agent: str) -> int:
        row = self._db.execute(
            "SELECT published_seq FROM outbox WHERE agent = ?", (agent,)
        ).fetchone()
        return int(row[0]) if row else 0

    def save(self, agent: str, seq: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO outbox (agent, published_seq, at) VALUES (?, ?, ?)",
            (agent, seq, datetime.now(KST).isoformat()),
        )

    def close(self) -> None:
        self._db.close()


class JournalReader:
    """Rows of a journal after a seq, through a read-only connection of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = open_readonly(self.path)
        return self._db

    def last_seq(self) -> int:
        if not self.path.exists():
            return 0
        return int(self._conn().execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def after(self, seq: int, limit: int) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        return (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            )
            .fetchall()
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class AgentDesk:
    """Publishes one session's journal to JetStream and answers the hub's orders.

    ``session`` must be journaled to ``journal``. :meth:`run` runs until cancelled, surviving
    any NATS outage; :meth:`drain` publishes what is left before the process ends.
    """

    def __init__(
        self,
        session: Session,
        journal: Path,
        agent: str,
        options: NatsOptions,
        *,
        batch: int = 1000,
        ack_timeout: float = 5.0,
        poll: float = 0.02,
        heartbeat: float = 1.0,
    ) -> None:
        self.session = session
        self.agent = wire.check_agent(agent)
        self.options = options
        self.batch = batch
        self.ack_timeout = ack_timeout
        self.poll = poll
        self.heartbeat = heartbeat
        self.reader = JournalReader(journal)
        self.outbox = Outbox(outbox_path(journal))
        self.published = self.outbox.published(self.agent)
        self.journal_seq = 0
        self.sent = 0  # rows acknowledged as new by the stream this run
        self.duplicates = 0  # rows the stream already held (a resend)
        self.orders = 0  # order requests answered
        self.error = "not connected yet"  # why the link is down; "" while it works
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._shown = ""
        self._shown_at = 0.0
        self._beat_task: asyncio.Task[None] | None = None
        self._rewind: int | None = None  # the hub asked for the rows after this seq again
        self._one_batch = asyncio.Lock()  # run() and drain() never publish at once

    # ----------------------------------------------------------------- status

    @property
    def unpublished(self) -> int:
        return max(0, self.journal_seq - self.published)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected and not self.error

    def health(self) -> str:
        """``""`` while connected and caught up, else the line the status shows."""
        if not self.connected:
            return f"desk: NATS down, {self.unpublished} unpublished ({self.error})"
        return ""

    def status(self) -> dict[str, Any]:
        """The heartbeat: how far this agent has journaled and published, and its session."""
        st = self.session.status
        return {
            "agent": self.agent,
            "at": datetime.now(KST).isoformat(),
            "journal_seq": self.journal_seq,
            "published_seq": self.published,
            "unpublished": self.unpublished,
            "accounts": list(self.session.accounts),
            "connected": st.connected,
            "detail": st.detail,
            "problems": [p.describe() for p in st.problems if p.task != "desk"],
        }

    def _show(self) -> None:
        """Tell the session's status what is wrong (again when the count moved, at most every
        5 s), or that it works again."""
        line = self.health()
        loop = asyncio.get_running_loop()
        if not line:
            if self._shown:
                self.session.supervisor.clear("desk")
                log.warning("desk: NATS link to %s works again", self.options.shown)
                self._shown = ""
            return
        fresh = line.split(" (")[0] != self._shown.split(" (")[0]
        if not self._shown or (fresh and loop.time() - self._shown_at >= 5):
            self.session.supervisor.report("desk", DeskDown(line), permanent=False)
            self._shown, self._shown_at = line, loop.time()

    # ----------------------------------------------------------------- running

    async def run(self) -> None:
        """Connect (again and again if need be) and publish the journal as it grows."""
        wait = 0.2
        while True:
            try:
                self.journal_seq = await asyncio.to_thread(self.reader.last_seq)
                nc = self._nc
                if nc is None:
                    await self._connect()
                    wait = 0.2
                    continue
                if nc.is_connected:
                    moved = await self._publish_some()
                    self.error = ""
                    self._show()
                    if not moved:
                        await asyncio.sleep(self.poll)
                    continue
                self.error = "reconnecting"
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                self.error = _why(exc)
            except Exception as exc:  # a bug: shown like an outage, never silent
                log.exception("desk publisher failed")
                self.error = f"{type(exc).__name__}: {exc}"
            self._show()
            await asyncio.sleep(wait)
            wait = min(wait * 2, 5.0)

    async def _connect(self) -> None:
        async def on_error(exc: Exception) -> None:
            log.warning("desk: NATS %s: %s", self.options.shown, _why(exc))

        async def on_disconnect() -> None:
            self.error = "disconnected"

        nc = await nats.connect(
            **self.options.connect_kwargs(),
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
        )
        try:
            js = nc.jetstream(timeout=self.ack_timeout)
            try:
                # Created by the hub (or an operator) where agents may not create streams.
                await ensure_stream(nc.jetstream(timeout=1.0))
            except (TimeoutError, nats.errors.Error) as exc:
                log.info("desk: stream %s not checked: %s", wire.STREAM, _why(exc))
            await nc.subscribe(wire.orders_subject(self.agent), cb=self._on_order)
            await nc.subscribe(wire.resend_subject(self.agent), cb=self._on_resend)
        except BaseException:
            with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
                await asyncio.wait_for(nc.close(), 5.0)
            raise
        self._nc, self._js = nc, js
        self._beat_task = asyncio.get_running_loop().create_task(self._beat(nc))
        log.warning("desk: agent %s connected to %s", self.agent, self.options.shown)

    async def _publish_some(self) -> bool:
        """Publish the next batch and wait for every acknowledgement; False if none waited."""
        async with self._one_batch:
            return await self._publish_batch()

    async def _publish_batch(self) -> bool:
        assert self._js is not None
        if self._rewind is not None:
            self.published, self._rewind = min(self.published, self._rewind), None
        rows = await asyncio.to_thread(self.reader.after, self.published, self.batch)
        if not rows:
            return False
        prev = self.published
        futures: list[asyncio.Future[Any]] = []
        last = prev
        for seq, kind, at, source, account, code, order_no, body, raw, reflected in rows:
            event = wire.WireEvent(
                self.agent, seq, prev, kind, at, source, account, code, order_no, body, raw,
                bool(reflected),
            )  # fmt: skip
            futures.append(
                await self._js.publish_async(
                    event.subject, event.encode(), headers={"Nats-Msg-Id": event.id}
                )
            )
            prev = last = seq
        _, waiting = await asyncio.wait(futures, timeout=self.ack_timeout)
        for future in waiting:
            future.cancel()
        if waiting:
            raise TimeoutError(f"{len(waiting)} of {len(futures)} rows not acknowledged in time")
        acks = [future.result() for future in futures]  # raises the stream's first refusal
        duplicates = sum(1 for ack in acks if ack.duplicate)
        self.duplicates += duplicates
        self.sent += len(acks) - duplicates
        await asyncio.to_thread(self.outbox.save, self.agent, last)
        self.published = last
        self.journal_seq = max(self.journal_seq, last)
        return True

    async def drain(self, timeout: float) -> bool:
        """Publish until every journaled row is acknowledged, or ``timeout``; True if none is
        left (said on stderr otherwise: they go out at the next start). Connects if need be."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self.journal_seq = await asyncio.to_thread(self.reader.last_seq)
            if not self.unpublished:
                return True
            try:
                if self._nc is None:
                    await asyncio.wait_for(self._connect(), max(0.1, deadline - loop.time()))
                if self._nc is not None and self._nc.is_connected:
                    await self._publish_some()
                    continue
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                self.error = _why(exc)
            await asyncio.sleep(0.1)
        log.error(
            "desk: %d journal rows not acknowledged by NATS; they are sent at the next start",
            self.unpublished,
        )
        return not self.unpublished

    def forget_link(self) -> None:
        """Drop a connection whose event loop has ended (after the terminal view's loop): the
        next :meth:`drain` connects afresh."""
        self._nc = self._js = None
        self._beat_task = None

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if self._beat_task is not None:
            self._beat_task.cancel()
        if nc is not None:
            # Bounded: a server gone mid-drain must not hold the agent's exit up.
            with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
                await asyncio.wait_for(nc.drain(), 10.0)
        self.reader.close()
        self.outbox.close()

    # ----------------------------------------------------------------- heartbeat, orders

    async def _beat(self, nc: Client) -> None:
        subject = wire.status_subject(self.agent)
        while self._nc is nc:
            if nc.is_connected:
                with contextlib.suppress(nats.errors.Error):
                    await nc.publish(subject, wire.encode(self.status()))
            await asyncio.sleep(self.heartbeat)

    async def _on_resend(self, msg: Msg) -> None:
        """The hub misses rows after ``after`` (a NATS server lost what it had acknowledged):
        publish again from there; the outbox moves back only as the new acks come."""
        try:
            after = int(json.loads(msg.data)["after"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("desk: unreadable resend request: %s", exc)
            return
        if 0 <= after < self.published:
            log.warning(
                "desk: the hub misses rows after seq %d (published up to %d); sending again",
                after,
                self.published,
            )
            self._rewind = after if self._rewind is None else min(self._rewind, after)

    async def _on_order(self, msg: Msg) -> None:
        """Do what the hub asks with this agent's broker and answer with the broker's reply."""
        self.orders += 1
        try:
            reply = wire.ack_reply(await self._order(json.loads(msg.data)))
        except BrokerError as exc:
            reply = wire.error_reply(exc)
        except (KeyError, TypeError, ValueError) as exc:
            reply = wire.error_reply(BrokerError(f"bad order request: {exc}"))
        except Exception as exc:
            log.exception("desk: order request failed")
            reply = wire.error_reply(BrokerError(f"{type(exc).__name__}: {exc}"))
        with contextlib.suppress(nats.errors.Error):
            await msg.respond(wire.encode(reply))

    def _order(self, req: dict[str, Any]) -> Awaitable[OrderAck]:
        s = self.session
        op = req.get("op")
        ops: dict[str, Callable[[], Awaitable[OrderAck]]] = {
            "place": lambda: s.place(wire.parse_order_request(req)),
            "amend": lambda: s.amend(
                str(req["account"]),
                str(req["order_no"]),
                price=int(req["price"]),
                qty=_opt_int(req.get("qty")),
            ),
            "cancel": lambda: s.cancel(
                str(req["account"]), str(req["order_no"]), qty=_opt_int(req.get("qty"))
            ),
        }
        if op not in ops:
            raise ValueError(f"unknown op {op!r}")
        return ops[str(op)]()


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("qty must be an integer")
    return value


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return str(exc) or "no answer in time"
    if isinstance(exc, nats.js.errors.NoStreamResponseError):
        return f"stream {wire.STREAM} does not answer (not created yet?)"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
