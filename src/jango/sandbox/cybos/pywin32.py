"""The pywin32 modules an emulator stands in for (``win32com.client`` with ``gencache`` and
``dynamic``, ``pythoncom``, ``pywintypes``), and helpers to remove them and to pump like a
script's message loop."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from jango.sandbox.cybos.runtime import (
    ComError,
)

if TYPE_CHECKING:
    from jango.sandbox.cybos.emulator import CybosEmulator


def client_module(emulator: CybosEmulator) -> types.ModuleType:
    """``win32com.client`` of ``emulator``."""
    module = types.ModuleType("win32com.client", "CYBOS emulator stand-in for win32com.client")
    module.Dispatch = emulator.Dispatch  # type: ignore[attr-defined]
    module.DispatchEx = emulator.Dispatch  # type: ignore[attr-defined]
    module.WithEvents = emulator.WithEvents  # type: ignore[attr-defined]
    module.emulator = emulator  # type: ignore[attr-defined]
    # gencache.EnsureDispatch and dynamic.Dispatch make the same objects (no type library).
    gencache = types.ModuleType("win32com.client.gencache", "CYBOS emulator stand-in")
    gencache.EnsureDispatch = emulator.Dispatch  # type: ignore[attr-defined]
    dynamic = types.ModuleType("win32com.client.dynamic", "CYBOS emulator stand-in")
    dynamic.Dispatch = emulator.Dispatch  # type: ignore[attr-defined]
    module.gencache = gencache  # type: ignore[attr-defined]
    module.dynamic = dynamic  # type: ignore[attr-defined]
    module.__path__ = []
    return module


def pythoncom_module(emulator: CybosEmulator) -> types.ModuleType:
    """``pythoncom`` of ``emulator``."""
    module = types.ModuleType("pythoncom", "CYBOS emulator stand-in for pythoncom")
    module.PumpWaitingMessages = emulator.PumpWaitingMessages  # type: ignore[attr-defined]
    module.CoInitialize = _no_op  # type: ignore[attr-defined]
    module.CoInitializeEx = _no_op  # type: ignore[attr-defined]
    module.CoUninitialize = _no_op  # type: ignore[attr-defined]
    module.com_error = ComError  # type: ignore[attr-defined]
    module.COINIT_APARTMENTTHREADED = 2  # type: ignore[attr-defined]
    module.emulator = emulator  # type: ignore[attr-defined]
    return module


def modules(emulator: CybosEmulator) -> dict[str, types.ModuleType]:
    """The ``sys.modules`` entries that make pywin32 imports resolve to this emulator."""
    package = types.ModuleType("win32com", "CYBOS emulator stand-in for win32com")
    package.client = emulator.win32com_client  # type: ignore[attr-defined]
    package.__path__ = []  # a package, so ``import win32com.client`` works
    pywintypes = types.ModuleType("pywintypes", "CYBOS emulator stand-in for pywintypes")
    pywintypes.com_error = ComError  # type: ignore[attr-defined]
    return {
        "win32com": package,
        "win32com.client": emulator.win32com_client,
        "win32com.client.gencache": emulator.win32com_client.gencache,
        "win32com.client.dynamic": emulator.win32com_client.dynamic,
        "pythoncom": emulator.pythoncom,
        "pywintypes": pywintypes,
    }


def _no_op(*_args: object) -> None:
    """CoInitialize and friends: nothing to set up in the emulator."""


def uninstall(
    names: Iterable[str] = (
        "win32com",
        "win32com.client",
        "win32com.client.gencache",
        "win32com.client.dynamic",
        "pythoncom",
        "pywintypes",
    ),
) -> None:
    """Remove the emulator's modules from ``sys.modules`` (only if they are the emulator's)."""
    for name in names:
        module = sys.modules.get(name)
        if module is not None and "CYBOS emulator" in (module.__doc__ or ""):
            del sys.modules[name]


def pump_until(
    emulator: CybosEmulator,
    condition: Callable[[], bool],
    *,
    timeout: float = 30.0,
    poll: float = 0.002,
) -> None:
    """Pump the calling thread's messages until ``condition()`` holds, as a script's message
    loop would; raises :class:`TimeoutError` after ``timeout`` seconds so a test cannot hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met while pumping messages")
        emulator.PumpWaitingMessages()
        time.sleep(poll)
