"""The recorded JSON Lines format: the sample scenario, malformed lines, exact round trips."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jango.domain import krx
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Condition,
    Credit,
    Event,
    HoldingKey,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderState,
    OrderType,
    Side,
    Tick,
)
from jango.recorded import (
    MAX_LINE,
    RecordError,
    dump_line,
    header_line,
    parse_line,
    read_events,
    read_file,
    to_record,
)

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "seed_scenario.jsonl"

TICK = {
    "type": "tick",
    "code": "005930",
    "price": 71_300,
    "diff": -200,
    "volume": 1_234,
    "time": "2026-03-04T09:00:01+09:00",
}
NOTICE = {
    "type": "notice",
    "account": "5012345601",
    "kind": "filled",
    "action": "new",
    "side": "buy",
    "code": "005930",
    "order_no": "1001",
    "qty": 3,
    "price": 71_300,
    "time": "2026-03-04T09:00:01+09:00",
    "fill_id": "1001-1",
}
SNAPSHOT = {
    "type": "snapshot",
    "account": "5012345601",
    "time": "2026-03-04T08:40:00+09:00",
    "cash": {"deposit": 1_000_000, "d2": 900_000},
    "rows": [{"code": "005930", "qty": 10, "sellable": 10, "purchase_amount": 713_000}],
}


def line(base: Mapping[str, object], **changes: object) -> str:
    record = {k: v for k, v in {**base, **changes}.items() if v is not ...}
    return json.dumps(record, ensure_ascii=False)


def sample_events() -> list[Event]:
    with SAMPLE.open(encoding="utf-8") as lines:
        results = list(read_events(lines))
    errors = [(n, e) for n, e in results if isinstance(e, RecordError)]
    assert errors == []
    return [e for _, e in results if not isinstance(e, RecordError)]


# --- the sample scenario -------------------------------------------------------------------


def test_sample_scenario_parses_without_errors_and_covers_every_type() -> None:
    events = sample_events()
    assert isinstance(events[0], BalanceSnapshot)
    counts = Counter(type(e).__name__ for e in events)
    assert counts["BalanceSnapshot"] == 1
    assert counts["Tick"] >= 10
    assert counts["OrderNotice"] >= 10


def test_sample_scenario_has_the_seed_cases() -> None:
    events = sample_events()
    snapshot = events[0]
    assert isinstance(snapshot, BalanceSnapshot)
    held = {row.code for row in snapshot.rows}
    credit = [row for row in snapshot.rows if row.credit is Credit.MARGIN_SELF]
    assert len(credit) == 1 and credit[0].loan_date is not None
    assert any(r.code == credit[0].code and r.credit is Credit.CASH for r in snapshot.rows)
    assert {Market.KOSDAQ, Market.ETF} <= {row.market for row in snapshot.rows}
    notices = [e for e in events if isinstance(e, OrderNotice)]
    kinds = {(n.kind, n.action) for n in notices}
    assert (NoticeKind.CONFIRMED, OrderAction.CANCEL) in kinds
    assert (NoticeKind.CONFIRMED, OrderAction.AMEND) in kinds
    fills = [n for n in notices if n.kind is NoticeKind.FILLED]
    assert any(n.code not in held and n.side is Side.BUY for n in fills)  # opens a holding
    assert any(n.post_qty == 0 for n in fills)  # a holding sold out
    assert sum(isinstance(e, Tick) and e.expected for e in events) == 1
    assert all(e.time.year == 2026 for e in events)


def test_sample_scenario_ticks_are_on_valid_prices() -> None:
    events = sample_events()
    markets = {r.code: r.market for e in events if isinstance(e, BalanceSnapshot) for r in e.rows}
    markets |= {e.code: e.market for e in events if isinstance(e, OrderNotice)}
    for e in events:
        if isinstance(e, Tick):
            assert krx.is_valid_price(e.price, markets[e.code], e.time.date()), e


def test_sample_scenario_orders_are_consistent() -> None:
    """Fills never exceed their order, sells never exceed holdings, broker truths add up."""
    events = sample_events()
    snapshot = events[0]
    assert isinstance(snapshot, BalanceSnapshot)
    qty = {row.key: row.qty for row in snapshot.rows}
    sellable = {row.key: row.sellable for row in snapshot.rows}
    remaining: dict[str, int] = {}
    fill_ids: set[str] = set()
    for n in (e for e in events if isinstance(e, OrderNotice)):
        key = HoldingKey(n.account, n.code, n.credit, n.loan_date)
        sell = n.side is Side.SELL
        if n.kind is NoticeKind.ACCEPTED:
            remaining[n.order_no] = n.qty
            if sell:
                assert n.qty <= sellable[key]
                sellable[key] -= n.qty
        elif n.kind is NoticeKind.CONFIRMED:
            left = remaining.pop(n.orig_order_no)
            if n.action is OrderAction.CANCEL:
                assert n.qty == left
                if sell:
                    sellable[key] += n.qty
            else:
                remaining[n.order_no] = n.qty
                if sell:
                    sellable[key] += left - n.qty
        else:
            assert n.fill_id and n.fill_id not in fill_ids
            fill_ids.add(n.fill_id)
            assert n.qty <= remaining[n.order_no]
            remaining[n.order_no] -= n.qty
            qty[key] = qty.get(key, 0) + (-n.qty if sell else n.qty)
            if not sell:
                sellable[key] = sellable.get(key, 0) + n.qty
            assert qty[key] >= 0
        if n.post_qty is not None:
            assert n.post_qty == qty.get(key, 0), n
        if n.post_sellable is not None:
            assert n.post_sellable == sellable.get(key, 0), n


# --- malformed lines -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("not json", "", "not valid JSON"),
        ("[1, 2]", "", "must be a JSON object"),
        (line(TICK, type=...), "type", "missing"),
        (line(TICK, type="trade"), "type", "unknown value 'trade'"),
        (line(TICK, type="header"), "type", "first line"),
        (line(TICK, price=...), "price", "missing"),
        (line(TICK, price="71300"), "price", "must be an integer, got a string"),
        (line(TICK, price=71300.0), "price", "must be an integer"),
        (line(TICK, price=True), "price", "must be an integer, got a boolean"),
        (line(TICK, price=0), "price", "at least 1"),
        (line(TICK, volume=None), "volume", "got null"),
        (line(TICK, code=5930), "code", "must be a string"),
        (line(TICK, code="5930"), "code", "invalid stock code"),
        (line(TICK, time="2026-03-04T09:00:01"), "time", "offset"),
        (line(TICK, time="yesterday"), "time", "not an ISO-8601 time"),
        (line(TICK, expected="yes"), "expected", "true or false"),
        (line(TICK, prcie=71_300), "prcie", "unknown field"),
        (line(NOTICE, kind="executed"), "kind", "unknown value 'executed'"),
        (line(NOTICE, side="long"), "side", "unknown value"),
        (line(NOTICE, credit="loan"), "credit", "unknown value"),
        (line(NOTICE, order_no=""), "order_no", "must not be empty"),
        (line(NOTICE, qty=-1), "qty", "at least 0"),
        (line(NOTICE, loan_date="20260210"), "loan_date", "YYYY-MM-DD"),
        (line(NOTICE, loan_date="2026-02-30"), "loan_date", "YYYY-MM-DD"),
        (line(NOTICE, post_book_price=71350.5), "post_book_price", "decimal string"),
        (line(NOTICE, post_book_price="7.1E+4"), "post_book_price", "plain decimal"),
        (line(NOTICE, post_book_price="NaN"), "post_book_price", "plain decimal"),
        (line(NOTICE, price=0), "", "a fill needs a positive quantity and price"),
        (line(SNAPSHOT, cash=[]), "cash", "must be an object"),
        (line(SNAPSHOT, cash={"deposit": 1}), "cash.d2", "missing"),
        (line(SNAPSHOT, rows=[1]), "rows[0]", "must be an object"),
        (
            line(
                SNAPSHOT, rows=[{"code": "005930", "qty": 1, "sellable": 2, "purchase_amount": 1}]
            ),
            "rows[0]",
            "sellable 2 above quantity 1",
        ),
        (line(SNAPSHOT, rows=[{"code": "005930", "qty": 1}]), "rows[0].sellable", "missing"),
        ('{"type": "tick", "type": "tick"}', "type", "appears twice"),
        ('{"type": "tick", "price": NaN}', "", "NaN is not a JSON number"),
        # bounded sizes and ranges
        (line(TICK, price=10**18), "price", "19 digits (at most 18"),
        (line(TICK).replace("71300", "9" * 5_000), "price", "5000 digits"),
        (line(TICK, price=float("1." + "5" * 20)), "price", "must be an integer"),
        ("[" * 5_000, "", "nested deeper than 8 levels"),
        ('{"a":' * 100_000, "", "nested deeper than 8 levels"),
        (line(TICK, time="0001-01-01T00:00:00+14:00"), "time", "year 1 is outside 1990–2100"),
        (line(TICK, time="2101-01-01T00:00:00+09:00"), "time", "outside 1990–2100"),
        (line(TICK, time="2026-03-04T09:00:00+14:01"), "time", "offset beyond ±14:00"),
        (line(TICK, time="2026-03-04T09:00:00-23:59"), "time", "offset beyond ±14:00"),
        (line(NOTICE, credit="margin_self", loan_date="1989-12-31"), "loan_date", "outside"),
        (line(NOTICE, loan_date="2026-02-10"), "loan_date", "a cash holding has no loan date"),
        (line(NOTICE, post_book_price="1" * 16), "post_book_price", "at most 15 digits"),
        (line(NOTICE, post_book_price="1." + "5" * 31), "post_book_price", "30 after the point"),
        # decoded text checked
        (line(NOTICE, name="X").replace('"X"', '"\\ud800"'), "name", "lone surrogate \\ud800"),
        (line(TICK, X=1).replace('"X"', '"\\udc00"'), "\\udc00", "unknown field"),
        (b'{"type":"tick","name":"\xff"}', "", "not valid UTF-8: byte 0xff at column 24"),
        (b'{"type":"tick","name":"\xed\xa0\x80"}', "", "not valid UTF-8: byte 0xed"),
        ('{"type":"tick","name":"\udcff"}', "", "lone surrogate \\udcff at column 24"),
    ],
)
def test_malformed_line_is_refused_naming_the_field_and_problem(
    text: str | bytes, field: str, problem: str
) -> None:
    with pytest.raises(RecordError) as caught:
        parse_line(text)
    assert caught.value.field == field
    assert problem in str(caught.value)
    assert isinstance(caught.value, ValueError)


# --- reading a file ------------------------------------------------------------------------


def test_read_events_numbers_lines_from_one_skips_blanks_and_reports_errors_in_place() -> None:
    lines = [header_line(), "", line(TICK), "   ", "garbage", line(NOTICE) + "\n"]
    results = list(read_events(lines))
    assert [n for n, _ in results] == [3, 5, 6]
    assert isinstance(results[0][1], Tick)
    assert isinstance(results[1][1], RecordError)
    assert isinstance(results[2][1], OrderNotice)


def test_read_events_takes_bytes_and_reports_bad_utf8_on_its_line() -> None:
    lines = [line(TICK).encode() + b"\n", b"\xff\xfe\n", b"\n", line(NOTICE).encode()]
    results = list(read_events(lines))
    assert [n for n, _ in results] == [1, 2, 4]
    error = results[1][1]
    assert isinstance(error, RecordError) and error.line == 2
    assert "not valid UTF-8: byte 0xff at column 1" in str(error)
    assert isinstance(results[2][1], OrderNotice)


def test_a_byte_order_mark_before_the_first_line_is_skipped() -> None:
    [(_, tick)] = read_events([("\ufeff" + header_line()).encode(), line(TICK).encode()])
    assert isinstance(tick, Tick)


def test_read_file_refuses_an_overlong_line_without_losing_the_next(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    with path.open("wb") as out:
        out.write(line(TICK).encode() + b"\n")
        out.write(b'{"type":"tick","name":"' + b"x" * (MAX_LINE + 10) + b'"}\n')
        out.write(line(NOTICE, name="a\u2028b").encode() + b"\n")
    results = list(read_file(path))
    assert [n for n, _ in results] == [1, 2, 3]
    assert isinstance(results[1][1], RecordError)
    assert f"line longer than {MAX_LINE:,} bytes" in str(results[1][1])
    # U+2028 inside a string is text, not a line break (str.splitlines would split there).
    notice = results[2][1]
    assert isinstance(notice, OrderNotice) and notice.name == "a\u2028b"


def test_header_is_optional() -> None:
    assert [n for n, _ in read_events([line(TICK)])] == [1]


def test_header_after_the_first_line_is_an_error() -> None:
    (_, first), (_, second) = read_events([line(TICK), header_line()])
    assert isinstance(first, Tick)
    assert isinstance(second, RecordError) and second.field == "type"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ({"type": "header", "format": "jango-events", "version": 2}, "version"),
        ({"type": "header", "format": "other", "version": 1}, "format"),
        ({"type": "header", "format": "jango-events"}, "version"),
        ({"type": "header", "format": "jango-events", "version": 1, "x": 1}, "x"),
    ],
)
def test_bad_header_is_reported_and_the_rest_still_read(
    header: dict[str, object], field: str
) -> None:
    (n, error), (_, tick) = read_events([json.dumps(header), line(TICK)])
    assert n == 1 and isinstance(error, RecordError) and error.field == field
    assert isinstance(tick, Tick)


# --- writing and round trips ---------------------------------------------------------------


def test_to_record_leaves_out_defaults_and_writes_plain_types() -> None:
    notice = parse_line(line(NOTICE, post_book_price="71350.50"))
    record = to_record(notice)
    assert "credit" not in record and "orig_order_no" not in record
    assert record["post_book_price"] == "71350.50"
    assert record["time"] == "2026-03-04T09:00:01+09:00"


def test_times_in_other_offsets_are_read_as_kst() -> None:
    tick = parse_line(line(TICK, time="2026-03-04T00:00:01+00:00"))
    assert tick.time.utcoffset() == timedelta(hours=9)
    assert to_record(tick)["time"] == "2026-03-04T09:00:01+09:00"


def test_explicit_defaults_and_nulls_read_like_omitted_fields() -> None:
    explicit = line(NOTICE, credit="cash", loan_date=None, post_qty=None, orig_order_no="")
    assert parse_line(explicit) == parse_line(line(NOTICE))


codes = st.from_regex(r"\A[0-9][0-9A-Z]{5}\Z")
accounts = st.from_regex(r"\A[0-9]{8,11}\Z")
moments = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(KST)
)
days = st.dates(date(2020, 1, 1), date(2027, 12, 31))
amounts = st.integers(0, 10**13)
texts = st.text(max_size=12)


ticks = st.builds(
    Tick,
    code=codes.map(Code),
    price=st.integers(1, 10**8),
    diff=st.integers(-(10**8), 10**8),
    volume=amounts,
    time=moments,
    expected=st.booleans(),
)


def book_prices(places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=10**8, places=places)


@st.composite
def notices(draw: st.DrawFn) -> OrderNotice:
    kind = draw(st.sampled_from(NoticeKind))
    low = 1 if kind is NoticeKind.FILLED else 0
    credit = draw(st.sampled_from(Credit))
    qty = draw(st.integers(low, 10**9))
    return OrderNotice(
        account=draw(accounts),
        kind=kind,
        action=draw(st.sampled_from(OrderAction)),
        side=draw(st.sampled_from(Side)),
        code=Code(draw(codes)),
        order_no=draw(st.text(min_size=1, max_size=10)),
        qty=qty,
        price=draw(st.integers(low, 10**8)),
        time=draw(moments),
        orig_order_no=draw(texts),
        credit=credit,
        loan_date=None if credit is Credit.CASH else draw(st.none() | days),
        order_type=draw(st.sampled_from(OrderType)),
        condition=draw(st.sampled_from(Condition)),
        fill_id=draw(texts),
        name=draw(texts),
        market=draw(st.sampled_from(Market)),
        post_qty=draw(st.none() | st.integers(0, 10**9)),
        post_sellable=draw(st.none() | st.integers(0, 10**9)),
        post_book_price=draw(st.none() | book_prices(draw(st.integers(0, 10)))),
        filled_total=draw(st.none() | st.integers(qty, 2 * 10**9)),
    )


@st.composite
def orders(draw: st.DrawFn, account: str) -> OrderState:
    qty = draw(st.integers(0, 10**9))
    filled = draw(st.integers(0, qty))
    credit = draw(st.sampled_from(Credit))
    return OrderState(
        account=account,
        order_no=draw(st.text(min_size=1, max_size=10)),
        code=Code(draw(codes)),
        side=draw(st.sampled_from(Side)),
        qty=qty,
        filled=filled,
        remaining=draw(st.integers(0, qty - filled)),
        price=draw(st.integers(0, 10**8)),
        time=draw(moments),
        orig_order_no=draw(texts),
        credit=credit,
        loan_date=None if credit is Credit.CASH else draw(st.none() | days),
        order_type=draw(st.sampled_from(OrderType)),
        condition=draw(st.sampled_from(Condition)),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> BalanceSnapshot:
    account = draw(accounts)
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        qty = draw(st.integers(0, 10**9))
        credit = draw(st.sampled_from(Credit))
        rows.append(
            BalanceRow(
                account=account,
                code=Code(draw(codes)),
                qty=qty,
                sellable=draw(st.integers(0, qty)),
                purchase_amount=draw(amounts),
                credit=credit,
                loan_date=None if credit is Credit.CASH else draw(st.none() | days),
                name=draw(texts),
                market=draw(st.sampled_from(Market)),
                price=draw(st.integers(0, 10**8)),
                loan_amount=draw(st.integers(0, 10**12)),
            )
        )
    money = st.integers(-(10**12), 10**13)
    return BalanceSnapshot(
        account=account,
        rows=tuple(rows),
        cash=Cash(draw(money), draw(money), draw(st.none() | money)),
        time=draw(moments),
        source=draw(texts),
        orders=draw(st.none() | st.lists(orders(account), max_size=3).map(tuple)),
    )


@given(st.one_of(ticks, notices(), snapshots()))
def test_every_event_round_trips_exactly(event: Event) -> None:
    text = dump_line(event)
    assert "\n" not in text
    again = parse_line(text)
    assert again == event
    assert dump_line(again) == text


@pytest.mark.parametrize("price", ["97602.9573459", "124744.0298507462686567164179"])
def test_book_price_keeps_its_digits_through_a_round_trip(price: str) -> None:
    # The second is a Decimal division's full 28 digits, as the venue writes it.
    notice = parse_line(line(NOTICE, post_book_price=price))
    assert isinstance(notice, OrderNotice)
    assert notice.post_book_price == Decimal(price)
    assert parse_line(dump_line(notice)) == notice
