"""The calls KIS's official samples make, as request shapes, and a check of the replies.

Each :class:`Call` is what the sample function for one endpoint sends (path, method, TR id for
real and paper, query parameters or JSON body), written from what the samples show; nothing of
their code is used. :func:`check` asserts that every column KIS documents for the endpoint
(:mod:`tests.kis.kis_columns`) is present in the reply, as a string.

The same calls can be pointed at real KIS to record its replies as fixtures, so anyone with an
account can compare the sandbox with the real thing. Only read-only inquiries are sent then:

    JANGO_KIS_APP_KEY=… JANGO_KIS_APP_SECRET=… JANGO_KIS_ACCOUNT=… JANGO_KIS_MODE=real \\
    JANGO_KIS_REST_URL=https://openapi.koreainvestment.com:9443 \\
        python -m tests.kis.conformance --record fixtures/kis
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.kis.kis_columns import COLUMNS, REALTIME

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"
KST = timezone(timedelta(hours=9))


@dataclass(frozen=True)
class Call:
    """One sample's request: ``tr_ids`` is (real, paper); paper None = real only."""

    name: str
    method: str
    path: str
    tr_ids: tuple[str, str | None]
    params: dict[str, str] = field(default_factory=dict)
    read_only: bool = True

    def tr_id(self, paper: bool) -> str | None:
        return self.tr_ids[1] if paper else self.tr_ids[0]


def today() -> str:
    return datetime.now(KST).strftime("%Y%m%d")


