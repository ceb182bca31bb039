"""A synchronous client of the running session, for notebooks, scripts and the ``jango``
commands that attach to it (see :mod:`jango.service`).

::

    import jango

    with jango.connect() as live:          # the `jango run` in the next window
        book = live.book()
        book.to_frame()                    # rows as a pandas DataFrame (pandas optional)
        live.place(account=book.accounts[0], side="buy", code="005930", qty=1, price=70_000)
        for changes in live.changes():     # blocks; one merged change set per line
            ...

No second broker login is made: every call is one HTTP request over the session's Unix socket.
Errors the session answers with (a bad code, an unknown order, a broker refusal) are raised as
:class:`ApiError` carrying the HTTP status, the error key and the one-line message.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jango.service import ServiceError, check_socket, remove_if_stale, socket_path

TIMEOUT = 30.0


class ApiError(Exception):
    """The session refused a request: ``status`` (HTTP), ``key`` (``bad_code`` …), message."""

    def __init__(self, status: int, key: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.key = key
        self.code = code


def _frame_of(records: list[dict[str, Any]], library: str) -> Any:
    # Imported by name: both are optional extras, and neither ships types mypy could check.
    try:
        module = importlib.import_module(library)
    except ImportError:
        raise ImportError(
            f"{library} is not installed: pip install 'jango[{library}]' to get frames"
        ) from None
    if library == "pandas":
        return module.DataFrame.from_records(records)
    return module.DataFrame(records)


@dataclass(frozen=True)
class LiveBook:
    """The book as the running session reported it (one moment): rows, orders, totals."""

    report: Mapping[str, Any]

    @property
    def accounts(self) -> list[str]:
        """Account numbers, as the session names them (labelled by broker in a fan-in)."""
        return [a["account"] for a in self.report["accounts"]]

    def records(self, what: str = "rows") -> list[dict[str, Any]]:
        """``rows``, ``orders`` (open orders) or ``accounts`` (cash and totals) as flat dicts,
        each with its account and broker."""
        brokers: Mapping[str, str] = self.report.get("brokers", {})
        out: list[dict[str, Any]] = []
        for acc in self.report["accounts"]:
            number = acc["account"]
            broker = brokers.get(number, "")
            if what == "rows":
                out.extend({"broker": broker, **r} for r in acc["rows"])
            elif what == "orders":
                out.extend({"broker": broker, "account": number, **o} for o in acc["open_orders"])
            elif what == "accounts":
                out.append({"broker": broker, "account": number, **acc["cash"], **acc["totals"]})
            else:
                raise ValueError(f"what must be rows, orders or accounts, not {what!r}")
        return out

    @property
    def totals(self) -> Mapping[str, Any]:
        """Totals per account, per broker and overall (``accounts``, ``brokers``, ``overall``)."""
        grand: Mapping[str, Any] = self.report.get("grand", {})
        return grand

    def to_frame(self, what: str = "rows") -> Any:
        """:meth:`records` as a pandas DataFrame (needs the ``pandas`` extra)."""
        return _frame_of(self.records(what), "pandas")

    def to_polars(self, what: str = "rows") -> Any:
        """:meth:`records` as a polars DataFrame (needs the ``polars`` extra)."""
        return _frame_of(self.records(what), "polars")


class Client:
    """One running session, over its socket. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path, *, timeout: float = TIMEOUT) -> None:
        check_socket(path)
        self.path = path
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(path)),
            base_url="http://localhost",
            timeout=timeout,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _answer(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error": response.text.strip()}
            raise ApiError(
                response.status_code,
                str(body.get("error_code", "")),
                str(body.get("error", response.reason_phrase)),
                str(body.get("code", "")),
            )
        return response

    def _get(self, path: str, **params: str) -> httpx.Response:
        try:
            return self._answer(self._http.get(path, params=params))
        except httpx.TransportError as exc:
            raise ServiceError(f"the session at {self.path} did not answer: {exc}") from None

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            reply = self._answer(self._http.post(path, json=dict(body)))
        except httpx.TransportError as exc:
            raise ServiceError(f"the session at {self.path} did not answer: {exc}") from None
        result: dict[str, Any] = reply.json()
        return result

    # ----------------------------------------------------------------- reading

    def status(self) -> dict[str, Any]:
        """What runs: name, pid, since, each broker's connection, health."""
        result: dict[str, Any] = self._get("/api/status").json()
        return result

    def accounts(self) -> list[dict[str, str]]:
        """Each account with its API id and broker."""
        result: list[dict[str, str]] = self._get("/api/accounts").json()
        return result

    def book(self) -> LiveBook:
        """The book now."""
        return LiveBook(self._get("/api/report").json())

    def report(self, fmt: str = "json", lang: str = "ko") -> str:
        """The book as ``jango balance`` prints it (``json``, ``table`` or ``csv``)."""
        return self._get("/api/report", format=fmt, lang=lang).text

    def export(self, fmt: str = "xlsx", lang: str = "ko") -> bytes:
        """The book as an ``xlsx`` workbook or a ``csv`` file."""
        return self._get("/api/export", format=fmt, lang=lang).content

    def quote(self, code: str) -> dict[str, Any]:
        """A price with the day's limits and the tick table."""
        result: dict[str, Any] = self._get("/api/quote", code=code).json()
        return result

    def order(self, order_no: str) -> dict[str, Any]:
        """An order as the book knows it."""
        result: dict[str, Any] = self._get(f"/api/orders/{order_no}").json()
        return result

    def notices(self, *, after: int = 0, order_no: str = "") -> list[dict[str, Any]]:
        """Order notices the session applied after sequence ``after`` (of one order, if
        given)."""
        result: list[dict[str, Any]] = self._get(
            "/api/notices", after=str(after), order_no=order_no
        ).json()
        return result

    def changes(self) -> Iterator[dict[str, Any]]:
        """Change sets as they happen (the first item is the status); blocks between them."""
        try:
            with self._http.stream("GET", "/api/changes", timeout=None) as response:
                self._answer(response)
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise ServiceError(f"the session at {self.path} went away: {exc}") from None

    # ----------------------------------------------------------------- trading

    def _account_id(self, account: str | None) -> str:
        listed = self.accounts()
        if not listed:
            raise ApiError(400, "unknown_account", "the session has no account")
        if account is None:
            return listed[0]["id"]
        for entry in listed:
            if account in (entry["account"], entry["id"]):
                return entry["id"]
        raise ApiError(400, "unknown_account", f"no such account {account}")

    def _order_account(self, order_no: str, account: str | None) -> str:
        if account is None:
            with contextlib.suppress(ApiError):  # an order the book never saw: the first
                account = str(self.order(order_no)["account"])
        return self._account_id(account)

    def place(
        self,
        *,
        side: str,
        code: str,
        qty: int,
        account: str | None = None,
        price: int = 0,
        **terms: Any,
    ) -> dict[str, Any]:
        """Send an order (``order_type``, ``condition``, ``credit``, ``loan_date`` optional);
        returns ``{"order_no", "message"}``."""
        body = {
            "account": self._account_id(account),
            "side": side,
            "code": code,
            "qty": qty,
            "price": price,
            **terms,
        }
        return self._post("/api/orders", body)

    def amend(
        self, order_no: str, *, price: int, qty: int | None = None, account: str | None = None
    ) -> dict[str, Any]:
        """Amend an open order (of the account that placed it, unless ``account`` is given)."""
        body: dict[str, Any] = {"account": self._order_account(order_no, account), "price": price}
        if qty is not None:
            body["qty"] = qty
        return self._post(f"/api/orders/{order_no}/amend", body)

    def cancel(
        self, order_no: str, *, qty: int | None = None, account: str | None = None
    ) -> dict[str, Any]:
        """Cancel an open order (or ``qty`` of it)."""
        body: dict[str, Any] = {"account": self._order_account(order_no, account)}
        if qty is not None:
            body["qty"] = qty
        return self._post(f"/api/orders/{order_no}/cancel", body)


def find(name: str, *, folder: Path | None = None) -> tuple[Client | None, str]:
    """The running session called ``name``, or ``None``; and a note to show (a stale socket
    that was removed), else ``""``."""
    path = socket_path(name, folder)
    note = remove_if_stale(path)
    if not path.exists():
        return None, note
    return Client(path), note


def connect(profile: str | None = None, *, config: Path | None = None) -> Client:
    """The running session of ``profile`` (default: as the configuration names it: the
    profile, else the broker), or a :class:`~jango.service.ServiceError` if none runs."""
    from jango.build import session_name
    from jango.config import load_settings

    settings = load_settings(config)
    if profile is not None:
        settings["profile"] = profile
    name = session_name(settings)
    client, note = find(name)
    if client is None:
        extra = f" ({note})" if note else ""
        raise ServiceError(f"no session {name!r} is running: start one with jango run{extra}")
    return client
