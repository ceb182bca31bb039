"""The KIS sandbox's fault switches, set in-process or over ``POST /sandbox/faults``.

One-shot actions (drop every socket, send a malformed frame, expire every token) are applied by
:meth:`jango.sandbox.kis.server.KisSandbox.set_faults`; the switches and counters live here and
are consumed one request at a time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """Fault switches. Counters are consumed one request at a time."""

    stall: bool = False
    data_changed: int = 0  # next N balance continuation pages answer SYDB0050
    rate_limited: int = 0  # next N /uapi requests answer EGW00201
    notice_layout: int = 26  # 23 sends the pre-2025 fill-notice layout
    product_info_down: bool = False  # search-info / search-stock-info answer EGW00002
    approval_down: bool = False  # /oauth2/Approval answers HTTP 500 EGW00002
