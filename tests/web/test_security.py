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

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from jango.sandbox.venue import DEMO_ACCOUNT
from tests.web.live import LiveServer

TOKEN = "test-token-7Hq2"
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
    assert answer.status_code == 400


def test_bad_orders_get_clear_errors(local: LiveServer) -> None:
    def post(body: dict[str, object]) -> httpx.Response:
        return httpx.post(local.url + "/api/orders", json=body)

    assert post({"account": "a9", "side": "buy", "code": "005930", "qty": 1}).status_code == 400
    assert post({"account": "a0", "side": "buy", "code": "12", "qty": 1}).status_code == 400
    assert post({"account": "a0", "side": "buy", "code": "005930", "qty": 0}).status_code == 400
    refused = post({"account": "a0", "side": "sell", "code": "005930", "qty": 10**9})
    assert refused.status_code == 422
    assert "sellable" in refused.json()["error"]
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
