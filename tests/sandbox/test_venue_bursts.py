"""Burst listeners hear an operation's events in one call, in order with every other listener."""

from __future__ import annotations

from datetime import date

from jango.domain.model import OrderNotice, Side, Tick
from jango.sandbox.clock import SimClock
from jango.sandbox.venue import Venue

DAY = date(2025, 9, 1)


def venue() -> Venue:
    v = Venue(seed=4, clock=SimClock(DAY), codes_per_step=30)
    v.open_demo_account()
    return v


def test_a_step_is_one_burst_holding_exactly_the_ticks_step_returns() -> None:
    v = venue()
    heard: list[list[Tick | OrderNotice]] = []
    v.add_burst_listener(heard.append)
    steps = [v.step() for _ in range(5)]
    assert heard == steps


def test_with_a_per_event_listener_all_hear_single_events_in_the_order_added() -> None:
    v = venue()
    order: list[str] = []
    v.add_notice_listener(lambda n: order.append(f"early {n.kind}"))
    v.add_burst_listener(lambda b: order.extend(f"burst {e.kind}" for e in b))  # type: ignore[union-attr]
    v.add_notice_listener(lambda n: order.append(f"late {n.kind}"))
    v.add_burst_listener(lambda b: order.append("first"), first=True)
    account = v.accounts()[0]
    price = v.quote("005930").upper
    v.place(account, Side.BUY, "005930", 1, price)  # accepted and filled at once
    assert order == [
        "first",
        "early accepted",
        "burst accepted",
        "late accepted",
        "first",
        "early filled",
        "burst filled",
        "late filled",
    ]


def test_a_removed_burst_listener_hears_nothing_more() -> None:
    v = venue()
    heard: list[list[Tick | OrderNotice]] = []
    remove = v.add_burst_listener(heard.append)
    v.step()
    remove()
    v.step()
    assert len(heard) == 1
