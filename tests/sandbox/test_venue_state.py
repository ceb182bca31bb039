"""A sim market that lasts: the venue's state file, restarts, counters and unreadable files."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from jango.domain import krx
from jango.domain.model import KST, NoticeKind, OrderNotice, OrderType, Side, Tick
from jango.sandbox.clock import SimClock
from jango.sandbox.venue import DEMO_ACCOUNT, Venue, VenueRefusal
from jango.sandbox.venue_state import VenueStateError

DAY = date(2025, 9, 1)  # a Monday


def trade(venue: Venue, rng: random.Random, steps: int) -> None:
    """Steps of the market with an order, amend or cancel every few steps, drawn from ``rng``."""
    for n in range(steps):
        venue.step()
        if n % 3:
            continue
        try:
            opens = venue.open_orders(DEMO_ACCOUNT)
            if opens and rng.random() < 0.3:
                order = rng.choice(opens)
                if rng.random() < 0.5 or order.order_type is OrderType.MARKET:
                    venue.cancel(DEMO_ACCOUNT, order.order_no)
                else:
                    venue.amend(DEMO_ACCOUNT, order.order_no, price=venue.quote(order.code).price)
                continue
            rows = [r for r in venue.balance(DEMO_ACCOUNT).rows if r.sellable]
            if rows and rng.random() < 0.5:
                row = rng.choice(rows)
                price = venue.quote(row.code).price
                qty = rng.randint(1, max(1, row.sellable // 3))
                credit, loan_date = row.credit, row.loan_date
                venue.place(
                    DEMO_ACCOUNT,
                    Side.SELL,
                    row.code,
                    qty,
                    price,
                    credit=credit,
                    loan_date=loan_date,
                )
            else:
                code = rng.choice(venue.instruments()).code
                quote = venue.quote(code)
                qty = rng.randint(1, max(1, 2_000_000 // quote.upper))
                if rng.random() < 0.2:
                    venue.place(DEMO_ACCOUNT, Side.BUY, code, qty, order_type=OrderType.MARKET)
                else:
                    venue.place(DEMO_ACCOUNT, Side.BUY, code, qty, quote.price)
        except VenueRefusal:
            pass  # out of cash or shares: a trader would try something else next time


def leave_open(venue: Venue) -> None:
    """A resting buy at the lower limit and a large buy that fills only in part at once."""
    code = venue.instruments()[0].code
    quote = venue.quote(code)
    venue.place(DEMO_ACCOUNT, Side.BUY, code, 1, quote.lower)
    venue.place(DEMO_ACCOUNT, Side.BUY, code, 8_000_000 // quote.price, quote.price)


def record(venue: Venue) -> list[Tick | OrderNotice]:
    events: list[Tick | OrderNotice] = []
    venue.add_tick_listener(events.append)
    venue.add_notice_listener(events.append)
    return events


def everything(venue: Venue) -> tuple[object, ...]:
    """All a client can see of the venue: time, prices, balance with orders, fills, cash."""
    return (
        venue.now(),
        [venue.quote(i.code) for i in venue.instruments()],
        venue.balance(DEMO_ACCOUNT),
        venue.open_orders(DEMO_ACCOUNT),
        venue.fills(DEMO_ACCOUNT),
        venue.orderable_cash(DEMO_ACCOUNT),
        venue.accounts(),
    )


@pytest.mark.parametrize("step_seconds", [1.0, 600.0], ids=["one-day", "across-days"])
def test_a_restarted_venue_equals_the_one_that_stopped_and_continues_the_same_market(
    tmp_path: Path, step_seconds: float
) -> None:
    path = tmp_path / "venue.sqlite"
    market = {"seed": 3, "depth_won": 3_000_000, "step_seconds": step_seconds}
    straight = Venue(clock=SimClock(DAY), **market)  # type: ignore[arg-type]
    straight.open_demo_account()
    lasting = Venue(clock=SimClock(DAY), state_path=path, **market)  # type: ignore[arg-type]
    lasting.open_demo_account()
    for venue in (straight, lasting):
        trade(venue, random.Random(1), 150)
        leave_open(venue)
    before = everything(lasting)
    assert before == everything(straight)
    assert lasting.open_orders(DEMO_ACCOUNT), "the restart should carry open orders"
    orders = lasting.balance(DEMO_ACCOUNT).orders or ()
    assert any(o.filled and o.remaining for o in orders), "and a part-filled one"
    lasting.close()

    restarted = Venue(state_path=path, **market)  # type: ignore[arg-type]
    assert everything(restarted) == before
    # The generator's state came back too: the same calls give the same prices and fills.
    after_straight, after_restart = record(straight), record(restarted)
    trade(straight, random.Random(2), 150)
    trade(restarted, random.Random(2), 150)
    assert after_restart == after_straight
    assert any(isinstance(e, OrderNotice) and e.kind is NoticeKind.FILLED for e in after_restart)
    assert everything(restarted) == everything(straight)
    restarted.close()
    if step_seconds > 1:
        assert restarted.now().date() > krx.add_business_days(DAY, 2)


def test_order_numbers_and_fill_ids_never_repeat_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    venue = Venue(seed=5, clock=SimClock(DAY), state_path=path)
    venue.open_demo_account()
    notices: list[OrderNotice] = []
    for run in range(5):
        venue.add_notice_listener(notices.append)
        trade(venue, random.Random(run), 40)
        venue.close()
        venue = Venue(state_path=path)
    assert venue.now().date() == DAY  # all within one trading day
    fill_ids = [n.fill_id for n in notices if n.kind is NoticeKind.FILLED]
    # Numbers the venue handed out: new orders, amends and cancel requests (an expiry the
    # venue makes itself names the expired order in both fields and hands out none).
    issued = [
        n.order_no
        for n in notices
        if n.kind is NoticeKind.ACCEPTED
        or (n.kind is NoticeKind.CONFIRMED and n.order_no != n.orig_order_no)
    ]
    assert len(fill_ids) > 10
    assert len(set(fill_ids)) == len(fill_ids)
    assert len(set(issued)) == len(issued)
    assert [f.fill_id for f in venue.fills(DEMO_ACCOUNT)] == fill_ids
    venue.close()


def test_without_a_state_path_every_venue_is_a_fresh_market() -> None:
    first, second = Venue(seed=8, clock=SimClock(DAY)), Venue(seed=8, clock=SimClock(DAY))
    first.open_demo_account()
    trade(first, random.Random(0), 30)
    assert first.state_path is None
    assert second.accounts() == []
    second.open_demo_account()
    assert second.fills(DEMO_ACCOUNT) == []


def test_a_clock_given_to_a_restarted_venue_moves_to_the_saved_time(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    venue = Venue(seed=1, clock=SimClock(DAY), state_path=path)
    for _ in range(100):
        venue.step()
    saved = venue.now()
    venue.close()
    clock = SimClock(date(2025, 12, 1))
    restarted = Venue(state_path=path, clock=clock)
    assert clock.now() == saved == restarted.now() == datetime(2025, 9, 1, 9, 1, 40, tzinfo=KST)
    restarted.close()


def test_a_second_venue_on_the_same_file_is_refused_while_the_first_is_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "venue.sqlite"
    first = Venue(seed=1, clock=SimClock(DAY), state_path=path)
    with pytest.raises(VenueStateError, match="in use by another process") as caught:
        Venue(state_path=path)
    assert str(path) in str(caught.value)
    first.close()
    Venue(state_path=path).close()


def test_a_closed_venue_refuses_to_change_without_saving(tmp_path: Path) -> None:
    venue = Venue(seed=1, clock=SimClock(DAY), state_path=tmp_path / "venue.sqlite")
    venue.open_demo_account()
    venue.close()
    with pytest.raises(VenueStateError, match="closed"):
        venue.step()


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a sim market\n" * 100)


def _torn(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _bad_json(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE venue SET state = substr(state, 1, 200)")
    db.commit()
    db.close()


def _bad_value(path: Path) -> None:
    db = sqlite3.connect(path)
    [(text,)] = db.execute("SELECT state FROM venue")
    state = json.loads(text)
    state["order_seq"] = "7"
    db.execute("UPDATE venue SET state = ?", (json.dumps(state),))
    db.commit()
    db.close()


def _newer_format(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE venue SET format = 99")
    db.commit()
    db.close()


def _no_tables(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TABLE venue")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_garbage, "not an SQLite file"),
        (_empty, "not an SQLite file"),
        (_torn, "malformed"),
        (_bad_json, "JSONDecodeError"),
        (_bad_value, "expected an integer"),
        (_newer_format, "format 99"),
        (_no_tables, "no such table"),
    ],
)
def test_an_unreadable_state_file_is_one_clear_error_never_a_fresh_start(
    tmp_path: Path, damage: object, reason: str
) -> None:
    path = tmp_path / "venue.sqlite"
    venue = Venue(seed=1, clock=SimClock(DAY), state_path=path)
    venue.open_demo_account()
    venue.close()
    damage(path)  # type: ignore[operator]
    damaged = path.read_bytes()
    with pytest.raises(VenueStateError) as caught:
        Venue(seed=1, state_path=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert "\n" not in message
    assert path.read_bytes() == damaged  # left for the user to look at, not replaced


def test_orders_of_a_new_day_are_saved_from_the_first_operation_of_the_day(
    tmp_path: Path,
) -> None:
    path = tmp_path / "venue.sqlite"
    venue = Venue(seed=2, clock=SimClock(DAY), state_path=path)
    venue.open_demo_account()
    trade(venue, random.Random(3), 30)
    code = venue.instruments()[0].code
    price = venue.quote(code).price
    venue.clock.advance(7 * 3600)  # the next call opens 9/2, and that call is an order
    venue.place(DEMO_ACCOUNT, Side.BUY, code, 1, price)
    before = venue.balance(DEMO_ACCOUNT)
    venue.close()
    restarted = Venue(state_path=path)
    assert restarted.balance(DEMO_ACCOUNT) == before
    assert before.orders is not None and len(before.orders) == 1
    restarted.close()
