"""The KIS adapter against the KIS sandbox, over real sockets on 127.0.0.1."""

import asyncio
import json
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from jango.brokers.kis import KisBroker
from jango.brokers.port import (
    Broker,
    BrokerError,
    ConnectionStatus,
    NoSuchOrder,
    OrderRequest,
    PushItem,
    Received,
    StartupError,
    Undecodable,
)
from jango.domain.model import (
    Code,
    Condition,
    Credit,
    NoticeKind,
    OrderAction,
    OrderNotice,
    Side,
    Tick,
)
from jango.sandbox.kis import KisSandbox
from jango.sandbox.venue import Venue
from tests.kis.helpers import FAST, config_for, rig
from tests.kis.test_wire import SPEC_TICK

ACCOUNT = "5012345601"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def is_notice(kind: NoticeKind, action: OrderAction = OrderAction.NEW):  # type: ignore[no-untyped-def]
    def accept(item: PushItem) -> bool:
        return (
            isinstance(item, Received)
            and isinstance(item.event, OrderNotice)
            and item.event.kind is kind
            and item.event.action is action
        )

    return accept


def test_the_adapter_satisfies_the_broker_protocol(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, connect=False) as r:
            assert isinstance(r.broker, Broker)
            assert r.broker.limits.subscription_capacity == 40
            assert r.broker.limits.quote_batch == 30

    run(scenario())


def test_the_token_is_cached_on_disk_privately_and_reused_by_the_next_client(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            assert r.broker.tokens.issued == 1
            cache = tmp_path / "token.json"
            assert stat.S_IMODE(cache.stat().st_mode) == 0o600
            assert r.sandbox.credentials.app_secret not in cache.read_text()
            second = KisBroker(config_for(r.sandbox, cache), tuning=FAST)
            try:
                await second.tokens.token()  # would hit EGW00133 if it issued again
                assert second.tokens.issued == 0
            finally:
                await second.close()

    run(scenario())


def test_a_second_issue_within_the_minute_is_refused_then_retried(tmp_path: Path) -> None:
    async def scenario() -> None:
        # The retry wait outlasts the one-issue window, so exactly one issue is refused however
        # slowly the machine runs (short of a stall longer than the window).
        async with rig(tmp_path, token_interval=1.0, connect=False) as r:
            await r.broker.tokens.token()
            patient = replace(FAST, token_retry_wait=1.2)
            other = KisBroker(config_for(r.sandbox, tmp_path / "other.json"), tuning=patient)
            try:
                await other.tokens.token()
                assert other.tokens.issued == 1
                assert r.sandbox.stats["token_refused"] == 1
            finally:
                await other.close()

    run(scenario())


def test_egw00133_without_retries_is_a_startup_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            impatient = replace(FAST, token_retries=0)
            other = KisBroker(config_for(r.sandbox, tmp_path / "other.json"), tuning=impatient)
            try:
                with pytest.raises(StartupError) as caught:
                    await other.connect()
                assert caught.value.code == "EGW00133"
            finally:
                await other.close()

    run(scenario())


def test_a_token_near_its_expiry_is_renewed_before_use(tmp_path: Path) -> None:
    async def scenario() -> None:
        # Tokens live 5 minutes; the adapter renews 10 minutes early, so the cached one is stale.
        async with rig(tmp_path, token_lifetime=300, token_interval=0) as r:
            first = r.broker.tokens.issued
            await r.broker.quote(Code("005930"))
            assert r.broker.tokens.issued > first

    run(scenario())


def test_an_expired_token_is_replaced_and_the_request_goes_through(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, token_interval=0) as r:
            r.sandbox.set_faults(expire_tokens=True)
            quote = await r.broker.quote(Code("005930"))
            assert quote.price > 0
            assert r.broker.tokens.issued == 2

    run(scenario())


def test_balance_joins_every_page_with_credit_rows_apart(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, page_size=3) as r:
            snapshot = await r.broker.balance(ACCOUNT)
            truth = r.venue.balance(ACCOUNT)
            assert len(truth.rows) > 6  # three pages of three
            assert r.sandbox.requests.count("/uapi/domestic-stock/v1/trading/inquire-balance") == 3

            def view(rows):  # type: ignore[no-untyped-def]
                return sorted(
                    (x.code, x.credit, x.loan_date, x.qty, x.sellable, x.purchase_amount)
                    for x in rows
                )

            assert view(snapshot.rows) == view(truth.rows)
            assert (snapshot.cash.deposit, snapshot.cash.d2) == (truth.cash.deposit, truth.cash.d2)
            # Nothing has traded yet, so nothing settles tomorrow: D+1 is the deposit.
            assert snapshot.cash.d1 == truth.cash.deposit
            assert any(row.credit is Credit.MARGIN_SELF and row.loan_date for row in snapshot.rows)

    run(scenario())


def test_rows_sold_out_today_are_left_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            row = next(x for x in r.venue.balance(ACCOUNT).rows if x.code == "000660")
            await r.broker.place(OrderRequest(ACCOUNT, Side.SELL, row.code, row.qty, row.price))
            snapshot = await r.broker.balance(ACCOUNT)
            assert all(x.qty > 0 for x in snapshot.rows)
            assert not any(x.code == "000660" for x in snapshot.rows)

    run(scenario())


def test_sydb0050_restarts_paging_from_the_first_page(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, page_size=3) as r:
            r.sandbox.set_faults(data_changed=1)
            snapshot = await r.broker.balance(ACCOUNT)
            assert r.sandbox.stats["data_changed"] == 1
            assert len(snapshot.rows) == len(r.venue.balance(ACCOUNT).rows)

    run(scenario())


def test_sydb0050_that_never_stops_ends_in_a_clear_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, page_size=3) as r:
            r.sandbox.set_faults(data_changed=100)
            with pytest.raises(BrokerError) as caught:
                await r.broker.balance(ACCOUNT)
            assert caught.value.code == "SYDB0050"
            assert r.sandbox.stats["data_changed"] == FAST.balance_restarts + 1

    run(scenario())


