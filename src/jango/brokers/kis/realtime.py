"""The KIS WebSocket session: registrations, AES keys, PINGPONG, reconnect and resubscribe.

The reader and its reconnect loop run as one supervised task (``kis realtime``): if it dies (a
bug, or an error no reconnect covers, such as the approval service failing while registrations
are replayed), the death is logged and shown by the supervisor, the dead session's socket is
closed (KIS allows one session per app key, so a leftover one would refuse the next), the
stream is told it is disconnected, and the restarted task opens a new session and replays every
registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from jango.brokers.kis.config import KisConfig, KisTuning
from jango.brokers.kis.wire import (
    NOTICE_TRS,
    TICK_TR,
    Control,
    WireError,
    decrypt,
    parse_frame,
    parse_notices,
    parse_ticks,
)
from jango.brokers.port import (
    BrokerError,
    ConnectionStatus,
    Disconnected,
    PushItem,
    Received,
    StartupError,
    Undecodable,
)
from jango.domain.model import KST, OrderNotice, Tick
from jango.supervisor import Supervised, Supervisor

log = logging.getLogger(__name__)

MAX_REGISTRATIONS = 41  # per session; the 42nd is refused with OPSP0008
TASK_NAME = "kis realtime"
APPROVAL_INVALID = "OPSP0011"
SOURCE = "kis"

ApprovalSource = Callable[[bool], Awaitable[str]]
Sink = Callable[[PushItem], None]


def _now() -> datetime:
    return datetime.now(KST)


class KisRealtime:
    """One WebSocket session per app key, kept alive across drops.

    Every registration (tr_id, tr_key) is remembered so a new session can replay them all;
    AES keys are per session, so they are forgotten on every drop and re-learned from the
    subscribe acks. Decoded pushes, undecodable frames and connection changes go to ``sink``.
    """

    def __init__(
        self, config: KisConfig, tuning: KisTuning, approval: ApprovalSource, sink: Sink
    ) -> None:
        self._config = config
        self._tuning = tuning
        self._approval = approval
        self._sink = sink
        self._registrations: dict[tuple[str, str], None] = {}  # insertion-ordered set
        self._keys: dict[str, tuple[str, str]] = {}
        self._ws: ClientConnection | None = None
        self._waiter: asyncio.Future[Control] | None = None
        self._request_lock = asyncio.Lock()
        self._supervisor: Supervisor | None = None
        self._runner: Supervised | None = None
        self._first: ClientConnection | None = None  # the session start() opened, for run one
        self._socket: ClientConnection | None = None  # the open socket, replayed or not yet
        self._closing = False

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Run the reader under ``supervisor`` (the session's), so its death shows there."""
        self._supervisor = supervisor

    @property
    def registrations(self) -> list[tuple[str, str]]:
        """Current registrations in the order they were made."""
        return list(self._registrations)

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def start(self) -> None:
        """Open the first session; raise :class:`StartupError` if it cannot be opened."""
        try:
            ws = await self._open()
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise StartupError(f"KIS WebSocket unreachable: {type(exc).__name__}: {exc}") from exc
        self._ws = ws
        self._first = ws
        if self._supervisor is None:
            # Used on its own (``jango order``), the reader is still restarted and reported.
            self._supervisor = Supervisor()
        self._runner = self._supervisor.spawn(TASK_NAME, self._supervised)
        self._sink(ConnectionStatus(True, "KIS WebSocket session open", _now()))

    async def subscribe(self, tr_id: str, tr_key: str) -> None:
        """Register (tr_id, tr_key); raise BrokerError when the session is full or refuses."""
        key = (tr_id, tr_key)
        if key in self._registrations:
            return
        if len(self._registrations) >= MAX_REGISTRATIONS:
            raise BrokerError(
                f"KIS allows {MAX_REGISTRATIONS} registrations per session; all are in use",
                code="OPSP0008",
            )
        self._registrations[key] = None
        async with self._request_lock:
            ws = self._ws
            if ws is None:
                return  # disconnected: the next session replays it
            try:
                reply = await self._register(ws, "1", tr_id, tr_key)
            except BaseException:
                self._registrations.pop(key, None)
                raise
        if not reply.ok:
            self._registrations.pop(key, None)
            raise BrokerError(f"KIS refused {tr_id} {tr_key}: {reply.msg1}", code=reply.msg_cd)

    async def unsubscribe(self, tr_id: str, tr_key: str) -> None:
        """Release (tr_id, tr_key); unknown registrations are ignored."""
        if self._registrations.pop((tr_id, tr_key), "absent") == "absent":
            return
        async with self._request_lock:
            ws = self._ws
            if ws is None:
                return
            # OPSP0003 (not found) just means the server already forgot it.
            await self._register(ws, "2", tr_id, tr_key)

    async def close(self) -> None:
        """Release every registration and close the session. Safe to call twice."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            for tr_id, tr_key in list(self._registrations):
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(await self._message("2", tr_id, tr_key))
            await ws.close()
        self._registrations.clear()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.stop()
        # A session still being replayed when the reader was stopped is closed here.
        socket, self._socket = self._socket, None
        if socket is not None and socket is not ws:
            await socket.close()

    async def _open(self) -> ClientConnection:
        return await connect(
            self._config.ws_url,
            open_timeout=self._tuning.request_timeout,
            # KIS keeps sessions alive with PINGPONG text frames; the idle timeout covers stalls.
            ping_interval=None,
        )

    async def _message(self, tr_type: str, tr_id: str, tr_key: str, renew: bool = False) -> str:
        approval = await self._approval(renew)
        return json.dumps(
            {
                "header": {
                    "approval_key": approval,
                    "custtype": "P",
                    "tr_type": tr_type,
                    "content-type": "utf-8",
                },
                "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
            }
        )

    async def _register(
        self, ws: ClientConnection, tr_type: str, tr_id: str, tr_key: str
    ) -> Control:
        """Send one (un)subscribe and wait for its ack; renew the approval key once if refused."""
        reply = await self._exchange(ws, await self._message(tr_type, tr_id, tr_key))
        if reply.msg_cd == APPROVAL_INVALID:
            reply = await self._exchange(ws, await self._message(tr_type, tr_id, tr_key, True))
        return reply

    async def _exchange(self, ws: ClientConnection, text: str) -> Control:
        # Callers hold the request lock, so at most one ack is awaited at a time.
        waiter: asyncio.Future[Control] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await ws.send(text)
            return await asyncio.wait_for(waiter, self._tuning.ack_timeout)
        except (ConnectionClosed, TimeoutError) as exc:
            raise Disconnected(f"KIS WebSocket: no subscribe ack ({type(exc).__name__})") from exc
        finally:
            self._waiter = None

    async def _supervised(self) -> None:
        """One run of the reader: the first continues start()'s session, a restart opens and
        replays a new one. A death leaves no socket open and the stream told it is down."""
        ws, self._first = self._first, None
        try:
            await self._run(ws, replay=ws is None)
        except Exception as exc:
            was_connected = self._ws is not None
            self._ws = None
            self._keys.clear()
            socket, self._socket = self._socket, None
            if socket is not None:
                with contextlib.suppress(Exception):
                    await socket.close()
            if was_connected:
                reason = f"KIS WebSocket reader failed ({type(exc).__name__}: {exc})"
                self._sink(ConnectionStatus(False, reason, _now()))
            raise

    async def _run(self, ws: ClientConnection | None, *, replay: bool) -> None:
        delay = self._tuning.reconnect_initial
        reconnect = replay
        while not self._closing:
            if ws is None:
                try:
                    ws = await self._open()
                except (OSError, WebSocketException, TimeoutError) as exc:
                    log.info("KIS WebSocket reconnect failed: %s", type(exc).__name__)
                    await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter spreads clients
                    delay = min(delay * 2, self._tuning.reconnect_max)
                    continue
            self._socket = ws
            reader = asyncio.create_task(self._read(ws))
            try:
                if reconnect:
                    detail = await self._replay(ws)
                    if detail is not None:
                        delay = self._tuning.reconnect_initial
                        self._sink(ConnectionStatus(True, detail, _now(), reconnected=True))
                reason = await reader
            finally:
                reader.cancel()
            self._ws = None
            self._socket = None
            self._keys.clear()
            if self._closing:
                return
            log.warning("KIS WebSocket dropped: %s", reason)
            self._sink(ConnectionStatus(False, reason, _now()))
            ws = None
            reconnect = True
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._tuning.reconnect_max)

    async def _replay(self, ws: ClientConnection) -> str | None:
        """Re-register everything on a new session; None if the session died meanwhile."""
        async with self._request_lock:
            lost = []
            try:
                for tr_id, tr_key in list(self._registrations):
                    reply = await self._register(ws, "1", tr_id, tr_key)
                    if not reply.ok:
                        self._registrations.pop((tr_id, tr_key), None)
                        lost.append(f"{tr_id}/{reply.msg_cd}")
            except Disconnected:
                return None
            self._ws = ws
        detail = f"KIS WebSocket reconnected; {len(self._registrations)} registrations restored"
        return detail + (f"; refused: {', '.join(lost)}" if lost else "")

    async def _read(self, ws: ClientConnection) -> str:
        """Handle frames until the session ends; return why it ended."""
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), self._tuning.idle_timeout)
            except TimeoutError:
                await ws.close()
                return f"no frame for {self._tuning.idle_timeout:g} s"
            except ConnectionClosed as exc:
                return f"connection closed ({exc})"
            if isinstance(message, str):
                text = message
            else:
                try:
                    text = message.decode("utf-8")
                except UnicodeDecodeError as exc:
                    # KIS sends text frames; a binary one that is not UTF-8 is kept, escaped.
                    raw = message.decode("utf-8", "backslashreplace")
                    self._sink(
                        Undecodable(raw, f"binary frame is not UTF-8: {exc}", SOURCE, _now())
                    )
                    continue
            await self._handle(ws, text)

    async def _handle(self, ws: ClientConnection, text: str) -> None:
        try:
            frame = parse_frame(text)
            if isinstance(frame, Control):
                if frame.is_ping:
                    # Echo the keep-alive back as text, as the KIS clients in the field do.
                    with contextlib.suppress(ConnectionClosed):
                        await ws.send(text)
                    return
                if frame.key and frame.iv:
                    self._keys[frame.tr_id] = (frame.key, frame.iv)
                if self._waiter is not None and not self._waiter.done():
                    self._waiter.set_result(frame)
                return
            events: list[Tick] | list[OrderNotice]
            payload = frame.payload
            if frame.encrypted:
                key, iv = self._keys.get(frame.tr_id, ("", ""))
                payload = decrypt(payload, key, iv)
            today = _now().date()
            if frame.tr_id == TICK_TR:
                events = parse_ticks(payload, frame.count, today=today)
            elif frame.tr_id in NOTICE_TRS:
                events = parse_notices(payload, frame.count, today=today)
            else:
                raise WireError(f"data frame for unexpected tr_id {frame.tr_id!r}")
        except WireError as exc:
            self._sink(Undecodable(text, str(exc), SOURCE, _now()))
            return
        except Exception as exc:
            # Not a declared decoding error: a bug in the parser. Keep the frame, say so loudly
            # and read on; ending the reader would stop the stream for good.
            log.exception("KIS frame decoder failed unexpectedly; frame kept as undecodable")
            self._sink(
                Undecodable(text, f"decoder error {type(exc).__name__}: {exc}", SOURCE, _now())
            )
            return
        at = _now()
        for event in events:
            try:
                self._sink(Received(event, text, SOURCE, at))
            except Exception:
                # A failing consumer must not end the reader either; the event is logged.
                log.exception("KIS push consumer failed on %r", event)
