import base64
import os
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango.brokers.kis import wire
from jango.brokers.kis.wire import WireError
from jango.domain.model import Condition, Credit, NoticeKind, OrderAction, OrderType, Side
from jango.sandbox.kis import frames as kis_frames

TODAY = date(2026, 11, 24)
KEY = "k" * 32
IV = "i" * 16
SPEC_TICK = (
    "005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^3052507"
    "^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820"
    "^5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0"
    "^^72100"
)
SPEC_ACCEPT_OLD = (
    "HTS ID^1234567801^0000002891^^02^0^01^0^136480^0000000001^000000000^094941^0^1^1^06010"
    "^000000001^김한투^하림^10^^하림^"
)


def _new_layout(fields_0_17: list[str], credit: str = "10", loan: str = "", price: str = "") -> str:
    return "^".join([*fields_0_17, "000000000", "1", "Y", "", credit, loan, "하림", price])


def test_the_spec_tick_record_decodes() -> None:
    frame = wire.parse_frame("0|H0STCNT0|001|" + SPEC_TICK)
    assert isinstance(frame, wire.DataFrame)
    (tick,) = wire.parse_ticks(frame.payload, frame.count, today=TODAY)
    assert (tick.code, tick.price, tick.diff, tick.volume) == ("005930", 71900, -100, 3052507)
    assert tick.time.date() == date(2023, 6, 12)
    assert not tick.expected


def test_batched_tick_frames_yield_every_record_even_with_a_wider_layout() -> None:
    wider = SPEC_TICK + "^2"  # the 2026 MARKET_CLS_CODE field
    ticks = wire.parse_ticks("^".join([wider] * 3), 3, today=TODAY)
    assert len(ticks) == 3


def test_a_truncated_tick_frame_is_a_wire_error() -> None:
    with pytest.raises(WireError, match="fields"):
        wire.parse_ticks("^".join(SPEC_TICK.split("^")[:30]), 1, today=TODAY)
    with pytest.raises(WireError, match="do not split"):
        wire.parse_ticks(SPEC_TICK + "^x", 2, today=TODAY)


def test_the_spec_accept_notice_in_the_old_layout_decodes() -> None:
    (notice,) = wire.parse_notices(SPEC_ACCEPT_OLD, 1, today=TODAY)
    assert notice.kind is NoticeKind.ACCEPTED
    assert notice.action is OrderAction.NEW
    assert notice.side is Side.BUY
    assert (notice.code, notice.order_no, notice.qty, notice.price) == (
        "136480",
        "0000002891",
        1,
        0,
    )
    assert notice.order_type is OrderType.MARKET
    assert notice.credit is Credit.CASH
    assert notice.name == "하림"
    assert notice.fill_id == ""


def test_a_fill_in_the_new_layout_carries_credit_and_loan_date() -> None:
    head = SPEC_ACCEPT_OLD.split("^")[:18]
    head[9], head[10], head[13], head[14] = "0000000003", "000003190", "2", "2"
    (notice,) = wire.parse_notices(_new_layout(head, "21", "20261020", "000003200"), 1, today=TODAY)
    assert notice.kind is NoticeKind.FILLED
    assert (notice.qty, notice.price) == (3, 3190)
    assert notice.credit is Credit.MARGIN_SELF
    assert notice.loan_date == date(2026, 10, 20)


def test_an_unknown_credit_code_is_other_not_a_crash() -> None:
    head = SPEC_ACCEPT_OLD.split("^")[:18]
    (notice,) = wire.parse_notices(_new_layout(head, "77"), 1, today=TODAY)
    assert notice.credit is Credit.OTHER


def test_an_ioc_remainder_cancel_is_a_confirmed_cancel_of_the_order_itself() -> None:
    head = SPEC_ACCEPT_OLD.split("^")[:18]
    head[6], head[7], head[14] = "11", "1", "3"
    (notice,) = wire.parse_notices(_new_layout(head), 1, today=TODAY)
    assert (notice.kind, notice.action) == (NoticeKind.CONFIRMED, OrderAction.CANCEL)
    assert notice.orig_order_no == notice.order_no
    assert notice.condition is Condition.IOC