def test_faults_can_be_set_over_the_admin_endpoint(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, page_size=3) as r:
            async with httpx.AsyncClient(base_url=r.sandbox.rest_url) as client:
                reply = await client.post("/sandbox/faults", json={"data_changed": 1})
            assert reply.status_code == 200
            await r.broker.balance(ACCOUNT)
            assert r.sandbox.stats["data_changed"] == 1

    run(scenario())


def test_egw00201_is_retried_after_a_back_off(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.sandbox.set_faults(rate_limited=2)
            assert (await r.broker.quote(Code("005930"))).price > 0
            assert r.sandbox.stats["rate_limited"] == 2

    run(scenario())


def test_quotes_for_many_codes_take_one_multi_quote_request(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            codes = [i.code for i in r.venue.instruments()[:30]]
            before = len(r.sandbox.requests)
            quotes = await r.broker.quotes(codes)
            assert [q.code for q in quotes] == codes
            assert quotes[0].name == r.venue.quote(codes[0]).name
            multi = "/uapi/domestic-stock/v1/quotations/intstock-multprice"
            assert r.sandbox.requests[before:] == [multi]
            with pytest.raises(BrokerError, match="exceed"):
                await r.broker.quotes([i.code for i in r.venue.instruments()[:31]])

    run(scenario())


def test_ticks_arrive_batched_for_subscribed_codes_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            codes = {Code("005930"), Code("000660")}
            for code in codes:
                await r.broker.subscribe(code)
            every = len(r.venue.instruments())
            seen: set[str] = set()
            for _ in range(50):
                r.venue.step(every)
                item = await r.next_item(lambda i: isinstance(i, Received))
                assert isinstance(item, Received) and isinstance(item.event, Tick)
                assert item.event.code in codes
                seen.add(item.event.code)
                if item.raw.startswith("0|H0STCNT0|002|"):
                    break
            else:
                raise AssertionError("no batched frame with both codes")
            assert seen

    run(scenario())


def test_an_order_gives_decrypted_accept_and_fill_notices(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            quote = await r.broker.quote(Code("005930"))
            ack = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, quote.code, 3, quote.upper))
            accepted = await r.next_item(is_notice(NoticeKind.ACCEPTED))
            filled = await r.next_item(is_notice(NoticeKind.FILLED))
            assert isinstance(accepted, Received) and isinstance(filled, Received)
            assert accepted.raw.startswith("1|H0STCNI0|001|")
            a, f = accepted.event, filled.event
            assert isinstance(a, OrderNotice) and isinstance(f, OrderNotice)
            assert (a.order_no, a.qty, a.price, a.account) == (
                ack.order_no,
                3,
                quote.upper,
                ACCOUNT,
            )
            assert (f.order_no, f.qty, f.price) == (ack.order_no, 3, quote.price)
            assert f.fill_id == "" and f.post_qty is None

    run(scenario())


def test_amend_cancel_and_an_unknown_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            quote = await r.broker.quote(Code("005930"))
            ack = await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, quote.code, 5, quote.lower))
            await r.next_item(is_notice(NoticeKind.ACCEPTED))
            amended = await r.broker.amend(ACCOUNT, ack.order_no, price=quote.lower + 100)
            confirm = await r.next_item(is_notice(NoticeKind.CONFIRMED, OrderAction.AMEND))
            assert isinstance(confirm, Received) and isinstance(confirm.event, OrderNotice)
            assert confirm.event.orig_order_no == ack.order_no
            assert (confirm.event.order_no, confirm.event.qty) == (amended.order_no, 5)
            await r.broker.cancel(ACCOUNT, amended.order_no, qty=2)
            partial = await r.next_item(is_notice(NoticeKind.CONFIRMED, OrderAction.CANCEL))
            assert isinstance(partial, Received) and isinstance(partial.event, OrderNotice)
            assert partial.event.qty == 2
            await r.broker.cancel(ACCOUNT, amended.order_no)
            await r.next_item(is_notice(NoticeKind.CONFIRMED, OrderAction.CANCEL))
            with pytest.raises(NoSuchOrder) as caught:
                await r.broker.cancel(ACCOUNT, amended.order_no)
            assert caught.value.code == "APBK0656"

    run(scenario())


