"""jango (잔고): keeps Korean stock holdings true in real time, across brokers."""

__version__ = "0.1.0"
