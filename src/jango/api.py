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

from jango.brokers.registry import create_broker
from jango.config import check_settings, load_settings
from jango.domain.book import Book, PnlMode
from jango.domain.costs import CostSchedule
from jango.engine import Session
from jango.supervisor import Backoff


def open_session(
    broker: str | None = None,
    *,
    seed: int | None = None,
    pnl: str | None = None,
    costs: CostSchedule | None = None,
    **settings: str,
) -> Session:
    """A session on ``broker`` (default from configuration, else ``sim``); use ``async with``.

    Extra keyword settings use the configuration's flat keys with ``_`` for ``.``
    (``kis_app_key=...``, ``restart_attempts="3"``); configuration files and ``JANGO_*``
    variables fill the rest.

    Tasks that die are restarted (``restart.*`` settings); ``session.status.problems`` shows
    what is down, and ``await session.stop()`` returns what was given up (``session.failures``).
    """
    merged = load_settings()
    for key, value in settings.items():
        head, _, rest = key.partition("_")
        merged[f"{head}.{rest}" if head in ("kis", "cybos", "sim") and rest else key] = value
    if seed is not None:
        merged["seed"] = str(seed)
    # The same checks as the command line: a bad value is a ConfigError naming the setting.
    merged = check_settings(merged)
    name = broker or merged.get("broker", "sim")
    mode = PnlMode(pnl or merged.get("pnl", "gross"))
    book = Book(costs or CostSchedule(), pnl_mode=mode)
    restart = Backoff.from_settings(merged)
    return Session(create_broker(name, merged), book=book, restart=restart)
