"""KIS quotation and product-info reply bodies, built from the venue and :mod:`.market`.

Field lists follow the columns KIS's official samples name for each endpoint (the ``chk_*.py``
files of ``koreainvestment/open-trading-api``); values are derived from one consistent picture of
the market, so a client can cross-check them (``per`` × ``eps`` ≈ price, ``w52_hgpr`` ≥ every bar
of the daily chart in the last 52 weeks, today's open/high/low equal the daily chart's first bar).
Codes the sources do not pin down (industry names, market-id codes) are noted where used.
"""

from __future__ import annotations

from datetime import date, time

from jango.domain import krx
from jango.domain.model import Market, Quote
from jango.sandbox.kis.market import (
    Bar,
    Fundamentals,
    extreme,
    rate,
    ratio,
    weeks_ago,
    year_bars,
    ymd,
)

# Market → (rprs_mrkt_kor_name, mket_id_cd, scty_grp_id_cd). The ids are KRX's market and
# security-group ids (STK/KSQ/KNX; ST stock, EF ETF, EN ETN, EW ELW) as KIS's master files use
# them; that search-stock-info reports exactly these is our assumption.
_MARKET_CODES = {
    Market.KOSPI: ("KOSPI", "STK", "ST"),
    Market.KOSDAQ: ("KOSDAQ", "KSQ", "ST"),
    Market.KONEX: ("KONEX", "KNX", "ST"),
    Market.ETF: ("ETF", "STK", "EF"),
    Market.ETN: ("ETN", "STK", "EN"),
    Market.ELW: ("ELW", "STK", "EW"),
    Market.UNKNOWN: ("", "", ""),
}
# search-info's product class names (prdt_clsf_name); our assumption, see docs/kis-sandbox.md.
_CLASS_NAMES = {
    Market.KOSPI: "주권",
    Market.KOSDAQ: "주권",
    Market.KONEX: "주권",
    Market.ETF: "ETF",
    Market.ETN: "ETN",
    Market.ELW: "ELW",
    Market.UNKNOWN: "",
}


def sign(diff: int, price: int, upper: int, lower: int) -> str:
    """prdy_vrss_sign: 1 upper limit, 2 up, 3 unchanged, 4 lower limit, 5 down."""
    if upper and price >= upper:
        return "1"
    if lower and price <= lower:
        return "4"
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def isin(code: str) -> str:
    """The KRX ISIN of a short code (KR7 + code + 000 + check digit; Luhn over the digits)."""
    body = f"KR7{code}00"
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return f"{body}{(10 - total % 10) % 10}"


def _vwap(bar: Bar) -> str:
    if not bar.volume or not bar.amount:
        return f"{bar.close}.00"
    return rate(bar.amount, bar.volume * 100)


