"""Broker adapters by name. Imports are lazy so that one adapter's dependencies never load
another's (and CYBOS's Windows-only parts never load elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from jango.brokers.port import Broker, StartupError
from jango.config import prepare_data_dir

BROKERS = ("sim", "kis", "cybos")


class UnknownBroker(ValueError):
    """A broker name that jango has no adapter for."""


def create_broker(name: str, settings: Mapping[str, str]) -> Broker:
    """Build the adapter ``name`` from flat settings (see :mod:`jango.config`)."""
    if name == "sim":
        from jango.brokers.sim.broker import DEMO_PERIOD, SimBroker

        # With a profile the market lasts: the venue's state lives beside the profile's journal.
        profile = settings.get("profile", "")
        return SimBroker(
            seed=int(settings.get("seed", "0")),
            tick_interval=float(settings.get("sim.tick_interval", "0.05")),
            demo_trader=settings.get("sim.demo", "true") == "true",
            demo_period=float(settings.get("sim.demo_period", str(DEMO_PERIOD))),
            loan_percent=int(Decimal(settings.get("margin_loan_percent", "60"))),
            state_path=prepare_data_dir() / f"{profile}.venue.sqlite" if profile else None,
        )
    if name == "kis":
        from jango.brokers.kis.broker import KisBroker
        from jango.brokers.kis.config import KisConfig

        # Settings hold kis.* keys (from the TOML file or JANGO_KIS_* variables); KisConfig
        # reads them under their environment names, plus an optional 0600 key=value file.
        env = {f"JANGO_KIS_{k[4:].upper()}": v for k, v in settings.items() if k.startswith("kis.")}
        file = settings.get("kis.file")
        return KisBroker(KisConfig.from_env(env, Path(file) if file else None))
    if name == "cybos":
        from jango.brokers.cybos.broker import CybosBroker

        return CybosBroker.from_settings(settings)
    raise UnknownBroker(f"unknown broker {name!r}; choose one of: {', '.join(BROKERS)}")


__all__ = ["BROKERS", "StartupError", "UnknownBroker", "create_broker"]
