"""What the web server says to a person, in Korean or English, with account numbers masked.

Every error the API answers carries a stable ``error_code`` (for programs) and ``error`` (for
people) in the language the page asked for with ``Accept-Language``. A broker's own refusal is
named by the broker's code where jango knows it, and otherwise shown as the broker wrote it,
after :func:`mask_accounts` has hidden any account number in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jango.domain.model import mask_account

MESSAGES: dict[str, dict[str, str]] = {
    "ko": {
        "json_only": "주문은 application/json으로 보내야 합니다",
        "not_json": "JSON 형식이 아닙니다",
        "not_object": "JSON 객체를 보내야 합니다",
        "too_deep": "JSON 중첩이 너무 깊습니다 (최대 {limit}단계)",
        "too_large": "요청 본문이 너무 큽니다 (최대 {limit:,}바이트)",
        "required": "{field} 항목이 필요합니다",
        "whole_number": "{field}은(는) 정수여야 합니다",
        "at_least": "{field}은(는) {minimum} 이상이어야 합니다",
        "too_big": "{field} 값이 너무 큽니다",
        "unknown_account": "알 수 없는 계좌입니다",
        "bad_side": "매수 또는 매도를 고르세요",
        "bad_code": "종목코드는 005930처럼 6자리입니다",
        "bad_order_type": "알 수 없는 주문유형입니다",
        "bad_condition": "주문조건은 none, ioc, fok 중 하나입니다",
        "bad_credit": "알 수 없는 신용구분입니다",
        "bad_loan_date": "대출일은 YYYY-MM-DD 형식입니다",
        "bad_format": "형식은 {allowed} 중 하나입니다",
        "no_such_order_here": "주문번호 {order_no}을(를) 모릅니다",
        "no_such_order": "주문번호 {order_no}은(는) 미체결 주문이 아닙니다",
        "refused": "브로커가 주문을 거부했습니다: {detail}",
        "broker_error": "브로커 오류: {detail}",
        "internal": "서버 내부 오류 (로그를 확인하세요)",
        "invalid": "잘못된 요청: {detail}",
        # The simulated venue's refusal codes.
        "UNKNOWN_ACCOUNT": "알 수 없는 계좌입니다",
        "UNKNOWN_CODE": "알 수 없는 종목코드입니다",
        "BAD_QTY": "주문수량이 올바르지 않습니다",
        "BAD_PRICE": "주문가격이 올바르지 않습니다",
        "BAD_CREDIT": "신용구분이 올바르지 않습니다",
        "SHORT_UNSUPPORTED": "대주 주문은 지원하지 않습니다",
        "LOAN_DATE_REQUIRED": "대출일이 필요합니다",
        "UNSUPPORTED_ORDER_TYPE": "지원하지 않는 주문유형입니다",
        "INSUFFICIENT_SELLABLE": "매도가능수량이 부족합니다",
        "INSUFFICIENT_CASH": "주문가능금액이 부족합니다",
        "NO_SUCH_ORDER": "미체결 주문이 아닙니다",
        "QTY_ABOVE_REMAINING": "정정/취소 수량이 미체결 수량보다 많습니다",
    },
    "en": {
        "json_only": "send the order as application/json",
        "not_json": "not JSON",
        "not_object": "send a JSON object",
        "too_deep": "JSON nested too deep (at most {limit} levels)",
        "too_large": "request body too large (at most {limit:,} bytes)",
        "required": "{field} is required",
        "whole_number": "{field} must be a whole number",
        "at_least": "{field} must be at least {minimum}",
        "too_big": "{field} is too large",
        "unknown_account": "unknown account",
        "bad_side": "choose buy or sell",
        "bad_code": "a stock code has 6 characters, like 005930",
        "bad_order_type": "unknown order type",
        "bad_condition": "the order condition is one of none, ioc, fok",
        "bad_credit": "unknown credit type",
        "bad_loan_date": "a loan date is written YYYY-MM-DD",
        "bad_format": "the format is one of {allowed}",
        "no_such_order_here": "no order {order_no} is known",
        "no_such_order": "order {order_no} is not open",
        "refused": "the broker refused the order: {detail}",
        "broker_error": "broker error: {detail}",
        "internal": "internal server error (see the log)",
        "invalid": "bad request: {detail}",
        "UNKNOWN_ACCOUNT": "unknown account",
        "UNKNOWN_CODE": "unknown stock code",
        "BAD_QTY": "the quantity is not valid",
        "BAD_PRICE": "the price is not valid",
        "BAD_CREDIT": "the credit type is not valid",
        "SHORT_UNSUPPORTED": "short orders are not supported",
        "LOAN_DATE_REQUIRED": "a loan date is required",
        "UNSUPPORTED_ORDER_TYPE": "order type not supported",
        "INSUFFICIENT_SELLABLE": "not enough sellable shares",
        "INSUFFICIENT_CASH": "not enough orderable cash",
        "NO_SUCH_ORDER": "the order is not open",
        "QTY_ABOVE_REMAINING": "more than the order's remaining quantity",
    },
}

# Field names as the messages show them.
FIELDS: dict[str, dict[str, str]] = {
    "ko": {"qty": "주문수량", "price": "주문가격", "code": "종목코드", "account": "계좌"},
    "en": {"qty": "quantity", "price": "price", "code": "code", "account": "account"},
}


def language(accept: str | None, default: str) -> str:
    """``ko`` or ``en`` from an ``Accept-Language`` header (its first choice), else ``default``."""
    first = (accept or "").split(",")[0].strip().lower()
    if first.startswith("en"):
        return "en"
    if first.startswith("ko"):
        return "ko"
    return "en" if default == "en" else "ko"


def message(lang: str, key: str, **params: object) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in (field names translated)."""
    table = MESSAGES["en" if lang == "en" else "ko"]
    fields = FIELDS["en" if lang == "en" else "ko"]
    if "field" in params:
        params["field"] = fields.get(str(params["field"]), params["field"])
    return table.get(key, key).format(**params)


def known(key: str) -> bool:
    """Whether ``key`` (a broker's refusal code) has its own message."""
    return key in MESSAGES["ko"]


def mask_accounts(text: str, accounts: Iterable[str]) -> str:
    """``text`` with every one of ``accounts`` (and its dashed form 50123456-01) masked."""
    for number in sorted(set(accounts), key=len, reverse=True):
        if len(number) < 5:
            continue
        digits = re.escape(number)
        dashed = re.escape(number[:-2]) + "-" + re.escape(number[-2:])
        text = re.sub(f"{dashed}|{digits}", mask_account(number), text)
    return text
