"""A small stand-in ``PyQt5`` where none is installed (headless CI): widgets that accept any
call, signals, ``QTimer``, and a ``QApplication.exec_()`` loop that pumps the emulator and runs
due timers until ``quit()``/``exit()`` or the runner's time bound."""

from __future__ import annotations

import heapq
import itertools
import sys
import time
import types
from collections.abc import Callable
from typing import Any

from jango.sandbox.cybos.qt_hook import qt_available
from jango.sandbox.cybos.runtime import MessageQueues


class _Loop:
    """The shim's event loop: timers by due time, and the emulator's queue of this thread."""

    def __init__(self, queues: MessageQueues, seconds: float | None) -> None:
        self.queues = queues
        self.seconds = seconds
        self.timers: list[tuple[float, int, _Timer]] = []
        self.counter = itertools.count()
        self.running = 0
        self.exit_code: int | None = None

    def schedule(self, timer: _Timer, delay: float) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.counter), timer))

    def process(self) -> None:
        self.queues.pump()
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, timer = heapq.heappop(self.timers)
            timer.fire()

    def run(self) -> int:
        self.running += 1
        self.exit_code = None
        deadline = None if self.seconds is None else time.monotonic() + self.seconds
        try:
            while self.exit_code is None:
                self.process()
                if deadline is not None and time.monotonic() >= deadline:
                    return 0
                due = self.timers[0][0] - time.monotonic() if self.timers else 0.01
                time.sleep(min(max(due, 0.0), 0.01))
            return self.exit_code
        finally:
            self.running -= 1


_LOOP: _Loop | None = None


def _loop() -> _Loop:
    if _LOOP is None:
        raise RuntimeError("the PyQt5 stand-in is not installed")
    return _LOOP


class _BoundSignal:
    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any], *_args: object) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any] | None = None) -> None:
        self._slots = [] if slot is None else [s for s in self._slots if s is not slot]

    def emit(self, *args: object) -> None:
        for slot in list(self._slots):
            try:
                slot(*args)
            except TypeError:
                slot()  # a slot taking no arguments, as Qt allows for clicked(bool)

    def __getitem__(self, _types: object) -> _BoundSignal:
        return self


class pyqtSignal:
    """A class-level signal declaration; each instance gets its own bound signal."""

    def __init__(self, *_types: object, **_kwargs: object) -> None:
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        signals = obj.__dict__.setdefault("_cybos_signals", {})
        return signals.setdefault(self._name, _BoundSignal())


def pyqtSlot(*_args: object, **_kwargs: object) -> Callable[[Any], Any]:
    return lambda fn: fn


class _AnyMeta(type):
    """Class-level Qt constants (``QMessageBox.Yes``, ``Qt.AlignCenter``) read as values that
    accept everything."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _Anything(metaclass=_AnyMeta):
    """A widget or Qt value that accepts every call; its signals are real."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.__dict__["_cybos_signals"] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ("clicked", "triggered", "textChanged", "currentIndexChanged", "timeout",
                    "activated", "released", "pressed", "toggled", "valueChanged",
                    "itemClicked", "cellClicked", "returnPressed", "stateChanged"):  # fmt: skip
            return self.__dict__["_cybos_signals"].setdefault(name, _BoundSignal())
        return _Anything()

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return _Anything()

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())

    def __int__(self) -> int:
        return 0

    def __getitem__(self, _key: object) -> Any:
        return _Anything()

    def __add__(self, other: object) -> Any:
        return other if isinstance(other, str) else self

    def __radd__(self, other: object) -> Any:
        return other if isinstance(other, str) else self

    def __str__(self) -> str:
        return ""

    def __or__(self, other: object) -> Any:
        return self

    __ror__ = __or__


class QObject(_Anything):
    """Base of the stand-in's classes (signals declared with :class:`pyqtSignal` work)."""


class _Timer:
    def __init__(self, slot: Callable[[], Any] | None, single: bool) -> None:
        self.slot = slot
        self.single = single
        self.interval = 0
        self.active = False

    def fire(self) -> None:
        if not self.active:
            return
        if self.single:
            self.active = False
        else:
            _loop().schedule(self, self.interval / 1000)
        if self.slot is not None:
            self.slot()


class QTimer(QObject):
    """Timers on the stand-in loop: ``singleShot``, ``start``/``stop``, ``timeout``."""

    def __init__(self, *args: object) -> None:
        super().__init__()
        self.timeout = _BoundSignal()
        self._timer = _Timer(self.timeout.emit, False)

    @staticmethod
    def singleShot(msec: int, *slot: Any) -> None:
        callback = slot[-1]
        timer = _Timer(callback, True)
        timer.active = True
        _loop().schedule(timer, msec / 1000)

    def setInterval(self, msec: int) -> None:
        self._timer.interval = int(msec)

    def interval(self) -> int:
        return self._timer.interval

    def setSingleShot(self, single: bool) -> None:
        self._timer.single = bool(single)

    def start(self, msec: int | None = None) -> None:
        if msec is not None:
            self._timer.interval = int(msec)
        # A restart replaces the pending firing: a fresh timer object keeps the old one inert.
        self._timer.active = False
        self._timer = _Timer(self.timeout.emit, self._timer.single)
        self._timer.interval = self.interval() or 0
        self._timer.active = True
        _loop().schedule(self._timer, self._timer.interval / 1000)

    def stop(self) -> None:
        self._timer.active = False

    def isActive(self) -> bool:
        return self._timer.active