def test_a_rejected_request_is_rejected_whatever_else_it_says() -> None:
    head = SPEC_ACCEPT_OLD.split("^")[:18]
    head[12] = "1"
    (notice,) = wire.parse_notices(_new_layout(head), 1, today=TODAY)
    assert notice.kind is NoticeKind.REJECTED


def test_an_encrypted_notice_round_trips_with_the_right_key_only() -> None:
    payload = kis_frames.encrypt(SPEC_ACCEPT_OLD, KEY, IV)
    assert wire.decrypt(payload, KEY, IV) == SPEC_ACCEPT_OLD
    with pytest.raises(WireError):
        wire.decrypt(payload, "x" * 32, IV)
    with pytest.raises(WireError, match="32/16"):
        wire.decrypt(payload, "", "")
    with pytest.raises(WireError, match="base64"):
        wire.decrypt("not base64!", KEY, IV)


def test_control_messages_give_keys_and_pingpong_is_recognised() -> None:
    ack = kis_frames.control(
        "H0STCNI0", "id", "OPSP0000", "SUBSCRIBE SUCCESS", ok=True, key=KEY, iv=IV
    )
    control = wire.parse_frame(ack)
    assert isinstance(control, wire.Control)
    assert (control.ok, control.key, control.iv) == (True, KEY, IV)
    ping = wire.parse_frame('{"header":{"tr_id":"PINGPONG","datetime":"20261124093000"}}')
    assert isinstance(ping, wire.Control) and ping.is_ping


def test_balance_rows_skip_zero_quantities_and_map_credit_names() -> None:
    def row(qty: str, kind: str, loan: str = "") -> dict[str, str]:
        return {
            "pdno": "005930",
            "hldg_qty": qty,
            "ord_psbl_qty": qty,
            "pchs_amt": "710000",
            "trad_dvsn_name": kind,
            "loan_dt": loan,
            "prdt_name": "삼성전자",
            "prpr": "71000",
        }

    rows = wire.parse_balance_rows(
        "5012345601",
        [
            row("10", "현금"),
            row("0", "현금"),
            row("5", "자기융자", "20261020"),
            row("1", "신종대출"),
        ],
    )
    assert [(r.qty, r.credit) for r in rows] == [
        (10, Credit.CASH),
        (5, Credit.MARGIN_SELF),
        (1, Credit.OTHER),
    ]
    assert rows[1].loan_date == date(2026, 10, 20)
    with pytest.raises(WireError, match="hldg_qty"):
        wire.parse_balance_rows("5012345601", [row("ten", "현금")])


def test_token_expiry_comes_from_the_kst_stamp() -> None:
    token = wire.parse_token(
        {"access_token": "t", "access_token_token_expired": "2026-11-25 09:00:00"}
    )
    assert token.expires.isoformat() == "2026-11-25T09:00:00+09:00"
    with pytest.raises(WireError):
        wire.parse_token({"access_token": "t", "access_token_token_expired": "tomorrow"})


# --- robustness: whatever arrives, the parser answers with a value or a WireError ------------

frame_text = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda enc, tr, count, fields: f"{enc}|{tr}|{count}|" + "^".join(fields),
        st.sampled_from(["0", "1", "2", ""]),
        st.sampled_from(["H0STCNT0", "H0STCNI0", "H0STCNI9", "X"]),
        st.one_of(st.integers(-1, 12).map(lambda n: f"{n:03d}"), st.text(max_size=4)),
        st.lists(st.text(alphabet="0123456789-+.^ AYN", max_size=12), max_size=120),
    ),
    st.builds(lambda n: SPEC_TICK[:n], st.integers(0, len(SPEC_TICK))),
)


def _decode(text: str) -> None:
    frame = wire.parse_frame(text)
    if isinstance(frame, wire.DataFrame):
        payload = wire.decrypt(frame.payload, KEY, IV) if frame.encrypted else frame.payload
        if frame.tr_id == wire.TICK_TR:
            wire.parse_ticks(payload, frame.count, today=TODAY)
        else:
            wire.parse_notices(payload, frame.count, today=TODAY)


