"""The running session as a local service: one login, many windows.

Real processes on one private data dir: a ``jango run`` hosts the session, other commands and
``jango.connect()`` attach to its Unix socket instead of opening a broker session of their own.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

import jango
from jango.client import Client
from jango.service import ServiceError
from tests.service.helpers import Profile, stop, wait_until
from tests.views.test_terminal import Tmux


def cash_qty(screen: str, code: str) -> int | None:
    """The quantity cell of ``code``'s cash row on the terminal view (code name credit qty …)."""
    for line in screen.splitlines():
        cells = line.replace("│", " ").split()
        if cells[:1] == [code] and len(cells) > 3 and cells[2] == "현금":
            return int(cells[3].replace(",", ""))
    return None


def holdings(report: dict[str, object]) -> list[tuple[str, str, str, int]]:
    accounts = report["accounts"]
    assert isinstance(accounts, list)
    return [(a["account"], r["code"], r["credit"], r["qty"]) for a in accounts for r in a["rows"]]


def started(profile: Profile, *args: str) -> subprocess.Popen[str]:
    """A headless ``jango run`` whose socket is up."""
    proc = profile.start("run", "--format", "json", "--seconds", "120", *args)
    wait_until(lambda: profile.socket().exists() or proc.poll() is not None, "the session's socket")
    assert proc.poll() is None, stop(proc)
    return proc


def test_an_order_from_a_second_terminal_shows_in_the_running_view(
    profile: Profile, tmux: Tmux
) -> None:
    run = shlex.join(profile.command("run", "--seed", "4", "--no-demo"))
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in profile.env.items())
    tmux.run("new-session", "-d", "-x", "220", "-y", "50", "-s", "jango", f"env -i {exports} {run}")
    wait_until(lambda: cash_qty(tmux.screen(), "005930") is not None, "the holdings")
    before = cash_qty(tmux.screen(), "005930")
    assert before is not None and profile.socket().exists()

    done = profile.jango("order", "buy", "005930", "5", "--wait", "20")

    assert done.returncode == 0, done.stderr
    assert "filled" in done.stdout, done.stdout
    order_no = done.stdout.split()[1]
    # The running view traded it: the same market, the same book, on screen.
    wait_until(lambda: cash_qty(tmux.screen(), "005930") == before + 5, "the view to show it")
    with Client(profile.socket()) as live:
        order = live.order(order_no)
        # Its first order: had `jango order` opened a market of its own, this book would not
        # know the order, and the venue of this session would have numbered another one first.
        assert (order["status"], order["filled"], order["order_no"]) == ("filled", 5, order_no)
        assert live.status()["command"] == "run"
    tmux.keys("q")
    wait_until(lambda: not profile.socket().exists(), "the socket to be removed on exit")


def test_balance_export_and_status_attach_and_a_second_run_is_refused(
    profile: Profile, tmp_path: Path
) -> None:
    proc = started(profile, "--seed", "5", "--no-demo")
    try:
        with Client(profile.socket()) as live:
            book = live.book()
        balance = profile.jango("balance", "--format", "json")
        assert balance.returncode == 0, balance.stderr
        printed = json.loads(balance.stdout)
        # The same session's rows (prices move between the two reads; holdings do not).
        assert holdings(printed) == holdings(book.report) != []

        xlsx = tmp_path / "book.xlsx"
        exported = profile.jango("export", str(xlsx))
        assert exported.returncode == 0 and xlsx.stat().st_size > 0, exported.stderr

        status = profile.jango("status")
        assert status.returncode == 0, status.stderr
        assert f"sim: jango run (pid {proc.pid})" in status.stdout
        assert "sim    up" in status.stdout

        second = profile.jango("run", "--seconds", "1", "--format", "json")
        assert second.returncode == 2
        assert "a session is already running on sim" in second.stderr
        assert second.stderr.count("\n") == 1
    finally:
        _, err = stop(proc)
    assert "Traceback" not in err, err
    assert not profile.socket().exists()


