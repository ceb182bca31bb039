"""The journal's settings: whether a session journals at all, and how durably it writes.

In the config file they form a ``[journal]`` table (``journal = false`` on its own still turns
journaling off); in the environment they are ``JANGO_JOURNAL_WINDOW_MS`` and so on::

    [journal]
    enabled = true
    durability = "window"   # "window" (default), "every" or "batch"
    window_ms = 20          # notices are fsync'd at the latest this long after they arrive
    flush_ms = 50           # ticks (and, in "batch" mode, everything) wait at most this long
    ticks = "all"           # "all", "latest" (per code, the last tick of each commit) or "none"
    max_queue = 100000      # rows between the loop and the writer; ticks are shed from half full
    checkpoint_every = 10000
    writer = "process"      # "process" (default: a writer process of its own) or "thread"

The values are checked when the settings are loaded (:mod:`jango.config`), so a bad one is a
one-line error before anything starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from jango.domain.costs import CostSchedule
from jango.journal.process import AnyJournal, ProcessJournal, WriterUnavailable
from jango.journal.store import Durability, Journal, TickPolicy

WriterKind = Literal["process", "thread"]

log = logging.getLogger("jango.journal")


def journaling_enabled(settings: Mapping[str, str]) -> bool:
    """False when ``journal = false`` or ``journal.enabled = false`` says so."""
    return "false" not in (settings.get("journal"), settings.get("journal.enabled"))


@dataclass(frozen=True, slots=True)
class JournalOptions:
    """How a journal writes; the defaults are :class:`~jango.journal.store.Journal`'s, with the
    writer in a process of its own (``writer="thread"``: in the session's process)."""

    durability: Durability = "window"
    window_ms: float = 20
    flush_ms: float = 50
    ticks: TickPolicy = "all"
    max_queue: int = 100_000
    checkpoint_every: int = 10_000
    writer: WriterKind = "process"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> JournalOptions:
        """The ``journal.*`` settings (already checked by :mod:`jango.config`); absent keys
        keep their defaults."""
        default = cls()
        return cls(
            durability=cast(Durability, settings.get("journal.durability", default.durability)),
            window_ms=float(settings.get("journal.window_ms", default.window_ms)),
            flush_ms=float(settings.get("journal.flush_ms", default.flush_ms)),
            ticks=cast(TickPolicy, settings.get("journal.ticks", default.ticks)),
            max_queue=int(settings.get("journal.max_queue", default.max_queue)),
            checkpoint_every=int(
                settings.get("journal.checkpoint_every", default.checkpoint_every)
            ),
            writer=cast(WriterKind, settings.get("journal.writer", default.writer)),
        )

    def open(self, path: Path, *, costs: CostSchedule | None = None) -> AnyJournal:
        """The journal at ``path``, writing as these options say."""
        if self.writer == "process":
            try:
                return self._open(ProcessJournal, path, costs)
            except WriterUnavailable as exc:
                log.warning("%s; the journal is written from this process instead", exc)
        return self._open(Journal, path, costs)

    def _open(
        self,
        kind: type[Journal] | type[ProcessJournal],
        path: Path,
        costs: CostSchedule | None,
    ) -> AnyJournal:
        return kind(
            path,
            durability=self.durability,
            window_ms=self.window_ms,
            flush_ms=self.flush_ms,
            ticks=self.ticks,
            max_queue=self.max_queue,
            checkpoint_every=self.checkpoint_every,
            costs=costs,
        )
