"""The KIS sandbox's order book: ten ask and ten bid levels around the venue's last trade.

The REST reply (``inquire-asking-price-exp-ccn``) and the real-time push (``H0STASP0``) are
built from the same levels, so a client that reads both sees one book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from jango.domain import krx
from jango.domain.model import Quote, Side
from jango.sandbox.venue import Venue


def _book(quote: Quote, day: date, moment: datetime) -> tuple[list[int], list[int]]:
    """Ten ask and ten bid prices around the last trade, on the grid and inside the limits."""
    market = quote.market
    asks, bids = [], []
    price = quote.price
    for _ in range(10):
        price += krx.tick_size(price, market, day)
        asks.append(price if price <= quote.upper else 0)
    price = quote.price + krx.tick_size(quote.price, market, day)
    for _ in range(10):
        price -= krx.tick_size(max(price - 1, 1), market, day)
        bids.append(price if price >= quote.lower else 0)
    return asks, bids


def _depth(quote: Quote, level: int, side: str, moment: datetime) -> int:
    # Resting quantity per level: fixed per (code, minute, level), so repeated reads agree.
    seed = sum(ord(c) for c in f"{quote.code}{side}{level}") + moment.hour * 60 + moment.minute
    return (seed * 7919 % 997 + 1) * max(1, 100_000 // max(quote.price, 1))


@dataclass(frozen=True)
class Levels:
    """Ten ask and ten bid levels, best first: prices (0 beyond the day's limits) and resting
    quantities (the crowd's, plus the venue's open limit orders resting at that price)."""

    asks: tuple[int, ...]
    bids: tuple[int, ...]
    ask_qty: tuple[int, ...]
    bid_qty: tuple[int, ...]


def resting_orders(venue: Venue, code: str) -> dict[tuple[Side, int], int]:
    """Remaining quantity of the venue's open limit orders on ``code``, by (side, price)."""
    resting: dict[tuple[Side, int], int] = {}
    for account in venue.accounts():
        for order in venue.open_orders(account):
            if order.code == code and order.price > 0:
                key = (order.side, order.price)
                resting[key] = resting.get(key, 0) + order.remaining
    return resting


def levels(
    quote: Quote,
    day: date,
    moment: datetime,
    resting: Mapping[tuple[Side, int], int] | None = None,
) -> Levels:
    """The book at ``moment``: fixed per (code, minute) for the crowd, so two reads agree."""
    resting = resting or {}
    asks, bids = _book(quote, day, moment)
    ask_qty = tuple(
        _depth(quote, i, "a", moment) + resting.get((Side.SELL, p), 0) if p else 0
        for i, p in enumerate(asks)
    )
    bid_qty = tuple(
        _depth(quote, i, "b", moment) + resting.get((Side.BUY, p), 0) if p else 0
        for i, p in enumerate(bids)
    )
    return Levels(tuple(asks), tuple(bids), ask_qty, bid_qty)


def asking_price(
    quote: Quote, book: Levels, moment: datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """output1 (ten levels each side) and output2 (expected fill) of the order book reply."""
    out1: dict[str, str] = {"aspr_acpt_hour": moment.strftime("%H%M%S")}
    for i in range(10):
        out1[f"askp{i + 1}"] = str(book.asks[i])
    for i in range(10):
        out1[f"bidp{i + 1}"] = str(book.bids[i])
    for i in range(10):
        out1[f"askp_rsqn{i + 1}"] = str(book.ask_qty[i])
    for i in range(10):
        out1[f"bidp_rsqn{i + 1}"] = str(book.bid_qty[i])
    for side in ("askp", "bidp"):
        for i in range(10):
            out1[f"{side}_rsqn_icdc{i + 1}"] = "0"
    out1.update(
        {
            "total_askp_rsqn": str(sum(book.ask_qty)),
            "total_bidp_rsqn": str(sum(book.bid_qty)),
            "total_askp_rsqn_icdc": "0",
            "total_bidp_rsqn_icdc": "0",
            "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0",
            "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0",
            "ntby_aspr_rsqn": str(sum(book.bid_qty) - sum(book.ask_qty)),
            "new_mkop_cls_code": "20",
        }
    )
    out2 = {
        "antc_mkop_cls_code": "311",
        "stck_prpr": str(quote.price),
        "stck_oprc": str(quote.base),
        "stck_hgpr": str(max(quote.base, quote.price)),
        "stck_lwpr": str(min(quote.base, quote.price)),
        "stck_sdpr": str(quote.base),
        "antc_cnpr": "0",  # no auction in progress during the continuous session
        "antc_cntg_vrss_sign": "3",
        "antc_cntg_vrss": "0",
        "antc_cntg_prdy_ctrt": "0.00",
        "antc_vol": "0",
        "stck_shrn_iscd": quote.code,
        "vi_cls_code": "N",
    }
    return out1, out2


def asking_record(quote: Quote, book: Levels, moment: datetime) -> str:
    """One ``H0STASP0`` record: the 59 fields of KIS's real-time order book, ``^``-joined.

    HOUR_CLS_CODE "0" is the regular session; no auction runs in the continuous session, so the
    expected-fill fields are 0 (sign "3", unchanged); STCK_DEAL_CLS_CODE "0" is an ordinary
    trade (our reading: KIS documents the field but not its values)."""
    fields = [quote.code, moment.strftime("%H%M%S"), "0"]
    fields += [str(p) for p in book.asks] + [str(p) for p in book.bids]
    fields += [str(q) for q in book.ask_qty] + [str(q) for q in book.bid_qty]
    fields += [str(sum(book.ask_qty)), str(sum(book.bid_qty)), "0", "0"]  # totals, after-hours
    fields += ["0", "0", "0", "0", "3", "0.00"]  # expected price/qty/volume/diff/sign/rate
    fields += [str(quote.volume), "0", "0", "0", "0", "0"]  # ACML_VOL, the four changes, deal
    return "^".join(fields)


def asking_frame(records: list[str]) -> str:
    """A plain ``H0STASP0`` data frame of one or more records."""
    return f"0|H0STASP0|{len(records):03d}|" + "^".join(records)
