"""The KIS adapter's balance snapshot: the day's orders, each row's market and loan amount, and
amend/cancel by a process that did not place the order; against the sandbox on loopback."""

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from jango.brokers.kis import KisBroker
from jango.brokers.port import NoSuchOrder, NotSupported, OrderRefused, OrderRequest
from jango.domain.model import BalanceRow, Code, Credit, Market, OrderType, Side
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, config_for, rig

ACCOUNT = "5012345601"
ETF = Code("069500")
STOCK = Code("005930")


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_the_snapshot_carries_each_order_with_its_filled_watermark(tmp_path: Path) -> None:
    async def scenario() -> None:
        venue = Venue(seed=5, depth_won=1)  # one share per match: fills come in pieces
        async with rig(tmp_path, venue=venue) as r:
            upper = r.venue.quote(STOCK).upper
            lower = r.venue.quote(STOCK).lower
            partly = await r.broker.place(
                OrderRequest(ACCOUNT, Side.BUY, STOCK, 5, 0, order_type=OrderType.MARKET)
            )
            resting = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, STOCK, 3, lower))
            for _ in range(2):
                r.venue.step(0)  # market orders match on every step
            snapshot = await r.broker.balance(ACCOUNT)
            assert snapshot.orders is not None
            by_no = {order.order_no: order for order in snapshot.orders}
            assert (by_no[partly.order_no].filled, by_no[partly.order_no].remaining) == (3, 2)
            assert (by_no[resting.order_no].filled, by_no[resting.order_no].remaining) == (0, 3)
            assert by_no[resting.order_no].price == lower and upper > lower
            venue_open = {o.order_no: (o.filled, o.remaining) for o in r.venue.open_orders(ACCOUNT)}
            assert venue_open == {n: (o.filled, o.remaining) for n, o in by_no.items()}

    run(scenario())


def test_an_amend_made_elsewhere_replaces_the_order_at_the_next_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            lower = r.venue.quote(STOCK).lower
            ack = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, STOCK, 4, lower))
            first = await r.broker.balance(ACCOUNT)
            assert first.orders is not None
            assert [o.remaining for o in first.orders if o.order_no == ack.order_no] == [4]
            new_no = r.venue.amend(ACCOUNT, ack.order_no, price=lower, qty=2)  # another program
            second = await r.broker.balance(ACCOUNT)
            assert second.orders is not None
            by_no = {o.order_no: o for o in second.orders}
            assert by_no[ack.order_no].remaining == 0
            assert by_no[new_no].remaining == 2
            assert by_no[new_no].orig_order_no == ack.order_no

    run(scenario())


def test_rows_get_their_market_from_the_product_lookup_once_per_day(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            snapshot = await r.broker.balance(ACCOUNT)
            markets = {row.code: row.market for row in snapshot.rows}
            assert markets[ETF] is Market.ETF  # an ETF lists on KOSPI but is not taxed as stock
            assert markets[STOCK] is Market.KOSPI
            assert all(m is r.venue.instrument(c).market for c, m in markets.items())
            lookups = r.sandbox.requests.count(
                "/uapi/domestic-stock/v1/quotations/search-stock-info"
            )
            assert lookups == len(markets)
            await r.broker.balance(ACCOUNT)
            again = r.sandbox.requests.count("/uapi/domestic-stock/v1/quotations/search-stock-info")
            assert again == lookups

    run(scenario())


def test_a_failed_lookup_leaves_the_row_unknown_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.sandbox.set_faults(product_info_down=True)
            with caplog.at_level(logging.WARNING, logger="jango.brokers.kis.broker"):
                snapshot = await r.broker.balance(ACCOUNT)
            assert {row.market for row in snapshot.rows} == {Market.UNKNOWN}
            assert any("UNKNOWN" in rec.getMessage() for rec in caplog.records)
            r.sandbox.set_faults(product_info_down=False)
            healed = await r.broker.balance(ACCOUNT)  # failures are not cached
            assert Market.UNKNOWN not in {row.market for row in healed.rows}

    run(scenario())


def test_paper_rows_get_markets_from_search_info_and_the_quote(tmp_path: Path) -> None:
    async def scenario() -> None:
        # Two holdings only: paper allows 2 requests a second, and each code takes two lookups.
        venue = Venue(seed=6)
        venue.open_account(
            ACCOUNT,
            cash=10_000_000,
            holdings=[
                BalanceRow(ACCOUNT, ETF, 10, 10, 450_000),
                BalanceRow(ACCOUNT, STOCK, 10, 10, 710_000),
            ],
        )
        async with rig(tmp_path, venue=venue, mode="paper", rate_limit=1000) as r:
            snapshot = await r.broker.balance(ACCOUNT)
            markets = {row.code: row.market for row in snapshot.rows}
            assert markets == {ETF: Market.ETF, STOCK: Market.KOSPI}
            assert snapshot.orders == ()
            assert "/uapi/domestic-stock/v1/trading/inquire-psbl-rvsecncl" not in r.sandbox.requests

    run(scenario())


def test_credit_rows_carry_their_loan_amount(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            snapshot = await r.broker.balance(ACCOUNT)
            loans = [row for row in snapshot.rows if row.credit is Credit.MARGIN_SELF]
            # The lender's part of the purchase, as the venue lent it (not the whole purchase).
            lent = {row.key: row.loan_amount for row in r.venue.balance(ACCOUNT).rows}
            assert loans and all(row.loan_amount == lent[row.key] for row in loans)
            assert all(0 < row.loan_amount < row.purchase_amount for row in loans)
            assert all(row.loan_amount == 0 for row in snapshot.rows if row.credit is Credit.CASH)

    run(scenario())


def test_a_fresh_process_amends_and_cancels_with_the_looked_up_branch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            lower = r.venue.quote(STOCK).lower
            ack = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, STOCK, 4, lower))
            await r.broker.close()  # the placing process ends
            fresh = KisBroker(config_for(r.sandbox, tmp_path / "token.json"), tuning=FAST)
            try:
                await fresh.connect()
                amended = await fresh.amend(ACCOUNT, ack.order_no, price=lower, qty=3)
                assert {o.order_no: o.qty for o in r.venue.open_orders(ACCOUNT)} == {
                    amended.order_no: 3
                }
                await fresh.close()
                third = KisBroker(config_for(r.sandbox, tmp_path / "token.json"), tuning=FAST)
                try:
                    await third.connect()
                    await third.cancel(ACCOUNT, amended.order_no)
                    assert r.venue.open_orders(ACCOUNT) == []
                    with pytest.raises(NoSuchOrder):
                        await third.cancel(ACCOUNT, amended.order_no)
                finally:
                    await third.close()
            finally:
                await fresh.close()

    run(scenario())


