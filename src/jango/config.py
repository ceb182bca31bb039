"""Settings from a TOML file and the environment (the environment wins), checked when loaded.

A file is read from ``--config``, else ``$JANGO_CONFIG``, else ``~/.config/jango/config.toml`` if it
exists. Keys are flat (``broker = "kis"``) or in tables (``[kis] app_key = ...`` becomes
``kis.app_key``). Environment variables ``JANGO_<KEY>`` override, with ``.`` written as ``_``
(``JANGO_KIS_APP_KEY``, ``JANGO_SIM_TICK_INTERVAL``). A file holding secrets must not be readable
by others.

Every setting jango reads is listed in :data:`SETTINGS` with the check its value must pass; a
value that fails is a :class:`ConfigError` naming the setting, where it came from and what is
allowed. The same checks back the command line's arguments (:func:`check`), so a value means the
same wherever it is given. A new setting is added to :data:`SETTINGS`, nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

SECRET_WORDS = ("secret", "key", "password", "token")
MAX_CONFIG_BYTES = 1024 * 1024
"""A configuration file larger than this is refused (a real one is a few hundred bytes)."""
FIRST_YEAR, LAST_YEAR = 1990, 2100

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message is one line."""


# --- checks: each takes the text of a value and returns it normalised, or raises ValueError
# --- with what is allowed (the caller adds which setting and where it came from).


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return check


def _boolean(text: str) -> str:
    if text not in ("true", "false"):
        raise ValueError("must be true or false")
    return text


