"""KIS (한국투자증권) Open API adapter: REST for balance, quotes, orders; WebSocket pushes."""

from jango.brokers.kis.broker import KisBroker
from jango.brokers.kis.config import KisConfig, KisConfigError

__all__ = ["KisBroker", "KisConfig", "KisConfigError"]
