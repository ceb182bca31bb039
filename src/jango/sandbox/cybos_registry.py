"""Every ProgID the CYBOS emulator can ``Dispatch``, gathered from the object modules.

Kept apart from the object modules so that they import only :mod:`cybos_objects` (the shared
base classes) and never each other or :mod:`cybos_com`.
"""

from __future__ import annotations

from jango.sandbox import cybos_codes as codes
from jango.sandbox import cybos_objects as objects
from jango.sandbox import cybos_quotes as quotes
from jango.sandbox import cybos_trade as trade

PROGIDS: dict[str, type[objects.ComObject]] = {
    cls.progid.lower(): cls
    for cls in (
        objects.CpCybos,
        codes.CpCodeMgr,
        codes.CpStockCode,
        objects.CpTdUtil,
        quotes.StockMst,
        quotes.StockMst2,
        quotes.StockJpBid,
        quotes.StockJpBid2,
        quotes.StockChart,
        quotes.StockAdj,
        quotes.StockWeek,
        quotes.MarketEye,
        objects.StockCur,
        objects.CpConclusion,
        objects.CpTd6033,
        objects.CpTd0311,
        objects.CpTd0313,
        objects.CpTd0314,
        trade.CpTd5339,
        trade.CpTd5341,
        trade.CpTdNew5331A,
        trade.CpTdNew5331B,
    )
}
