"""Each code's product info is looked up once a day: a restart the same day reads it from the
cache beside the token cache, and a cache that cannot be read or written only costs lookups."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango.brokers.kis import KisBroker
from jango.brokers.kis.instruments import InstrumentCache
from jango.brokers.kis.wire import ProductInfo
from jango.domain.model import BalanceSnapshot, Code, Market
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, config_for

DAY = date(2026, 12, 2)
INFO = ProductInfo("KODEX 200", Market.ETF)


def test_a_restart_the_same_day_looks_up_no_product_info(tmp_path: Path) -> None:
    async def balance_and_requests(sandbox: KisSandbox) -> tuple[BalanceSnapshot, list[str]]:
        broker = KisBroker(config_for(sandbox, tmp_path / "token.json"), tuning=FAST)
        before = len(sandbox.gateway.requests)
        try:
            await broker.connect()
            snapshot = await broker.balance(sandbox.credentials.accounts[0])
        finally:
            await broker.close()
        return snapshot, sandbox.gateway.requests[before:]

    async def scenario() -> None:
        sandbox = KisSandbox(Venue(seed=7), tick_interval=None)
        await sandbox.start()
        try:
            first, made = await balance_and_requests(sandbox)
            looked_up = [path for path in made if path.endswith("search-stock-info")]
            assert len(looked_up) == len({row.code for row in first.rows}) > 0
            second, made = await balance_and_requests(sandbox)
        finally:
            await sandbox.stop()
        assert not [path for path in made if path.endswith("search-stock-info")]
        assert [(row.code, row.market, row.name) for row in second.rows] == [
            (row.code, row.market, row.name) for row in first.rows
        ]

    asyncio.run(scenario())


def test_product_info_is_kept_for_its_day_and_server_only(tmp_path: Path) -> None:
    path = tmp_path / "kis-instruments.json"
    cache = InstrumentCache(path, "real@http://a")
    cache.put(Code("069500"), DAY, INFO)
    cache.save()
    assert InstrumentCache(path, "real@http://a").get(Code("069500"), DAY) == INFO
    assert InstrumentCache(path, "real@http://a").get(Code("069500"), date(2026, 12, 3)) is None
    assert InstrumentCache(path, "paper@http://a").get(Code("069500"), DAY) is None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_a_cache_that_cannot_be_read_is_looked_up_again_never_raised(
    tmp_path: Path, garbage: bytes
) -> None:
    path = tmp_path / "kis-instruments.json"
    path.write_bytes(garbage)
    assert InstrumentCache(path, "real@http://a").get(Code("069500"), DAY) is None


def test_a_damaged_cache_is_named_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kis-instruments.json"
    path.write_text('{"day": "2026-12-02", "server": "real@http://a", "codes": {"069500": 7}}')
    with caplog.at_level(logging.WARNING, logger="jango.brokers.kis.instruments"):
        assert InstrumentCache(path, "real@http://a").get(Code("069500"), DAY) is None
    assert str(path) in caplog.text and "unreadable" in caplog.text


def test_a_cache_that_cannot_be_written_warns_once_and_still_serves_this_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cache = InstrumentCache(blocker / "kis-instruments.json", "real@http://a")
    with caplog.at_level(logging.WARNING, logger="jango.brokers.kis.instruments"):
        for code in ("069500", "005930"):
            cache.put(Code(code), DAY, INFO)
            cache.save()
    assert caplog.text.count("not saved") == 1
    assert cache.get(Code("005930"), DAY) == INFO
