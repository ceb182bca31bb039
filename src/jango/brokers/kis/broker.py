"""``KisBroker``: the Broker port over the KIS REST API and WebSocket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import httpx

from jango.brokers.kis import wire
from jango.brokers.kis.auth import TokenManager
from jango.brokers.kis.config import KisConfig, KisTuning
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
    Quote,
    Side,
    mask_account,
)

log = logging.getLogger(__name__)

BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
MULTPRICE_PATH = "/uapi/domestic-stock/v1/quotations/intstock-multprice"
ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
REVISE_PATH = "/uapi/domestic-stock/v1/trading/order-rvsecncl"

DATA_CHANGED = "SYDB0050"  # "조회이후에 자료가 변경되었습니다": restart paging from page 1
MAX_PAGES = 100  # 5,000 rows real / 2,000 paper: far beyond any retail account
MULTPRICE_BATCH = 30


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
        self.realtime = KisRealtime(config, self.tuning, self._approval, self._events.put_nowait)
        self._rest: KisRest | None = None
        self._branches: dict[str, str] = {}  # order no → KRX_FWDG_ORD_ORGNO, for amend/cancel
        self._last_branch = ""
        self._ticks: set[Code] = set()
        self._closed = False

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
            limiter_for(self.config.app_key, rate, self.limits.window_seconds),
        )
        await self.tokens.token()
        await self.realtime.start()
        await self.realtime.subscribe(self._notice_tr, self.config.hts_id)
        log.info(
            "KIS connected (%s, account %s)", self.config.mode, mask_account(self.config.account)
        )

    async def close(self) -> None:
        """Release registrations, close the WebSocket and the HTTP client. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
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
        """Every page of inquire-balance (one row per loan date), restarting on SYDB0050."""
        self._check_account(account)
        for restart in range(self.tuning.balance_restarts + 1):
            pages = await self._balance_pages(account)
            if pages is not None:
                rows, cash = pages
                return BalanceSnapshot(account, tuple(rows), cash, datetime.now(KST), "kis")
            log.info("KIS balance changed while paging (SYDB0050); restart %d", restart + 1)
        raise BrokerError(
            f"KIS balance kept changing while paging ({DATA_CHANGED}) after "
            f"{self.tuning.balance_restarts} restarts",
            code=DATA_CHANGED,
        )

    async def _balance_pages(self, account: str) -> tuple[list[BalanceRow], Cash] | None:
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
            if cash is None:
                cash = wire.parse_cash(reply.body.get("output2"))
            if not reply.more:
                return rows, cash
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

    async def events(self) -> AsyncIterator[PushItem]:
        """Pushed ticks, notices, undecodable frames and connection changes; ends on close."""
        while True:
            item = await self._events.get()
            if item is None:
                return
            yield item

    async def place(self, order: OrderRequest) -> OrderAck:
        """order-cash. Credit orders go through another KIS API (order-credit): not supported."""
        self._check_account(order.account)
        if order.credit is not Credit.CASH:
            raise NotSupported("KIS credit orders (order-credit) are not supported by jango yet")
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
        if order.side is Side.SELL:
            body["SLL_TYPE"] = "01"
        tr_id = self._tr("TTTC0011U" if order.side is Side.SELL else "TTTC0012U")
        return await self._order(ORDER_PATH, tr_id, body)

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
            "KRX_FWDG_ORD_ORGNO": self._branches.get(order_no, self._last_branch),
            "ORGN_ODNO": order_no,
            "ORD_DVSN": "00",
            "RVSE_CNCL_DVSN_CD": division,
            "ORD_QTY": "0" if qty is None else str(qty),
            "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y" if qty is None else "N",
            "EXCG_ID_DVSN_CD": "KRX",
        }
        return await self._order(REVISE_PATH, self._tr("TTTC0013U"), body)

    async def _order(self, path: str, tr_id: str, body: dict[str, str]) -> OrderAck:
        reply = await self._api().post(path, tr_id, body)
        if not reply.ok:
            raise _refusal(reply)
        parsed = wire.parse_order_reply(reply.body.get("output"), today=datetime.now(KST).date())
        if parsed.branch:
            self._branches[parsed.order_no] = parsed.branch
            self._last_branch = parsed.branch
        return OrderAck(parsed.order_no, parsed.time, reply.message)


def _refusal(reply: Reply) -> OrderRefused:
    kind = NoSuchOrder if reply.msg_cd in wire.NO_SUCH_ORDER_CODES else OrderRefused
    return kind(f"KIS refused the order ({reply.msg_cd}): {reply.message}", code=reply.msg_cd)
