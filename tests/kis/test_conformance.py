"""The official samples' calls, replayed against the sandbox: every documented column present,
real and paper TR ids, paging, and amend/cancel with the branch the samples look up first."""

import asyncio
from dataclasses import replace

import pytest

from jango.domain.model import Side
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.kis import conformance
from tests.kis.conformance import Client

ACCOUNT = "5012345601"
CANO, PRODUCT = ACCOUNT[:8], ACCOUNT[8:]


async def started(mode: str) -> KisSandbox:
    venue = Venue(seed=4, depth_won=10**12)
    sandbox = KisSandbox(venue, mode=mode, tick_interval=None, rate_limit=1000)  # type: ignore[arg-type]
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