@given(frame_text)
def test_any_frame_decodes_or_raises_a_wire_error(text: str) -> None:
    try:
        _decode(text)
    except WireError as exc:
        assert str(exc)


@given(st.lists(st.text(max_size=12), min_size=23, max_size=26))
def test_notices_with_arbitrary_fields_never_raise_anything_else(fields: list[str]) -> None:
    try:
        wire.parse_notices("^".join(fields), 1, today=TODAY)
    except WireError as exc:
        assert str(exc)


@given(st.binary(max_size=96), st.text(min_size=0, max_size=40), st.text(max_size=20))
def test_decrypting_garbage_or_with_a_wrong_key_is_a_wire_error(
    blob: bytes, key: str, iv: str
) -> None:
    try:
        wire.decrypt(base64.b64encode(blob).decode(), key, iv)
    except WireError as exc:
        assert str(exc)


@given(st.text(max_size=20))
def test_non_numeric_tick_fields_are_wire_errors(junk: str) -> None:
    fields = SPEC_TICK.split("^")
    fields[2] = junk
    try:
        (tick,) = wire.parse_ticks("^".join(fields), 1, today=TODAY)
    except WireError as exc:
        assert str(exc)
    else:
        assert tick.price == int(junk.strip().split(".")[0])


# --- mutated frames: quick by default, 100,000 examples with JANGO_LONG=1 --------------------

FUZZ = settings(
    max_examples=100_000 if os.environ.get("JANGO_LONG") == "1" else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_FILL_HEAD = (
    "jangodemo^5012345601^0000000007^^02^0^00^0^005930^0000000001^000071000^093000^0^2^2"
    "^06010^000000003^김한투"
)
_FILL_26 = _new_layout(_FILL_HEAD.split("^"), price="000071000")
SEEDS = [
    "0|H0STCNT0|001|" + SPEC_TICK,
    "0|H0STCNT0|002|" + SPEC_TICK + "^" + SPEC_TICK,
    "1|H0STCNI0|001|" + kis_frames.encrypt(_FILL_26, KEY, IV),
    "0|H0STCNI0|001|" + _FILL_26,
    '{"header":{"tr_id":"H0STCNI0","tr_key":"x","encrypt":"Y"},"body":{"rt_cd":"0",'
    '"msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS","output":{"iv":"'
    + IV
    + '","key":"'
    + KEY
    + '"}}}',
    '{"header":{"tr_id":"PINGPONG","datetime":"20261124093000"}}',
]
_JUNK = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["^", "|", "9" * 5000, "-" + "9" * 30, "１２", "²", "\udcff", "0" * 25 + "1"]),
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real frame with a few edits: replace, insert or delete a slice, or swap a field."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        end = draw(st.integers(at, min(len(text), at + 12)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "field"]))
        if action == "delete":
            text = text[:at] + text[end:]
        elif action == "field" and "^" in text:
            fields = text.split("^")
            fields[draw(st.integers(0, len(fields) - 1))] = draw(_JUNK)
            text = "^".join(fields)
        else:
            junk = draw(_JUNK)
            text = text[:at] + junk + (text[end:] if action == "replace" else text[at:])
    return text


@FUZZ
@given(st.one_of(mutated(), frame_text, st.text(max_size=2000)))
def test_mutated_and_arbitrary_frames_raise_only_wire_errors(text: str) -> None:
    try:
        _decode(text)
    except WireError as exc:
        assert str(exc)


def test_a_five_thousand_digit_number_is_a_wire_error_not_a_value_error() -> None:
    fields = SPEC_TICK.split("^")
    fields[2] = "9" * 5000
    with pytest.raises(WireError, match=r"digits|characters"):
        wire.parse_ticks("^".join(fields), 1, today=TODAY)
    with pytest.raises(WireError, match="record count"):
        wire.parse_frame("0|H0STCNT0|" + "1" * 5000 + "|x")


def test_oversized_frames_are_refused_before_they_are_split() -> None:
    with pytest.raises(WireError, match="exceeds"):
        wire.parse_frame("0|H0STCNT0|001|" + "^" * (wire.MAX_FRAME_CHARS + 1))
