"""The KIS sandbox's WebSocket: sessions, registrations and the pushes to them.

One live session per app key (a second gets ``OPSP8996 ALREADY IN USE appkey``), at most 41
registrations per session, PINGPONG, ticks (``H0STCNT0``) batched per frame, the order book
(``H0STASP0``: once on registration, then whenever the code trades or an order on it changes),
and fill notices (``H0STCNI0``, paper ``H0STCNI9``) AES-encrypted with a fresh key per session.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from jango.domain.model import KST, NoticeKind, OrderAction, OrderNotice, Tick
from jango.sandbox.kis import book, frames
from jango.sandbox.kis.auth import Auth
from jango.sandbox.kis.faults import Faults
from jango.sandbox.kis.gateway import Mode
from jango.sandbox.venue import UnknownInstrument, Venue

MAX_REGISTRATIONS = 41
TICK_TR = "H0STCNT0"
BOOK_TR = "H0STASP0"


@dataclass(eq=False)
class Session:
    """One client connection: its AES key and IV, outbox, registrations and app key."""

    ws: ServerConnection
    key: str
    iv: str
    outbox: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    registrations: set[tuple[str, str]] = field(default_factory=set)
    app_key: str = ""
    pongs: int = 0


@dataclass(frozen=True)
class AppKeySessions:
    """What one app key did on the WebSocket: sessions it opened (claimed the key with a first
    registration), how many of those are live now, and attempts refused with ``OPSP8996``."""

    opened: int = 0
    live: int = 0
    refused: int = 0


@dataclass
class _Order:
    account: str
    qty: int
    price: int


class Realtime:
    """The WebSocket sessions of one sandbox and what is pushed to them."""

    def __init__(
        self,
        venue: Venue,
        auth: Auth,
        faults: Faults,
        *,
        mode: Mode,
        branch: str,
        book_record: Callable[[str], str],
    ) -> None:
        self.venue = venue
        self.book_record = book_record  # the H0STASP0 record of a code, as of now
        self.auth = auth
        self.faults = faults
        self.mode: Mode = mode
        self.branch = branch
        self.notice_tr = "H0STCNI9" if mode == "paper" else "H0STCNI0"
        self.sessions: set[Session] = set()
        self.unstalled = asyncio.Event()
        self.unstalled.set()
        self._owners: dict[str, Session] = {}  # app key → its one live session
        self._opened: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._orders: dict[str, _Order] = {}
        self._pending_ticks: list[Tick] = []

    def app_key_sessions(self) -> dict[str, AppKeySessions]:
        """Per app key of every user: sessions opened, live now, and refused."""
        live: dict[str, int] = {}
        for session in self.sessions:
            if session.app_key and self._owners.get(session.app_key) is session:
                live[session.app_key] = live.get(session.app_key, 0) + 1
        return {
            key: AppKeySessions(
                self._opened.get(key, 0), live.get(key, 0), self._refused.get(key, 0)
            )
            for key in self.auth.users
        }

    # ------------------------------------------------------------------ faults

    def drop_all(self) -> None:
        for session in list(self.sessions):
            self._forget(session)
            session.ws.transport.abort()

    def send_all(self, frame: str | bytes) -> None:
        for session in self.sessions:
            session.outbox.put_nowait(frame)

    def set_stall(self, stall: bool) -> None:
        if stall:
            self.unstalled.clear()
        else:
            self.unstalled.set()

    # ------------------------------------------------------------------ pushes

    def queue_tick(self, tick: Tick) -> None:
        """Queue a tick for the next frame (on the event loop's thread)."""
        if not self._pending_ticks:
            # Ticks queued behind this one (the rest of the step) go out in the same frame.
            asyncio.get_running_loop().call_soon(self._flush_ticks)
        self._pending_ticks.append(tick)

    def _flush_ticks(self, batch: int = 20) -> None:
        ticks, self._pending_ticks = self._pending_ticks, []
        for session in self.sessions:
            records = [
                frames.tick_record(tick, tick.price - tick.diff)
                for tick in ticks
                if (TICK_TR, tick.code) in session.registrations
            ]
            for start in range(0, len(records), batch):
                session.outbox.put_nowait(frames.tick_frame(records[start : start + batch]))
        for code in dict.fromkeys(tick.code for tick in ticks if not tick.expected):
            self.push_book(code)

    def push_book(self, code: str) -> None:
        """Send ``code``'s order book to the sessions registered for it."""
        if any((BOOK_TR, code) in session.registrations for session in self.sessions):
            self.push_to(BOOK_TR, code, book.asking_frame([self.book_record(code)]))

    def push_to(self, tr_id: str, tr_key: str, frame: str) -> None:
        """Send ``frame`` to every session registered for (tr_id, tr_key)."""
        for session in self.sessions:
            if (tr_id, tr_key) in session.registrations:
                session.outbox.put_nowait(frame)

    def push_notice(self, notice: OrderNotice) -> None:
        """Encrypt and send one fill notice to the sessions of the account's user."""
        if notice.kind is NoticeKind.ACCEPTED or (
            notice.kind is NoticeKind.CONFIRMED and notice.action is OrderAction.AMEND
        ):
            self._orders[notice.order_no] = _Order(notice.account, notice.qty, notice.price)
        order = self._orders.get(notice.order_no, _Order(notice.account, notice.qty, notice.price))
        user = next((u for u in self.auth.users.values() if notice.account in u.accounts), None)
        if user is None:
            return
        plain = frames.notice_record(
            notice,
            hts_id=user.hts_id,
            branch=self.branch,
            order_qty=order.qty,
            order_price=order.price,
            layout=self.faults.notice_layout,
        )
        for session in self.sessions:
            if (self.notice_tr, user.hts_id) in session.registrations:
                payload = frames.encrypt(plain, session.key, session.iv)
                session.outbox.put_nowait(f"1|{self.notice_tr}|001|{payload}")

    async def pinger(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for session in self.sessions:
                session.outbox.put_nowait(frames.pingpong(datetime.now(KST)))

    # ------------------------------------------------------------------ sessions

    async def serve(self, ws: ServerConnection) -> None:
        """One connection, from open to close."""
        session = Session(ws, frames.session_secret(32), frames.session_secret(16))
        self.sessions.add(session)
        writer = asyncio.create_task(self._write(session))
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self._on_message(session, text)
        except ConnectionClosed:
            pass
        finally:
            self._forget(session)
            writer.cancel()

    def _forget(self, session: Session) -> None:
        self.sessions.discard(session)
        if self._owners.get(session.app_key) is session:
            del self._owners[session.app_key]

    async def _write(self, session: Session) -> None:
        while True:
            frame = await session.outbox.get()
            await self.unstalled.wait()
            try:
                await session.ws.send(frame)
            except ConnectionClosed:
                return

    def _claim(self, session: Session, app_key: str) -> bool:
        """Make ``session`` the app key's one live session, unless another one is."""
        owner = self._owners.get(app_key)
        if owner is not None and owner is not session:
            self._refused[app_key] = self._refused.get(app_key, 0) + 1
            return False
        if owner is None:
            self._opened[app_key] = self._opened.get(app_key, 0) + 1
        self._owners[app_key] = session
        session.app_key = app_key
        return True

    def _on_message(self, session: Session, text: str) -> None:
        def answer(tr_id: str, tr_key: str, code: str, msg: str, ok: bool = False) -> None:
            session.outbox.put_nowait(frames.control(tr_id, tr_key, code, msg, ok=ok))

        try:
            message = json.loads(text)
            header = message["header"]
        except (ValueError, KeyError, TypeError):
            answer("", "", "OPSP9999", "JSON PARSING ERROR : invalid json")
            return
        if header.get("tr_id") == "PINGPONG":
            session.pongs += 1
            return
        try:
            body_input = message["body"]["input"]
            tr_id, tr_key = str(body_input["tr_id"]), str(body_input["tr_key"])
        except (KeyError, TypeError):
            answer("", "", "OPSP9998", "JSON PARSING ERROR : body.input not found")
            return
        app_key = self.auth.app_key_of_approval(str(header.get("approval_key", "")))
        if app_key is None:
            answer(tr_id, tr_key, "OPSP0011", "invalid approval : NOT FOUND")
            return
        if not self._claim(session, app_key):
            answer(tr_id, tr_key, "OPSP8996", "ALREADY IN USE appkey")
            return
        if header.get("custtype") not in ("P", "B"):
            answer(tr_id, tr_key, "OPSP8998", "invalid custtype")
            return
        if tr_id not in (TICK_TR, BOOK_TR, self.notice_tr):
            answer(tr_id, tr_key, "OPSP8991", "invalid tr_id")
            return
        if not self._valid_key(app_key, tr_id, tr_key):
            answer(tr_id, tr_key, "OPSP8992", "invalid tr_key")
            return
        tr_type = header.get("tr_type")
        registration = (tr_id, tr_key)
        if tr_type == "1":
            if registration in session.registrations:
                answer(tr_id, tr_key, "OPSP0002", "ALREADY IN SUBSCRIBE")
                return
            if len(session.registrations) >= MAX_REGISTRATIONS:
                answer(tr_id, tr_key, "OPSP0008", "MAX SUBSCRIBE OVER")
                return
            session.registrations.add(registration)
            session.outbox.put_nowait(
                frames.control(
                    tr_id,
                    tr_key,
                    "OPSP0000",
                    "SUBSCRIBE SUCCESS",
                    ok=True,
                    encrypt_flag="Y" if tr_id == self.notice_tr else "N",
                    key=session.key,
                    iv=session.iv,
                )
            )
            if tr_id == BOOK_TR:  # the book as it stands, then its changes
                session.outbox.put_nowait(book.asking_frame([self.book_record(tr_key)]))
        elif tr_type == "2":
            if registration not in session.registrations:
                answer(tr_id, tr_key, "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
                return
            session.registrations.discard(registration)
            answer(tr_id, tr_key, "OPSP0001", "UNSUBSCRIBE SUCCESS", ok=True)
        else:
            answer(tr_id, tr_key, "OPSP8997", "invalid tr_type")

    def _valid_key(self, app_key: str, tr_id: str, tr_key: str) -> bool:
        if tr_id == self.notice_tr:
            return tr_key == self.auth.users[app_key].hts_id
        try:
            self.venue.instrument(tr_key)
        except UnknownInstrument:
            return False
        return True
