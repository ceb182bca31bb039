"""The sessions the desk commands run: an agent's journaled session, the hub's session.

The agent's is built the way the ``jango`` command builds a journaled one (the configured
broker, its costs, the profile's journal), with a journal required: the journal is the outbox.
"""

from __future__ import annotations

from pathlib import Path

from jango import config
from jango.brokers.registry import create_broker
from jango.config import prepare_data_dir
from jango.desk.connect import NatsOptions
from jango.desk.hub import HubBroker
from jango.domain.book import PnlMode
from jango.domain.costs import CostSchedule
from jango.engine import Session
from jango.journal import default_path
from jango.journal.restart import open_session_with_journal
from jango.journal.settings import JournalOptions
from jango.supervisor import Backoff


def costs_of(settings: dict[str, str]) -> CostSchedule:
    """The cost schedule of the settings (the same keys and defaults as ``jango run``)."""
    return CostSchedule.from_config(
        commission_percent=settings.get("commission_percent", "0.015"),
        commission_unit=int(settings.get("commission_unit", "10")),
        tax_unit=int(settings.get("tax_unit", "1")),
        margin_loan_percent=settings.get("margin_loan_percent", "60"),
    )


def agent_session(settings: dict[str, str], profile: str) -> tuple[Session, Path]:
    """A journaled session on the configured broker, and its journal's path."""
    settings = {**settings, "profile": config.check("profile", profile)}
    broker = create_broker(settings.get("broker", "sim"), settings)
    costs = costs_of(settings)
    prepare_data_dir()
    path = default_path(profile)
    journal = JournalOptions.from_settings(settings).open(path, costs=costs)
    session = open_session_with_journal(
        broker, journal, costs=costs, restart=Backoff.from_settings(settings)
    )
    session.book.pnl_mode = PnlMode(settings.get("pnl", "gross"))
    session.add_closer(journal.close)
    return session, path


def hub_session(
    settings: dict[str, str], options: NatsOptions, store: Path, **hub: object
) -> tuple[Session, HubBroker]:
    """A session on the desk: its book starts as the hub's stored replica, accounts that
    appear later (a new agent) are added as they come, and nothing re-reads the desk on a
    timer (each agent's own balances arrive through the stream)."""
    costs = costs_of(settings)
    broker = HubBroker(options, store, costs=costs, **hub)  # type: ignore[arg-type]
    broker.load()
    session = Session(
        broker,
        book=broker.book_copy(),
        reconcile_interval=0,
        restart=Backoff.from_settings(settings),
    )
    session.book.pnl_mode = PnlMode(settings.get("pnl", "gross"))

    def add(account: str) -> None:
        if account not in session.accounts:
            session.accounts.append(account)

    broker.on_account(add)
    return session, broker
