"""jango (잔고): keeps Korean stock holdings true in real time, across brokers."""

from jango.api import connect, open_session
from jango.domain.book import Book, Changes, PnlMode
from jango.engine import Session

__version__ = "0.1.0"

__all__ = ["Book", "Changes", "PnlMode", "Session", "__version__", "connect", "open_session"]
