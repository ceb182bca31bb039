"""The KIS sandbox's side of the wire: venue values → KIS REST bodies and WebSocket frames.

Written from the protocol reference, independently of the adapter's parser, so the adapter's
tests check it against a second reading of the protocol rather than against itself.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jango.domain.model import (
    KST,
    BalanceRow,
    Cash,
    Condition,
    Credit,
    Market,
    NoticeKind,
    OrderAction,
    OrderNotice,
    OrderType,
    Quote,
    Side,
    Tick,
)

ORDER_DIVISIONS: dict[str, tuple[OrderType, Condition]] = {
    "00": (OrderType.LIMIT, Condition.NONE),
    "01": (OrderType.MARKET, Condition.NONE),
    "02": (OrderType.CONDITIONAL, Condition.NONE),
    "03": (OrderType.BEST, Condition.NONE),
    "04": (OrderType.PRIORITY, Condition.NONE),
    "11": (OrderType.LIMIT, Condition.IOC),
    "12": (OrderType.LIMIT, Condition.FOK),
    "13": (OrderType.MARKET, Condition.IOC),
    "14": (OrderType.MARKET, Condition.FOK),
    "15": (OrderType.BEST, Condition.IOC),
    "16": (OrderType.BEST, Condition.FOK),
}
_KIND_CODES = {value: key for key, value in ORDER_DIVISIONS.items()}

# CRDT_CLS of fill notices: the "new" code of each credit type (krx-rules §7), 10 for cash.
_NOTICE_CREDIT = {
    Credit.CASH: "10",
    Credit.MARGIN_SELF: "21",
    Credit.SHORT_KSFC: "22",
    Credit.MARGIN_KSFC: "23",
    Credit.SHORT_SELF: "24",
}

_MARKET_NAMES = {
    Market.KOSPI: "KOSPI",
    Market.KOSDAQ: "KOSDAQ",
    Market.KONEX: "KONEX",
    Market.ETF: "ETF",
    Market.ETN: "ETN",
    Market.ELW: "ELW",
    Market.UNKNOWN: "",
}

_ALPHABET = string.ascii_letters + string.digits


def session_secret(length: int) -> str:
    """A fresh ASCII key (32 chars) or iv (16 chars) for one WebSocket session."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def encrypt(plain: str, key: str, iv: str) -> str:
    """AES-256-CBC with PKCS#7 padding, base64 — how KIS sends fill notices."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode("utf-8")) + padder.finalize()
    cipher = Cipher(algorithms.AES(key.encode("ascii")), modes.CBC(iv.encode("ascii")))
    encryptor = cipher.encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def _sign(diff: int, price: int, upper: int, lower: int) -> str:
    if upper and price >= upper:
        return "1"
    if lower and price <= lower:
        return "4"
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _rate(diff: int, base: int) -> str:
    if not base:
        return "0.00"
    return str((Decimal(diff * 100) / base).quantize(Decimal("0.01"), ROUND_HALF_UP))


def tick_record(tick: Tick, base: int) -> str:
    """One 46-field ``H0STCNT0`` record (fields the venue does not model are zero or blank)."""
    fields = ["0"] * 46
    fields[0] = tick.code
    fields[1] = tick.time.astimezone(KST).strftime("%H%M%S")
    fields[2] = str(tick.price)
    fields[3] = _sign(tick.diff, tick.price, 0, 0)
    fields[4] = str(tick.diff)
    fields[5] = _rate(tick.diff, base)
    fields[6] = fields[7] = fields[8] = fields[9] = fields[10] = fields[11] = str(tick.price)
    fields[12] = "1"
    fields[13] = str(tick.volume)
    fields[14] = str(tick.volume * tick.price)
    fields[21] = "1"
    fields[24] = fields[27] = fields[30] = "090000"
    fields[33] = tick.time.astimezone(KST).strftime("%Y%m%d")
    fields[34] = "20"
    fields[35] = "N"
    fields[43] = "A" if tick.expected else "0"  # A–D are auction (expected price) phases
    fields[44] = ""
    fields[45] = str(base)
    return "^".join(fields)


def tick_frame(records: list[str]) -> str:
    """A plain data frame carrying several tick records (KIS batches them)."""
    return f"0|H0STCNT0|{len(records):03d}|" + "^".join(records)


def notice_record(
    notice: OrderNotice,
    *,
    hts_id: str,
    branch: str,
    order_qty: int,
    order_price: int,
    layout: int = 26,
) -> str:
    """One fill-notice record in the 26-field (2025) or the old 23-field layout."""
    accept_yn = {
        NoticeKind.ACCEPTED: "1",
        NoticeKind.CONFIRMED: "2",
        NoticeKind.REJECTED: "1",
        NoticeKind.FILLED: "2",
    }[notice.kind]
    self_cancel = (
        notice.kind is NoticeKind.CONFIRMED
        and notice.action is OrderAction.CANCEL
        and notice.orig_order_no == notice.order_no
    )
    if self_cancel:
        accept_yn = "3"  # the exchange cancelled an IOC/FOK remainder (or an expired order)
    head = [
        hts_id,
        notice.account,
        notice.order_no.zfill(10),
        "" if self_cancel else notice.orig_order_no,
        "01" if notice.side is Side.SELL else "02",
        {OrderAction.NEW: "0", OrderAction.AMEND: "1", OrderAction.CANCEL: "2"}[notice.action],
        _KIND_CODES.get((notice.order_type, notice.condition), "00"),
        {Condition.NONE: "0", Condition.IOC: "1", Condition.FOK: "2"}[notice.condition],
        notice.code,
        f"{notice.qty:010d}",
        f"{notice.price:09d}",
        notice.time.astimezone(KST).strftime("%H%M%S"),
        "1" if notice.kind is NoticeKind.REJECTED else "0",
        "2" if notice.kind is NoticeKind.FILLED else "1",
        accept_yn,
        branch,
        f"{order_qty:09d}",
        "김한투",
    ]
    credit = _NOTICE_CREDIT.get(notice.credit, "99")
    loan = notice.loan_date.strftime("%Y%m%d") if notice.loan_date else ""
    if layout == 26:
        tail = ["000000000", "1", "Y", "", credit, loan, notice.name, f"{order_price:09d}"]
    else:
        tail = [notice.name, credit, loan, notice.name, f"{order_price:09d}"]
    return "^".join(head + tail)


def balance_item(row: BalanceRow, bought: int = 0, sold: int = 0) -> dict[str, str]:
    """One ``output1`` row of inquire-balance; ``bought``/``sold`` are today's filled shares
    into and out of the row (thdt_buyqty, thdt_sll_qty)."""
    value = row.qty * row.price
    average = (
        (Decimal(row.purchase_amount) / row.qty).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if row.qty
        else Decimal("0.0000")
    )
    profit = value - row.purchase_amount
    rate = (
        (Decimal(profit * 100) / row.purchase_amount).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if row.purchase_amount
        else Decimal("0.00")
    )
    return {
        "pdno": row.code,
        "prdt_name": row.name,
        "trad_dvsn_name": row.credit.label_ko,
        "bfdy_buy_qty": "0",
        "bfdy_sll_qty": "0",
        "thdt_buyqty": str(bought),
        "thdt_sll_qty": str(sold),
        "hldg_qty": str(row.qty),
        "ord_psbl_qty": str(row.sellable),
        "pchs_avg_pric": str(average),
        "pchs_amt": str(row.purchase_amount),
        "prpr": str(row.price),
        "evlu_amt": str(value),
        "evlu_pfls_amt": str(profit),
        "evlu_pfls_rt": str(rate),
        "evlu_erng_rt": "0",
        "loan_dt": row.loan_date.strftime("%Y%m%d") if row.loan_date else "",
        "loan_amt": str(row.loan_amount),
        "stln_slng_chgs": "0",
        "expd_dt": "",
        "fltt_rt": "0.00000000",
        "bfdy_cprs_icdc": "0",
        "item_mgna_rt_name": "",
        "grta_rt_name": "",
        "sbst_pric": "0",
        "stck_loan_unpr": "0",
    }


def balance_totals(
    rows: list[BalanceRow],
    cash: Cash,
    *,
    bought_today: int = 0,
    sold_today: int = 0,
    fees_today: int = 0,
) -> dict[str, str]:
    """The single ``output2`` element (account totals), repeated on every page; ``*_today``
    are today's buy and sell amounts and their commission and tax (thdt_*_amt)."""
    bought = sum(row.purchase_amount for row in rows)
    value = sum(row.qty * row.price for row in rows)
    loans = sum(row.loan_amount for row in rows)
    totals = {
        "dnca_tot_amt": cash.deposit,
        # D+1: the venue's own figure when it has one; otherwise nothing settles before D+2
        # (the venue's fills are today's), so D+1 is the deposit.
        "nxdy_excc_amt": cash.d1 if cash.d1 is not None else cash.deposit,
        "prvs_rcdl_excc_amt": cash.d2,
        "cma_evlu_amt": 0,
        "bfdy_buy_amt": 0,
        "thdt_buy_amt": bought_today,
        "nxdy_auto_rdpt_amt": 0,
        "bfdy_sll_amt": 0,
        "thdt_sll_amt": sold_today,
        "d2_auto_rdpt_amt": 0,
        "bfdy_tlex_amt": 0,
        "thdt_tlex_amt": fees_today,
        "tot_loan_amt": loans,
        "scts_evlu_amt": value,
        "tot_evlu_amt": value + cash.d2,
        "nass_amt": value + cash.d2 - loans,
        "pchs_amt_smtl_amt": bought,
        "evlu_amt_smtl_amt": value,
        "evlu_pfls_smtl_amt": value - bought,
        "tot_stln_slng_chgs": 0,
        "bfdy_tot_asst_evlu_amt": 0,
        "asst_icdc_amt": 0,
    }
    result = {key: str(amount) for key, amount in totals.items()}
    result["fncg_gld_auto_rdpt_yn"] = "N"
    result["asst_icdc_erng_rt"] = "0.00000000"
    return result


