"""The desk's message format: what an agent sends is what the hub reads, and nothing else."""

from __future__ import annotations

from datetime import datetime

import pytest

from jango.brokers.port import NoSuchOrder, OrderAck
from jango.desk import wire
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    Side,
)

AT = datetime(2026, 3, 4, 9, 0, tzinfo=KST)


def test_a_row_round_trips_and_names_its_subject_and_id() -> None:
    e = wire.WireEvent(
        "a1", 7, 6, "notice", AT.isoformat(), "kis", "5012-01", "005930", "1", "{}", "raw"
    )
    assert wire.WireEvent.decode(e.encode()) == e
    assert e.subject == "jango.a1.5012-01.notice"
    assert e.id == "a1:7"
    assert wire.event_subject("a1", "", "tick") == "jango.a1.-.tick"
    assert wire.event_subject("a1", "50.12 *>", "tick") == "jango.a1.50_12___.tick"


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"v": 2}', b'{"v": 1, "agent": "a.b"}', b'{"v": 1, "agent": "a1"}'],
)
def test_anything_else_is_one_clear_error(data: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.WireEvent.decode(data)


def test_a_row_that_does_not_follow_its_prev_is_refused() -> None:
    e = wire.WireEvent("a1", 7, 7, "tick", "", "", "", "", "", "{}", "")
    with pytest.raises(wire.WireError, match="does not follow"):
        wire.WireEvent.decode(e.encode())


def test_the_hub_qualifies_every_account_and_order_number() -> None:
    n = OrderNotice(
        "5012", NoticeKind.CONFIRMED, OrderAction.AMEND, Side.BUY, Code("005930"), "0002",
        1, 70_000, AT, orig_order_no="0001",
    )  # fmt: skip
    q = wire.qualify_event("a1", n)
    assert isinstance(q, OrderNotice)
    assert (q.account, q.order_no, q.orig_order_no) == ("a1:5012", "a1:0002", "a1:0001")
    snap = BalanceSnapshot(
        "5012",
        (BalanceRow("5012", Code("005930"), 1, 1, 70_000),),
        Cash(0, 0),
        AT,
        orders=(OrderState("5012", "0001", Code("005930"), Side.BUY, 1, 1, 0, 70_000, AT),),
    )
    s = wire.qualify_event("a1", snap)
    assert isinstance(s, BalanceSnapshot) and s.orders is not None
    assert (s.account, s.rows[0].account, s.orders[0].order_no) == ("a1:5012", "a1:5012", "a1:0001")
    assert wire.unqualify("a1:5012:x") == ("a1", "5012:x")
    with pytest.raises(ValueError, match="agent-qualified"):
        wire.unqualify("5012")


def test_the_brokers_answer_comes_back_as_itself() -> None:
    ack = wire.read_reply("a1", wire.encode(wire.ack_reply(OrderAck("0003", AT, "ok"))))
    assert ack == OrderAck("a1:0003", AT, "ok")
    refusal = wire.encode(wire.error_reply(NoSuchOrder("no order 9", code="40330000")))
    with pytest.raises(NoSuchOrder, match="agent a1: no order 9") as caught:
        wire.read_reply("a1", refusal)
    assert caught.value.code == "40330000"
