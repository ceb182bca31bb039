"""The KIS sandbox's order book: ten ask and ten bid levels around the venue's last trade.

The REST reply (``inquire-asking-price-exp-ccn``) and the real-time push (``H0STASP0``) are
built from the same levels, so a client that reads both sees one book.
"""

from __future__ import annotations

from datetime import date, datetime

from jango.domain import krx
from jango.domain.model import Quote


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


def asking_price(
    quote: Quote, day: date, moment: datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """output1 (ten levels each side) and output2 (expected fill) of the order book reply."""
    asks, bids = _book(quote, day, moment)
    out1: dict[str, str] = {"aspr_acpt_hour": moment.strftime("%H%M%S")}
    ask_qty = [_depth(quote, i, "a", moment) if p else 0 for i, p in enumerate(asks)]
    bid_qty = [_depth(quote, i, "b", moment) if p else 0 for i, p in enumerate(bids)]
    for i in range(10):
        out1[f"askp{i + 1}"] = str(asks[i])
    for i in range(10):
        out1[f"bidp{i + 1}"] = str(bids[i])
    for i in range(10):
        out1[f"askp_rsqn{i + 1}"] = str(ask_qty[i])
    for i in range(10):
        out1[f"bidp_rsqn{i + 1}"] = str(bid_qty[i])
    for side in ("askp", "bidp"):
        for i in range(10):
            out1[f"{side}_rsqn_icdc{i + 1}"] = "0"
    out1.update(
        {
            "total_askp_rsqn": str(sum(ask_qty)),
            "total_bidp_rsqn": str(sum(bid_qty)),
            "total_askp_rsqn_icdc": "0",
            "total_bidp_rsqn_icdc": "0",
            "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0",
            "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0",
            "ntby_aspr_rsqn": str(sum(bid_qty) - sum(ask_qty)),
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
