"""The Python API for strategies.

::

    import asyncio, jango

    async def main() -> None:
        async with jango.open_session("sim", seed=1) as session:
            session.on_fill(lambda n: print("filled", n.code, n.qty, n.price))
            # A reader that falls behind gets one merged change set, never a backlog.
            async for changes in session.changes():
                for key in changes.rows:
                    row = session.book.row(key)
                    ...

    asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jango.build import build_session
from jango.config import ACCOUNTS, account_entries, check_settings, load_settings
from jango.domain.costs import CostSchedule
from jango.engine import Session

if TYPE_CHECKING:
    from jango.client import Client


def open_session(
    broker: str | None = None,
    *,
    seed: int | None = None,
    pnl: str | None = None,
    costs: CostSchedule | None = None,
    accounts: Sequence[Mapping[str, str | int | bool]] | None = None,
    **settings: str,
) -> Session:
    """A session on ``broker`` (default from configuration, else ``sim``); use ``async with``.

    Built exactly as the ``jango`` commands build theirs (:func:`jango.build.build_session`):
    the configured costs (``commission_percent`` …) unless ``costs`` is given, the
    ``[[accounts]]`` list when the configuration has one (one adapter per entry, one book), and
    the profile's journal when one is in force (real brokers journal by default;
    ``journal="false"`` turns it off).

    ``accounts`` replaces the configuration's ``[[accounts]]`` list with the same entries as
    dicts (``[{"broker": "sim", "seed": 1}, {"name": "main", "broker": "kis", "app_key": …}]``):
    one adapter per entry, one book, account and order numbers labelled with the entry's name
    (see :mod:`jango.fanin`).

    Extra keyword settings use the configuration's flat keys with ``_`` for ``.``
    (``kis_app_key=...``, ``restart_attempts="3"``); configuration files and ``JANGO_*``
    variables fill the rest.

    Tasks that die are restarted (``restart.*`` settings); ``session.status.problems`` shows
    what is down, and ``await session.stop()`` returns what was given up (``session.failures``).
    Listeners (``on_change``, ``on_fill``) run on the session's one asyncio loop: a listener
    that blocks stalls every tick, so hand slow work to a task.
    """
    merged = load_settings()
    for key, value in settings.items():
        head, _, rest = key.partition("_")
        merged[f"{head}.{rest}" if head in ("kis", "cybos", "sim") and rest else key] = value
    if seed is not None:
        merged["seed"] = str(seed)
    if broker is not None:
        merged["broker"] = broker
    if pnl is not None:
        merged["pnl"] = pnl
    if accounts is not None:
        merged = {k: v for k, v in merged.items() if not k.startswith(ACCOUNTS + ".")}
        for index, entry in enumerate(accounts):
            for name, given in entry.items():
                text = ("true" if given else "false") if isinstance(given, bool) else str(given)
                merged[f"{ACCOUNTS}.{index}.{name}"] = text
        account_entries(merged)  # a bad entry is one ConfigError naming it, before any work
    # The same checks as the command line: a bad value is a ConfigError naming the setting.
    return build_session(check_settings(merged), costs=costs)


def connect(profile: str | None = None, *, config: Path | None = None) -> Client:
    """A synchronous client of the session already running for ``profile`` (``jango run`` or
    ``jango serve`` in another window), for notebooks and scripts: no second broker login.

    ``profile`` defaults to what the configuration names (the profile, else the broker). See
    :mod:`jango.client`; raises :class:`~jango.service.ServiceError` when none is running.
    """
    from jango.client import connect as connect_client

    return connect_client(profile, config=config)
