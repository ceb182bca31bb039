"""``KisBroker``: the Broker port over the KIS REST API and WebSocket.

Balance snapshots carry the account's orders of the day (``inquire-daily-ccld``; on real accounts
also ``inquire-psbl-rvsecncl``, which is where an order's branch for amend/cancel comes from) and
every row's market from the product-info lookup (``search-stock-info``, or ``search-info`` on
paper, where the former is not served), cached per code and day, on disk beside the token cache
(:mod:`jango.brokers.kis.instruments`), so a restart the same day does not ask again.

Fill notices carry no fill id and no cumulative quantity; :mod:`jango.brokers.kis.fills` stamps
each with its order's cumulative filled quantity, seeded here from the orders of the day each
time the notice subscription is (re)established (the race window is documented there and in
``docs/kis-notices.md``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from jango.brokers.kis import wire
from jango.brokers.kis.auth import TokenManager
from jango.brokers.kis.config import KisConfig, KisTuning, default_token_cache
from jango.brokers.kis.fills import FillCounter
from jango.brokers.kis.instruments import InstrumentCache
from jango.brokers.kis.ratelimit import limiter_for
from jango.brokers.kis.realtime import MAX_REGISTRATIONS, KisRealtime
from jango.brokers.kis.rest import KisRest, Reply
from jango.brokers.port import (
    BrokerError,
    BrokerLimits,
    NoSuchOrder,
    NotSupported,
    OrderAck,
    OrderRefused,
    OrderRequest,
    PushItem,
)
from jango.domain.model import (
    KST,
    BalanceRow,
    BalanceSnapshot,
    Cash,
    Code,
    Credit,
    Market,
    OrderState,
    Quote,
    Side,
    mask_account,
)
from jango.supervisor import Supervisor

log = logging.getLogger(__name__)

BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
MULTPRICE_PATH = "/uapi/domestic-stock/v1/quotations/intstock-multprice"
ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
REVISE_PATH = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
CREDIT_PATH = "/uapi/domestic-stock/v1/trading/order-credit"
DAILY_ORDERS_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
PENDING_PATH = "/uapi/domestic-stock/v1/trading/inquire-psbl-rvsecncl"
STOCK_INFO_PATH = "/uapi/domestic-stock/v1/quotations/search-stock-info"
PRODUCT_INFO_PATH = "/uapi/domestic-stock/v1/quotations/search-info"
DAILY_ORDERS_TR = "TTTC0081R"  # 3-month window; the old id TTTC8001R is still served
PENDING_TR = "TTTC0084R"  # real only; old id TTTC8036R

DATA_CHANGED = "SYDB0050"  # "조회이후에 자료가 변경되었습니다": restart paging from page 1
MAX_PAGES = 100  # 5,000 rows real / 2,000 paper: far beyond any retail account
MULTPRICE_BATCH = 30
# order-credit's CRDT_TYPE by (side, credit): new margin buys 21/23 and their repaying sells
# 25/27; new short sells 22/24 and their repaying buys 26/28.
_CREDIT_TYPES = {
    (Side.BUY, Credit.MARGIN_SELF): "21",
    (Side.BUY, Credit.MARGIN_KSFC): "23",
    (Side.SELL, Credit.MARGIN_SELF): "25",
    (Side.SELL, Credit.MARGIN_KSFC): "27",
    (Side.SELL, Credit.SHORT_KSFC): "22",
    (Side.SELL, Credit.SHORT_SELF): "24",
    (Side.BUY, Credit.SHORT_KSFC): "26",
    (Side.BUY, Credit.SHORT_SELF): "28",
}
SEED_READS = 3  # reads of the day's orders to seed the fill counters while fills arrive
# KIS counts requests as they arrive; we count them as we send. A request held up on its way (a
# busy loop, a slow link) arrives closer to the next than it left, and KIS refuses the one over
# its limit (EGW00201): at 2 requests/s a paper account's startup under load saw 53 refusals in
# 308 requests. Counting each second as a little longer keeps arrivals inside the limit.
WINDOW_SLACK_S = 0.1


def limits_for(paper: bool) -> BrokerLimits:
    """KIS limits by mode: paper has no multi-quote, 2 requests/s and 20-row balance pages."""
    rate = 2 if paper else 20
    return BrokerLimits(
        # One of the 41 registrations is the fill-notice subscription.
        subscription_capacity=MAX_REGISTRATIONS - 1,
        quote_batch=1 if paper else MULTPRICE_BATCH,
        quote_requests=rate,
        trade_requests=rate,
        window_seconds=1.0,
        balance_page_size=20 if paper else 50,
    )


class KisBroker:
    """The KIS Open API as a :class:`~jango.brokers.port.Broker` for one account."""

    name = "kis"

    def __init__(self, config: KisConfig, *, tuning: KisTuning | None = None) -> None:
        self.config = config
        self.tuning = tuning or KisTuning()
        self.limits = limits_for(config.paper)
        self._client = httpx.AsyncClient(
            base_url=config.rest_url, timeout=self.tuning.request_timeout
        )
        self.tokens = TokenManager(config, self.tuning, self._client)
        self._events: asyncio.Queue[PushItem | None] = asyncio.Queue()
        self.realtime = KisRealtime(config, self.tuning, self._approval, self._on_push)
        self._fills = FillCounter(self._events.put_nowait)
        self._seed_task: asyncio.Task[None] | None = None
        cache = (config.token_cache or default_token_cache()).with_name("kis-instruments.json")
        self._instruments = InstrumentCache(cache, f"{config.mode}@{config.rest_url}")
        self._rest: KisRest | None = None
        self._branches: dict[str, str] = {}  # order no → KRX_FWDG_ORD_ORGNO, for amend/cancel
        self._ticks: set[Code] = set()
        self._closed = False

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Run the WebSocket reader under ``supervisor`` (the session's), so a death shows."""
        self.realtime.use_supervisor(supervisor)

    def __repr__(self) -> str:
        return f"KisBroker({self.config.mode}, account={mask_account(self.config.account)})"

    @property
    def _notice_tr(self) -> str:
        return wire.NOTICE_TR_PAPER if self.config.paper else wire.NOTICE_TR_REAL

    def _tr(self, real_id: str) -> str:
        # Account and order TRs swap their leading T for V on the paper domain.
        return "V" + real_id[1:] if self.config.paper else real_id

    async def _approval(self, renew: bool) -> str:
        return await self.tokens.approval_key(renew=renew)

    def _api(self) -> KisRest:
        if self._rest is None:
            raise BrokerError("KisBroker is not connected: call connect() first")
        return self._rest

    async def connect(self) -> None:
        """Get a token (cached or new), open the WebSocket and subscribe to fill notices."""
        rate = self.limits.quote_requests
        self._rest = KisRest(
            self.config,
            self.tuning,
            self._client,
            self.tokens,
            limiter_for(self.config.app_key, rate, self.limits.window_seconds + WINDOW_SLACK_S),
        )
        await self.tokens.token()
        self._fills.unseed()
        await self.realtime.start()
        await self.realtime.subscribe(self._notice_tr, self.config.hts_id)
        await self._seed(self._fills.generation)
        log.info(
            "KIS connected (%s, account %s)", self.config.mode, mask_account(self.config.account)
        )

    async def close(self) -> None:
        """Release registrations, close the WebSocket and the HTTP client. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._seed_task is not None:
            self._seed_task.cancel()
        await self.realtime.close()
        await self._client.aclose()
        self._events.put_nowait(None)

    async def accounts(self) -> list[str]:
        """The one account this configuration names (KIS keys are issued per account)."""
        return [self.config.account]

    def _check_account(self, account: str) -> None:
        if account.replace("-", "") != self.config.account:
            raise BrokerError(f"account {mask_account(account)} is not the configured account")

    async def balance(self, account: str) -> BalanceSnapshot:
        """Every page of inquire-balance (one row per loan date), restarting on SYDB0050, with
        the orders of the day and each row's market.

        Balance and orders are two reads, so an order that fills in between could be counted
        in one and not the other. The orders are read before and after the balance; when their
        filled quantities agree, the balance holds exactly those fills. When they do not (an
        order filling while we read), each row's own count of today's fills (``thdt_buyqty``,
        ``thdt_sll_qty``) says how many the balance holds, and the watermarks of the orders that
        moved are lowered to match it (newest order first). Only if KIS sent no such counts is
        the read repeated, at most ``balance_restarts`` times, and then a warning logged.
        """
        self._check_account(account)
        before = await self.orders(account, branches=False)
        for attempt in range(self.tuning.balance_restarts + 1):
            rows, cash, traded = await self._balance_rows(account)
            after = await self.orders(account)
            if _watermarks(before) == _watermarks(after):
                break
            if traded:
                after = _fit_watermarks(before, after, traded)
                break
            if attempt == self.tuning.balance_restarts:
                log.warning(
                    "KIS orders kept filling while the balance was read; the snapshot's order "
                    "watermarks may disagree with its rows (the next reconcile corrects it)"
                )
            before = after
        rows = [await self._with_market(row) for row in rows]
        self._instruments.save()
        if not self._fills.known:
            self._fills.reseed(after)
        return BalanceSnapshot(
            account, tuple(rows), cash, datetime.now(KST), "kis", orders=tuple(after)
        )

    async def _balance_rows(
        self, account: str
    ) -> tuple[list[BalanceRow], Cash, dict[wire.TradedKey, tuple[int, int]]]:
        for restart in range(self.tuning.balance_restarts + 1):
            pages = await self._balance_pages(account)
            if pages is not None:
                return pages
            log.info("KIS balance changed while paging (SYDB0050); restart %d", restart + 1)
        raise BrokerError(
            f"KIS balance kept changing while paging ({DATA_CHANGED}) after "
            f"{self.tuning.balance_restarts} restarts",
            code=DATA_CHANGED,
        )

    async def orders(self, account: str, *, branches: bool = True) -> list[OrderState]:
        """The account's orders of the day (inquire-daily-ccld, every page, oldest first), each
        with its cumulative filled quantity and what is still open. Cancel requests, which have
        order numbers of their own, are not orders that trade and are left out. On real
        accounts (with ``branches``) the pending-orders inquiry is read too, for the branches
        amend/cancel need."""
        self._check_account(account)
        rows = await self._daily_rows()
        for row in rows:
            if row.branch:
                self._branches[row.state.order_no] = row.branch
        if branches and not self.config.paper:
            for pending in await self._pending_rows():
                if pending.branch:
                    self._branches[pending.order_no] = pending.branch
        return [row.state for row in rows if not row.cancel_request]

    async def _daily_rows(self, order_no: str = "") -> list[wire.DayOrderRow]:
        today = datetime.now(KST).date()
        stamp = today.strftime("%Y%m%d")
        params = {
            "CANO": self.config.cano,
            "ACNT_PRDT_CD": self.config.product_code,
            "INQR_STRT_DT": stamp,
            "INQR_END_DT": stamp,
            "SLL_BUY_DVSN_CD": "00",
            "INQR_DVSN": "01",  # oldest first
            "PDNO": "",
            "CCLD_DVSN": "00",
            "ORD_GNO_BRNO": "",
            "ODNO": order_no,
            "INQR_DVSN_3": "00",
            "INQR_DVSN_1": "",
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
            "EXCG_ID_DVSN_CD": "KRX",
        }
        rows: list[wire.DayOrderRow] = []
        async for body in self._pages(DAILY_ORDERS_PATH, self._tr(DAILY_ORDERS_TR), params):
            rows.extend(
                wire.parse_daily_orders(self.config.account, body.get("output1"), today=today)
            )
        return rows

    async def _pending_rows(self) -> list[wire.PendingOrder]:
        params = {
            "CANO": self.config.cano,
            "ACNT_PRDT_CD": self.config.product_code,
            "INQR_DVSN_1": "0",  # by order
            "INQR_DVSN_2": "0",  # both sides
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
        }
        pending: list[wire.PendingOrder] = []
        async for body in self._pages(PENDING_PATH, PENDING_TR, params):
            pending.extend(wire.parse_pending(body.get("output")))
        return pending

    async def _pages(
        self, path: str, tr_id: str, params: dict[str, str]
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Every page of a paged inquiry (tr_cont F/M → ask again with N and the CTX keys)."""
        tr_cont = ""
        for _ in range(MAX_PAGES):
            reply = await self._api().get(path, tr_id, params, tr_cont=tr_cont)
            if not reply.ok:
                raise BrokerError(f"KIS {path} refused: {reply.message}", code=reply.msg_cd)
            yield reply.body
            if not reply.more:
                return
            params["CTX_AREA_FK100"] = str(reply.body.get("ctx_area_fk100", ""))
            params["CTX_AREA_NK100"] = str(reply.body.get("ctx_area_nk100", ""))
            tr_cont = "N"
        raise BrokerError(f"KIS {path} did not end within {MAX_PAGES} pages")

    async def instrument(self, code: Code) -> wire.ProductInfo:
        """Name and market of ``code`` from KIS's product info, cached per code and day: on real
        accounts search-stock-info; on paper (which lacks it) search-info, and for a plain stock
        (which search-info does not place) the market inquire-price names. A failed lookup is
        logged and gives UNKNOWN, uncached, so the next snapshot asks again."""
        today = datetime.now(KST).date()
        cached = self._instruments.get(code, today)
        if cached is not None:
            return cached
        try:
            info = await self._lookup(code)
        except BrokerError as exc:
            log.warning("KIS product info for %s failed (%s); its market stays UNKNOWN", code, exc)
            return wire.ProductInfo("", Market.UNKNOWN)
        if info.market is Market.UNKNOWN:
            log.warning("KIS product info for %s names no market; it stays UNKNOWN", code)
            return info
        self._instruments.put(code, today, info)
        return info

    async def _lookup(self, code: Code) -> wire.ProductInfo:
        params = {"PRDT_TYPE_CD": "300", "PDNO": code}
        if not self.config.paper:
            reply = await self._api().get(STOCK_INFO_PATH, "CTPF1002R", params)
            if not reply.ok:
                raise BrokerError(f"search-stock-info: {reply.message}", code=reply.msg_cd)
            return wire.parse_stock_info(reply.body.get("output"))
        reply = await self._api().get(PRODUCT_INFO_PATH, "CTPF1604R", params)
        if not reply.ok:
            raise BrokerError(f"search-info: {reply.message}", code=reply.msg_cd)
        info = wire.parse_product_info(reply.body.get("output"))
        if info.market is Market.UNKNOWN:
            quote = await self.quote(code)
            info = wire.ProductInfo(info.name, quote.market)
        return info

    async def _with_market(self, row: BalanceRow) -> BalanceRow:
        info = await self.instrument(row.code)
        return replace(row, market=info.market, name=row.name or info.name)

    async def _balance_pages(
        self, account: str
    ) -> tuple[list[BalanceRow], Cash, dict[wire.TradedKey, tuple[int, int]]] | None:
        """All pages once; None when the server says the data changed mid-way."""
        params = {
            "CANO": self.config.cano,
            "ACNT_PRDT_CD": self.config.product_code,
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            "INQR_DVSN": "01",  # one row per loan date, so credit tranches stay apart
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
        }
        rows: list[BalanceRow] = []
        traded: dict[wire.TradedKey, tuple[int, int]] = {}
        cash: Cash | None = None
        tr_cont = ""
        for _ in range(MAX_PAGES):
            reply = await self._api().get(
                BALANCE_PATH, self._tr("TTTC8434R"), params, tr_cont=tr_cont
            )
            if reply.msg_cd == DATA_CHANGED:
                return None
            if not reply.ok:
                raise BrokerError(f"KIS balance refused: {reply.message}", code=reply.msg_cd)
            rows.extend(wire.parse_balance_rows(account, reply.body.get("output1")))
            for key, (bought, sold) in wire.parse_traded_today(reply.body.get("output1")).items():
                was = traded.get(key, (0, 0))
                traded[key] = (was[0] + bought, was[1] + sold)
            if cash is None:
                cash = wire.parse_cash(reply.body.get("output2"))
            if not reply.more:
                return rows, cash, traded
            # Continuation keys go back verbatim (padding included), with header tr_cont N.
            params["CTX_AREA_FK100"] = str(reply.body.get("ctx_area_fk100", ""))
            params["CTX_AREA_NK100"] = str(reply.body.get("ctx_area_nk100", ""))
            tr_cont = "N"
        raise BrokerError(f"KIS balance did not end within {MAX_PAGES} pages")

    async def quote(self, code: Code) -> Quote:
        """inquire-price for one code."""
        params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}
        reply = await self._api().get(PRICE_PATH, "FHKST01010100", params)
        if not reply.ok:
            raise BrokerError(f"KIS quote {code} refused: {reply.message}", code=reply.msg_cd)
        return wire.parse_price(reply.body.get("output"), code)

    async def quotes(self, codes: Sequence[Code]) -> list[Quote]:
        """Quotes in request order: one intstock-multprice call (real), or single quotes (paper,
        which has no multi-quote)."""
        if len(codes) > self.limits.quote_batch:
            raise BrokerError(f"{len(codes)} codes exceed the batch of {self.limits.quote_batch}")
        if not codes:
            return []
        if self.config.paper:
            return [await self.quote(code) for code in codes]
        params: dict[str, str] = {}
        for number, code in enumerate(codes, start=1):
            params[f"FID_COND_MRKT_DIV_CODE_{number}"] = "J"
            params[f"FID_INPUT_ISCD_{number}"] = code
        reply = await self._api().get(MULTPRICE_PATH, "FHKST11300006", params)
        if not reply.ok:
            raise BrokerError(f"KIS multi-quote refused: {reply.message}", code=reply.msg_cd)
        by_code = {quote.code: quote for quote in wire.parse_multprice(reply.body.get("output"))}
        missing = [code for code in codes if code not in by_code]
        if missing:
            raise BrokerError(f"KIS multi-quote lacks {', '.join(missing)}")
        return [by_code[code] for code in codes]

    async def subscribe(self, code: Code) -> None:
        """Register ``H0STCNT0`` for ``code``; BrokerError beyond 40 tick registrations."""
        if code in self._ticks:
            return
        if len(self._ticks) >= self.limits.subscription_capacity:
            raise BrokerError(
                f"KIS tick subscriptions full ({self.limits.subscription_capacity}); poll {code}",
                code="OPSP0008",
            )
        await self.realtime.subscribe(wire.TICK_TR, code)
        self._ticks.add(code)

    async def unsubscribe(self, code: Code) -> None:
        """Release ``H0STCNT0`` for ``code``; unknown codes are ignored."""
        if code not in self._ticks:
            return
        self._ticks.discard(code)
        await self.realtime.unsubscribe(wire.TICK_TR, code)

    # ------------------------------------------------------------------ pushes and fill counters

    def _on_push(self, item: PushItem) -> None:
        """The WebSocket's sink: the fill counter holds, stamps and queues every item."""
        if self._fills.push(item) and not self._closed:
            self._seed_task = asyncio.get_running_loop().create_task(
                self._seed(self._fills.generation), name="kis-fill-seed"
            )

    async def _seed(self, generation: int) -> None:
        """Read the orders of the day and seed the fill counter with them.

        A fill that arrives while the read is in flight may or may not be in it; the read is
        then repeated (every fill held so far arrived before the repeat was sent, so it counts
        them all), up to ``SEED_READS`` reads. Only if fills keep arriving during every read
        are the last read's in-flight fills taken as not counted: the documented race."""
        for attempt in range(1, SEED_READS + 1):
            sent_at = self._fills.mark()  # held items up to here arrived before the request
            try:
                orders = await self.orders(self.config.account)
            except BrokerError as exc:
                if generation != self._fills.generation:
                    return
                log.warning(
                    "KIS fill counters not seeded (%s): fills of orders not yet counted carry "
                    "no cumulative quantity until the next balance snapshot",
                    exc,
                )
                self._fills.release(None, sent_at)
                return
            if generation != self._fills.generation:
                return  # dropped again meanwhile: the next session's seed takes over
            in_flight = self._fills.fills_since(sent_at)
            if not in_flight or attempt == SEED_READS:
                if in_flight:
                    log.info(
                        "KIS fills kept arriving during %d seeding reads; the last read's "
                        "in-flight fills are counted on top of it",
                        SEED_READS,
                    )
                break
        self._fills.release({order.order_no: order.filled for order in orders}, sent_at)

    async def events(self) -> AsyncIterator[PushItem]:
        """Pushed ticks, notices, undecodable frames and connection changes; ends on close."""
        while True:
            item = await self._events.get()
            if item is None:
                return
            yield item

    async def place(self, order: OrderRequest) -> OrderAck:
        """order-cash for cash orders; order-credit (real accounts only) for margin buys
        (dated today) and the sells that repay them (dated by the row's loan date)."""
        self._check_account(order.account)
        try:
            division = wire.order_division(order.order_type, order.condition)
        except wire.WireError as exc:
            raise OrderRefused(str(exc)) from exc
        body = {
            "CANO": self.config.cano,
            "ACNT_PRDT_CD": self.config.product_code,
            "PDNO": order.code,
            "ORD_DVSN": division,
            "ORD_QTY": str(order.qty),
            "ORD_UNPR": str(order.price),
            "EXCG_ID_DVSN_CD": "KRX",  # the only venue paper accounts accept
        }
        if order.credit is not Credit.CASH:
            return await self._place_credit(order, body)
        if order.side is Side.SELL:
            body["SLL_TYPE"] = "01"
        tr_id = self._tr("TTTC0011U" if order.side is Side.SELL else "TTTC0012U")
        return await self._order(ORDER_PATH, tr_id, body)

    async def _place_credit(self, order: OrderRequest, body: dict[str, str]) -> OrderAck:
        if self.config.paper:
            raise NotSupported("KIS paper trading has no credit orders (order-credit is real only)")
        credit_type = _CREDIT_TYPES.get((order.side, order.credit))
        if credit_type is None:
            raise NotSupported(f"KIS order-credit has no {order.side} for {order.credit}")
        opening = credit_type in ("21", "23", "22", "24")
        if opening:
            loan = datetime.now(KST).date()
        elif order.loan_date is None:
            raise OrderRefused(f"a {order.credit} {order.side} must name the row's loan date")
        else:
            loan = order.loan_date
        body["CRDT_TYPE"] = credit_type
        body["LOAN_DT"] = loan.strftime("%Y%m%d")
        tr_id = "TTTC0051U" if order.side is Side.SELL else "TTTC0052U"
        return await self._order(CREDIT_PATH, tr_id, body)

    async def amend(
        self, account: str, order_no: str, *, price: int, qty: int | None = None
    ) -> OrderAck:
        """order-rvsecncl with RVSE_CNCL_DVSN_CD 01: all remaining (QTY_ALL_ORD_YN Y) or ``qty``."""
        return await self._revise(account, order_no, "01", price, qty)

    async def cancel(self, account: str, order_no: str, *, qty: int | None = None) -> OrderAck:
        """order-rvsecncl with RVSE_CNCL_DVSN_CD 02: all remaining or ``qty``."""
        return await self._revise(account, order_no, "02", 0, qty)

    async def _revise(
        self, account: str, order_no: str, division: str, price: int, qty: int | None
    ) -> OrderAck:
        self._check_account(account)
        body = {
            "CANO": self.config.cano,
            "ACNT_PRDT_CD": self.config.product_code,
            "KRX_FWDG_ORD_ORGNO": await self._branch(order_no),
            "ORGN_ODNO": order_no,
            "ORD_DVSN": "00",
            "RVSE_CNCL_DVSN_CD": division,
            "ORD_QTY": "0" if qty is None else str(qty),
            "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y" if qty is None else "N",
            "EXCG_ID_DVSN_CD": "KRX",
        }
        return await self._order(REVISE_PATH, self._tr("TTTC0013U"), body)

    async def _branch(self, order_no: str) -> str:
        """The order's KRX_FWDG_ORD_ORGNO: remembered from its placing, else looked up (pending
        orders on real accounts, the day's orders on paper). An order found in neither is not
        open: NoSuchOrder, rather than a request with an empty branch."""
        branch = self._branches.get(order_no)
        if branch:
            return branch
        if self.config.paper:
            for row in await self._daily_rows(order_no):
                if row.branch:
                    self._branches[row.state.order_no] = row.branch
        else:
            for pending in await self._pending_rows():
                if pending.branch:
                    self._branches[pending.order_no] = pending.branch
        branch = self._branches.get(order_no)
        if not branch:
            raise NoSuchOrder(f"KIS order {order_no} is not among the account's open orders")
        return branch

    async def _order(self, path: str, tr_id: str, body: dict[str, str]) -> OrderAck:
        reply = await self._api().post(path, tr_id, body)
        if not reply.ok:
            raise _refusal(reply)
        parsed = wire.parse_order_reply(reply.body.get("output"), today=datetime.now(KST).date())
        if parsed.branch:
            self._branches[parsed.order_no] = parsed.branch
        return OrderAck(parsed.order_no, parsed.time, reply.message)


