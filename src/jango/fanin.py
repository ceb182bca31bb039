"""Several brokers and accounts in one session: :class:`FanIn`, a broker made of brokers.

A trader with a KIS account and a CYBOS account (or two KIS accounts, which need two app keys)
lists them as ``[[accounts]]`` entries; :func:`jango.build.build_broker` makes one adapter per
entry and puts them behind one :class:`FanIn`, which the session sees as a single broker. So the
engine keeps one book and one loop, and adapters never import each other.

What the fan-in does:

* **Names.** Every account and order number is prefixed with its entry's label
  (``kis:5012345601``, ``kis:0000012345``): two brokers may use the same numbers (every sandbox's
  demo account is ``5012345601``), and the book keys orders by number. The prefix is added to
  everything coming in (balances, notices, acknowledgements) and removed from everything going
  out, so adapters see their own numbers only. A row's account names its broker.
* **Routing.** Orders, amends, cancels and balance reads go to the entry owning the account.
  Tick subscriptions go to the entries holding the code (from their balances and fills), else
  to the first one; quotes to a connected entry holding the code.
* **Merging.** Each entry's push stream is read by its own task into one queue. A connection
  change of one entry updates that entry's status (:attr:`FanIn.statuses`) and is passed on
  with a detail naming every entry that is down; one entry's stream failing marks that entry
  down and leaves the others running.
* **A broker down.** Reading the balance of an account whose entry is down raises
  :class:`~jango.engine.PartlyDown` at once, which the session's reconcile skips (that
  entry's reconnect reconciles it later). An entry that cannot start at all is shown down (and
  as a problem in the status) and tried again with back-off; when it starts, the session adds
  its accounts and reconciles. Only when no entry starts does the session fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from jango.brokers.port import (
    Broker,
    BrokerError,
    BrokerLimits,
    ConnectionStatus,
    NoSuchOrder,
    OrderAck,
    OrderRequest,
    OwnMarket,
    PushItem,
    Received,
    StartupError,
    TickBurst,
    Undecodable,
    taken,
)
from jango.domain.model import (
    KST,
    BalanceSnapshot,
    Code,
    NoticeKind,
    OrderNotice,
    Quote,
)
from jango.engine import PartlyDown, Session
from jango.supervisor import Supervisor, UsesSupervisor

log = logging.getLogger(__name__)

SEPARATOR = ":"
RETRY_FIRST = 1.0  # seconds before an entry that could not start is tried again; doubling
RETRY_MAX = 30.0


def now() -> datetime:
    return datetime.now(KST)


@dataclass
class Member:
    """One ``[[accounts]]`` entry: its label and its adapter."""

    label: str
    broker: Broker


@dataclass
class MemberStatus:
    """The connection of one entry, as ``jango status`` and the views show it."""

    connected: bool = False
    detail: str = "starting"
    since: datetime = field(default_factory=now)


def split(number: str) -> tuple[str, str]:
    """``"kis:0001"`` → ``("kis", "0001")``; a number without a label gives ``("", number)``."""
    label, sep, rest = number.partition(SEPARATOR)
    return (label, rest) if sep else ("", number)


class FanIn:
    """The :class:`~jango.brokers.port.Broker` port over several adapters (see the module)."""

    def __init__(self, members: Sequence[Member]) -> None:
        if not members:
            raise StartupError("a session needs at least one account entry")
        labels = [m.label for m in members]
        if len(set(labels)) != len(labels) or any(SEPARATOR in label for label in labels):
            raise StartupError(f"account entry names must be distinct, without ':': {labels}")
        self.members = {m.label: m for m in members}
        self.name = "+".join(labels)
        self.statuses: dict[str, MemberStatus] = {label: MemberStatus() for label in labels}
        self._owner: dict[str, str] = {}  # labelled account → entry label
        self._holders: dict[Code, set[str]] = {}  # code → entries whose accounts hold it
        self._subscribed: dict[Code, set[str]] = {}  # code → entries it is subscribed on
        self._queue: asyncio.Queue[PushItem | None] = asyncio.Queue()
        self._readers: list[asyncio.Task[None]] = []
        self._closing = False
        self._retries: list[asyncio.Task[None]] = []  # entries that could not start yet
        self._supervisor: Supervisor | None = None
        limits = [m.broker.limits for m in members]
        self.limits = BrokerLimits(
            subscription_capacity=sum(x.subscription_capacity for x in limits),
            quote_batch=min(x.quote_batch for x in limits),
            quote_requests=min(x.quote_requests for x in limits),
            trade_requests=min(x.trade_requests for x in limits),
            window_seconds=max(x.window_seconds for x in limits),
            balance_page_size=min(x.balance_page_size for x in limits),
        )

    def __repr__(self) -> str:
        return f"FanIn({', '.join(self.members)})"

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Hand the session's supervisor to every entry that runs tasks of its own (and use it
        to show an entry that could not start)."""
        self._supervisor = supervisor
        for member in self.members.values():
            if isinstance(member.broker, UsesSupervisor):
                member.broker.use_supervisor(supervisor)

    # ----------------------------------------------------------------- naming

    def owner(self, account: str) -> tuple[Member, str]:
        """The entry owning a labelled ``account`` and the account's own number."""
        label = self._owner.get(account)
        if label is None:
            raise BrokerError(f"no account entry holds account {account}", code="UNKNOWN_ACCOUNT")
        return self.members[label], split(account)[1]

    def broker_of(self, account: str) -> str:
        """The label of the entry owning ``account`` (``""`` if none does)."""
        return self._owner.get(account, "")

    def _down(self, label: str) -> bool:
        return not self.statuses[label].connected

    def _snapshot_in(self, label: str, snap: BalanceSnapshot) -> BalanceSnapshot:
        account = f"{label}{SEPARATOR}{snap.account}"
        codes = self._holders
        for row in snap.rows:
            codes.setdefault(row.code, set()).add(label)
        return replace(
            snap,
            account=account,
            rows=tuple(replace(r, account=account) for r in snap.rows),
            orders=None
            if snap.orders is None
            else tuple(
                replace(
                    o,
                    account=account,
                    order_no=f"{label}{SEPARATOR}{o.order_no}",
                    orig_order_no=f"{label}{SEPARATOR}{o.orig_order_no}" if o.orig_order_no else "",
                )
                for o in snap.orders
            ),
        )

    def _notice_in(self, label: str, notice: OrderNotice) -> OrderNotice:
        if notice.kind is NoticeKind.FILLED:
            self._holders.setdefault(notice.code, set()).add(label)
        return replace(
            notice,
            account=f"{label}{SEPARATOR}{notice.account}",
            order_no=f"{label}{SEPARATOR}{notice.order_no}",
            orig_order_no=f"{label}{SEPARATOR}{notice.orig_order_no}"
            if notice.orig_order_no
            else "",
        )

    def _order_out(self, member: Member, order_no: str) -> str:
        label, number = split(order_no)
        if label != member.label:
            raise NoSuchOrder(f"order {order_no} is not an order of {member.label}")
        return number

    def _ack_in(self, member: Member, ack: OrderAck) -> OrderAck:
        return replace(ack, order_no=f"{member.label}{SEPARATOR}{ack.order_no}")

    # ----------------------------------------------------------------- lifecycle

    async def connect(self) -> None:
        """Connect every entry. One that cannot start (its server unreachable, its login
        refused) is shown as down, reported to the session's supervisor, and tried again with
        back-off while the others run; its accounts join the book when it connects. Only when
        no entry starts does the session fail, naming each."""
        failed: dict[str, BrokerError] = {}
        for label, member in self.members.items():
            try:
                await member.broker.connect()
            except BrokerError as exc:
                failed[label] = exc
                continue
            self.statuses[label] = MemberStatus(True, f"connected to {member.broker.name}")
        if len(failed) == len(self.members):
            reasons = "; ".join(f"{label}: {error}" for label, error in failed.items())
            raise StartupError(f"no account entry could start: {reasons}")
        for label, error in failed.items():
            log.error("account entry %s could not start (%s); trying again meanwhile", label, error)
            self.statuses[label] = MemberStatus(False, f"not started: {error}")
            if self._supervisor is not None:
                self._supervisor.report(self._problem(label), error, permanent=False)
            # The session's status says which is down from its first moment.
            self._queue.put_nowait(self._status_in(label, False, f"not started: {error}"))
            self._retries.append(asyncio.ensure_future(self._connect_later(label)))

    @staticmethod
    def _problem(label: str) -> str:
        return f"broker {label}"

    async def _connect_later(self, label: str) -> None:
        member = self.members[label]
        wait = RETRY_FIRST
        while True:
            await asyncio.sleep(wait)
            try:
                await member.broker.connect()
            except BrokerError as exc:
                self.statuses[label] = MemberStatus(False, f"not started: {exc}")
                wait = min(RETRY_MAX, wait * 2)
                continue
            log.warning("account entry %s started", label)
            if self._supervisor is not None:
                self._supervisor.clear(self._problem(label))
            # As a reconnect: the session adds its accounts and reconciles.
            status = self._status_in(label, True, f"connected to {member.broker.name}", True)
            self._queue.put_nowait(status)
            return

    async def quiet(self) -> None:
        """Stop every entry that makes its own market, then wait until the merged stream has
        handed on what they made (see :class:`~jango.brokers.port.OwnMarket`)."""
        for member in self.members.values():
            if isinstance(member.broker, OwnMarket):
                await member.broker.quiet()
        await taken(self._queue)

    async def close(self) -> None:
        """Close every entry (each even if another fails) and end the merged stream."""
        first: BaseException | None = None
        self._closing = True
        for retry in self._retries:
            retry.cancel()
        for member in self.members.values():
            try:
                await member.broker.close()
            except Exception as exc:
                log.error("closing %s failed: %s", member.label, exc)
                first = first or exc
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._readers.clear()
        self._queue.put_nowait(None)
        if first is not None:
            raise first

    async def accounts(self) -> list[str]:
        """The accounts of every entry that has started, labelled."""
        found: list[str] = []
        for label, member in self.members.items():
            if self._down(label) and self.statuses[label].detail.startswith("not started"):
                continue
            for number in await member.broker.accounts():
                account = f"{label}{SEPARATOR}{number}"
                self._owner[account] = label
                found.append(account)
        return found

    async def balance(self, account: str) -> BalanceSnapshot:
        member, number = self.owner(account)
        if self._down(member.label):
            raise PartlyDown(
                f"{member.label} is down ({self.statuses[member.label].detail}); "
                f"its balance is read when it reconnects"
            )
        return self._snapshot_in(member.label, await member.broker.balance(number))

    # ----------------------------------------------------------------- prices

    def _quoting(self, code: Code) -> Member:
        up = [label for label in self.members if not self._down(label)] or list(self.members)
        holders = [label for label in up if label in self._holders.get(code, ())]
        return self.members[(holders or up)[0]]

    async def quote(self, code: Code) -> Quote:
        return await self._quoting(code).broker.quote(code)

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        by_member: dict[str, list[Code]] = {}
        for code in codes:
            by_member.setdefault(self._quoting(code).label, []).append(code)
        found: list[Quote] = []
        for label, chunk in by_member.items():
            broker = self.members[label].broker
            if broker.limits.quote_batch > 1:
                found.extend(await broker.quotes(chunk))
            else:
                found.extend([await broker.quote(code) for code in chunk])
        return found

    async def subscribe(self, code: Code) -> None:
        """Subscribe on every entry holding ``code`` (else the first one up); refused only if
        every one of them refuses."""
        up = [label for label in self.members if not self._down(label)] or list(self.members)
        targets = [label for label in up if label in self._holders.get(code, ())] or up[:1]
        done = self._subscribed.setdefault(code, set())
        errors: list[str] = []
        for label in targets:
            if label in done:
                continue
            try:
                await self.members[label].broker.subscribe(code)
            except BrokerError as exc:
                errors.append(f"{label}: {exc}")
                continue
            done.add(label)
        if not done:
            del self._subscribed[code]
            raise BrokerError(f"no entry would subscribe {code}: {'; '.join(errors)}")

    async def unsubscribe(self, code: Code) -> None:
        for label in self._subscribed.pop(code, set()):
            with contextlib.suppress(BrokerError):
                await self.members[label].broker.unsubscribe(code)

    # ----------------------------------------------------------------- pushes

    def events(self) -> AsyncIterator[PushItem]:
        """Every entry's pushes in arrival order, one stream; ends when the fan-in closes."""
        if not self._readers:
            for member in self.members.values():
                task = asyncio.ensure_future(self._read(member))
                self._readers.append(task)
        return self._merged()

    async def _merged(self) -> AsyncIterator[PushItem]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def _read(self, member: Member) -> None:
        """Forward one entry's pushes. Its stream failing or ending (other than at close) shows
        that entry as down, leaves the others running, and is read again after a pause (the
        adapter's own reconnect then says when it is back)."""
        label = member.label
        while not self._closing:
            try:
                async for item in member.broker.events():
                    self._queue.put_nowait(self._item_in(label, item))
                why = "push stream ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                why = f"push stream failed: {exc}"
            if self._closing:
                return
            log.error("the %s %s; reading it again in %.0f s", label, why, RETRY_FIRST)
            self._queue.put_nowait(self._status_in(label, False, why))
            await asyncio.sleep(RETRY_FIRST)

    def _item_in(self, label: str, item: PushItem) -> PushItem:
        if isinstance(item, Received):
            event = item.event
            if isinstance(event, OrderNotice):
                event = self._notice_in(label, event)
            return replace(item, event=event, source=f"{label}{SEPARATOR}{item.source}")
        if isinstance(item, TickBurst | Undecodable):
            # Ticks name codes, not accounts: only where they came from is labelled.
            return replace(item, source=f"{label}{SEPARATOR}{item.source}")
        return self._status_in(label, item.connected, item.detail, item.reconnected)

    def _status_in(
        self, label: str, connected: bool, detail: str, reconnected: bool = False
    ) -> ConnectionStatus:
        self.statuses[label] = MemberStatus(connected, detail)
        down = [f"{name} down ({s.detail})" for name, s in self.statuses.items() if not s.connected]
        summary = "; ".join(down) if down else f"connected to {', '.join(self.members)}"
        return ConnectionStatus(
            connected=not down, detail=summary, at=now(), reconnected=reconnected
        )

    # ----------------------------------------------------------------- trading

    async def place(self, order: OrderRequest) -> OrderAck:
        member, number = self.owner(order.account)
        ack = await member.broker.place(replace(order, account=number))
        return self._ack_in(member, ack)

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        member, number = self.owner(account)
        own = self._order_out(member, order_no)
        return self._ack_in(member, await member.broker.amend(number, own, price=price, qty=qty))

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        member, number = self.owner(account)
        own = self._order_out(member, order_no)
        return self._ack_in(member, await member.broker.cancel(number, own, qty=qty))


