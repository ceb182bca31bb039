"""CYBOS Plus (Daishin) adapter: ``wire`` decodes COM values, ``com_thread`` owns the COM objects,
``com_side`` works them, ``broker`` is the asyncio face implementing the broker port."""

from jango.brokers.cybos.broker import CybosBroker

__all__ = ["CybosBroker"]
