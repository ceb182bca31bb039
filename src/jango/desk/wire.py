"""What travels over NATS between agents and the hub: subjects, event messages, order requests.

An agent publishes each journal row as one JSON message to the JetStream stream :data:`STREAM`
on ``jango.<agent>.<account>.<kind>`` with ``Nats-Msg-Id: <agent>:<seq>`` (JetStream drops a
resend with the same id inside its duplicate window). The message carries the row as the journal
holds it (the normalized event in the recorded format, the raw payload, the source), the agent's
id, the journal ``seq`` and ``prev``, the seq of the row the agent published before it: the hub
applies an agent's rows strictly along that chain, so a row that overtook its predecessor (a
resend after a reconnect) waits for it instead of being applied out of order.

A hole in the chain that does not fill (JetStream acknowledged rows a killed server had not yet
written to disk) makes the hub ask the agent, on ``jango.<agent>.resend``, to publish again
from the last row it holds; the journal still has them.

Orders go the other way as NATS requests on ``jango.<agent>.orders``, answered with the broker's
reply (an ack or the broker's error, by class). Heartbeats (``jango.<agent>.status``) are plain
NATS messages, not stored.

At the hub every account and order number is qualified with its agent (``a1:50012345-01``,
``a1:0000012``): two machines may use the same account or order numbers, one book may not.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jango.brokers.port import (
    BrokerError,
    Disconnected,
    NoSuchOrder,
    NotSupported,
    OrderAck,
    OrderRefused,
    OrderRequest,
    RateLimited,
)
from jango.domain.model import (
    BalanceSnapshot,
    Condition,
    Credit,
    Event,
    OrderNotice,
    OrderType,
    Side,
    parse_code,
)

STREAM = "JANGO"
DURABLE = "jango-hub"  # the hub's durable consumer
EVENT_SUBJECTS = "jango.*.*.*"
STATUS_SUBJECTS = "jango.*.status"
VERSION = 1
# The id of an agent is one subject token that reads well in a qualified account number.
_AGENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Anything else in an account number would split or widen a subject; it is replaced.
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_-]")
SEP = ":"


class WireError(ValueError):
    """A message that is not a jango desk message (or of a newer version)."""


def check_agent(agent: str) -> str:
    """``agent`` if it is a valid agent id, else a :class:`ValueError` saying what is allowed."""
    if not _AGENT_RE.match(agent):
        raise ValueError(
            f"agent id {agent!r} must be 1 to 32 letters, digits, '_' or '-' (it is a NATS "
            "subject token and a prefix of account numbers at the hub)"
        )
    return agent


def token(text: str) -> str:
    """``text`` as one subject token: ``-`` when empty, unsafe characters as ``_``."""
    return _TOKEN_BAD.sub("_", text) if text else "-"


def event_subject(agent: str, account: str, kind: str) -> str:
    return f"jango.{agent}.{token(account)}.{kind}"


def orders_subject(agent: str) -> str:
    return f"jango.{agent}.orders"


def resend_subject(agent: str) -> str:
    return f"jango.{agent}.resend"


def status_subject(agent: str) -> str:
    return f"jango.{agent}.status"


def msg_id(agent: str, seq: int) -> str:
    return f"{agent}:{seq}"


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One journal row of one agent, as published."""

    agent: str
    seq: int
    prev: int  # the seq of the row this agent published before this one (0: none)
    kind: str  # snapshot, tick, notice, error, discrepancy
    at: str  # when the agent received it (the journal's ``at``, KST ISO)
    source: str
    account: str
    code: str
    order_no: str
    body: str  # the journal's body: the recorded-format line of an event, else JSON
    raw: str
    reflected: bool = False

    @property
    def subject(self) -> str:
        return event_subject(self.agent, self.account, self.kind)

    @property
    def id(self) -> str:
        return msg_id(self.agent, self.seq)

    def encode(self) -> bytes:
        data = {"v": VERSION, **dataclasses.asdict(self)}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> WireEvent:
        """The message in ``data``; raises :class:`WireError` for anything else."""
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WireError(f"not JSON: {exc}") from None
        if not isinstance(obj, dict) or obj.get("v") != VERSION:
            raise WireError(f"not a version {VERSION} jango desk message")
        try:
            event = cls(
                agent=check_agent(_str(obj, "agent")),
                seq=_int(obj, "seq"),
                prev=_int(obj, "prev"),
                kind=_str(obj, "kind"),
                at=_str(obj, "at"),
                source=_str(obj, "source"),
                account=_str(obj, "account"),
                code=_str(obj, "code"),
                order_no=_str(obj, "order_no"),
                body=_str(obj, "body"),
                raw=_str(obj, "raw"),
                reflected=bool(obj.get("reflected", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError(f"bad field: {exc}") from None
        if event.seq <= event.prev or event.prev < 0:
            raise WireError(f"seq {event.seq} does not follow prev {event.prev}")
        return event


def _str(obj: Mapping[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text")
    return value


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer")
    return value


# --------------------------------------------------------------------- names at the hub


def qualify(agent: str, name: str) -> str:
    """An account or order number as the hub's book keys it: ``<agent>:<name>``."""
    return f"{agent}{SEP}{name}" if name else ""


def unqualify(name: str) -> tuple[str, str]:
    """``(agent, local name)`` of a qualified account or order number; ValueError otherwise."""
    agent, sep, local = name.partition(SEP)
    if not sep or not local or not _AGENT_RE.match(agent):
        raise ValueError(f"{name!r} is not an agent-qualified name such as a1{SEP}50012345-01")
    return agent, local


def qualify_event(agent: str, event: Event) -> Event:
    """``event`` with every account and order number qualified by ``agent`` (ticks unchanged)."""
    if isinstance(event, OrderNotice):
        return dataclasses.replace(
            event,
            account=qualify(agent, event.account),
            order_no=qualify(agent, event.order_no),
            orig_order_no=qualify(agent, event.orig_order_no),
        )
    if isinstance(event, BalanceSnapshot):
        account = qualify(agent, event.account)
        rows = tuple(dataclasses.replace(r, account=account) for r in event.rows)
        orders = None
        if event.orders is not None:
            orders = tuple(
                dataclasses.replace(
                    o,
                    account=account,
                    order_no=qualify(agent, o.order_no),
                    orig_order_no=qualify(agent, o.orig_order_no),
                )
                for o in event.orders
            )
        return dataclasses.replace(event, account=account, rows=rows, orders=orders)
    return event


# --------------------------------------------------------------------- orders


_ERRORS: dict[str, type[BrokerError]] = {
    cls.__name__: cls
    for cls in (BrokerError, OrderRefused, NoSuchOrder, RateLimited, NotSupported, Disconnected)
}


def order_request(order: OrderRequest) -> dict[str, Any]:
    """A ``place`` request (the account is the agent's own number)."""
    return {
        "op": "place",
        "account": order.account,
        "side": order.side.value,
        "code": order.code,
        "qty": order.qty,
        "price": order.price,
        "order_type": order.order_type.value,
        "condition": order.condition.value,
        "credit": order.credit.value,
        "loan_date": order.loan_date.isoformat() if order.loan_date else None,
    }


def parse_order_request(obj: Mapping[str, Any]) -> OrderRequest:
    """The :class:`OrderRequest` of a ``place`` request; ValueError/KeyError/TypeError if bad."""
    loan = obj.get("loan_date")
    return OrderRequest(
        account=_str(obj, "account"),
        side=Side(obj["side"]),
        code=parse_code(obj["code"]),
        qty=_int(obj, "qty"),
        price=_int(obj, "price"),
        order_type=OrderType(obj["order_type"]),
        condition=Condition(obj["condition"]),
        credit=Credit(obj["credit"]),
        loan_date=date.fromisoformat(loan) if isinstance(loan, str) else None,
    )


def ack_reply(ack: OrderAck) -> dict[str, Any]:
    return {
        "ok": True,
        "order_no": ack.order_no,
        "time": ack.time.isoformat(),
        "message": ack.message,
    }


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The broker's refusal by class (other failures as ``BrokerError``), with its message."""
    name = type(exc).__name__ if type(exc).__name__ in _ERRORS else "BrokerError"
    code = exc.code if isinstance(exc, BrokerError) else ""
    return {"ok": False, "error": name, "message": str(exc) or type(exc).__name__, "code": code}


def read_reply(agent: str, data: bytes) -> OrderAck:
    """The agent's answer as an :class:`OrderAck` (its order number qualified), or the broker's
    error raised again as the same class, its message naming the agent."""
    try:
        obj = json.loads(data)
        if obj["ok"]:
            return OrderAck(
                order_no=qualify(agent, _str(obj, "order_no")),
                time=datetime.fromisoformat(_str(obj, "time")),
                message=str(obj.get("message", "")),
            )
        cls = _ERRORS.get(str(obj.get("error")), BrokerError)
        message, code = str(obj.get("message", "")), str(obj.get("code", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise BrokerError(f"agent {agent} sent an unreadable answer: {exc}") from None
    raise cls(f"agent {agent}: {message}", code=code)


def encode(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