def _integer(low: int, high: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        # A pattern first: int() would take "1_000" and " 5", and spend time on 5,000 digits.
        if not re.fullmatch(r"[+-]?\d{1,19}", text.strip()) or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number from {low:,} to {high:,}")
        return str(int(text))

    return check


def _seconds(low_exclusive: bool, high: float) -> Callable[[str], str]:
    lowest = "above 0" if low_exclusive else "from 0"

    def check(text: str) -> str:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (low_exclusive and value == 0) or value > high:
            raise ValueError(f"must be a number of seconds {lowest} to {high:g}")
        return text.strip()

    return check


def _milliseconds(high: float) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 < value <= high:
            raise ValueError(f"must be a number of milliseconds above 0 to {high:g}")
        return text.strip()

    return check


def _percent(high: Decimal) -> Callable[[str], str]:
    def check(text: str) -> str:
        # At most 7 places: a rate is kept as whole parts per billion.
        if not re.fullmatch(r"\d{1,3}(\.\d{1,7})?", text.strip()) or Decimal(text) > high:
            raise ValueError(
                f"must be a percentage from 0 to {high} with at most 7 decimal places, "
                "such as 0.015"
            )
        return text.strip()

    return check


_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _name(text: str) -> str:
    if not _NAME_RE.fullmatch(text):
        raise ValueError("must be a plain name of letters, digits, '-' and '_' (at most 64)")
    return text


def _day(text: str) -> str:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return text


def _text(text: str) -> str:
    return text


SEED = _integer(-(2**63), 2**63 - 1)
"""The seed of a simulated market (a signed 64-bit integer)."""
PORT = _integer(0, 65535)
"""A TCP port (0 lets the system pick one)."""
PROFILE = _name
"""A journal profile: it becomes part of a file name, so no paths."""
DAY = _day
"""A calendar date ``YYYY-MM-DD`` in a sane range."""
SECONDS = _seconds(False, 1e9)
"""A duration in seconds, 0 or more and finite."""
QUANTITY = _integer(1, 10**12)
"""A positive number of shares."""
PRICE = _integer(1, 10**12)
"""A positive price in won."""

SETTINGS: dict[str, Callable[[str], str]] = {
    "broker": _choice("sim", "kis", "cybos"),
    "seed": SEED,
    "lang": _choice("ko", "en"),
    "pnl": _choice("gross", "net"),
    "profile": PROFILE,
    "journal": _boolean,
    "journal.enabled": _boolean,
    "journal.durability": _choice("window", "every", "batch"),
    "journal.window_ms": _milliseconds(1000),
    "journal.flush_ms": _milliseconds(10_000),
    "journal.ticks": _choice("all", "latest", "none"),
    "journal.max_queue": _integer(2, 10_000_000),
    "journal.checkpoint_every": _integer(1, 1_000_000_000),
    "journal.writer": _choice("process", "thread"),
    "commission_percent": _percent(Decimal(5)),
    "commission_unit": _integer(1, 1_000_000),
    "tax_unit": _integer(1, 1_000_000),
    "margin_loan_percent": _percent(Decimal(99)),
    "sim.tick_interval": _seconds(True, 3600),
    "sim.demo_period": _seconds(True, 3600),
    "sim.demo": _boolean,
    "cybos.emulator": _boolean,
    "web.token": _text,
    "kis.mode": _choice("real", "paper"),
    "kis.app_key": _text,
    "kis.app_secret": _text,
    "kis.account": _text,
    "kis.hts_id": _text,
    "kis.rest_url": _text,
    "kis.ws_url": _text,
    "kis.token_cache": _text,
    "kis.file": _text,
}
"""Every setting and the check of its value."""

# Heads of dotted keys, so JANGO_SIM_TICK_INTERVAL names sim.tick_interval.
_TABLES = ("kis", "cybos", "sim", "web", "journal")


def check(name: str, value: str, origin: str = "") -> str:
    """``value`` of setting ``name`` normalised, or a :class:`ConfigError` saying what is allowed.

    ``origin`` (a file, ``$JANGO_X``) is named in the message. Settings not in
    :data:`SETTINGS` pass unchanged; a key of an ``[[accounts]]`` entry is checked as the
    setting it stands for (``accounts.0.app_key`` as ``kis.app_key``).
    """
    checker = SETTINGS.get(_entry_setting(name) if name.startswith(ACCOUNTS + ".") else name)
    if checker is None:
        return value
    try:
        return checker(value)
    except ValueError as exc:
        where = f" (from {origin})" if origin else ""
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ConfigError(f"setting {name} = {shown!r}{where}: {exc}") from None


def argument(checker: Callable[[str], str], convert: Callable[[str], _T]) -> Callable[[str], _T]:
    """An argparse ``type=`` that runs ``checker`` (one of this module's checks) and then
    ``convert``; a refused value is argparse's one-line error saying what is allowed."""

    def parse(text: str) -> _T:
        try:
            return convert(checker(text))
        except ValueError as exc:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise argparse.ArgumentTypeError(f"{shown!r} {exc}") from None

    return parse


def check_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """All of ``settings`` checked (see :func:`check`), as a new dict."""
    return {name: check(name, value) for name, value in settings.items()}


def default_config_path() -> Path:
    return (
        Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "jango" / "config.toml"
    )


def data_dir() -> Path:
    """Where journals and token caches live (``$JANGO_DATA_DIR`` or the XDG data directory)."""
    if "JANGO_DATA_DIR" in os.environ:
        return Path(os.environ["JANGO_DATA_DIR"])
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "jango"


def prepare_data_dir(path: Path | None = None) -> Path:
    """The data dir, created if missing and proven writable, or a :class:`ConfigError`.

    Writing is tried for real (a temporary file), so a read-only file system or a folder the
    user may not write is found before any work starts, whoever runs it.
    """
    path = path or data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"data dir {path} is not a folder") from None
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {path}: {exc.strerror}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"data dir {path} is not writable: {exc.strerror} (set JANGO_DATA_DIR to another)"
        ) from None
    return path


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        elif name == ACCOUNTS and isinstance(value, list):
            # [[accounts]] tables: accounts.0.broker, accounts.0.app_key, ...
            for index, entry in enumerate(value):
                if not isinstance(entry, Mapping):
                    raise ConfigError(f"{ACCOUNTS}[{index}] must be a table ([[accounts]])")
                out.update(_flatten(entry, f"{ACCOUNTS}.{index}."))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def _read_file(path: Path) -> dict[str, str] | None:
    """The checked settings of ``path``, or None if there is no such file."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"config {path} is a folder, not a file")
        # A FIFO or socket could block forever; a character device (/dev/null) reads at once.
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            raise ConfigError(f"config {path} is not a regular file")
        with path.open("rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config {path} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}"
        ) from None
    try:
        settings = _flatten(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    except (ValueError, RecursionError):
        # tomllib lets Python's own limits through: over 4,300 digits, or deep nesting.
        raise ConfigError(f"config {path} holds a value too large or too deeply nested") from None
    holds_secret = any(w in k for k in settings for w in SECRET_WORDS)
    if holds_secret and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"config {path} holds secrets; make it private: chmod 600 {path}")
    for name, value in settings.items():
        settings[name] = check(name, value, str(path))
        if name not in SETTINGS and not name.startswith(ACCOUNTS + "."):
            log.warning("config %s: unknown setting %r is ignored", path, name)
    account_entries(settings, str(path))  # a bad [[accounts]] entry is refused on load
    return settings


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Flat settings: the file's values overridden by ``JANGO_*`` environment variables.

    Raises :class:`ConfigError` (one line) for a file that cannot be read or a value that is not
    allowed.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "JANGO_CONFIG" in env
    path = path or Path(env.get("JANGO_CONFIG", default_config_path()))
    settings = _read_file(path)
    if settings is None:
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        settings = {}
    for name, value in env.items():
        if name.startswith("JANGO_") and name not in ("JANGO_CONFIG", "JANGO_DATA_DIR"):
            key = name[len("JANGO_") :].lower()
            head, _, rest = key.partition("_")
            key = f"{head}.{rest}" if head in _TABLES and rest else key
            settings[key] = check(key, value, f"${name}")
    return settings


# --- [[accounts]]: several brokers and accounts in one session

ACCOUNTS = "accounts"
"""The TOML array of tables listing a session's accounts, one adapter per entry."""