def price_output(
    quote: Quote, today: Bar, history: list[Bar], info: Fundamentals, day: date
) -> dict[str, str]:
    """All of inquire-price's ``output`` (no stock name: KIS sends none there)."""
    market = quote.market
    tick = krx.tick_size(max(quote.price, 1), market, day)
    previous = history[-1]
    pivot = (previous.high + previous.low + previous.close) // 3
    span = previous.high - previous.low
    demark = previous.high + previous.low + 2 * previous.close
    bars = [*history[-249:], today]
    d250_high, d250_low = extreme(bars, True), extreme(bars, False)
    year = year_bars([*history, today], day) or [today]
    year_high, year_low = extreme(year, True), extreme(year, False)
    w52 = [bar for bar in [*history, today] if bar.day > weeks_ago(day, 52)]
    w52_high, w52_low = extreme(w52, True), extreme(w52, False)
    name, _, _ = _MARKET_CODES[market]
    unlisted = market in (Market.ETF, Market.ETN, Market.ELW)
    foreign_qty = int(info.listed_shares * info.foreign_rate / 100)
    return {
        "iscd_stat_cls_code": "55",
        "marg_rate": "20.00",
        "rprs_mrkt_kor_name": name,
        "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": "" if unlisted else "서비스업",
        "temp_stop_yn": "N",
        "oprc_rang_cont_yn": "N",
        "clpr_rang_cont_yn": "N",
        "crdt_able_yn": "N" if market is Market.ETN else "Y",
        "grmn_rate_cls_code": "40",
        "elw_pblc_yn": "N",
        "stck_prpr": str(quote.price),
        "prdy_vrss": str(quote.diff),
        "prdy_vrss_sign": sign(quote.diff, quote.price, quote.upper, quote.lower),
        "prdy_ctrt": rate(quote.diff, quote.base),
        "acml_tr_pbmn": str(today.amount),
        "acml_vol": str(quote.volume),
        "prdy_vrss_vol_rate": rate(quote.volume, previous.volume),
        "stck_oprc": str(today.open),
        "stck_hgpr": str(today.high),
        "stck_lwpr": str(today.low),
        "stck_mxpr": str(quote.upper),
        "stck_llam": str(quote.lower),
        "stck_sdpr": str(quote.base),
        "wghn_avrg_stck_prc": _vwap(today),
        "hts_frgn_ehrt": str(info.foreign_rate),
        "frgn_ntby_qty": "0",
        "pgtr_ntby_qty": "0",
        "pvt_scnd_dmrs_prc": str(pivot + span),
        "pvt_frst_dmrs_prc": str(2 * pivot - previous.low),
        "pvt_pont_val": str(pivot),
        "pvt_frst_dmsp_prc": str(2 * pivot - previous.high),
        "pvt_scnd_dmsp_prc": str(pivot - span),
        "dmrs_val": str(demark // 2 - previous.low),
        "dmsp_val": str(demark // 2 - previous.high),
        "cpfn": str(info.listed_shares * info.par_value // 100_000_000),
        "rstc_wdth_prc": str(quote.upper - quote.base),
        "stck_fcam": str(info.par_value),
        "stck_sspr": str(quote.base * 7 // 10 - quote.base * 7 // 10 % tick),
        "aspr_unit": str(tick),
        "hts_deal_qty_unit_val": "1",
        "lstn_stcn": str(info.listed_shares),
        "hts_avls": str(quote.price * info.listed_shares // 100_000_000),
        "per": ratio(quote.price, info.eps),
        "pbr": ratio(quote.price, info.bps),
        "stac_month": "12",
        "vol_tnrt": rate(quote.volume, info.listed_shares),
        "eps": f"{info.eps}.00",
        "bps": f"{info.bps}.00",
        "d250_hgpr": str(d250_high.high),
        "d250_hgpr_date": ymd(d250_high.day),
        "d250_hgpr_vrss_prpr_rate": rate(quote.price - d250_high.high, d250_high.high),
        "d250_lwpr": str(d250_low.low),
        "d250_lwpr_date": ymd(d250_low.day),
        "d250_lwpr_vrss_prpr_rate": rate(quote.price - d250_low.low, d250_low.low),
        "stck_dryy_hgpr": str(year_high.high),
        "dryy_hgpr_vrss_prpr_rate": rate(quote.price - year_high.high, year_high.high),
        "dryy_hgpr_date": ymd(year_high.day),
        "stck_dryy_lwpr": str(year_low.low),
        "dryy_lwpr_vrss_prpr_rate": rate(quote.price - year_low.low, year_low.low),
        "dryy_lwpr_date": ymd(year_low.day),
        "w52_hgpr": str(w52_high.high),
        "w52_hgpr_vrss_prpr_ctrt": rate(quote.price - w52_high.high, w52_high.high),
        "w52_hgpr_date": ymd(w52_high.day),
        "w52_lwpr": str(w52_low.low),
        "w52_lwpr_vrss_prpr_ctrt": rate(quote.price - w52_low.low, w52_low.low),
        "w52_lwpr_date": ymd(w52_low.day),
        "whol_loan_rmnd_rate": "0.12",
        "ssts_yn": "Y",
        "stck_shrn_iscd": quote.code,
        "fcam_cnnm": str(info.par_value),
        "cpfn_cnnm": f"{info.listed_shares * info.par_value // 100_000_000} 억",
        "apprch_rate": "0.00",
        "frgn_hldn_qty": str(foreign_qty),
        "vi_cls_code": "N",
        "ovtm_vi_cls_code": "N",
        "last_ssts_cntg_qty": "0",
        "invt_caful_yn": "N",
        "mrkt_warn_cls_code": "00",
        "short_over_yn": "N",
        "sltr_yn": "N",
        "mang_issu_cls_code": "N",
    }


def chart_summary(
    quote: Quote, today: Bar, history: list[Bar], info: Fundamentals, name: str
) -> dict[str, str]:
    """output1 of inquire-daily-itemchartprice: today's quote with yesterday's bar."""
    previous = history[-1]
    return {
        "prdy_vrss": str(quote.diff),
        "prdy_vrss_sign": sign(quote.diff, quote.price, quote.upper, quote.lower),
        "prdy_ctrt": rate(quote.diff, quote.base),
        "stck_prdy_clpr": str(previous.close),
        "acml_vol": str(quote.volume),
        "acml_tr_pbmn": str(today.amount),
        "hts_kor_isnm": name,
        "stck_prpr": str(quote.price),
        "stck_shrn_iscd": quote.code,
        "prdy_vol": str(previous.volume),
        "stck_mxpr": str(quote.upper),
        "stck_llam": str(quote.lower),
        "stck_oprc": str(today.open),
        "stck_hgpr": str(today.high),
        "stck_lwpr": str(today.low),
        "stck_prdy_oprc": str(previous.open),
        "stck_prdy_hgpr": str(previous.high),
        "stck_prdy_lwpr": str(previous.low),
        "askp": str(quote.price + krx.tick_size(max(quote.price, 1), quote.market)),
        "bidp": str(quote.price),
        "prdy_vrss_vol": str(quote.volume - previous.volume),
        "vol_tnrt": rate(quote.volume, info.listed_shares),
        "stck_fcam": str(info.par_value),
        "lstn_stcn": str(info.listed_shares),
        "cpfn": str(info.listed_shares * info.par_value // 100_000_000),
        "hts_avls": str(quote.price * info.listed_shares // 100_000_000),
        "per": ratio(quote.price, info.eps),
        "eps": f"{info.eps}.00",
        "pbr": ratio(quote.price, info.bps),
        # Spelled as KIS's sample lists it (sic).
        "itewhol_loan_rmnd_ratem": "0.12",
    }


def daily_bar(bar: Bar, previous_close: int) -> dict[str, str]:
    """One output2 element of inquire-daily-itemchartprice."""
    diff = bar.close - previous_close if previous_close else 0
    return {
        "stck_bsop_date": ymd(bar.day),
        "stck_clpr": str(bar.close),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "acml_vol": str(bar.volume),
        "acml_tr_pbmn": str(bar.amount),
        "flng_cls_code": "00",
        "prtt_rate": "0.00",
        "mod_yn": "N",
        "prdy_vrss_sign": sign(diff, 0, 0, 0),
        "prdy_vrss": str(diff),
        "revl_issu_reas": "",
    }


def daily_price_row(bar: Bar, previous: Bar | None, info: Fundamentals) -> dict[str, str]:
    """One output element of inquire-daily-price."""
    previous_close = previous.close if previous else bar.close
    diff = bar.close - previous_close
    return {
        "stck_bsop_date": ymd(bar.day),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "stck_clpr": str(bar.close),
        "acml_vol": str(bar.volume),
        "prdy_vrss_vol_rate": rate(bar.volume - previous.volume, previous.volume)
        if previous
        else "0.00",
        "prdy_vrss": str(diff),
        "prdy_vrss_sign": sign(diff, 0, 0, 0),
        "prdy_ctrt": rate(diff, previous_close),
        "hts_frgn_ehrt": str(info.foreign_rate),
        "frgn_ntby_qty": "0",
        "flng_cls_code": "00",
        "acml_prtt_rate": "0.00",
    }


def minute_summary(quote: Quote, today: Bar, previous_close: int, name: str) -> dict[str, str]:
    """output1 of inquire-time-itemchartprice."""
    return {
        "prdy_vrss": str(quote.diff),
        "prdy_vrss_sign": sign(quote.diff, quote.price, quote.upper, quote.lower),
        "prdy_ctrt": rate(quote.diff, quote.base),
        "stck_prdy_clpr": str(previous_close),
        "acml_vol": str(quote.volume),
        "acml_tr_pbmn": str(today.amount),
        "hts_kor_isnm": name,
        "stck_prpr": str(quote.price),
    }


def minute_bar(bar: Bar, cumulative_amount: int) -> dict[str, str]:
    """One output2 element of inquire-time-itemchartprice."""
    minute = bar.minute or time(0, 0)
    return {
        "stck_bsop_date": ymd(bar.day),
        "stck_cntg_hour": minute.strftime("%H%M%S"),
        "stck_prpr": str(bar.close),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "cntg_vol": str(bar.volume),
        "acml_tr_pbmn": str(cumulative_amount),
    }


def stock_info(
    code: str, name: str, market: Market, info: Fundamentals, base: int, history: list[Bar]
) -> dict[str, str]:
    """output of search-stock-info (CTPF1002R): market, ETF/ETN flags, listed shares."""
    _, market_id, group = _MARKET_CODES[market]
    listed = ymd(history[0].day)
    etf = market is Market.ETF
    etn = market is Market.ETN
    previous = history[-1]
    return {
        "pdno": code,
        "prdt_type_cd": "300",
        "prdt_name": name,
        "prdt_name120": name,
        "prdt_abrv_name": name,
        "prdt_eng_name": f"STOCK {code}",
        "prdt_eng_name120": f"STOCK {code}",
        "prdt_eng_abrv_name": f"STOCK {code}",
        "mket_id_cd": market_id,
        "scty_grp_id_cd": group,
        "excg_dvsn_cd": "02" if market_id == "STK" else "03",
        "setl_mmdd": "1231",
        "lstg_stqt": str(info.listed_shares),
        "lstg_cptl_amt": str(info.listed_shares * info.par_value),
        "cpta": str(info.listed_shares * info.par_value),
        "papr": str(info.par_value),
        "issu_pric": str(info.par_value),
        "kospi200_item_yn": "Y" if market is Market.KOSPI and base >= 50_000 else "N",
        "scts_mket_lstg_dt": listed if market_id == "STK" else "",
        "scts_mket_lstg_abol_dt": "",
        "kosdaq_mket_lstg_dt": listed if market_id == "KSQ" else "",
        "kosdaq_mket_lstg_abol_dt": "",
        "frbd_mket_lstg_dt": listed if market_id == "KNX" else "",
        "frbd_mket_lstg_abol_dt": "",
        "reits_kind_cd": "",
        "etf_dvsn_cd": "1" if etf else "",
        "oilf_fund_yn": "N",
        "idx_bztp_lcls_cd": "",
        "idx_bztp_mcls_cd": "",
        "idx_bztp_scls_cd": "",
        "idx_bztp_lcls_cd_name": "",
        "idx_bztp_mcls_cd_name": "",
        "idx_bztp_scls_cd_name": "",
        "stck_kind_cd": "" if etf or etn else "101",
        "mfnd_opng_dt": "",
        "mfnd_end_dt": "",
        "dpsi_erlm_cncl_dt": "",
        "etf_cu_qty": "50000" if etf else "0",
        "std_pdno": isin(code),
        "dpsi_aptm_erlm_yn": "Y",
        "etf_txtn_type_cd": "01" if etf else "",
        "etf_type_cd": "1" if etf else "",
        "lstg_abol_dt": "",
        "nwst_odst_dvsn_cd": "",
        "sbst_pric": str(base * 7 // 10),
        "thco_sbst_pric": str(base * 7 // 10),
        "thco_sbst_pric_chng_dt": ymd(previous.day),
        "tr_stop_yn": "N",
        "admn_item_yn": "N",
        "thdt_clpr": str(base),
        "bfdy_clpr": str(history[-2].close if len(history) > 1 else base),
        "clpr_chng_dt": ymd(previous.day),
        "std_idst_clsf_cd": "",
        "std_idst_clsf_cd_name": "",
        "ocr_no": "",
        "crfd_item_yn": "N",
        "elec_scty_yn": "Y",
        "issu_istt_cd": "",
        "etf_chas_erng_rt_dbnb": "0",
        "etf_etn_ivst_heed_item_yn": "N",
        "stln_int_rt_dvsn_cd": "",
        "frnr_psnl_lmt_rt": "0.00",
        "lstg_rqsr_issu_istt_cd": "",
        "lstg_rqsr_item_cd": "",
        "trst_istt_issu_istt_cd": "",
        "cptt_trad_tr_psbl_yn": "N",
        "nxt_tr_stop_yn": "N",
    }


def product_info(code: str, name: str, market: Market, history: list[Bar]) -> dict[str, str]:
    """output of search-info (CTPF1604R), the product master every account can read."""
    return {
        "pdno": code,
        "prdt_type_cd": "300",
        "prdt_name": name,
        "prdt_name120": name,
        "prdt_abrv_name": name,
        "prdt_eng_name": f"STOCK {code}",
        "prdt_eng_name120": f"STOCK {code}",
        "prdt_eng_abrv_name": f"STOCK {code}",
        "std_pdno": isin(code),
        "shtn_pdno": code,
        "prdt_sale_stat_cd": "",
        "prdt_risk_grad_cd": "",
        "prdt_clsf_cd": {Market.ETF: "101210", Market.ETN: "101220"}.get(market, "101100"),
        "prdt_clsf_name": _CLASS_NAMES[market],
        "sale_strt_dt": "",
        "sale_end_dt": "",
        "wrap_asst_type_cd": "",
        "ivst_prdt_type_cd": "",
        "ivst_prdt_type_cd_name": "",
        "frst_erlm_dt": ymd(history[0].day),
    }