class QCoreApplication(QObject):
    """The stand-in application: ``exec_()`` runs the loop until ``quit()``/``exit()``."""

    _instance: QCoreApplication | None = None

    def __init__(self, *args: object) -> None:
        super().__init__()
        QCoreApplication._instance = self

    @staticmethod
    def instance() -> QCoreApplication | None:
        return QCoreApplication._instance

    def exec_(self) -> int:
        return _loop().run()

    exec = exec_

    @staticmethod
    def quit() -> None:
        _loop().exit_code = 0

    @staticmethod
    def exit(code: int = 0) -> None:
        _loop().exit_code = code

    @staticmethod
    def processEvents(*_args: object) -> None:
        _loop().process()


class QApplication(QCoreApplication):
    """The stand-in ``QApplication``."""


class QEventLoop(QObject):
    def exec_(self) -> int:
        return _loop().run()

    exec = exec_

    def quit(self) -> None:
        _loop().exit_code = 0


# Names a ``from PyQt5.QtWidgets import *`` (or QtCore/QtGui) must find: star imports see only
# what a module already holds, not what its ``__getattr__`` would make.
_STAR_NAMES = {
    "PyQt5.QtWidgets": [
        "QMainWindow",
        "QWidget",
        "QDialog",
        "QPushButton",
        "QLabel",
        "QLineEdit",
        "QTextEdit",
        "QPlainTextEdit",
        "QTableWidget",
        "QTableWidgetItem",
        "QTableView",
        "QTreeWidget",
        "QTreeWidgetItem",
        "QListWidget",
        "QComboBox",
        "QCheckBox",
        "QRadioButton",
        "QSpinBox",
        "QDoubleSpinBox",
        "QGroupBox",
        "QTabWidget",
        "QVBoxLayout",
        "QHBoxLayout",
        "QGridLayout",
        "QFormLayout",
        "QMessageBox",
        "QFileDialog",
        "QStatusBar",
        "QMenuBar",
        "QMenu",
        "QAction",
        "QToolBar",
        "QHeaderView",
        "QAbstractItemView",
        "QSplitter",
        "QFrame",
        "QProgressBar",
        "QSizePolicy",
        "QScrollArea",
        "QInputDialog",
        "QDateEdit",
        "QTimeEdit",
        "QSlider",
    ],
    "PyQt5.QtCore": [
        "QThread",
        "QTime",
        "QDate",
        "QDateTime",
        "QEvent",
        "QSettings",
        "QAbstractTableModel",
        "QModelIndex",
        "QVariant",
        "QSize",
        "QPoint",
        "QRect",
        "QObject",
        "QMutex",
        "QTimer",
        "QEventLoop",
        "QStringListModel",
        "QSortFilterProxyModel",
        "QThreadPool",
        "QRunnable",
    ],
    "PyQt5.QtGui": [
        "QIcon",
        "QFont",
        "QColor",
        "QBrush",
        "QPixmap",
        "QStandardItemModel",
        "QStandardItem",
    ],
}


def _module(name: str, classes: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name, "CYBOS emulator stand-in for PyQt5 (no PyQt5 installed)")
    for key in _STAR_NAMES.get(name, ()):
        setattr(module, key, type(key, (QObject,), {}))
    for key, value in classes.items():
        setattr(module, key, value)

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        # Any other Qt class: a widget that accepts every call, as a headless stand-in.
        cls = type(attr, (QObject,), {})
        setattr(module, attr, cls)
        return cls

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def install_shim(
    queues: MessageQueues, *, seconds: float | None = None, force: bool = False
) -> dict[str, Any]:
    """Put the stand-in PyQt5 into ``sys.modules`` where no real PyQt5 is importable (or always,
    with ``force``); returns the modules installed (none if a real PyQt5 is used)."""
    global _LOOP
    if qt_available() and not force:
        return {}
    _LOOP = _Loop(queues, seconds)
    core = {
        "QObject": QObject,
        "QTimer": QTimer,
        "QCoreApplication": QCoreApplication,
        "QEventLoop": QEventLoop,
        "pyqtSignal": pyqtSignal,
        "pyqtSlot": pyqtSlot,
        "Qt": _Anything(),
    }
    widgets = {"QApplication": QApplication}

    def load_ui_type(_path: object, *_args: object) -> tuple[type, type]:
        # A Designer form: a mix-in whose setupUi does nothing, and a plain base widget.
        form = type("Ui_Form", (QObject,), {"setupUi": lambda self, *a: None})
        return form, QObject

    uic = {"loadUiType": load_ui_type, "loadUi": lambda *a, **k: _Anything()}
    modules = {
        "PyQt5.QtCore": _module("PyQt5.QtCore", core),
        "PyQt5.QtWidgets": _module("PyQt5.QtWidgets", widgets),
        "PyQt5.QtGui": _module("PyQt5.QtGui", {"QGuiApplication": QApplication}),
        "PyQt5.QAxContainer": _module("PyQt5.QAxContainer", {}),
        "PyQt5.uic": _module("PyQt5.uic", uic),
    }
    package = _module("PyQt5", {})
    package.__path__ = []
    for name, module in modules.items():
        setattr(package, name.split(".")[1], module)
    modules["PyQt5"] = package
    sys.modules.update(modules)
    return modules