# The keys an entry may hold for each broker, and the setting each stands for.
ENTRY_KEYS: dict[str, dict[str, str]] = {
    "sim": {
        "seed": "seed",
        "tick_interval": "sim.tick_interval",
        "demo": "sim.demo",
        "demo_period": "sim.demo_period",
    },
    "kis": {
        k: f"kis.{k}"
        for k in (
            "mode",
            "app_key",
            "app_secret",
            "account",
            "hts_id",
            "rest_url",
            "ws_url",
            "token_cache",
            "file",
        )
    },
    "cybos": {"emulator": "cybos.emulator", "seed": "seed"},
}
# Settings of the whole session an entry inherits unless it says otherwise (no secrets).
_INHERITED = ("seed", "margin_loan_percent", "sim.", "cybos.", "kis.mode")


def _entry_setting(name: str) -> str:
    """The setting an entry key stands for: ``accounts.1.app_key`` → ``kis.app_key``."""
    key = name.split(".", 2)[-1]
    if key in ("name", "broker"):
        return "broker" if key == "broker" else "profile"
    for keys in ENTRY_KEYS.values():
        if key in keys:
            return keys[key]
    return key


class AccountEntry:
    """One ``[[accounts]]`` entry: a label, a broker and that broker's own settings."""

    __slots__ = ("broker", "label", "own")

    def __init__(self, label: str, broker: str, own: dict[str, str]) -> None:
        self.label = label
        self.broker = broker
        self.own = own  # the entry's settings under their session names (kis.app_key, seed)

    def __repr__(self) -> str:
        return f"AccountEntry({self.label!r}, {self.broker!r})"

    def settings(self, session: Mapping[str, str]) -> dict[str, str]:
        """The flat settings this entry's adapter is built from: the session's shared settings
        (never another entry's, nor the session's own broker credentials) under the entry's."""
        out = {k: v for k, v in session.items() if k.startswith(_INHERITED)}
        profile = session.get("profile", "")
        if profile:
            # Each sim entry keeps its own lasting market beside the profile's journal.
            out["profile"] = f"{profile}-{self.label}"
        out.update(self.own)
        out["broker"] = self.broker
        return out


def account_entries(settings: Mapping[str, str], origin: str = "") -> list[AccountEntry]:
    """The ``[[accounts]]`` entries of ``settings`` in file order (empty when there are none),
    or a :class:`ConfigError` naming the entry and what is wrong with it."""
    where = f" (from {origin})" if origin else ""
    grouped: dict[int, dict[str, str]] = {}
    for name, value in settings.items():
        if not name.startswith(ACCOUNTS + "."):
            continue
        index, _, key = name[len(ACCOUNTS) + 1 :].partition(".")
        if not index.isdigit() or not key:
            raise ConfigError(f"setting {name}{where}: use [[accounts]] tables")
        grouped.setdefault(int(index), {})[key] = value
    entries: list[AccountEntry] = []
    labels: set[str] = set()
    for position in sorted(grouped):
        keys = grouped[position]
        number = position + 1
        broker = keys.pop("broker", "")
        if broker not in ENTRY_KEYS:
            raise ConfigError(
                f"[[accounts]] entry {number}{where}: broker must be one of {', '.join(ENTRY_KEYS)}"
            )
        label = keys.pop("name", "") or (broker if broker not in labels else f"{broker}{number}")
        if label in labels:
            raise ConfigError(f"[[accounts]] entry {number}{where}: name {label!r} is taken")
        labels.add(label)
        allowed = ENTRY_KEYS[broker]
        unknown = sorted(set(keys) - set(allowed))
        if unknown:
            raise ConfigError(
                f"[[accounts]] entry {label!r}{where}: {broker} takes no {', '.join(unknown)} "
                f"(allowed: name, broker, {', '.join(allowed)})"
            )
        own = {allowed[k]: check(allowed[k], v, origin) for k, v in keys.items()}
        entries.append(AccountEntry(label, broker, own))
    return entries
