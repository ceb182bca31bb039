"""Each code's name and market from KIS's product info, remembered on disk for the day.

A row's market decides its sell tax (an ETF lists on KOSPI but is untaxed), and only the
product-info lookup says it: one request a code. A 1,000-holding account's first start of the
day pays 1,000 requests (50 s at the real limit of 20/s); a restart the same day reads them here
instead and needs only the balance pages and the quotes. The file sits beside the token cache,
holds only today's entries for one server, and is a cache: one that cannot be read or written
is logged and the lookups are made again, never trusted half-read.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date
from pathlib import Path

from jango.brokers.kis.wire import ProductInfo
from jango.domain.model import Code, Market

log = logging.getLogger(__name__)

_MAX_BYTES = 8 * 1024 * 1024  # a few hundred thousand codes; anything larger is not ours


class InstrumentCache:
    """Product info of ``server`` per code, for the day it was looked up."""

    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        self._day: date | None = None
        self._entries: dict[Code, ProductInfo] = {}
        self._unsaved = False
        self._write_failed = False

    def get(self, code: Code, day: date) -> ProductInfo | None:
        """What was looked up for ``code`` on ``day``, or None."""
        if self._day != day:
            self._load(day)
        return self._entries.get(code)

    def put(self, code: Code, day: date, info: ProductInfo) -> None:
        """Remember ``info`` for ``code`` on ``day`` (written by :meth:`save`)."""
        if self._day != day:
            self._load(day)
        self._entries[code] = info
        self._unsaved = True

    def save(self) -> None:
        """Write what was added since the last save, atomically; a failure is logged once."""
        if not self._unsaved or self._day is None:
            return
        entries = {code: [info.name, info.market.value] for code, info in self._entries.items()}
        text = json.dumps(
            {"day": self._day.isoformat(), "server": self.server, "codes": entries},
            ensure_ascii=False,
        )
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as exc:
            if not self._write_failed:
                log.warning(
                    "KIS product info not saved to %s (%s); the next start looks it up again",
                    self.path,
                    exc.strerror or exc,
                )
            self._write_failed = True
            return
        self._unsaved = False

    def _load(self, day: date) -> None:
        self._day, self._entries, self._unsaved = day, {}, False
        try:
            if self.path.stat().st_size > _MAX_BYTES:
                raise ValueError(f"over {_MAX_BYTES:,} bytes")
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("codes"), dict):
                raise ValueError("not a product-info cache")
            if data.get("day") != day.isoformat() or data.get("server") != self.server:
                return  # another day's or another server's: looked up afresh
            entries: dict[Code, ProductInfo] = {}
            for code, value in data["codes"].items():
                name, market = value
                if not isinstance(code, str) or not isinstance(name, str):
                    raise ValueError(f"entry {code!r} is malformed")
                entries[Code(code)] = ProductInfo(name, Market(market))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            log.warning(
                "KIS product-info cache %s unreadable (%s); looking each code up again",
                self.path,
                exc,
            )
            return
        self._entries = entries
