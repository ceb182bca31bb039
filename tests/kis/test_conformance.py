"""The official samples' calls, replayed against the sandbox: every documented column present,
real and paper TR ids, paging, and amend/cancel with the branch the samples look up first."""

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from jango.domain.model import KST, Market, Side
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.kis import conformance
from tests.kis.conformance import Client

ACCOUNT = "5012345601"
CANO, PRODUCT = ACCOUNT[:8], ACCOUNT[8:]
WAIT = 10.0  # a safety net on every wait for a frame, never a measurement


async def started(mode: str, **options: Any) -> KisSandbox:
    venue = Venue(seed=4, depth_won=10**12)
    sandbox = KisSandbox(venue, mode=mode, tick_interval=None, rate_limit=1000, **options)  # type: ignore[arg-type]
    await sandbox.start()
    for _ in range(20):
        sandbox.venue.step()  # some trading, so the day's bars and minute bars exist
    return sandbox


def client_for(sandbox: KisSandbox) -> Client:
    user = sandbox.credentials
    return Client(sandbox.rest_url, user.app_key, user.app_secret, sandbox.mode == "paper")


@pytest.mark.parametrize("mode", ["real", "paper"])
def test_every_sample_call_answers_with_every_documented_column(mode: str) -> None:
    async def scenario() -> None:
        sandbox = await started(mode)
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            quote = sandbox.venue.quote("005930")
            buy = conformance.order_cash(CANO, PRODUCT, "005930", 2, quote.lower)
            placed = (await asyncio.to_thread(client.send, buy)).json()
            assert placed["rt_cd"] == "0" and conformance.check("order_cash", placed) == []
            filled = conformance.order_cash(CANO, PRODUCT, "005930", 1, quote.upper)
            assert (await asyncio.to_thread(client.send, filled)).json()["rt_cd"] == "0"
            for call in conformance.calls(CANO, PRODUCT):
                reply = await asyncio.to_thread(client.send, call)
                body = reply.json()
                if call.tr_id(mode == "paper") is None:  # real-only services
                    assert (reply.status_code, body["msg_cd"]) == (500, "MCA00124"), call.name
                    continue
                assert (reply.status_code, body["rt_cd"]) == (200, "0"), (call.name, body)
                assert reply.headers["tr_id"] == call.tr_id(mode == "paper")
                assert conformance.check(call.name, body) == [], call.name
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["real", "paper"])
def test_amend_and_cancel_with_the_branch_from_the_order_inquiry(mode: str) -> None:
    async def scenario() -> None:
        sandbox = await started(mode)
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            lower = sandbox.venue.quote("005930").lower
            buy = conformance.order_cash(CANO, PRODUCT, "005930", 2, lower)
            order_no = (await asyncio.to_thread(client.send, buy)).json()["output"]["ODNO"]
            # The samples look the order up before amending it: pending orders (real), or the
            # day's orders (paper, which has no pending-orders service).
            lookup = conformance.calls(CANO, PRODUCT)[3 if mode == "real" else 2]
            body = (await asyncio.to_thread(client.send, lookup)).json()
            rows = body["output"] if mode == "real" else body["output1"]
            (branch,) = {row["ord_gno_brno"] for row in rows if row["odno"] == order_no}
            amend = conformance.order_rvsecncl(CANO, PRODUCT, branch, order_no, "01", lower)
            amended = (await asyncio.to_thread(client.send, amend)).json()
            assert amended["rt_cd"] == "0", amended
            assert conformance.check("order_rvsecncl", amended) == []
            new_no = amended["output"]["ODNO"]
            assert [(o.order_no, o.qty) for o in sandbox.venue.open_orders(ACCOUNT)] == [
                (new_no, 1)
            ]
            empty = conformance.order_rvsecncl(CANO, PRODUCT, "", new_no, "02")
            refused = (await asyncio.to_thread(client.send, empty)).json()
            assert (refused["rt_cd"], refused["msg_cd"]) == ("1", "OPSQ2001")
            cancel = conformance.order_rvsecncl(CANO, PRODUCT, branch, new_no, "02")
            assert (await asyncio.to_thread(client.send, cancel)).json()["rt_cd"] == "0"
            assert sandbox.venue.open_orders(ACCOUNT) == []
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


