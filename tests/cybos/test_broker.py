"""The CYBOS adapter over the emulator: startup, balance, prices, pushes, orders and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from jango.brokers.cybos import CybosBroker
from jango.brokers.cybos.broker import NEEDS_WINDOWS
from jango.brokers.port import (
    BrokerError,
    ConnectionStatus,
    OrderRefused,
    OrderRequest,
    PushItem,
    Received,
    StartupError,
    Undecodable,
)
from jango.domain.book import Book
from jango.domain.model import (
    Code,
    Credit,
    NoticeKind,
    OrderNotice,
    OrderType,
    Side,
    Tick,
)
from jango.sandbox.cybos.runtime import LT_NONTRADE_REQUEST, LT_TRADE_REQUEST
from jango.sandbox.venue import Venue

from .conftest import BIG

WAIT = 30.0  # a guard against hanging, not a timing expectation


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


async def next_item(
    events: AsyncIterator[PushItem],
    accept: Callable[[PushItem], bool],
    *,
    venue: Venue | None = None,
) -> PushItem:
    """The next pushed item ``accept`` takes; steps ``venue`` while waiting if given."""

    async def search() -> PushItem:
        # One pending read at a time, never cancelled on a quiet step: cancelling ``anext``
        # would close the stream (which step first prints the wanted code depends on the seed).
        pending: asyncio.Future[PushItem] | None = None
        try:
            while True:
                if venue is not None:
                    venue.step()
                if pending is None:
                    pending = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({pending}, timeout=0.05 if venue else WAIT)
                if not done:
                    continue
                item, pending = pending.result(), None
                if accept(item):
                    return item
        finally:
            if pending is not None:
                pending.cancel()

    return await asyncio.wait_for(search(), WAIT)


def notice(kind: NoticeKind, code: str) -> Callable[[PushItem], bool]:
    def accept(item: PushItem) -> bool:
        return (
            isinstance(item, Received)
            and isinstance(item.event, OrderNotice)
            and item.event.kind is kind
            and item.event.code == code
        )

    return accept


def test_balance_reads_every_page_and_keeps_credit_rows_apart(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            assert await broker.accounts() == [BIG]
            snap = await broker.balance(BIG)
            truth = venue.balance(BIG)
            assert len(snap.rows) == 262 > 200
            assert {r.key for r in snap.rows} == {r.key for r in truth.rows}
            by_key = {r.key: r for r in truth.rows}
            for row in snap.rows:
                assert row.purchase_amount == by_key[row.key].purchase_amount
                assert row.sellable == by_key[row.key].sellable
            credit = [r for r in snap.rows if r.credit is Credit.MARGIN_SELF]
            assert {r.loan_date for r in credit} == {date(2026, 10, 1), date(2026, 10, 8)}
            # CpTd6033 has no D+1 field (only 예수금 and D+2 예상예수금, cybos.md §3).
            assert (snap.cash.deposit, snap.cash.d2, snap.cash.d1) == (
                truth.cash.deposit,
                truth.cash.d2,
                None,
            )
        finally:
            await broker.close()

    run(scenario)


def test_prices_come_from_one_marketeye_call_per_200_codes(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            codes = sorted({r.code for r in venue.balance(BIG).rows})
            served = len(broker.emulator.windows.served)
            quotes = await broker.quotes(codes)
            assert len(broker.emulator.windows.served) - served == 2
            assert [q.code for q in quotes] == codes
            assert all(q.price == venue.quote(q.code).price for q in quotes)
            one = await broker.quote(Code("005930"))
            assert one.price == venue.quote("005930").price and one.name == "삼성전자"
        finally:
            await broker.close()

    run(scenario)


def test_ticks_arrive_as_received_with_the_header_as_raw_json(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        try:
            await broker.subscribe(Code("005930"))
            await broker.subscribe(Code("005930"))  # the seed's re-subscription: a no-op here
            assert broker.emulator.subscription_count() == 1
            item = await next_item(
                events,
                lambda i: isinstance(i, Received) and isinstance(i.event, Tick),
                venue=venue,
            )
            assert isinstance(item, Received) and isinstance(item.event, Tick)
            assert item.event.code == "005930" and item.source == "cybos"
            assert '"0": "A005930"' in item.raw
        finally:
            await broker.close()

    run(scenario)


def test_a_buy_then_a_sell_report_broker_truth_and_a_new_code_opens(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        code = venue.instruments()[-1].code  # past the 260 held codes
        assert all(r.code != code for r in venue.balance(BIG).rows)
        try:
            ack = await broker.place(
                OrderRequest(BIG, Side.BUY, code, 5, order_type=OrderType.MARKET)
            )
            accepted = await next_item(events, notice(NoticeKind.ACCEPTED, code))
            filled = await next_item(events, notice(NoticeKind.FILLED, code))
            assert isinstance(accepted, Received) and isinstance(filled, Received)
            buy = filled.event
            assert isinstance(buy, OrderNotice)
            assert accepted.event.order_no == ack.order_no == buy.order_no  # type: ignore[union-attr]
            assert buy.post_qty == 5 and buy.post_sellable == 5
            assert buy.post_book_price == Decimal(buy.price)
            assert buy.fill_id == f"{buy.order_no}:5"
            await broker.place(OrderRequest(BIG, Side.SELL, code, 5, order_type=OrderType.MARKET))
            sold = await next_item(events, notice(NoticeKind.FILLED, code))
            assert isinstance(sold, Received) and isinstance(sold.event, OrderNotice)
            assert sold.event.side is Side.SELL and sold.event.post_qty == 0
        finally:
            await broker.close()

    run(scenario)


def test_amend_and_cancel_confirm_with_the_new_order_number(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        code = Code("005930")
        low = venue.quote(code).lower
        try:
            placed = await broker.place(OrderRequest(BIG, Side.BUY, code, 3, low))
            amended = await broker.amend(BIG, placed.order_no, price=low)
            confirm = await next_item(events, notice(NoticeKind.CONFIRMED, code))
            assert isinstance(confirm, Received) and isinstance(confirm.event, OrderNotice)
            assert confirm.event.orig_order_no == placed.order_no
            assert confirm.event.order_no == amended.order_no
            await broker.cancel(BIG, amended.order_no)
            cancel = await next_item(events, notice(NoticeKind.CONFIRMED, code))
            assert isinstance(cancel, Received) and isinstance(cancel.event, OrderNotice)
            assert cancel.event.action.value == "cancel" and cancel.event.qty == 3
        finally:
            await broker.close()

    run(scenario)


def test_a_credit_fill_keeps_its_credit_type_and_loan_date(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        row = next(r for r in venue.balance(BIG).rows if r.credit is Credit.MARGIN_SELF)
        try:
            # Placed from the HTS: CpConclusion reports every order of the login.
            venue.place(
                BIG,
                Side.SELL,
                row.code,
                2,
                order_type=OrderType.MARKET,
                credit=Credit.MARGIN_SELF,
                loan_date=row.loan_date,
            )
            filled = await next_item(events, notice(NoticeKind.FILLED, row.code))
            assert isinstance(filled, Received) and isinstance(filled.event, OrderNotice)
            assert filled.event.key == row.key
            assert filled.event.post_qty == row.qty - 2
        finally:
            await broker.close()

    run(scenario)


def test_an_unlisted_flag_is_undecodable_or_unknown_not_a_crash(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        header: dict[int, object] = {
            2: "삼성전자", 3: 1, 4: 70000, 5: 77, 6: 0, 7: BIG, 8: "01", 9: "A005930",
            12: "2", 14: "4", 15: "77", 16: "1", 17: "9", 18: "77", 19: "0", 20: 0,
            21: 0, 22: 0, 23: 0,
        }  # fmt: skip
        try:
            broker.emulator.push_conclusion({**header, 14: "0"})  # legacy 접수 flag
            bad = await next_item(events, lambda i: isinstance(i, Undecodable))
            assert isinstance(bad, Undecodable) and "체결플래그" in bad.error
            broker.emulator.push_conclusion(header)
            odd = await next_item(events, notice(NoticeKind.ACCEPTED, "005930"))
            assert isinstance(odd, Received) and isinstance(odd.event, OrderNotice)
            assert odd.event.credit is Credit.OTHER
            assert odd.event.order_type is OrderType.OTHER
        finally:
            await broker.close()

    run(scenario)


def test_a_late_tick_after_a_row_is_sold_out_is_ignored(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        events = broker.events()
        code = Code("000660")
        book = Book()
        try:
            book.apply(await broker.balance(BIG))
            await broker.subscribe(code)
            late = await next_item(
                events,
                lambda i: isinstance(i, Received) and getattr(i.event, "code", "") == code,
                venue=venue,
            )
            held = next(r for r in venue.balance(BIG).rows if r.code == code)
            await broker.place(
                OrderRequest(BIG, Side.SELL, code, held.qty, order_type=OrderType.MARKET)
            )
            for kind in (NoticeKind.ACCEPTED, NoticeKind.FILLED):
                item = await next_item(events, notice(kind, code))
                assert isinstance(item, Received) and isinstance(item.event, OrderNotice)
                book.apply(item.event)
            await broker.unsubscribe(code)
            assert isinstance(late, Received) and isinstance(late.event, Tick)
            book.apply(late.event)  # the tick that was already on its way
            assert all(r.key.code != code for r in book.rows(BIG))
        finally:
            await broker.close()

    run(scenario)


def test_quote_requests_wait_until_the_window_frees(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(
            venue, emulator_options={"window_seconds": 0.3, "quote_requests": 2}
        )
        await broker.connect()
        try:
            for _ in range(3):
                await broker.quote(Code("005930"))
            times = [t for k, t in broker.emulator.windows.served if k == LT_NONTRADE_REQUEST]
            assert times[2] >= times[0] + 0.3
        finally:
            await broker.close()

    run(scenario)


def test_trade_requests_answered_4_are_retried_after_the_window(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(
            venue, emulator_options={"window_seconds": 0.2, "trade_requests": 2}
        )
        await broker.connect()
        try:
            start = len(broker.emulator.windows.served)
            # Six pages, a cash request, the day's orders and the open orders: nine requests.
            snap = await broker.balance(BIG)
            assert len(snap.rows) == 262
            served = broker.emulator.windows.served[start:]
            times = [t for k, t in served if k == LT_TRADE_REQUEST]
            assert len(times) == 9 and times[2] >= times[0] + 0.2
        finally:
            await broker.close()

    run(scenario)


def test_the_401st_subscription_is_refused_so_the_engine_polls(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        codes = [i.code for i in venue.instruments()]
        try:
            for code in codes[:400]:
                await broker.subscribe(code)
            with pytest.raises(BrokerError):
                await broker.subscribe(codes[400])
            await broker.unsubscribe(codes[0])
            await broker.subscribe(codes[400])
        finally:
            await broker.close()

    run(scenario)


def test_a_cancelled_confirm_dialog_refuses_the_order(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        await broker.connect()
        try:
            broker.emulator.cancel_next_confirm()
            with pytest.raises(OrderRefused) as refused:
                await broker.place(OrderRequest(BIG, Side.BUY, Code("005930"), 1, 70000))
            assert refused.value.code == "2"
        finally:
            await broker.close()

    run(scenario)


def test_on_disconnect_reports_then_reconnects_and_resubscribes(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue, reconnect_interval=0.01)
        await broker.connect()
        events = broker.events()
        try:
            await broker.subscribe(Code("005930"))
            broker.emulator.disconnect()
            down = await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(down, ConnectionStatus) and not down.connected
            broker.emulator.reconnect()
            up = await next_item(events, lambda i: isinstance(i, ConnectionStatus))
            assert isinstance(up, ConnectionStatus) and up.connected and up.reconnected
            assert broker.reconnect_attempts >= 1
            assert broker.emulator.subscription_count() == 1
            await broker.place(
                OrderRequest(BIG, Side.BUY, Code("005930"), 1, order_type=OrderType.MARKET)
            )
            await next_item(events, notice(NoticeKind.FILLED, "005930"))
        finally:
            await broker.close()

    run(scenario)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda emu: emu.disconnect(), "not connected"),
        (lambda emu: setattr(emu, "trade_init_result", 2), "비밀번호"),
        (lambda emu: setattr(emu, "server_type", 2), "server type 2"),
    ],
)
def test_startup_checks_fail_with_a_clear_message(
    venue: Venue, setup: Callable[[Any], None], message: str
) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue)
        setup(broker.emulator)
        with pytest.raises(StartupError, match=message):
            await broker.connect()

    run(scenario)


def test_startup_refuses_a_process_without_administrator_rights(venue: Venue) -> None:
    async def scenario() -> None:
        broker = CybosBroker.for_emulator(venue, is_admin=lambda: False)
        with pytest.raises(StartupError, match="administrator"):
            await broker.connect()

    run(scenario)


def test_without_windows_or_the_emulator_startup_says_what_to_do() -> None:
    async def scenario() -> None:
        with pytest.raises(StartupError) as error:
            await CybosBroker().connect()
        assert str(error.value) == NEEDS_WINDOWS

    run(scenario)