def test_an_unfilled_ioc_remainder_comes_back_as_its_own_cancel(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            quote = await r.broker.quote(Code("005930"))
            ack = await r.broker.place(
                OrderRequest(ACCOUNT, Side.BUY, quote.code, 5, quote.lower, condition=Condition.IOC)
            )
            item = await r.next_item(is_notice(NoticeKind.CONFIRMED, OrderAction.CANCEL))
            assert isinstance(item, Received) and isinstance(item.event, OrderNotice)
            assert item.event.orig_order_no == ack.order_no
            assert item.event.condition is Condition.IOC

    run(scenario())


def test_the_old_23_field_notice_layout_still_decodes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.sandbox.set_faults(notice_layout=23)
            quote = await r.broker.quote(Code("005930"))
            await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, quote.code, 1, quote.upper))
            filled = await r.next_item(is_notice(NoticeKind.FILLED))
            assert isinstance(filled, Received) and isinstance(filled.event, OrderNotice)
            assert filled.event.name == r.venue.quote(quote.code).name

    run(scenario())


def test_a_dropped_socket_reconnects_resubscribes_and_asks_for_reconciliation(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            await r.broker.subscribe(Code("005930"))
            r.sandbox.set_faults(drop=True)
            down = await r.next_item(lambda i: isinstance(i, ConnectionStatus) and not i.connected)
            assert isinstance(down, ConnectionStatus)
            up = await r.next_item(lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(up, ConnectionStatus) and up.connected and up.reconnected
            assert sorted(r.sandbox.registrations()) == [
                ("H0STCNI0", r.sandbox.credentials.hts_id),
                ("H0STCNT0", "005930"),
            ]
            # New session, new AES key: notices still decrypt.
            quote = await r.broker.quote(Code("005930"))
            await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, quote.code, 1, quote.upper))
            assert await r.next_item(is_notice(NoticeKind.FILLED))
            every = len(r.venue.instruments())
            for _ in range(50):
                r.venue.step(every)
                tick = await r.next_item(lambda i: isinstance(i, Received))
                if isinstance(tick, Received) and isinstance(tick.event, Tick):
                    break
            else:
                raise AssertionError("no tick after the reconnect")

    run(scenario())


def test_a_stalled_stream_is_abandoned_and_reopened(tmp_path: Path) -> None:
    async def scenario() -> None:
        tuning = replace(FAST, idle_timeout=0.5)
        async with rig(tmp_path, tuning=tuning, ping_interval=0.05) as r:
            r.sandbox.set_faults(stall=True)
            down = await r.next_item(lambda i: isinstance(i, ConnectionStatus) and not i.connected)
            assert isinstance(down, ConnectionStatus)
            r.sandbox.set_faults(stall=False)
            up = await r.next_item(lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(up, ConnectionStatus) and up.reconnected

    run(scenario())


def test_a_malformed_frame_is_kept_as_undecodable_and_the_stream_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            await r.broker.subscribe(Code("005930"))
            r.sandbox.set_faults(malformed="0|H0STCNT0|002|005930^garbage")
            bad = await r.next_item(lambda i: not isinstance(i, ConnectionStatus))
            assert isinstance(bad, Undecodable)
            assert bad.raw == "0|H0STCNT0|002|005930^garbage"
            assert "fields" in bad.error
            r.sandbox.set_faults(malformed="1|H0STCNI0|001|bm90IGVuY3J5cHRlZA==")
            bad = await r.next_item(lambda i: isinstance(i, Undecodable))
            every = len(r.venue.instruments())
            for _ in range(50):
                r.venue.step(every)
                item = await r.next_item(lambda i: isinstance(i, Received))
                if isinstance(item, Received):
                    break

    run(scenario())


def test_pingpong_is_answered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, ping_interval=0.02) as r:
            for _ in range(500):
                if r.sandbox.pongs():
                    break
                await asyncio.sleep(0.01)
            assert r.sandbox.pongs() > 0

    run(scenario())


def test_forty_tick_subscriptions_fit_and_the_forty_first_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            codes = [i.code for i in r.venue.instruments()[:41]]
            for code in codes[:40]:
                await r.broker.subscribe(code)
            with pytest.raises(BrokerError, match="full"):
                await r.broker.subscribe(codes[40])
            assert len(r.sandbox.registrations()) == 41
            await r.broker.unsubscribe(codes[0])
            await r.broker.subscribe(codes[40])

    run(scenario())


