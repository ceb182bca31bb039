"""The fill counter's stamping rules, fed with fills decoded from real notice records."""

from datetime import date, datetime

from jango.brokers.kis import wire
from jango.brokers.kis.fills import FillCounter
from jango.brokers.port import ConnectionStatus, PushItem, Received
from jango.domain.model import KST, OrderNotice

TODAY = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 9, 30, tzinfo=KST)


def fill(order_no: str, qty: int = 1, price: int = 71000) -> Received:
    """A fill notice as KIS sends it (26-field layout), decoded by the adapter's parser."""
    record = [
        "jangodemo", "5012345601", order_no, "", "02", "0", "00", "0", "005930",
        f"{qty:010d}", f"{price:09d}", "093000", "0", "2", "2", "06010", "000000010", "김한투",
        "000000000", "1", "Y", "", "10", "", "삼성전자", f"{price:09d}",
    ]  # fmt: skip
    (notice,) = wire.parse_notices("^".join(record), 1, today=TODAY)
    return Received(notice, "^".join(record), "kis", AT)


def totals(items: list[PushItem]) -> list[int | None]:
    return [
        i.event.filled_total
        for i in items
        if isinstance(i, Received) and isinstance(i.event, OrderNotice)
    ]


def counter() -> tuple[FillCounter, list[PushItem]]:
    out: list[PushItem] = []
    return FillCounter(out.append), out


def test_same_content_fills_each_count() -> None:
    fills, out = counter()
    fills.release({"0000000007": 0}, fills.mark())
    for _ in range(3):
        fills.push(fill("0000000007"))
    assert totals(out) == [1, 2, 3]


def test_fills_held_before_the_read_was_sent_count_back_from_it() -> None:
    fills, out = counter()
    fills.push(fill("0000000007", 2))
    fills.push(fill("0000000007", 1))
    sent_at = fills.mark()  # the seeding read goes out now and counts both: 5 filled
    fills.release({"0000000007": 5}, sent_at)
    fills.push(fill("0000000007", 1))
    assert totals(out) == [4, 5, 6]


def test_a_fill_in_flight_during_the_last_read_counts_on_top_of_it() -> None:
    fills, out = counter()
    sent_at = fills.mark()
    fills.push(fill("0000000007", 1))  # arrives while the read is out: the race window
    fills.release({"0000000007": 3}, sent_at)
    assert totals(out) == [4]


def test_orders_absent_from_the_seed_count_from_zero() -> None:
    fills, out = counter()
    fills.release({"0000000007": 3}, fills.mark())
    fills.push(fill("0000000009", 2))
    assert totals(out) == [2]


def test_a_failed_seed_leaves_totals_unknown_until_a_snapshot_reseeds() -> None:
    fills, out = counter()
    fills.push(fill("0000000007"))
    fills.release(None, fills.mark())
    fills.push(fill("0000000007"))
    assert totals(out) == [None, None]
    assert not fills.known


def test_a_drop_is_told_at_once_and_later_items_wait_for_the_next_seed() -> None:
    fills, out = counter()
    fills.release({}, fills.mark())
    down = ConnectionStatus(False, "dropped", AT)
    up = ConnectionStatus(True, "back", AT, reconnected=True)
    assert fills.push(down) is False
    assert out == [down]
    fills.push(fill("0000000007"))
    assert fills.push(up) is True  # asks for a seeding read
    assert out == [down]
    fills.release({"0000000007": 4}, fills.mark())
    assert totals(out) == [4]
    assert out[-1] == up