def calls(cano: str, product: str, code: str = "005930") -> list[Call]:
    """Every inquiry the samples make, in the order a session would make them."""
    quote = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}
    account = {"CANO": cano, "ACNT_PRDT_CD": product}
    paging = {"CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}
    return [
        Call("inquire_price", "GET", Q + "inquire-price", ("FHKST01010100",) * 2, quote),
        Call(
            "inquire_balance",
            "GET",
            T + "inquire-balance",
            ("TTTC8434R", "VTTC8434R"),
            {
                **account,
                "AFHR_FLPR_YN": "N",
                "OFL_YN": "",
                "INQR_DVSN": "01",
                "UNPR_DVSN": "01",
                "FUND_STTL_ICLD_YN": "N",
                "FNCG_AMT_AUTO_RDPT_YN": "N",
                "PRCS_DVSN": "00",
                **paging,
            },
        ),
        Call(
            "inquire_daily_ccld",
            "GET",
            T + "inquire-daily-ccld",
            ("TTTC0081R", "VTTC0081R"),
            {
                **account,
                "INQR_STRT_DT": today(),
                "INQR_END_DT": today(),
                "SLL_BUY_DVSN_CD": "00",
                "PDNO": "",
                "CCLD_DVSN": "00",
                "INQR_DVSN": "00",
                "INQR_DVSN_3": "00",
                "ORD_GNO_BRNO": "",
                "ODNO": "",
                "INQR_DVSN_1": "",
                **paging,
                "EXCG_ID_DVSN_CD": "KRX",
            },
        ),
        Call(
            "inquire_psbl_rvsecncl",
            "GET",
            T + "inquire-psbl-rvsecncl",
            ("TTTC0084R", None),
            {**account, "INQR_DVSN_1": "0", "INQR_DVSN_2": "0", **paging},
        ),
        # The sample client turns a leading C into V on paper.
        Call(
            "search_info",
            "GET",
            Q + "search-info",
            ("CTPF1604R", "VTPF1604R"),
            {"PDNO": code, "PRDT_TYPE_CD": "300"},
        ),
        Call(
            "search_stock_info",
            "GET",
            Q + "search-stock-info",
            ("CTPF1002R", None),
            {"PRDT_TYPE_CD": "300", "PDNO": code},
        ),
        Call(
            "inquire_daily_itemchartprice",
            "GET",
            Q + "inquire-daily-itemchartprice",
            ("FHKST03010100",) * 2,
            {
                **quote,
                "FID_INPUT_DATE_1": "20250101",
                "FID_INPUT_DATE_2": today(),
                "FID_PERIOD_DIV_CODE": "D",
                "FID_ORG_ADJ_PRC": "1",
            },
        ),
        Call(
            "inquire_daily_price",
            "GET",
            Q + "inquire-daily-price",
            ("FHKST01010400",) * 2,
            {**quote, "FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": "1"},
        ),
        Call(
            "inquire_asking_price_exp_ccn",
            "GET",
            Q + "inquire-asking-price-exp-ccn",
            ("FHKST01010200",) * 2,
            quote,
        ),
        Call(
            "inquire_time_itemchartprice",
            "GET",
            Q + "inquire-time-itemchartprice",
            ("FHKST03010200",) * 2,
            {
                **quote,
                "FID_INPUT_HOUR_1": "153000",
                "FID_PW_DATA_INCU_YN": "Y",
                "FID_ETC_CLS_CODE": "",
            },
        ),
        Call(
            "chk_holiday",
            "GET",
            Q + "chk-holiday",
            ("CTCA0903R", None),
            {"BASS_DT": today(), "CTX_AREA_FK": "", "CTX_AREA_NK": ""},
        ),
        Call(
            "inquire_psbl_order",
            "GET",
            T + "inquire-psbl-order",
            ("TTTC8908R", "VTTC8908R"),
            {
                **account,
                "PDNO": code,
                "ORD_UNPR": "",
                "ORD_DVSN": "01",
                "CMA_EVLU_AMT_ICLD_YN": "N",
                "OVRS_ICLD_YN": "N",
            },
        ),
        Call(
            "inquire_psbl_sell",
            "GET",
            T + "inquire-psbl-sell",
            ("TTTC8408R", None),
            {**account, "PDNO": code},
        ),
        Call(
            "inquire_period_trade_profit",
            "GET",
            T + "inquire-period-trade-profit",
            ("TTTC8715R", None),
            {
                **account,
                "SORT_DVSN": "02",
                "INQR_STRT_DT": today(),
                "INQR_END_DT": today(),
                "CBLC_DVSN": "00",
                "PDNO": "",
                **paging,
            },
        ),
        Call(
            "inquire_balance_rlz_pl",
            "GET",
            T + "inquire-balance-rlz-pl",
            ("TTTC8494R", None),
            {
                **account,
                "AFHR_FLPR_YN": "N",
                "OFL_YN": "",
                "INQR_DVSN": "02",
                "UNPR_DVSN": "01",
                "FUND_STTL_ICLD_YN": "N",
                "FNCG_AMT_AUTO_RDPT_YN": "N",
                "PRCS_DVSN": "01",
                "COST_ICLD_YN": "N",
                **paging,
            },
        ),
    ]


def order_cash(cano: str, product: str, code: str, qty: int, price: int) -> Call:
    """The sample's buy: a limit order on KRX."""
    body = {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "PDNO": code,
        "ORD_DVSN": "00",
        "ORD_QTY": str(qty),
        "ORD_UNPR": str(price),
        "EXCG_ID_DVSN_CD": "KRX",
        "SLL_TYPE": "",
        "CNDT_PRIC": "",
    }
    return Call("order_cash", "POST", T + "order-cash", ("TTTC0012U", "VTTC0012U"), body, False)


def order_rvsecncl(
    cano: str, product: str, branch: str, order_no: str, division: str, price: int = 0
) -> Call:
    """The sample's amend (01: one share at ``price``) or cancel (02: all that remains)."""
    body = {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "KRX_FWDG_ORD_ORGNO": branch,
        "ORGN_ODNO": order_no,
        "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": division,
        "ORD_QTY": "1" if division == "01" else "0",
        "ORD_UNPR": str(price),
        "QTY_ALL_ORD_YN": "N" if division == "01" else "Y",
        "EXCG_ID_DVSN_CD": "KRX",
    }
    return Call(
        "order_rvsecncl", "POST", T + "order-rvsecncl", ("TTTC0013U", "VTTC0013U"), body, False
    )


def order_credit(
    cano: str, product: str, code: str, qty: int, price: int, credit_type: str, loan_date: str
) -> Call:
    """The sample's credit order: 21 a margin buy (TTTC0052U), 25 its repaying sell
    (TTTC0051U) naming the row's loan date; real only."""
    body = {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "PDNO": code,
        "CRDT_TYPE": credit_type,
        "LOAN_DT": loan_date,
        "ORD_DVSN": "00",
        "ORD_QTY": str(qty),
        "ORD_UNPR": str(price),
    }
    tr_id = "TTTC0052U" if credit_type in ("21", "23", "26", "28") else "TTTC0051U"
    return Call("order_credit", "POST", T + "order-credit", (tr_id, None), body, False)


def subscribe(approval_key: str, tr_id: str, tr_key: str, tr_type: str = "1") -> str:
    """The sample's WebSocket registration message (release: ``tr_type`` "2")."""
    header = {
        "approval_key": approval_key,
        "custtype": "P",
        "tr_type": tr_type,
        "content-type": "utf-8",
    }
    return json.dumps({"header": header, "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}}})


def records(frame: str, keys: dict[str, tuple[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """(tr_id, records by column name) of one data frame; ``keys`` maps a TR id to the AES key
    and IV its subscribe ack gave, for encrypted frames. Raises ValueError on a bad length."""
    encrypted, tr_id, count, payload = frame.split("|", 3)
    if encrypted == "1":
        payload = _decrypt(payload, *keys[tr_id])
    columns = REALTIME["H0STCNI0" if tr_id == "H0STCNI9" else tr_id]
    fields = payload.split("^")
    if len(fields) != int(count) * len(columns):
        raise ValueError(f"{tr_id}: {len(fields)} fields for {count} records of {len(columns)}")
    return tr_id, [
        dict(zip(columns, fields[start : start + len(columns)], strict=True))
        for start in range(0, len(fields), len(columns))
    ]


def _decrypt(payload: str, key: str, iv: str) -> str:
    # AES-256-CBC, PKCS#7, base64, as the sample's client decrypts notices.
    decryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    padded = decryptor.update(base64.b64decode(payload)) + decryptor.finalize()
    return padded[: -padded[-1]].decode("utf-8")


class Client:
    """Sends :class:`Call` s with the headers the samples send."""

    def __init__(self, base_url: str, app_key: str, app_secret: str, paper: bool) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10.0)
        self.app_key, self.app_secret, self.paper = app_key, app_secret, paper
        reply = self.http.post(
            "/oauth2/tokenP",
            json={"grant_type": "client_credentials", "appkey": app_key, "appsecret": app_secret},
        )
        self.token = str(reply.json()["access_token"])

    def approval(self) -> str:
        """A WebSocket approval key (the secret travels as ``secretkey`` here)."""
        reply = self.http.post(
            "/oauth2/Approval",
            json={
                "grant_type": "client_credentials",
                "appkey": self.app_key,
                "secretkey": self.app_secret,
            },
        )
        return str(reply.json()["approval_key"])

    def send(
        self, call: Call, *, tr_cont: str = "", params: dict[str, str] | None = None
    ) -> httpx.Response:
        tr_id = call.tr_id(self.paper) or call.tr_ids[0]
        headers = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {self.token}",
            "appkey": self.app_key,
            "appsecret": self.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
            "tr_cont": tr_cont,
        }
        values = call.params if params is None else params
        if call.method == "POST":
            return self.http.post(call.path, content=json.dumps(values), headers=headers)
        return self.http.get(call.path, params=values, headers=headers)

    def close(self) -> None:
        self.http.close()


def check(name: str, body: dict[str, Any]) -> list[str]:
    """Problems with a reply: a documented column missing or not a string, per output block."""
    problems = []
    for block, columns in COLUMNS[name].items():
        value = body.get(block)
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, dict) for item in items):
            problems.append(f"{name}.{block} is {type(value).__name__}, not object(s)")
            continue
        for item in items:
            for column in columns:
                if column not in item:
                    problems.append(f"{name}.{block} lacks {column}")
                elif not isinstance(item[column], str):
                    problems.append(f"{name}.{block}.{column} is {type(item[column]).__name__}")
    return sorted(set(problems))


def record(folder: Path) -> int:
    """Send every read-only call to the KIS named by the environment; save each reply."""
    env = os.environ
    account = env["JANGO_KIS_ACCOUNT"].replace("-", "")
    paper = env.get("JANGO_KIS_MODE", "real") == "paper"
    client = Client(
        env["JANGO_KIS_REST_URL"], env["JANGO_KIS_APP_KEY"], env["JANGO_KIS_APP_SECRET"], paper
    )
    folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    try:
        for call in calls(account[:8], account[8:]):
            if call.tr_id(paper) is None:
                continue
            reply = client.send(call)
            body = reply.json()
            (folder / f"{call.name}.json").write_text(
                json.dumps(body, ensure_ascii=False, indent=1)
            )
            problems = check(call.name, body) if body.get("rt_cd") == "0" else [str(body)]
            failed += bool(problems)
            print(call.name, reply.status_code, "; ".join(problems) or "ok")
    finally:
        client.close()
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Record KIS replies for the sample calls.")
    parser.add_argument("--record", type=Path, required=True, help="folder for the JSON replies")
    sys.exit(record(parser.parse_args().record))