def _subscribe(approval: str, tr_id: str, tr_key: str) -> str:
    header = {"approval_key": approval, "custtype": "P", "tr_type": "1", "content-type": "utf-8"}
    return json.dumps({"header": header, "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}}})


def test_the_sandbox_refuses_the_42nd_registration_and_a_second_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, connect=False) as r:
            user = r.sandbox.credentials
            async with httpx.AsyncClient(base_url=r.sandbox.rest_url) as client:
                reply = await client.post(
                    "/oauth2/Approval",
                    json={
                        "grant_type": "client_credentials",
                        "appkey": user.app_key,
                        "secretkey": user.app_secret,
                    },
                )
            approval = reply.json()["approval_key"]
            codes = [i.code for i in r.venue.instruments()[:42]]
            async with connect(r.sandbox.ws_url) as ws:
                answers = []
                for code in codes:
                    await ws.send(_subscribe(approval, "H0STCNT0", code))
                    answers.append(json.loads(await ws.recv())["body"]["msg_cd"])
                assert answers[:41] == ["OPSP0000"] * 41
                assert answers[41] == "OPSP0008"
                async with connect(r.sandbox.ws_url) as second:
                    await second.send(_subscribe(approval, "H0STCNT0", codes[0]))
                    refused = json.loads(await second.recv())
                    assert refused["body"]["msg_cd"] == "OPSP8996"

    run(scenario())


def test_paper_mode_uses_paper_ids_pages_and_notices(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path, mode="paper") as r:
            assert r.broker.limits.quote_batch == 1
            assert r.broker.limits.balance_page_size == 20
            snapshot = await r.broker.balance(ACCOUNT)
            assert snapshot.rows
            quote = (await r.broker.quotes([Code("005930")]))[0]
            await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, quote.code, 1, quote.upper))
            filled = await r.next_item(is_notice(NoticeKind.FILLED))
            assert isinstance(filled, Received) and filled.raw.startswith("1|H0STCNI9|")

    run(scenario())


def test_a_sandbox_on_its_own_timer_streams_ticks(tmp_path: Path) -> None:
    async def scenario() -> None:
        venue = Venue(seed=3)
        sandbox = KisSandbox(venue, tick_interval=0.01)
        await sandbox.start()
        broker = KisBroker(config_for(sandbox, tmp_path / "t.json"), tuning=FAST)
        try:
            await broker.connect()
            await broker.subscribe(Code("005930"))
            stream = broker.events()
            for _ in range(1000):
                item = await asyncio.wait_for(anext(stream), 10)
                if isinstance(item, Received) and isinstance(item.event, Tick):
                    break
            else:
                raise AssertionError("no tick from the timer")
        finally:
            await broker.close()
            await sandbox.stop()

    run(scenario())


def test_a_five_thousand_digit_number_does_not_end_the_reader(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            await r.broker.subscribe(Code("005930"))
            record = SPEC_TICK.split("^")
            record[2] = "9" * 5000
            frame = "0|H0STCNT0|001|" + "^".join(record)
            r.sandbox.set_faults(malformed=frame)
            bad = await r.next_item(lambda i: not isinstance(i, ConnectionStatus))
            assert isinstance(bad, Undecodable) and bad.raw == frame
            r.sandbox.set_faults(malformed="0|H0STCNT0|" + "7" * 5000 + "|x")
            assert isinstance(await r.next_item(lambda i: isinstance(i, Undecodable)), Undecodable)
            ack = await r.broker.place(
                OrderRequest(ACCOUNT, Side.BUY, Code("005930"), 1, r.venue.quote("005930").upper)
            )
            fill = await r.next_item(is_notice(NoticeKind.FILLED))
            assert isinstance(fill, Received) and isinstance(fill.event, OrderNotice)
            assert fill.event.order_no == ack.order_no
            assert r.broker.realtime.connected

    run(scenario())


def test_a_binary_frame_that_is_not_utf8_is_undecodable_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with rig(tmp_path) as r:
            r.sandbox.set_faults(malformed=b"0|H0STCNT0|001|\xff\xfe")
            bad = await r.next_item(lambda i: not isinstance(i, ConnectionStatus))
            assert isinstance(bad, Undecodable) and "not UTF-8" in bad.error
            assert bad.raw == "0|H0STCNT0|001|\\xff\\xfe"
            lower = r.venue.quote("005930").lower
            await r.broker.place(OrderRequest(ACCOUNT, Side.BUY, Code("005930"), 1, lower))
            accepted = await r.next_item(is_notice(NoticeKind.ACCEPTED))
            assert isinstance(accepted, Received)

    run(scenario())
