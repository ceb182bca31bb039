"""The CYBOS value decoder raises only its declared error (:class:`wire.WireError`), whatever COM
hands it: arbitrary VARIANT-like values and mutations of real events.

Quick by default; ``JANGO_LONG=1`` feeds 100,000 inputs in all (split across the decoders).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango.brokers.cybos import wire
from jango.domain.model import KST

LONG = os.environ.get("JANGO_LONG") == "1"
DECODERS = 7
EXAMPLES = 100_000 // DECODERS + 1 if LONG else 80
DAY = date(2026, 11, 2)

# Values a COM VARIANT can arrive as through pywin32, and things it should never be.
com_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet="0123456789-+ .eE", max_size=30),
    st.integers(4000, 4400).map(lambda n: "9" * n),  # past int()'s digit limit
    st.binary(max_size=10),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.sampled_from(
        ["A005930", "A00593", "005930", "U001", " ", "1", "01", "Y", "NaN", "1e999", "1E1000000"]
    ),
)

CONCLUSION: dict[int, object] = {
    1: "모의투자", 2: "삼성전자", 3: 10, 4: 71_000, 5: 12, 6: 0, 7: "5012345601", 8: "01",
    9: "A005930", 12: "2", 14: "1", 15: "00", 16: "1", 17: "1", 18: "01", 19: "0", 20: 0,
    21: 71_000, 22: 10, 23: 10,
}  # fmt: skip
STOCKCUR: dict[int, object] = {
    0: "A005930", 1: "삼성전자", 2: 100, 3: 930, 9: 1000, 13: 71_100, 14: ord("1"), 17: 5,
    18: 93_000, 19: ord("2"), 20: ord("2"), 22: ord("2"),
}  # fmt: skip
STOCKMST: dict[int, object] = {
    0: "A005930", 1: "삼성전자", 8: 92_300, 9: 49_700, 10: 71_000, 11: 71_100, 12: 100,
    18: 1000, 27: 71_000, 45: ord("1"), 58: ord("0"),
}  # fmt: skip
BALANCE: dict[int, object] = {
    0: "삼성전자", 1: ord(" "), 2: "", 7: 10, 12: "A005930", 15: 10, 17: 70_123.5,
}  # fmt: skip
DAILY: dict[int, object] = {
    1: 12, 2: 0, 3: "A005930", 4: "삼성전자", 7: 10, 8: 71_000, 9: 4, 10: 4, 11: 71_000,
    24: "2", 35: "2", 36: "1", 37: "01", 38: ord(" "), 39: "", 42: 93_001,
}  # fmt: skip
OPEN: dict[int, object] = {
    1: 12, 2: 0, 3: "A005930", 6: 10, 7: 71_000, 8: 4, 9: ord(" "), 11: 6, 13: "2", 21: "01",
}  # fmt: skip
MARKETEYE_FIELDS = wire.MARKETEYE_FIELDS
MARKETEYE_ROW: dict[int, object] = {
    0: "A005930", 2: ord("2"), 3: 100, 4: 71_100, 10: 1000, 17: "삼성전자", 23: 71_000,
    33: 92_300, 34: 49_700,
}  # fmt: skip


def mutated(valid: dict[int, object]) -> st.SearchStrategy[dict[int, object]]:
    """``valid`` with some fields replaced by arbitrary values, some dropped, some added."""
    keys = sorted(valid)
    return st.builds(
        lambda changes, dropped: {
            k: v for k, v in {**valid, **changes}.items() if k not in dropped
        },
        st.dictionaries(st.sampled_from([*keys, 99]), com_values, max_size=len(keys)),
        st.sets(st.sampled_from(keys), max_size=3),
    )


def only_wire_errors(decode: Callable[[], Any]) -> None:
    # Any other exception escapes and fails the test; the declared one is the point.
    with contextlib.suppress(wire.WireError):
        decode()


fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@fuzz
@given(mutated(CONCLUSION))
def test_conclusion_events(values: dict[int, object]) -> None:
    at = datetime(2026, 11, 2, 9, 30, tzinfo=KST)
    only_wire_errors(lambda: wire.notice_from_conclusion(values, at))
    wire.raw_json(values)  # the raw payload of any event can always be kept


@fuzz
@given(mutated(STOCKCUR))
def test_stockcur_events(values: dict[int, object]) -> None:
    only_wire_errors(lambda: wire.tick_from_stockcur(values, DAY))


@fuzz
@given(mutated(STOCKMST))
def test_stockmst_answers(values: dict[int, object]) -> None:
    only_wire_errors(lambda: wire.quote_from_stockmst(values))


@fuzz
@given(mutated(BALANCE))
def test_balance_rows(values: dict[int, object]) -> None:
    only_wire_errors(lambda: wire.balance_row("5012345601", values))


@fuzz
@given(st.lists(mutated(DAILY), max_size=4), st.lists(mutated(OPEN), max_size=3))
def test_order_inquiries(
    daily: list[dict[int, object]], open_rows: list[dict[int, object]]
) -> None:
    only_wire_errors(lambda: wire.order_states("5012345601", daily, open_rows, DAY))


@fuzz
@given(st.lists(mutated(MARKETEYE_ROW), min_size=1, max_size=3), st.integers(0, 4))
def test_marketeye_answers(rows: list[dict[int, object]], count: int) -> None:
    columns = {
        col: [row.get(field) for row in rows]
        for col, field in enumerate(sorted(set(MARKETEYE_FIELDS)))
    }
    only_wire_errors(lambda: wire.quotes_from_marketeye(MARKETEYE_FIELDS, columns, count))


@fuzz
@given(com_values, com_values, com_values)
def test_scalar_fields(a: object, b: object, c: object) -> None:
    only_wire_errors(lambda: wire.integer(a, "field"))
    only_wire_errors(lambda: wire.char(b))
    only_wire_errors(lambda: wire.flag(c))
    only_wire_errors(lambda: wire.yyyymmdd(a))
    only_wire_errors(lambda: wire.at_time(DAY, b))
    only_wire_errors(lambda: wire.decimal(c, "field"))
    only_wire_errors(lambda: wire.balance_credit(b))


def test_a_good_event_still_decodes_exactly() -> None:
    row = wire.balance_row("5012345601", BALANCE)
    assert row.purchase_amount == 701_235 and row.qty == 10
    assert wire.decimal("70123.5", "x") == Decimal("70123.5")
    notice = wire.notice_from_conclusion(CONCLUSION, datetime(2026, 11, 2, 9, 30, tzinfo=KST))
    assert (notice.order_no, notice.qty, notice.post_qty) == ("12", 10, 10)