def multprice_item(quote: Quote) -> dict[str, str]:
    """One element of ``output`` of intstock-multprice."""
    return {
        "inter_shrn_iscd": quote.code,
        "inter_kor_isnm": quote.name,
        "inter2_prpr": str(quote.price),
        "inter2_prdy_vrss": str(quote.diff),
        "prdy_vrss_sign": _sign(quote.diff, quote.price, quote.upper, quote.lower),
        "prdy_ctrt": _rate(quote.diff, quote.base),
        "acml_vol": str(quote.volume),
        "acml_tr_pbmn": str(quote.volume * quote.price),
        "inter2_oprc": str(quote.base),
        "inter2_mxpr": str(quote.upper),
        "inter2_llam": str(quote.lower),
        "inter2_prdy_clpr": str(quote.base),
        "inter2_sdpr": str(quote.base),
        "kospi_kosdaq_cls_name": _MARKET_NAMES[quote.market],
        "hour_cls_code": "0",
    }


def control(
    tr_id: str,
    tr_key: str,
    msg_cd: str,
    msg1: str,
    *,
    ok: bool,
    encrypt_flag: str = "N",
    key: str = "",
    iv: str = "",
) -> str:
    """A JSON control message (subscribe/unsubscribe ack or error)."""
    body: dict[str, object] = {"rt_cd": "0" if ok else "1", "msg_cd": msg_cd, "msg1": msg1}
    if key:
        body["output"] = {"iv": iv, "key": key}
    header = {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt_flag}
    return json.dumps({"header": header, "body": body}, ensure_ascii=False)


def pingpong(now: datetime) -> str:
    """The keep-alive KIS sends; clients echo it back."""
    stamp = now.astimezone(KST).strftime("%Y%m%d%H%M%S")
    return json.dumps({"header": {"tr_id": "PINGPONG", "datetime": stamp}})
