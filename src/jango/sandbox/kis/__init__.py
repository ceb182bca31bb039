"""A KIS Open API look-alike on loopback over a simulated venue; see ``docs/kis-sandbox.md``.

Modules, one job each: :mod:`.server` (lifecycle, routes, faults), :mod:`.auth` (users,
tokens, approvals), :mod:`.gateway` (checks and answer shapes), :mod:`.balance`,
:mod:`.profit` (realized profit by day), :mod:`.pnl` (the day ledger behind both),
:mod:`.inquiry` (orders of the day, product info, calendar, orderable cash), :mod:`.quotes`
(prices, charts, order book), :mod:`.trading` (orders), :mod:`.realtime` (WebSocket),
:mod:`.orders` (the day's order ledger), :mod:`.market` (history and fundamentals), and the
reply builders :mod:`.frames`, :mod:`.quote_frames` and :mod:`.book`.
"""

from jango.sandbox.kis.auth import DEMO_USER, SandboxUser, demo_user
from jango.sandbox.kis.server import KisSandbox

__all__ = ["DEMO_USER", "KisSandbox", "SandboxUser", "demo_user"]
