"""Who may use the web server: a token beyond loopback, same-origin browsers, masked accounts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus

from jango.sandbox.venue import DEMO_ACCOUNT
from jango.views.web.guard import WeakToken, check_token
from jango.views.web.messages import mask_accounts
from tests.web.live import LiveServer

TOKEN = "test-token-7Hq2-Zx81-pLm4-Wc"
TIMEOUT = 15.0


@pytest.fixture(scope="module")
def exposed() -> Iterator[LiveServer]:
    """Bound to every interface, reached through 127.0.0.1, with a token."""
    with LiveServer(host="0.0.0.0", token=TOKEN) as live:
        yield live


@pytest.fixture(scope="module")
def local() -> Iterator[LiveServer]:
    """Bound to loopback, without a token."""
    with LiveServer() as live:
        yield live


def ws_url(server: LiveServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/ws{query}"


async def first_message(url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    async with websockets.connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
        message: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        return message


def refused_status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        asyncio.run(first_message(url, headers))
    except InvalidStatus as exc:
        return exc.response.status_code
    raise AssertionError("the WebSocket was accepted")


@pytest.mark.parametrize("path", ["/", "/api/book", "/api/export.xlsx"])
def test_without_the_token_an_exposed_server_refuses_the_page_and_api(
    exposed: LiveServer, path: str
) -> None:
    assert httpx.get(exposed.url + path).status_code == 401
    assert httpx.get(exposed.url + path, params={"token": "wrong"}).status_code == 401


def test_without_the_token_an_exposed_server_refuses_orders(exposed: LiveServer) -> None:
    order = {"account": "a0", "side": "buy", "code": "005930", "qty": 1}
    assert httpx.post(exposed.url + "/api/orders", json=order).status_code == 401
    assert not exposed.session.book.orders


def test_without_the_token_an_exposed_server_refuses_the_websocket(exposed: LiveServer) -> None:
    assert refused_status(ws_url(exposed)) == 403
    assert refused_status(ws_url(exposed, "?token=wrong")) == 403


def test_with_the_token_page_api_download_and_websocket_all_work(exposed: LiveServer) -> None:
    page = httpx.get(exposed.url + "/", params={"token": TOKEN})
    assert page.status_code == 200
    assert 'id="holdings"' in page.text
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    book = httpx.get(exposed.url + "/api/book", headers=bearer)
    assert book.status_code == 200
    assert book.json()["accounts"][0]["rows"]
    xlsx = httpx.get(exposed.url + "/api/export.xlsx", headers=bearer)
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    assert asyncio.run(first_message(ws_url(exposed, f"?token={TOKEN}")))["type"] == "snapshot"
    assert asyncio.run(first_message(ws_url(exposed), bearer))["type"] == "snapshot"


def test_with_the_token_an_order_goes_through(exposed: LiveServer) -> None:
    upper = exposed.venue.quote("005930").upper
    order = {"account": "a0", "side": "buy", "code": "005930", "qty": 1, "price": upper}
    answer = httpx.post(
        exposed.url + "/api/orders", json=order, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["order_no"]


def test_static_assets_hold_no_data_and_need_no_token(exposed: LiveServer) -> None:
    assert httpx.get(exposed.url + "/static/app.js").status_code == 200


def test_a_loopback_server_refuses_other_host_names(local: LiveServer) -> None:
    # A hostile site that rebinds its DNS name to 127.0.0.1 still sends its own Host header.
    answer = httpx.get(local.url + "/api/book", headers={"Host": f"evil.example:{local.port}"})
    assert answer.status_code == 403
    assert httpx.get(local.url + "/api/book").status_code == 200
    assert httpx.get(f"http://localhost:{local.port}/api/book").status_code == 200


def test_cross_site_orders_and_streams_are_refused(local: LiveServer) -> None:
    order = {"account": "a0", "side": "buy", "code": "005930", "qty": 1}
    evil = {"Origin": "http://evil.example"}
    assert httpx.post(local.url + "/api/orders", json=order, headers=evil).status_code == 403
    assert refused_status(ws_url(local), evil) == 403
    same = {"Origin": local.url}
    assert asyncio.run(first_message(ws_url(local), same))["type"] == "snapshot"


def test_an_order_must_be_sent_as_json(local: LiveServer) -> None:
    # A plain form post needs no CORS preflight, so the API accepts JSON only.
    form = "account=a0&side=buy&code=005930&qty=1"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(local.url + "/api/orders", content=form, headers=headers)
    assert answer.status_code == 415
    assert answer.json()["error_code"] == "json_only"


def test_bad_orders_get_clear_errors(local: LiveServer) -> None:
    def post(body: dict[str, object]) -> httpx.Response:
        return httpx.post(local.url + "/api/orders", json=body)

    assert post({"account": "a9", "side": "buy", "code": "005930", "qty": 1}).status_code == 400
    assert post({"account": "a0", "side": "buy", "code": "12", "qty": 1}).status_code == 400
    assert post({"account": "a0", "side": "buy", "code": "005930", "qty": 0}).status_code == 400
    refused = post({"account": "a0", "side": "sell", "code": "005930", "qty": 10**9})
    assert refused.status_code == 422
    assert refused.json()["code"] == "INSUFFICIENT_SELLABLE"
    missing = httpx.post(local.url + "/api/orders/9999999999/cancel", json={"account": "a0"})
    assert missing.status_code == 404


def test_no_full_account_number_reaches_the_page_or_the_stream(local: LiveServer) -> None:
    assert DEMO_ACCOUNT not in httpx.get(local.url + "/").text
    assert DEMO_ACCOUNT not in httpx.get(local.url + "/api/book").text
    snapshot = asyncio.run(first_message(ws_url(local)))
    text = json.dumps(snapshot, ensure_ascii=False)
    assert DEMO_ACCOUNT not in text
    assert "******5601" in text


SERVE = """
import sys
from jango.brokers.sim.broker import SimBroker
from jango.engine import Session
from jango.views.web.app import serve
sys.exit(serve(Session(SimBroker(seed=1, tick_interval=0)), host="0.0.0.0", port=0))
"""


def test_serving_beyond_loopback_without_a_token_generates_one_and_prints_it() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r":(\d+)/\?token=([\w-]+)", line)
        assert found, line
        port, token = found.groups()
        base = f"http://127.0.0.1:{port}"
        assert len(token) >= 24
        assert httpx.get(base + "/api/book", timeout=TIMEOUT).status_code == 401
        assert httpx.get(base + "/api/book", params={"token": token}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert token not in err


# ----------------------------------------------------------------------------- limits and leaks


@pytest.mark.parametrize("weak", ["a", "short-token", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
def test_a_weak_token_is_refused(weak: str) -> None:
    with pytest.raises(WeakToken, match="too weak"):
        check_token(weak)
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_TOKEN, weak], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "too weak" in proc.stderr
    assert "Traceback" not in proc.stderr


SERVE_TOKEN = """
import sys
from jango.brokers.sim.broker import SimBroker
from jango.engine import Session
from jango.views.web.app import serve
sys.exit(serve(Session(SimBroker(seed=1, tick_interval=0)), port=0, token=sys.argv[1]))
"""


@pytest.mark.parametrize("path", ["/", "/api/book", "/static/app.js", "/api/nothing"])
def test_every_answer_carries_the_security_headers(local: LiveServer, path: str) -> None:
    answer = httpx.get(local.url + path)
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_refusals_carry_the_security_headers_too(exposed: LiveServer) -> None:
    answer = httpx.get(exposed.url + "/api/book")
    assert answer.status_code == 401
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_a_body_over_64_kib_is_refused_before_it_is_read(local: LiveServer) -> None:
    big = b'{"pad": "' + b"x" * (65 * 1024) + b'"}'
    headers = {"Content-Type": "application/json"}
    answer = httpx.post(local.url + "/api/orders", content=big, headers=headers)
    assert answer.status_code == 413
    assert "65,536" in answer.json()["error"]

    # Without a length (chunked), the server stops reading at the limit.
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(8 * 1024):  # up to 8 MiB offered
            yield b"x" * 1024

    answer = httpx.post(local.url + "/api/orders", content=chunks(), headers=headers)
    assert answer.status_code == 413


def test_json_nested_deep_is_a_400_with_one_clear_message(local: LiveServer) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    headers = {"Content-Type": "application/json"}
    answer = httpx.post(local.url + "/api/orders", content=deep, headers=headers)
    assert answer.status_code == 413  # 200,000 bytes: over the size limit first
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000
    answer = httpx.post(local.url + "/api/orders", content=deep, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "too_deep"
    assert "Traceback" not in answer.text
    assert "중첩" in answer.json()["error"]
    english = httpx.post(
        local.url + "/api/orders", content=deep, headers={**headers, "Accept-Language": "en"}
    )
    assert english.json()["error"] == "JSON nested too deep (at most 16 levels)"


def test_errors_never_name_a_full_account_number(local: LiveServer) -> None:
    missing = httpx.post(
        local.url + "/api/orders/9999999999/cancel",
        json={"account": "a0"},
        headers={"Accept-Language": "en"},
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == "order 9999999999 is not open"
    assert DEMO_ACCOUNT not in missing.text
    text = mask_accounts(f"order 1 is not open in {DEMO_ACCOUNT} (50123456-01)", [DEMO_ACCOUNT])
    assert text == "order 1 is not open in ******5601 (******5601)"


def test_the_excel_download_masks_account_numbers_in_sheet_names_and_cells(
    local: LiveServer, tmp_path: Path
) -> None:
    upper = local.venue.quote("005930").upper
    order = {"account": "a0", "side": "buy", "code": "005930", "qty": 1, "price": upper}
    assert httpx.post(local.url + "/api/orders", json=order).status_code == 200
    answer = httpx.get(local.url + "/api/export.xlsx")
    assert answer.status_code == 200
    path = tmp_path / "book.xlsx"
    path.write_bytes(answer.content)
    book = openpyxl.load_workbook(path)
    assert all(DEMO_ACCOUNT not in ws.title for ws in book.worksheets)
    assert "계좌 5601" in book.sheetnames
    cells = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not [c for c in cells if DEMO_ACCOUNT in c]
    assert "******5601" in cells  # the orders sheet names the account, masked


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ORDER_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "account": JSON_VALUES | st.sampled_from(["a0", "a1"]),
        "side": JSON_VALUES | st.sampled_from(["buy", "sell"]),
        "code": JSON_VALUES | st.sampled_from(["005930", "A005930", "999999"]),
        "qty": JSON_VALUES | st.integers(-5, 5),
        "price": JSON_VALUES | st.integers(-5, 10**13),
        "order_type": JSON_VALUES | st.sampled_from(["limit", "market"]),
    },
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/api/orders", "/api/orders/1/amend", "/api/orders/x%00/cancel"]),
    body=ORDER_FIELDS | JSON_VALUES,
    raw=st.none() | st.binary(max_size=64),
)
def test_nothing_a_client_sends_makes_the_api_fail(
    local: LiveServer, path: str, body: object, raw: bytes | None
) -> None:
    content = raw if raw is not None else json.dumps(body).encode()
    answer = httpx.post(
        local.url + path, content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code in (200, 400, 404, 413, 415, 422, 502), answer.text
    assert "error" in answer.json() or "order_no" in answer.json()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frames=st.lists(st.text(max_size=50) | st.binary(max_size=50), max_size=5))
def test_nothing_a_client_sends_on_the_websocket_breaks_the_stream(
    local: LiveServer, frames: list[str | bytes]
) -> None:
    async def run() -> str:
        async with websockets.connect(ws_url(local), open_timeout=TIMEOUT, max_size=None) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            for frame in frames:
                await ws.send(frame)
            return str(first["type"])

    assert asyncio.run(run()) == "snapshot"
    # The server still answers a new client after whatever that one sent.
    assert asyncio.run(first_message(ws_url(local)))["type"] == "snapshot"


def test_an_account_number_in_a_status_text_reaches_the_page_masked(local: LiveServer) -> None:
    async def run() -> str:
        async with websockets.connect(ws_url(local), open_timeout=TIMEOUT, max_size=None) as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            for _ in range(snapshot["parts"] - 1):
                await ws.recv()
            await asyncio.to_thread(local.call, broker_says(local))
            # A tick makes the hub push; the status changed too, so it travels with it.
            await asyncio.to_thread(local.venue.step, 10_000)
            while True:
                text = str(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if '"status"' in text:
                    return text

    text = asyncio.run(run())
    assert DEMO_ACCOUNT not in text
    assert "logged in to ******5601" in text
    book = httpx.get(local.url + "/api/book")
    assert book.json()["status"]["detail"] == "logged in to ******5601"


async def broker_says(server: LiveServer) -> None:
    # What an adapter's connection detail could carry, as a real broker's login message might.
    server.session.status.detail = f"logged in to {DEMO_ACCOUNT}"