def test_a_socket_left_by_a_killed_session_is_removed_with_a_message(profile: Profile) -> None:
    proc = started(profile, "--no-demo")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert profile.socket().exists()

    status = profile.jango("status")

    assert status.returncode == 0
    assert f"removed stale socket {profile.socket()}" in status.stderr
    assert "no session is running" in status.stdout
    assert not profile.socket().exists()
    # And a new session starts in its place.
    proc = started(profile, "--no-demo")
    stop(proc)


SYSTEM_PYTHON = "/usr/bin/python3"  # one another user may run


def test_the_socket_is_private_and_refuses_another_user(profile: Profile) -> None:
    proc = started(profile, "--no-demo")
    try:
        info = profile.socket().lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.getuid()
        if os.getuid() == 0 and os.path.exists(SYSTEM_PYTHON):
            # Another user (nobody) cannot connect: the file system refuses it.
            probe = (
                "import socket,sys\n"
                "s=socket.socket(socket.AF_UNIX)\n"
                "try: s.connect(sys.argv[1])\n"
                "except PermissionError: print('refused')\n"
                "else: print('connected')\n"
            )
            other = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 SYSTEM_PYTHON, "-c", probe, str(profile.socket())],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
            assert other.stdout.strip() == "refused", other.stderr
        # A client refuses a socket others could reach (someone could answer in its place).
        os.chmod(profile.socket(), 0o666)
        with pytest.raises(ServiceError, match="open to others"):
            Client(profile.socket())
        refused = profile.jango("balance")
        assert refused.returncode == 2
        assert "open to others (mode 666)" in refused.stderr
        os.chmod(profile.socket(), 0o600)
    finally:
        stop(proc)


