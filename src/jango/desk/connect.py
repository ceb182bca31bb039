"""How an agent or the hub reaches NATS: the URL and the credentials, never logged.

Credentials come from the environment, under the names the ``nats`` command-line tool reads too
(``NATS_USER``/``NATS_PASSWORD``, ``NATS_NKEY`` naming an nkey seed file, ``NATS_CREDS`` naming
a JWT credentials file, ``NATS_CA``/``NATS_CERT``/``NATS_KEY`` for TLS), or from a ``key =
value`` file (``--nats-file``, or ``$JANGO_NATS_FILE``) with the same keys in lower case
(``user``, ``password``, ``nkey``, ``creds``, ``ca``, ``cert``, ``key``) that must not be
readable by group or others (mode 0600), like every other secret file of jango. The file wins
over the environment. A URL carrying a password (``nats://u:p@host``) is refused: it would show
in the process list.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jango.config import ConfigError

FILE_ENV = "JANGO_NATS_FILE"
_ENV = {
    "user": "NATS_USER",
    "password": "NATS_PASSWORD",
    "nkey": "NATS_NKEY",
    "creds": "NATS_CREDS",
    "ca": "NATS_CA",
    "cert": "NATS_CERT",
    "key": "NATS_KEY",
}


class DeskConfigError(ConfigError):
    """A NATS setting that cannot be used; one line naming what and why (the ``jango``
    command prints it and exits 2, as for every setting)."""


@dataclass(frozen=True)
class NatsOptions:
    """Where and how to connect. ``secrets`` never appear in ``repr`` or logs."""

    url: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    name: str = "jango"
    # Replies (JetStream acks, order answers) come to inboxes under this prefix: one per user,
    # so the server's permissions can keep each user to its own (see docs/desk.md).
    inbox: str = "_INBOX"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("nats", "tls", "ws", "wss"):
            raise DeskConfigError(f"NATS URL {self.url!r} must start with nats://, tls:// or ws://")
        if parts.password:
            raise DeskConfigError(
                "NATS URL must not carry a password (it shows in the process list): use "
                f"NATS_USER/NATS_PASSWORD or --nats-file; got {parts.hostname}:{parts.port}"
            )

    @property
    def shown(self) -> str:
        """The URL as logs may show it."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 4222}"

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (credentials, TLS)."""
        kw: dict[str, Any] = {"servers": [self.url], "name": self.name, "inbox_prefix": self.inbox}
        s = self.secrets
        if s.get("user"):
            kw["user"] = s["user"]
            kw["password"] = s.get("password", "")
        if s.get("nkey"):
            _readable_secret(Path(s["nkey"]), "nkey seed file")
            kw["nkeys_seed"] = s["nkey"]
        if s.get("creds"):
            _readable_secret(Path(s["creds"]), "credentials file")
            kw["user_credentials"] = s["creds"]
        if s.get("ca") or s.get("cert") or self.url.startswith("tls://"):
            context = ssl.create_default_context(cafile=s.get("ca") or None)
            if s.get("cert"):
                context.load_cert_chain(s["cert"], s.get("key") or None)
            kw["tls"] = context
        return kw


def _readable_secret(path: Path, what: str) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise DeskConfigError(f"{what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DeskConfigError(
            f"{what} {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )


def read_secret_file(path: Path) -> dict[str, str]:
    """``key = value`` lines of a 0600 file (``#`` comments); unknown keys are refused."""
    _readable_secret(path, "NATS credentials file")
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        key = key.strip().lower()
        if not sep or key not in _ENV:
            raise DeskConfigError(
                f"{path}:{number}: expected key = value with key one of {', '.join(_ENV)}"
            )
        values[key] = value.strip().strip('"')
    return values


def nats_options(
    url: str,
    *,
    file: Path | None = None,
    name: str = "jango",
    inbox: str = "_INBOX",
    env: Mapping[str, str] | None = None,
) -> NatsOptions:
    """Options for ``url`` with credentials from ``file`` (or ``$JANGO_NATS_FILE``), else the
    environment."""
    env = os.environ if env is None else env
    secrets = {key: env[var] for key, var in _ENV.items() if env.get(var)}
    path = file or (Path(env[FILE_ENV]) if env.get(FILE_ENV) else None)
    if path is not None:
        secrets.update(read_secret_file(path))
    return NatsOptions(url, secrets, name, inbox)
