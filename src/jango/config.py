"""Settings from a TOML file and the environment (the environment wins).

A file is read from ``--config``, else ``$JANGO_CONFIG``, else ``~/.config/jango/config.toml`` if it
exists. Keys are flat (``broker = "kis"``) or in tables (``[kis] app_key = ...`` becomes
``kis.app_key``). Environment variables ``JANGO_<KEY>`` override, with ``.`` written as ``_``
(``JANGO_KIS_APP_KEY``). A file holding secrets must not be readable by others.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

SECRET_WORDS = ("secret", "key", "password", "token")


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


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


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Flat settings: the file's values overridden by ``JANGO_*`` environment variables."""
    env = os.environ if env is None else env
    explicit = path is not None or "JANGO_CONFIG" in env
    path = path or Path(env.get("JANGO_CONFIG", default_config_path()))
    settings: dict[str, str] = {}
    if path.exists():
        try:
            settings = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        holds_secret = any(w in k for k in settings for w in SECRET_WORDS)
        if holds_secret and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"config {path} holds secrets; make it private: chmod 600 {path}")
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    for name, value in env.items():
        if name.startswith("JANGO_") and name not in ("JANGO_CONFIG", "JANGO_DATA_DIR"):
            key = name[len("JANGO_") :].lower()
            head, _, rest = key.partition("_")
            settings[f"{head}.{rest}" if head in ("kis", "cybos") and rest else key] = value
    return settings
