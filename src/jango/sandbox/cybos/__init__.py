"""The CYBOS Plus emulator: the COM objects of a Windows PC with CYBOS Plus logged in, answering
from the simulated venue, so CYBOS scripts and the CYBOS adapter run on Linux.

One module per object family, importing only :mod:`.base` (the shared base classes) and the
data modules, never each other: :mod:`.util` (CpCybos, CpTdUtil), :mod:`.codes` (CpCodeMgr,
CpStockCode), :mod:`.quotes` (StockMst, StockMst2, StockMstM, StockJpBid/2), :mod:`.chart`
(StockChart, StockWeek, StockAdj), :mod:`.marketeye`, :mod:`.realtime` (StockCur, CpConclusion),
:mod:`.account` (CpTd6033, 5339, 5341, 5331A/B), :mod:`.orders` (CpTd0311/0312/0313/0314),
:mod:`.analysis` (CpSvr7238/7254/8548/7043), :mod:`.ticks` (StockBid). :mod:`.registry` gathers
their ProgIDs; :mod:`.emulator` is the client that dispatches them and :mod:`.feed` turns the
venue's events into pushes; :mod:`.pywin32` the modules it stands in for; :mod:`.listing` every
KRX listing; :mod:`.run` runs a script unchanged.
"""