# --------------------------------------------------------------------- reading a session


def broker_statuses(session: Session) -> list[dict[str, Any]]:
    """Each broker's connection: one entry for a plain session, one per ``[[accounts]]`` entry
    for a fan-in."""
    broker = session.broker
    if isinstance(broker, FanIn):
        return [
            {
                "name": label,
                "broker": member.broker.name,
                "connected": broker.statuses[label].connected,
                "detail": broker.statuses[label].detail,
                "since": broker.statuses[label].since.isoformat(),
            }
            for label, member in broker.members.items()
        ]
    status = session.status
    return [
        {
            "name": broker.name,
            "broker": broker.name,
            "connected": status.connected,
            "detail": status.detail,
            "since": status.since.isoformat(),
        }
    ]


def account_brokers(session: Session) -> dict[str, str]:
    """Account → the label of the broker entry holding it."""
    broker = session.broker
    numbers: Iterable[str] = {*session.accounts, *session.book.accounts}
    if isinstance(broker, FanIn):
        return {n: broker.broker_of(n) or split(n)[0] for n in numbers}
    return dict.fromkeys(numbers, broker.name)


TOTAL_FIELDS = ("purchase_amount", "value", "pnl", "pnl_net", "realized_gross", "realized_net")


def grand_totals(session: Session) -> dict[str, Any]:
    """Totals per account, per broker entry and overall (integer won; every account is KRW)."""
    brokers = account_brokers(session)
    book = session.book
    per_account: dict[str, dict[str, int]] = {}
    for number, acc in book.accounts.items():
        t = acc.totals
        per_account[number] = {
            "purchase_amount": t.purchase_amount,
            "value": t.value,
            "pnl": t.pnl,
            "pnl_net": t.pnl_net,
            "realized_gross": t.realized_gross,
            "realized_net": t.realized_net,
            "deposit": acc.deposit,
            "d2": acc.d2,
        }
    keys = (*TOTAL_FIELDS, "deposit", "d2")
    per_broker: dict[str, dict[str, int]] = {}
    for number, totals in per_account.items():
        into = per_broker.setdefault(brokers.get(number, ""), dict.fromkeys(keys, 0))
        for k in keys:
            into[k] += totals[k]
    overall = {k: sum(t[k] for t in per_account.values()) for k in keys}
    return {"currency": "KRW", "accounts": per_account, "brokers": per_broker, "overall": overall}
