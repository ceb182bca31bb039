"""The KIS sandbox's quotation endpoints: prices, multi-quotes, daily and minute charts, book.

Each answers with every column KIS's official samples name, from one consistent picture of the
venue's market (:mod:`jango.sandbox.kis.market`): today's bar is the last of the daily chart,
the order book sits around the last trade.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jango.domain.model import KST
from jango.sandbox.kis import book, frames, quote_frames
from jango.sandbox.kis.gateway import Handler
from jango.sandbox.kis.market import Bar, ymd
from jango.sandbox.venue import UnknownInstrument

if TYPE_CHECKING:
    from jango.sandbox.kis.auth import SandboxUser
    from jango.sandbox.kis.server import KisSandbox

Q = "/uapi/domestic-stock/v1/quotations/"
PRICE_PATH = Q + "inquire-price"
MULTPRICE_PATH = Q + "intstock-multprice"
DAILY_CHART_PATH = Q + "inquire-daily-itemchartprice"
DAILY_PRICE_PATH = Q + "inquire-daily-price"
ASKING_PRICE_PATH = Q + "inquire-asking-price-exp-ccn"
TIME_CHART_PATH = Q + "inquire-time-itemchartprice"

CHART_ROWS = 100  # inquire-daily-itemchartprice answers at most 100 bars per call
DAILY_PRICE_ROWS = 30
MINUTE_ROWS = 30


class Quotes:
    """Quotation route handlers over a running :class:`KisSandbox`."""

    def __init__(self, sandbox: KisSandbox) -> None:
        self.sb = sandbox
        self.gw = sandbox.gateway

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, str, bool]] = [
            # (path, handler, TR id, real only)
            (PRICE_PATH, self._price, "FHKST01010100", False),
            (MULTPRICE_PATH, self._multprice, "FHKST11300006", True),
            (DAILY_CHART_PATH, self._daily_chart, "FHKST03010100", False),
            (DAILY_PRICE_PATH, self._daily_price, "FHKST01010400", False),
            (ASKING_PRICE_PATH, self._asking_price, "FHKST01010200", False),
            (TIME_CHART_PATH, self._time_chart, "FHKST03010200", False),
        ]
        return [
            Route(path, self.gw.endpoint(handler, {tr_id: ""}, real_only=real), methods=["GET"])
            for path, handler, tr_id, real in table
        ]

    def _quote_context(self, tr_id: str, params: Mapping[str, str]) -> Any:
        """(quote, today's bar, history, fundamentals, name) of FID_INPUT_ISCD, or a refusal."""
        missing = self.gw.missing(tr_id, params, ("FID_COND_MRKT_DIV_CODE", "FID_INPUT_ISCD"))
        if missing is not None:
            return missing
        if params["FID_COND_MRKT_DIV_CODE"].upper() not in ("J", "NX", "UN"):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : MRKT_DIV_CODE")
        code = params["FID_INPUT_ISCD"].strip()
        if code[:1] == "Q" and len(code) == 7:  # ETN codes are sent with a Q prefix
            code = code[1:]
        try:
            quote = self.sb.venue.quote(code)
            name = self.sb.venue.instrument(code).name
        except UnknownInstrument:
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD_LENGTH")
        day = self.sb.venue.now().astimezone(KST).date()
        market = self.sb.market
        today = market.today(quote, day)
        history = market.history(quote.code, quote.market, quote.base, day)
        info = market.fundamentals(quote.code, quote.market, quote.base)
        return quote, today, history, info, name

    async def _price(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        context = self._quote_context(tr_id, self.gw.params(request))
        if isinstance(context, JSONResponse):
            return context
        quote, today, history, info, _name = context
        output = quote_frames.price_output(quote, today, history, info, today.day)
        return self.gw.ok(tr_id, {"output": output})

    async def _daily_chart(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        names = ("FID_INPUT_DATE_1", "FID_INPUT_DATE_2", "FID_PERIOD_DIV_CODE", "FID_ORG_ADJ_PRC")
        missing = self.gw.missing(tr_id, params, names)
        if missing is not None:
            return missing
        context = self._quote_context(tr_id, params)
        if isinstance(context, JSONResponse):
            return context
        quote, today, history, info, name = context
        period = params["FID_PERIOD_DIV_CODE"].upper()
        if period not in ("D", "W", "M", "Y"):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : PERIOD_DIV_CODE")
        start, end = params["FID_INPUT_DATE_1"], params["FID_INPUT_DATE_2"]
        bars = [bar for bar in [*history, today] if start <= ymd(bar.day) <= end]
        grouped = _group(bars, period)
        closes = {id(bar): prev.close for prev, bar in itertools.pairwise(grouped)}
        first_previous = _previous_close(history, grouped[0]) if grouped else 0
        newest = list(reversed(grouped))[:CHART_ROWS]
        output2 = [
            quote_frames.daily_bar(bar, closes.get(id(bar), first_previous)) for bar in newest
        ]
        output1 = quote_frames.chart_summary(quote, today, history, info, name)
        return self.gw.ok(tr_id, {"output1": output1, "output2": output2})

    async def _daily_price(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        missing = self.gw.missing(tr_id, params, ("FID_PERIOD_DIV_CODE", "FID_ORG_ADJ_PRC"))
        if missing is not None:
            return missing
        context = self._quote_context(tr_id, params)
        if isinstance(context, JSONResponse):
            return context
        _quote, today, history, info, _name = context
        period = params["FID_PERIOD_DIV_CODE"].upper()
        if period not in ("D", "W", "M"):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : PERIOD_DIV_CODE")
        bars = _group([*history, today], period)
        rows = []
        for index in range(len(bars) - 1, max(-1, len(bars) - 1 - DAILY_PRICE_ROWS), -1):
            previous = bars[index - 1] if index > 0 else None
            rows.append(quote_frames.daily_price_row(bars[index], previous, info))
        return self.gw.ok(tr_id, {"output": rows})

    async def _asking_price(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        context = self._quote_context(tr_id, params)
        if isinstance(context, JSONResponse):
            return context
        quote = context[0]
        now = self.sb.venue.now().astimezone(KST)
        levels = book.levels(quote, now.date(), now, book.resting_orders(self.sb.venue, quote.code))
        out1, out2 = book.asking_price(quote, levels, now)
        return self.gw.ok(tr_id, {"output1": out1, "output2": out2})

    async def _time_chart(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        names = ("FID_INPUT_HOUR_1", "FID_PW_DATA_INCU_YN", "FID_ETC_CLS_CODE")
        missing = self.gw.missing(tr_id, params, names)
        if missing is not None:
            return missing
        context = self._quote_context(tr_id, params)
        if isinstance(context, JSONResponse):
            return context
        quote, today, history, _info, name = context
        hour = params["FID_INPUT_HOUR_1"].strip()
        if not (len(hour) == 6 and hour.isdigit()):
            return self.gw.business(tr_id, "OPSQ2002", "INVALID_CHECK_FIELD : INPUT_HOUR_1")
        if hour == "000000":
            # "Now": python-kis starts its minute chart with 000000 and pages back from the
            # newest bar it gets, so KIS is taken to read it as the latest bars.
            hour = "999999"
        bars = [
            bar
            for bar in self.sb.market.minutes(quote.code, today.day)
            if bar.minute is not None and bar.minute.strftime("%H%M%S") <= hour
        ]
        cumulative = []
        total = 0
        for bar in bars:
            total += bar.amount
            cumulative.append(total)
        output2 = [
            quote_frames.minute_bar(bar, amount)
            for bar, amount in reversed(list(zip(bars, cumulative, strict=True)))
        ][:MINUTE_ROWS]
        output1 = quote_frames.minute_summary(quote, today, history[-1].close, name)
        return self.gw.ok(tr_id, {"output1": output1, "output2": output2})

    async def _multprice(self, request: Request, _user: SandboxUser, _: str) -> JSONResponse:
        tr_id = request.headers["tr_id"]
        params = self.gw.params(request)
        items = []
        for number in range(1, 31):  # the API reads at most 30 pairs
            code = params.get(f"FID_INPUT_ISCD_{number}", "")
            if not code:
                continue
            try:
                items.append(frames.multprice_item(self.sb.venue.quote(code)))
            except UnknownInstrument:
                continue
        if not items:
            return self.gw.business(tr_id, "OPSQ2001", "ERROR : INPUT FIELD NOT FOUND")
        return self.gw.ok(tr_id, {"output": items})


def _group(bars: list[Bar], period: str) -> list[Bar]:
    """Daily bars folded into weeks, months or years (D: unchanged), oldest first."""
    if period == "D":
        return bars

    def key(bar: Bar) -> tuple[int, int]:
        if period == "W":
            iso = bar.day.isocalendar()
            return iso.year, iso.week
        if period == "M":
            return bar.day.year, bar.day.month
        return bar.day.year, 0

    grouped: list[Bar] = []
    groups: dict[tuple[int, int], list[Bar]] = {}
    for bar in bars:
        groups.setdefault(key(bar), []).append(bar)
    for members in groups.values():
        grouped.append(
            Bar(
                members[-1].day,
                members[0].open,
                max(b.high for b in members),
                min(b.low for b in members),
                members[-1].close,
                sum(b.volume for b in members),
                sum(b.amount for b in members),
            )
        )
    return grouped


def _previous_close(history: list[Bar], first: Bar) -> int:
    earlier = [bar for bar in history if bar.day < first.day]
    return earlier[-1].close if earlier else 0