def test_the_days_orders_page_with_tr_cont_and_the_continuation_keys() -> None:
    async def scenario() -> None:
        sandbox = await started("paper")  # 15 rows a page on paper
        try:
            lower = sandbox.venue.quote("005930").lower
            placed = [sandbox.venue.place(ACCOUNT, Side.BUY, "005930", 1, lower) for _ in range(20)]
            client = await asyncio.to_thread(client_for, sandbox)
            call = conformance.calls(CANO, PRODUCT)[2]
            params, tr_cont, seen, conts = dict(call.params), "", [], []
            for _ in range(5):
                reply = await asyncio.to_thread(client.send, call, tr_cont=tr_cont, params=params)
                body = reply.json()
                seen += [row["odno"] for row in body["output1"]]
                conts.append(reply.headers["tr_cont"])
                if reply.headers["tr_cont"] not in ("F", "M"):
                    break
                params["CTX_AREA_FK100"] = body["ctx_area_fk100"]
                params["CTX_AREA_NK100"] = body["ctx_area_nk100"]
                tr_cont = "N"
            assert conts == ["F", "E"]
            assert seen == sorted(placed, reverse=True)  # INQR_DVSN 00: newest first
            assert int(body["output2"]["tot_ord_qty"]) == 20
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


def test_orderable_cash_and_the_holiday_calendar_follow_the_venue() -> None:
    async def scenario() -> None:
        sandbox = await started("real")
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            by_name = {call.name: call for call in conformance.calls(CANO, PRODUCT)}
            call = by_name["inquire_psbl_order"]
            first = (await asyncio.to_thread(client.send, call)).json()["output"]
            assert int(first["ord_psbl_cash"]) == sandbox.venue.orderable_cash(ACCOUNT)
            upper = sandbox.venue.quote("005930").upper
            assert int(first["psbl_qty_calc_unpr"]) == upper  # a market buy is held there
            qty, cash = int(first["max_buy_qty"]), int(first["ord_psbl_cash"])
            assert qty * upper + sandbox.costs.commission(qty * upper) <= cash
            more = (qty + 1) * upper
            assert more + sandbox.costs.commission(more) > cash
            lower = sandbox.venue.quote("005930").lower
            sandbox.venue.place(ACCOUNT, Side.BUY, "005930", 10, lower)  # holds cash
            second = (await asyncio.to_thread(client.send, call)).json()["output"]
            assert int(second["ord_psbl_cash"]) < cash
            holidays = replace(
                by_name["chk_holiday"],
                params={"BASS_DT": "20261224", "CTX_AREA_FK": "", "CTX_AREA_NK": ""},
            )
            days = (await asyncio.to_thread(client.send, holidays)).json()["output"]
            opened = {day["bass_dt"]: day["opnd_yn"] for day in days}
            assert (opened["20261224"], opened["20261225"], opened["20261226"]) == ("Y", "N", "N")
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


def _new_stock(sandbox: KisSandbox) -> str:
    held = {row.code for row in sandbox.venue.balance(ACCOUNT).rows}
    return next(
        i.code
        for i in sandbox.venue.instruments()
        if i.code not in held and i.market is Market.KOSPI
    )


