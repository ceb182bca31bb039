"""Every ProgID the CYBOS emulator can ``Dispatch``, gathered from the object modules.

Kept apart from the object modules so that they import only :mod:`jango.sandbox.cybos.base`
(the shared base classes) and never each other or :mod:`jango.sandbox.cybos.emulator`.
"""

from __future__ import annotations

from jango.sandbox.cybos import (
    account,
    analysis,
    base,
    chart,
    codes,
    marketeye,
    orders,
    quotes,
    realtime,
    ticks,
    util,
)

PROGIDS: dict[str, type[base.ComObject]] = {
    cls.progid.lower(): cls
    for cls in (
        util.CpCybos,
        codes.CpCodeMgr,
        codes.CpStockCode,
        util.CpTdUtil,
        quotes.StockMst,
        quotes.StockMst2,
        quotes.StockMstM,
        ticks.StockBid,
        analysis.CpSvr7043,
        analysis.CpSvrNew7043,
        analysis.CpSvr7238,
        analysis.CpSvr7254,
        analysis.CpSvr8548,
        quotes.StockJpBid,
        quotes.StockJpBid2,
        chart.StockChart,
        chart.StockAdj,
        chart.StockWeek,
        marketeye.MarketEye,
        realtime.StockCur,
        realtime.CpConclusion,
        account.CpTd6033,
        orders.CpTd0311,
        orders.CpTd0312,
        orders.CpTd0313,
        orders.CpTd0314,
        account.CpTd5339,
        account.CpTd5341,
        account.CpTdNew5331A,
        account.CpTdNew5331B,
    )
}
