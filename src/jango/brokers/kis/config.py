"""Configuration of the KIS adapter, from the environment or a 0600 key=value file."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jango.brokers.port import StartupError
from jango.domain.model import mask_account

Mode = Literal["real", "paper"]

REAL_REST_URL = "https://openapi.koreainvestment.com:9443"
PAPER_REST_URL = "https://openapivts.koreainvestment.com:29443"
REAL_WS_URL = "ws://ops.koreainvestment.com:21000"
PAPER_WS_URL = "ws://ops.koreainvestment.com:31000"

_ACCOUNT_RE = re.compile(r"^(\d{8})-?(\d{2})$")
_PREFIX = "JANGO_KIS_"


class KisConfigError(StartupError):
    """The KIS configuration is missing a value, malformed, or stored insecurely."""


def default_token_cache() -> Path:
    """Where access tokens are cached unless configured otherwise (per user, not per project)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jango" / "kis-token.json"


@dataclass(frozen=True)
class KisConfig:
    """Everything the adapter needs to reach one KIS account.

    ``account`` is the 10-digit account (CANO 8 digits + ACNT_PRDT_CD 2 digits; a dash between
    them is accepted). The app key and secret are kept out of ``repr`` so they never reach a log.
    """

    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    account: str
    hts_id: str
    mode: Mode = "real"
    rest_url: str = ""
    ws_url: str = ""
    token_cache: Path | None = None

    def __post_init__(self) -> None:
        match = _ACCOUNT_RE.match(self.account.strip())
        if match is None:
            raise KisConfigError(
                f"KIS account must be 8+2 digits like 50123456-01, got {mask_account(self.account)}"
            )
        object.__setattr__(self, "account", match.group(1) + match.group(2))
        if self.mode not in ("real", "paper"):
            raise KisConfigError(f"KIS mode must be 'real' or 'paper', got {self.mode!r}")
        if not self.app_key or not self.app_secret:
            raise KisConfigError("KIS app key and app secret are required")
        if not self.hts_id:
            raise KisConfigError("KIS HTS ID is required (it keys the fill-notice subscription)")
        paper = self.mode == "paper"
        if not self.rest_url:
            object.__setattr__(self, "rest_url", PAPER_REST_URL if paper else REAL_REST_URL)
        if not self.ws_url:
            object.__setattr__(self, "ws_url", PAPER_WS_URL if paper else REAL_WS_URL)
        object.__setattr__(self, "rest_url", self.rest_url.rstrip("/"))

    @property
    def cano(self) -> str:
        """The 8-digit account body (CANO)."""
        return self.account[:8]

    @property
    def product_code(self) -> str:
        """The 2-digit account product code (ACNT_PRDT_CD)."""
        return self.account[8:]

    @property
    def paper(self) -> bool:
        return self.mode == "paper"

    @classmethod
    def from_env(cls, env: Mapping[str, str], file: Path | None = None) -> KisConfig:
        """Build a config from ``JANGO_KIS_*`` variables, or from a key=value ``file``.

        Values in ``env`` override the file. The file holds secrets, so it must be readable by
        its owner only (mode 0600); anything looser is refused.
        """
        values: dict[str, str] = {}
        if file is not None:
            values.update(_read_secret_file(file))
        values.update({k: v for k, v in env.items() if k.startswith(_PREFIX)})

        def get(name: str) -> str:
            return values.get(_PREFIX + name, "").strip()

        missing = [
            _PREFIX + name
            for name in ("APP_KEY", "APP_SECRET", "ACCOUNT", "HTS_ID")
            if not get(name)
        ]
        if missing:
            raise KisConfigError("missing KIS setting(s): " + ", ".join(missing))
        mode = get("MODE") or "real"
        if mode not in ("real", "paper"):
            raise KisConfigError(f"{_PREFIX}MODE must be 'real' or 'paper', got {mode!r}")
        cache = get("TOKEN_CACHE")
        return cls(
            app_key=get("APP_KEY"),
            app_secret=get("APP_SECRET"),
            account=get("ACCOUNT"),
            hts_id=get("HTS_ID"),
            mode="paper" if mode == "paper" else "real",
            rest_url=get("REST_URL"),
            ws_url=get("WS_URL"),
            token_cache=Path(cache) if cache else None,
        )


def _read_secret_file(path: Path) -> dict[str, str]:
    try:
        info = path.stat()
    except OSError as exc:
        raise KisConfigError(f"cannot read KIS settings file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise KisConfigError(f"KIS settings file {path} is not a regular file")
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise KisConfigError(
            f"KIS settings file {path} has mode {stat.S_IMODE(info.st_mode):04o}; it holds "
            f"secrets, so it must be readable by its owner only: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KisConfigError(f"cannot read KIS settings file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KisConfigError(
            f"KIS settings file {path} is not UTF-8 text (byte {exc.start + 1})"
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        if not sep:
            raise KisConfigError(f"{path}:{number}: expected KEY=value")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class KisTuning:
    """Retry caps and waits. Defaults suit the live servers; tests shorten the waits."""

    token_refresh_margin: float = 600.0  # renew this many seconds before the stated expiry
    token_retry_wait: float = 61.0  # EGW00133 allows one issue per minute per app key
    token_retries: int = 2
    rate_retry_wait: float = 0.1  # EGW00201: wait, then resend
    rate_retries: int = 5
    balance_restarts: int = 3  # SYDB0050: restart from page 1 at most this often
    request_timeout: float = 10.0
    ack_timeout: float = 10.0  # subscribe/unsubscribe acks
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    idle_timeout: float = 180.0  # no frame (not even PINGPONG) for this long: drop and reconnect