def test_sellable_quantity_and_realized_profit_follow_the_venues_fills() -> None:
    async def scenario() -> None:
        sandbox = await started("real", page_size=3)
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            venue = sandbox.venue
            code = _new_stock(sandbox)
            buy = conformance.order_cash(CANO, PRODUCT, code, 10, venue.quote(code).upper)
            assert (await asyncio.to_thread(client.send, buy)).json()["rt_cd"] == "0"
            sell = replace(
                conformance.order_cash(CANO, PRODUCT, code, 4, venue.quote(code).lower),
                tr_ids=("TTTC0011U", "VTTC0011U"),
            )
            assert (await asyncio.to_thread(client.send, sell)).json()["rt_cd"] == "0"
            fills = [f for f in venue.fills(ACCOUNT) if f.code == code]
            bought = sum(f.qty * f.price for f in fills if f.side is Side.BUY)
            sold = sum(f.qty * f.price for f in fills if f.side is Side.SELL)
            removed = bought * 4 // 10  # the sold part's share of the purchase amount
            day = venue.now().astimezone(KST).date()
            costs = sandbox.costs.commission(sold) + sandbox.costs.tax(sold, Market.KOSPI, day)

            by_name = {call.name: call for call in conformance.calls(CANO, PRODUCT, code)}
            sellable = (await asyncio.to_thread(client.send, by_name["inquire_psbl_sell"])).json()
            assert conformance.check("inquire_psbl_sell", sellable) == []
            row = sellable["output"]
            assert (row["buy_qty"], row["sll_qty"], row["cblc_qty"], row["ord_psbl_qty"]) == (
                "10",
                "4",
                "6",
                "6",
            )
            assert int(row["pchs_amt"]) == bought - removed

            call = by_name["inquire_balance_rlz_pl"]
            params, tr_cont, conts, rows = dict(call.params), "", [], []
            for _ in range(10):
                reply = await asyncio.to_thread(client.send, call, tr_cont=tr_cont, params=params)
                body = reply.json()
                assert conformance.check("inquire_balance_rlz_pl", body) == []
                conts.append(reply.headers["tr_cont"])
                rows += [r["pdno"] for r in body["output1"] if int(r["hldg_qty"]) > 0]
                if reply.headers["tr_cont"] not in ("F", "M"):
                    break
                params["CTX_AREA_FK100"] = body["ctx_area_fk100"]
                params["CTX_AREA_NK100"] = body["ctx_area_nk100"]
                tr_cont = "N"
            held = venue.balance(ACCOUNT).rows
            assert conts == ["F", "M", "E"] and sorted(rows) == sorted(r.code for r in held)
            totals = body["output2"][0]
            assert int(totals["rlzt_pfls"]) == sold - removed  # COST_ICLD_YN N: before costs
            # Rates print as plain decimals, never as "0E-8".
            assert re.fullmatch(r"-?\d+\.\d{8}", totals["rlzt_erng_rt"]), totals["rlzt_erng_rt"]
            assert (int(totals["thdt_buy_amt"]), int(totals["thdt_sll_amt"])) == (bought, sold)
            net = replace(call, params={**call.params, "COST_ICLD_YN": "Y"})
            with_costs = (await asyncio.to_thread(client.send, net)).json()["output2"][0]
            assert int(with_costs["rlzt_pfls"]) == sold - removed - costs
            # The same day, row by row: the period-profit inquiry over today.
            period = await asyncio.to_thread(client.send, by_name["inquire_period_trade_profit"])
            days = period.json()
            assert conformance.check("inquire_period_trade_profit", days) == []
            (traded,) = [row for row in days["output1"] if row["pdno"] == code]
            assert (traded["buy_qty"], traded["sll_qty"], traded["hldg_qty"]) == ("10", "4", "6")
            assert int(traded["rlzt_pfls"]) == sold - removed - costs
            assert int(days["output2"]["tot_rlzt_pfls"]) == sold - removed - costs
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