def request(
    path: Path,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    """One raw HTTP request over the socket, as curl --unix-socket would send it."""
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(str(path))
    conn.request(method, url, body=body, headers=headers or {})
    reply = conn.getresponse()
    data = json.loads(reply.read())
    conn.close()
    return reply.status, data


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = [
    ("GET", "/api/report?format=xml", None, {}, 400, "bad_format"),
    ("GET", "/api/export?format=pdf", None, {}, 400, "bad_format"),
    ("GET", "/api/notices?after=-1", None, {}, 400, "whole_number"),
    ("GET", "/api/orders/9999999", None, {}, 404, "no_such_order_here"),
    ("GET", "/api/quote?code=12", None, {}, 400, "bad_code"),
    ("POST", "/api/orders", b"side=buy", {"Content-Type": "text/plain"}, 415, "json_only"),
    ("POST", "/api/orders", b"{", JSON, 400, "not_json"),
    ("POST", "/api/orders", b"[]", JSON, 400, "not_object"),
    ("POST", "/api/orders", b'{"account":"zz","side":"buy","code":"005930","qty":1}', JSON,
     400, "unknown_account"),
    ("POST", "/api/orders", b'{"account":"a0","side":"hold","code":"005930","qty":1}', JSON,
     400, "bad_side"),
    ("POST", "/api/orders", b'{"account":"a0","side":"buy","code":"005930","qty":0}', JSON,
     400, "at_least"),
    ("POST", "/api/orders",
     b'{"account":"a0","side":"buy","code":"005930","qty":1,"credit":"x"}', JSON,
     400, "bad_credit"),
    ("POST", "/api/orders",
     b'{"account":"a0","side":"buy","code":"005930","qty":1,"condition":"gtc"}', JSON,
     400, "bad_condition"),
    ("POST", "/api/orders/0000000077/cancel", b'{"account":"a0"}', JSON, 404, "no_such_order"),
]  # fmt: skip


def test_the_api_refuses_each_bad_request_with_one_clear_error(profile: Profile) -> None:
    proc = started(profile, "--no-demo")
    try:
        request(profile.socket(), "GET", "/api/accounts")  # assigns a0
        for method, url, body, headers, status, key in BAD_REQUESTS:
            got, answer = request(profile.socket(), method, url, body, headers)
            assert (got, answer["error_code"]) == (status, key), (url, body, answer)
            assert isinstance(answer["error"], str) and "\n" not in answer["error"]
    finally:
        stop(proc)


def test_a_notebook_reads_the_live_book_without_a_second_login(
    profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = started(profile, "--seed", "6", "--no-demo")
    monkeypatch.setenv("JANGO_DATA_DIR", str(profile.folder))
    monkeypatch.setenv("JANGO_CONFIG", os.devnull)
    try:
        with jango.connect() as live:
            book = live.book()
            rows = book.records("rows")
            assert rows and {r["broker"] for r in rows} == {"sim"}
            (account,) = book.accounts
            overall = book.totals["overall"]
            assert overall["value"] == sum(r["value"] for r in rows)
            stream = Client(profile.socket())
            changes = stream.changes()
            assert "status" in next(changes)  # attached: the stream opens with the status
            ack = live.place(side="buy", code=rows[0]["code"], qty=2, order_type="market")
            # The change sets name the order (merged if the reader is slow, never dropped).
            for change in changes:
                if ack["order_no"] in change["orders"]:
                    break
            stream.close()
            wait_until(lambda: live.order(ack["order_no"])["status"] == "filled", "the fill")
            notices = live.notices(order_no=ack["order_no"])
            kinds = [n["kind"] for n in notices]
            assert kinds[0] == "accepted" and set(kinds[1:]) == {"filled"}
            assert live.book().records("accounts")[0]["account"] == account
    finally:
        stop(proc)
    with pytest.raises(ServiceError, match="no session 'sim' is running"):
        jango.connect()


def test_frames_come_from_the_optional_libraries(profile: Profile) -> None:
    pandas = pytest.importorskip("pandas")
    proc = started(profile, "--no-demo")
    try:
        with Client(profile.socket()) as live:
            frame = live.book().to_frame()
        assert isinstance(frame, pandas.DataFrame) and len(frame) > 0
    finally:
        stop(proc)


def test_amend_and_cancel_from_another_terminal_act_on_the_running_book(
    profile: Profile,
) -> None:
    proc = started(profile, "--seed", "7", "--no-demo")
    try:
        with Client(profile.socket()) as live:
            lower = live.quote("005930")["lower"]
            placed = profile.jango(
                "order", "buy", "005930", "2", "--price", str(lower), "--wait", "1"
            )
            assert placed.returncode == 0, placed.stderr
            first = placed.stdout.split()[1]
            assert live.order(first)["status"] == "open"

            amended = profile.jango(
                "amend", first, "--price", str(lower), "--qty", "1", "--wait", "0.5"
            )
            assert amended.returncode == 0, amended.stderr
            second = amended.stdout.split()[1]
            wait_until(lambda: live.order(first)["status"] == "replaced", "the amend")
            assert (live.order(second)["qty"], live.order(second)["status"]) == (1, "open")

            cancelled = profile.jango("cancel", second, "--wait", "0.5")
            assert cancelled.returncode == 0, cancelled.stderr
            wait_until(lambda: live.order(second)["status"] == "cancelled", "the cancel")
            assert live.book().records("orders") == []

            missing = profile.jango("cancel", "0000009999")
            assert missing.returncode == 2
            assert missing.stderr.startswith("jango: error: ") and "0000009999" in missing.stderr
    finally:
        stop(proc)


def test_sigterm_ends_a_headless_run_cleanly_and_removes_its_socket(profile: Profile) -> None:
    proc = started(profile, "--no-demo")
    with Client(profile.socket()) as live:
        live.status()  # serving
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["accounts"]  # the final book, as at the end of --seconds
    assert not profile.socket().exists()
