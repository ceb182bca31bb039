"""CYBOS events under a Qt event loop, as on Windows.

On Windows a COM event is a window message: whatever pumps the thread's messages delivers it —
``pythoncom.PumpWaitingMessages``, and just as well a PyQt/PySide ``app.exec_()``,
``processEvents()`` or a modal dialog, which is how most CYBOS scripts receive events (cybos.md
§1). The emulator keeps one event queue per thread
(:class:`~jango.sandbox.cybos.runtime.MessageQueues`); this module makes a Qt loop pump it:

* :func:`hook_qt` watches for ``PyQt5``/``PyQt6``/``PySide2``/``PySide6`` being imported (or
  already imported) and replaces their application classes by subclasses that, once constructed,
  pump the emulator's queue of the GUI thread from a ``QSocketNotifier`` on a pipe. Posting an
  event writes one byte to the pipe, so the loop wakes when an event is due and at no other time
  — as a posted window message wakes a Windows loop. Nothing in the script changes; a script
  that never runs its loop never gets events.

The stand-in PyQt5 for machines without one is :mod:`jango.sandbox.cybos.qt_shim`.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from jango.sandbox.cybos.runtime import MessageQueues

_QT_PACKAGES = ("PyQt5", "PyQt6", "PySide2", "PySide6")
_APP_CLASSES = (("QtCore", "QCoreApplication"), ("QtGui", "QGuiApplication"),
                ("QtWidgets", "QApplication"))  # fmt: skip


class _QtPump:
    """The wake-up pipe between the emulator's queue of one thread and a Qt socket notifier."""

    def __init__(self, queues: MessageQueues, thread_id: int) -> None:
        self._queues = queues
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        queues.set_waker(thread_id, self.wake)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"\x01")

    def attach(self, qtcore: Any, parent: Any) -> Any:
        notifier = qtcore.QSocketNotifier(self._read, qtcore.QSocketNotifier.Read, parent)
        notifier.activated.connect(self._on_ready)
        self.wake()  # events posted before the application existed
        return notifier

    def _on_ready(self, *_args: object) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 4096):
                pass
        self._queues.pump()


class QtHook:
    """Installs pumping application classes into every Qt binding imported from now on."""

    def __init__(self, queues: MessageQueues, *, seconds: float | None = None) -> None:
        self.queues = queues
        self.seconds = seconds
        self.hooked: list[str] = []
        self.applications = 0  # applications created with a pump (and the bound's timer)
        self.fallback_armed = False

    def patch(self, package: str) -> None:
        """Replace ``package``'s application classes (QtCore must be importable)."""
        if package in self.hooked:
            return
        qtcore = sys.modules.get(f"{package}.QtCore")
        if qtcore is None:
            return
        self.hooked.append(package)
        for module_name, class_name in _APP_CLASSES:
            module = sys.modules.get(f"{package}.{module_name}")
            if module is not None:
                self._replace(qtcore, module, class_name)

    def patch_module(self, package: str, module: types.ModuleType, class_name: str) -> None:
        qtcore = sys.modules.get(f"{package}.QtCore")
        if qtcore is not None:
            self._replace(qtcore, module, class_name)

    def _replace(self, qtcore: Any, module: types.ModuleType, class_name: str) -> None:
        real = getattr(module, class_name, None)
        if real is None or getattr(real, "_cybos_pumps", False):
            return
        hook = self

        def __init__(app: Any, *args: Any, **kwargs: Any) -> None:
            real.__init__(app, *args, **kwargs)
            pump = _QtPump(hook.queues, threading.get_ident())
            app._cybos_notifier = pump.attach(qtcore, app)
            app._cybos_pump = pump
            hook.applications += 1
            if hook.seconds is not None:
                qtcore.QTimer.singleShot(int(hook.seconds * 1000), app.quit)

        pumping = type(class_name, (real,), {"__init__": __init__, "_cybos_pumps": True})
        pumping.__module__ = module.__name__
        setattr(module, class_name, pumping)


class _QtFinder(importlib.abc.MetaPathFinder):
    """After a Qt module is imported, patch its application class."""

    def __init__(self, hook: QtHook) -> None:
        self._hook = hook

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, leaf = fullname.partition(".")
        names = dict(_APP_CLASSES)
        if package not in _QT_PACKAGES or leaf not in names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, self._hook, package, names[leaf])
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, hook: QtHook, package: str, class_name: str) -> None:
        self._loader = loader
        self._hook = hook
        self._package = package
        self._class_name = class_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._hook.patch_module(self._package, module, self._class_name)
        if module.__name__.endswith(".QtCore"):
            self._hook.patch(self._package)


def hook_qt(queues: MessageQueues, *, seconds: float | None = None) -> QtHook:
    """Make every Qt application created from now on pump ``queues`` (see the module doc);
    ``seconds`` quits the application's loop after that long (the runner's bound)."""
    hook = QtHook(queues, seconds=seconds)
    for package in _QT_PACKAGES:
        hook.patch(package)
    sys.meta_path.insert(0, _QtFinder(hook))
    return hook


def qt_available() -> bool:
    """Whether a real PyQt5 can be imported here."""
    return importlib.util.find_spec("PyQt5") is not None