class Stream:
    """A WebSocket client as the samples use it: registrations, acks' keys, decoded records."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.keys: dict[str, tuple[str, str]] = {}

    async def register(self, approval: str, tr_id: str, tr_key: str) -> None:
        await self.ws.send(conformance.subscribe(approval, tr_id, tr_key))
        while True:
            text = str(await asyncio.wait_for(self.ws.recv(), WAIT))
            if text.startswith("{"):
                ack = json.loads(text)
                if ack["header"]["tr_id"] == tr_id:
                    assert ack["body"]["msg_cd"] == "OPSP0000", ack
                    output = ack["body"]["output"]
                    self.keys[tr_id] = (output["key"], output["iv"])
                    return

    async def next_record(self, tr_id: str, accept: Any = None) -> dict[str, str]:
        """The next record of ``tr_id`` that ``accept`` takes (every record checked)."""
        for _ in range(2000):
            text = str(await asyncio.wait_for(self.ws.recv(), WAIT))
            if text.startswith("{"):
                continue  # PINGPONG or another ack
            got, records = conformance.records(text, self.keys)
            for record in records:
                assert all(isinstance(value, str) for value in record.values())
                if got == tr_id and (accept is None or accept(record)):
                    return record
        raise AssertionError(f"no {tr_id} record")


@pytest.mark.parametrize("mode", ["real", "paper"])
def test_realtime_registrations_push_every_documented_field_and_one_book(mode: str) -> None:
    async def scenario() -> None:
        sandbox = await started(mode)
        notice_tr = "H0STCNI9" if mode == "paper" else "H0STCNI0"
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            approval = await asyncio.to_thread(client.approval)
            async with connect(sandbox.ws_url) as ws:
                stream = Stream(ws)
                await stream.register(approval, "H0STASP0", "005930")
                first = await stream.next_record("H0STASP0")
                # The same book as the REST order book at the same moment (the venue is still).
                (asking,) = [c for c in conformance.calls(CANO, PRODUCT) if "asking" in c.name]
                rest = (await asyncio.to_thread(client.send, asking)).json()["output1"]
                for side, name in (("ASKP", "askp"), ("BIDP", "bidp")):
                    for level in range(1, 11):
                        assert first[f"{side}{level}"] == rest[f"{name}{level}"]
                        assert first[f"{side}_RSQN{level}"] == rest[f"{name}_rsqn{level}"]
                assert first["TOTAL_BIDP_RSQN"] == rest["total_bidp_rsqn"]

                await stream.register(approval, notice_tr, sandbox.credentials.hts_id)
                # A buy resting at the third bid shows in that level of the next book.
                bid3 = int(first["BIDP3"])
                rest_buy = conformance.order_cash(CANO, PRODUCT, "005930", 7, bid3)
                order_no = (await asyncio.to_thread(client.send, rest_buy)).json()["output"]
                accepted = await stream.next_record(notice_tr)
                assert (accepted["ODER_NO"], accepted["CNTG_YN"]) == (order_no["ODNO"], "1")
                book = await stream.next_record("H0STASP0")
                assert int(book["BIDP_RSQN3"]) == int(first["BIDP_RSQN3"]) + 7

                await stream.register(approval, "H0STCNT0", "005930")
                filled = conformance.order_cash(
                    CANO, PRODUCT, "005930", 1, sandbox.venue.quote("005930").upper
                )
                filled_no = (await asyncio.to_thread(client.send, filled)).json()["output"]
                fill = await stream.next_record(
                    notice_tr, lambda r: r["ODER_NO"] == filled_no["ODNO"] and r["CNTG_YN"] == "2"
                )
                assert fill["CNTG_QTY"].lstrip("0") == "1"
                while True:  # until 005930 itself trades
                    sandbox.venue.step()
                    if sandbox.venue.quote("005930").volume > int(book["ACML_VOL"]):
                        break
                tick = await stream.next_record("H0STCNT0")
                assert tick["MKSC_SHRN_ISCD"] == "005930"
                assert int(tick["STCK_PRPR"]) == sandbox.venue.quote("005930").price
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


def test_a_path_joined_with_a_doubled_slash_reaches_its_endpoint() -> None:
    # mojito2 joins "host/" and "/uapi/..." for its charts and orderable-cash calls.
    async def scenario() -> None:
        sandbox = await started("real")
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            (price,) = [c for c in conformance.calls(CANO, PRODUCT) if c.name == "inquire_price"]
            # A whole URL: httpx itself would read a relative "//uapi/..." as a host name.
            doubled = replace(price, path=sandbox.rest_url + "/" + price.path)
            body = (await asyncio.to_thread(client.send, doubled)).json()
            assert body["rt_cd"] == "0" and conformance.check("inquire_price", body) == []
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())


def test_the_minute_chart_reads_hour_zero_as_the_latest_bars() -> None:
    # python-kis starts its minute chart with FID_INPUT_HOUR_1 000000 and pages back from there.
    async def scenario() -> None:
        sandbox = await started("real")
        try:
            client = await asyncio.to_thread(client_for, sandbox)
            (chart,) = [c for c in conformance.calls(CANO, PRODUCT) if "time_item" in c.name]
            answers = []
            for hour in ("000000", "235959"):
                ask = replace(chart, params={**chart.params, "FID_INPUT_HOUR_1": hour})
                answers.append((await asyncio.to_thread(client.send, ask)).json()["output2"])
            assert answers[0] and answers[0] == answers[1]
            await asyncio.to_thread(client.close)
        finally:
            await sandbox.stop()

    asyncio.run(scenario())