def test_order_rvsecncl_refuses_an_empty_branch_as_kis_does(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            lower = r.venue.quote(STOCK).lower
            ack = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, STOCK, 1, lower))
            user = r.sandbox.credentials
            token = await r.broker.tokens.token()
            headers = {
                "authorization": f"Bearer {token}",
                "appkey": user.app_key,
                "appsecret": user.app_secret,
                "tr_id": "TTTC0013U",
                "custtype": "P",
            }
            body = {
                "CANO": ACCOUNT[:8],
                "ACNT_PRDT_CD": ACCOUNT[8:],
                "KRX_FWDG_ORD_ORGNO": "",
                "ORGN_ODNO": ack.order_no,
                "ORD_DVSN": "00",
                "RVSE_CNCL_DVSN_CD": "02",
                "ORD_QTY": "0",
                "ORD_UNPR": "0",
                "QTY_ALL_ORD_YN": "Y",
                "EXCG_ID_DVSN_CD": "KRX",
            }
            async with httpx.AsyncClient(base_url=r.sandbox.rest_url) as client:
                reply = await client.post(
                    "/uapi/domestic-stock/v1/trading/order-rvsecncl", json=body, headers=headers
                )
            assert reply.status_code == 200
            assert reply.json()["rt_cd"] == "1"
            assert reply.json()["msg_cd"] == "OPSQ2001"
            assert "KRX_FWDG_ORD_ORGNO" in reply.json()["msg1"]
            assert [o.order_no for o in r.venue.open_orders(ACCOUNT)] == [ack.order_no]

    run(scenario())


def test_a_margin_buy_and_its_repaying_sell_go_through_order_credit(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            code = Code("000660")
            upper = r.venue.quote(code).upper
            buy = OrderRequest(ACCOUNT, Side.BUY, code, 3, upper, credit=Credit.MARGIN_SELF)
            await r.broker.place(buy)
            day = r.venue.now().date()
            (row,) = [
                x
                for x in r.venue.balance(ACCOUNT).rows
                if x.code == code and x.credit is Credit.MARGIN_SELF
            ]
            assert (row.qty, row.loan_date) == (3, day)
            lower = r.venue.quote(code).lower
            sell = OrderRequest(
                ACCOUNT, Side.SELL, code, 2, lower, credit=Credit.MARGIN_SELF, loan_date=day
            )
            await r.broker.place(sell)
            (row,) = [
                x
                for x in r.venue.balance(ACCOUNT).rows
                if x.code == code and x.credit is Credit.MARGIN_SELF
            ]
            assert row.qty == 1
            assert r.sandbox.requests.count("/uapi/domestic-stock/v1/trading/order-credit") == 2
            with pytest.raises(OrderRefused, match="loan date"):
                await r.broker.place(replace(sell, loan_date=None))
            snapshot = await r.broker.balance(ACCOUNT)
            assert snapshot.orders is not None
            assert {(o.side, o.credit, o.loan_date) for o in snapshot.orders} == {
                (Side.BUY, Credit.MARGIN_SELF, day),
                (Side.SELL, Credit.MARGIN_SELF, day),
            }

    run(scenario())


def test_paper_accounts_have_no_credit_orders(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, mode="paper", rate_limit=1000) as r:
            order = OrderRequest(ACCOUNT, Side.BUY, STOCK, 1, 70000, credit=Credit.MARGIN_SELF)
            with pytest.raises(NotSupported, match="paper"):
                await r.broker.place(order)

    run(scenario())
