"""One way from settings to a session: the ``jango`` commands and :func:`jango.open_session` both
build theirs with :func:`build_session`, so a setting (a commission rate, a profile, the
accounts list) means the same to a command and to a strategy.

What it builds:

* the costs from ``commission_percent``, ``commission_unit``, ``tax_unit`` and
  ``margin_loan_percent`` (:func:`costs_from_settings`);
* the broker: one adapter for ``broker``, or, when the settings list ``[[accounts]]``, one adapter
  per entry behind a :class:`~jango.fanin.FanIn` (one book, orders routed by account);
* the journal, when a profile is in force (see :func:`build_session`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jango import config
from jango.brokers.port import Broker
from jango.brokers.registry import create_broker
from jango.config import ConfigError, prepare_data_dir
from jango.domain.book import Book, PnlMode
from jango.domain.costs import CostSchedule
from jango.domain.model import DomainError
from jango.engine import Session
from jango.journal.settings import journaling_enabled
from jango.supervisor import Backoff


def costs_from_settings(settings: Mapping[str, str]) -> CostSchedule:
    """The cost schedule the settings describe (defaults: KRX's usual rates)."""
    # The values were checked when loaded (jango.config); this catches combinations.
    try:
        return CostSchedule.from_config(
            commission_percent=settings.get("commission_percent", "0.015"),
            commission_unit=int(settings.get("commission_unit", "10")),
            tax_unit=int(settings.get("tax_unit", "1")),
            # The sim lends the same share (the venue's loan_percent), so its cash agrees.
            margin_loan_percent=settings.get("margin_loan_percent", "60"),
        )
    except (DomainError, ValueError) as exc:
        raise ConfigError(f"bad cost settings: {exc}") from exc


def session_name(settings: Mapping[str, str]) -> str:
    """The name the session is known by (its socket, ``jango status``): the profile, else the
    broker (``accounts`` for a session over an ``[[accounts]]`` list)."""
    if settings.get("profile"):
        return settings["profile"]
    if config.account_entries(settings):
        return "accounts"
    return settings.get("broker", "sim")


def journal_profile(settings: Mapping[str, str]) -> str:
    """The journal profile in force, or ``""`` for none.

    Real brokers journal by default (profile = the session's name): a restart rebuilds the book
    and reconciles it with the broker. The sim's market starts afresh every run, so a sim-only
    session journals only when asked (``--profile``); ``journal = false`` (or
    ``[journal] enabled = false``) turns journaling off; ``[journal]`` says how it writes.
    """
    if not journaling_enabled(settings):
        return ""
    if settings.get("profile"):
        return settings["profile"]
    entries = config.account_entries(settings)
    brokers = {e.broker for e in entries} if entries else {settings.get("broker", "sim")}
    return "" if brokers == {"sim"} else session_name(settings)


def build_broker(settings: Mapping[str, str]) -> Broker:
    """The configured broker: one adapter, or a fan-in over every ``[[accounts]]`` entry."""
    entries = config.account_entries(settings)
    if not entries:
        return create_broker(settings.get("broker", "sim"), settings)
    from jango.fanin import FanIn, Member

    members = [Member(e.label, create_broker(e.broker, e.settings(settings))) for e in entries]
    return FanIn(members)


def build_session(
    settings: Mapping[str, str],
    *,
    costs: CostSchedule | None = None,
    broker: Broker | None = None,
    **session_options: Any,
) -> Session:
    """A session over checked ``settings`` (see :mod:`jango.config`), journaled when a profile is
    in force (:func:`journal_profile`). ``costs`` and ``broker`` replace what the settings would
    build; ``session_options`` go to :class:`~jango.engine.Session`."""
    session_options.setdefault("restart", Backoff.from_settings(settings))
    costs = costs or costs_from_settings(settings)
    mode = PnlMode(settings.get("pnl", "gross"))
    broker = broker or build_broker(settings)
    profile = journal_profile(settings)
    if not profile:
        return Session(broker, book=Book(costs, pnl_mode=mode), **session_options)
    from jango.journal import default_path
    from jango.journal.restart import open_session_with_journal
    from jango.journal.settings import JournalOptions

    prepare_data_dir()
    path = default_path(config.check("profile", profile))
    if path.exists() and not path.is_file():
        raise ConfigError(f"journal {path} is not a file")
    journal = JournalOptions.from_settings(settings).open(path, costs=costs)
    session = open_session_with_journal(broker, journal, costs=costs, **session_options)
    session.book.pnl_mode = mode
    session.add_closer(journal.close)
    return session