def _watermarks(orders: list[OrderState]) -> dict[str, tuple[int, int]]:
    return {order.order_no: (order.filled, order.remaining) for order in orders}


def _fit_watermarks(
    before: list[OrderState],
    after: list[OrderState],
    traded: dict[wire.TradedKey, tuple[int, int]],
) -> list[OrderState]:
    """Lower the watermarks of orders that filled between the two order reads so each row's
    orders add up to the fills the balance says it holds (never below the first read)."""
    first = {order.order_no: order.filled for order in before}
    fitted = {order.order_no: order for order in after}
    groups: dict[tuple[wire.TradedKey, Side], list[OrderState]] = {}
    for order in after:
        key = (order.code, order.credit, order.loan_date)
        groups.setdefault((key, order.side), []).append(order)
    for (key, side), orders in groups.items():
        if key not in traded:
            continue
        held = traded[key][0 if side is Side.BUY else 1]
        excess = sum(order.filled for order in orders) - held
        for order in sorted(orders, key=lambda o: o.order_no, reverse=True):
            if excess <= 0:
                break
            floor = min(order.filled, first.get(order.order_no, 0))
            cut = min(excess, order.filled - floor)
            if cut:
                # Shares not yet filled at the balance's instant were still open then.
                fitted[order.order_no] = replace(
                    order, filled=order.filled - cut, remaining=order.remaining + cut
                )
                excess -= cut
        if excess > 0:
            log.warning(
                "KIS balance holds %d fewer of today's %s fills of %s than the order reads show",
                excess,
                side,
                key[0],
            )
    return [fitted[order.order_no] for order in after]


def _refusal(reply: Reply) -> OrderRefused:
    kind = NoSuchOrder if reply.msg_cd in wire.NO_SUCH_ORDER_CODES else OrderRefused
    return kind(f"KIS refused the order ({reply.msg_cd}): {reply.message}", code=reply.msg_cd)
