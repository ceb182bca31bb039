"""Every command with bad arguments, settings, files and folders, run as a user runs it.

Each case is a real ``jango`` subprocess and must end with exactly one line on stderr naming
what was wrong (and what is allowed), no traceback, and exit 2. The cases run concurrently
(once per module) so the table stays quick; each is still reported as its own test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "seed_scenario.jsonl"
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Case:
    """One bad invocation: arguments, extra environment, and words the error must contain."""

    name: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    config: bytes | None = None  # written to {config}, mode 0600 unless public
    public: bool = False


def cases() -> list[Case]:
    d = "{dir}"
    bad = ("--no-demo",)
    return [
        # --- the command line itself
        Case("no command", (), ("required: command",)),
        Case("unknown command", ("bogus",), ("invalid choice: 'bogus'",)),
        Case("unknown flag", ("balance", "--bogus"), ("unrecognized arguments: --bogus",)),
        # --- replay
        Case("replay missing file", ("replay", f"{d}/none.jsonl"), ("No such file",)),
        Case("replay a folder", ("replay", d), ("is a folder",)),
        Case("replay bad format", ("replay", str(SAMPLE), "--format", "xml"), ("'xml'",)),
        Case("replay bad lang", ("replay", str(SAMPLE), "--lang", "fr"), ("'fr'", "'ko'")),
        # --- run
        Case("run seconds nan", ("run", "--seconds", "nan"), ("'nan'", "seconds from 0")),
        Case("run seconds inf", ("run", "--seconds", "inf"), ("'inf'", "seconds from 0")),
        Case("run seconds -1", ("run", "--seconds", "-1"), ("'-1'", "seconds from 0")),
        Case("run seconds abc", ("run", "--seconds", "abc"), ("'abc'",)),
        Case("run seed abc", ("run", "--seed", "abc"), ("--seed", "whole number")),
        Case("run seed huge", ("run", "--seed", "9" * 5000), ("--seed", "whole number")),
        Case("run lang fr", ("run", "--lang", "fr"), ("invalid choice: 'fr'",)),
        Case("run broker nope", ("run", "--broker", "nope"), ("'nope'", "'sim'")),
        Case("run profile escape", ("run", "--profile", "../escape"), ("plain name",)),
        Case("run profile slash", ("run", "--profile", "a/b"), ("plain name",)),
        Case("run profile empty", ("run", "--profile", ""), ("plain name",)),
        # --- balance, with settings from a file and the environment
        Case("config folder", ("--config", d, "balance"), ("is a folder",)),
        Case("config missing", ("--config", f"{d}/none.toml", "balance"), ("does not exist",)),
        bad_config("config not utf-8", b'lang = "\xe9"\n', "not UTF-8", "line 1"),
        bad_config("config not toml", b"lang = \n", "not valid TOML"),
        bad_config("config lang fr", b'lang = "fr"\n', "setting lang = 'fr'", "ko, en"),
        bad_config("config pnl bogus", b'pnl = "bogus"\n', "setting pnl", "gross, net"),
        bad_config("config seed abc", b'seed = "abc"\n', "setting seed", "whole number"),
        bad_config(
            "config commission abc",
            b'commission_percent = "abc"\n',
            "setting commission_percent",
            "percentage",
        ),
        bad_config("config unit zero", b"commission_unit = 0\n", "commission_unit", "from 1"),
        bad_config(
            "config tick fast",
            b'[sim]\ntick_interval = "fast"\n',
            "setting sim.tick_interval",
            "above 0",
        ),
        bad_config(
            "config journal window",
            b"[journal]\nwindow_ms = 0\n",
            "setting journal.window_ms",
            "milliseconds above 0",
        ),
        bad_config(
            "config journal ticks",
            b'[journal]\nticks = "some"\n',
            "setting journal.ticks",
            "all, latest, none",
        ),
        Case(
            "env journal durability",
            ("balance",),
            ("$JANGO_JOURNAL_DURABILITY", "window, every, batch"),
            {"JANGO_JOURNAL_DURABILITY": "never"},
        ),
        bad_config(
            "config profile escape", b'profile = "../escape"\n', "setting profile", "plain name"
        ),
        bad_config("config broker nope", b'broker = "nope"\n', "setting broker", "sim, kis"),
        bad_config("config secrets readable", b'[kis]\napp_key = "k"\n', "chmod 600", public=True),
        Case("env lang fr", ("balance",), ("$JANGO_LANG", "ko, en"), {"JANGO_LANG": "fr"}),
        Case(
            "env tick nan",
            ("balance",),
            ("$JANGO_SIM_TICK_INTERVAL", "above 0"),
            {"JANGO_SIM_TICK_INTERVAL": "nan"},
        ),
        Case("env seed", ("balance",), ("$JANGO_SEED",), {"JANGO_SEED": "1e3"}),
        Case(
            "kis file not utf-8",
            ("balance", "--broker", "kis"),
            ("not UTF-8",),
            {"JANGO_KIS_FILE": f"{d}/kis-latin.env"},
        ),
        Case(
            "kis file a folder",
            ("balance", "--broker", "kis"),
            ("not a regular file",),
            {"JANGO_KIS_FILE": d},
        ),
        # --- the data dir (faults root hits too: a file in its place, /proc)
        Case(
            "data dir is a file",
            ("balance", "--profile", "p", *bad),
            ("is not a folder",),
            {"JANGO_DATA_DIR": f"{d}/plain-file"},
        ),
        Case(
            "data dir under a file",
            ("balance", "--profile", "p", *bad),
            ("cannot create data dir", "Not a directory"),
            {"JANGO_DATA_DIR": f"{d}/plain-file/sub"},
        ),
        Case(
            "data dir not writable",
            ("balance", "--profile", "p", *bad),
            ("not writable",),
            {"JANGO_DATA_DIR": "/proc/self"},
        ),
        Case(
            "journal file is a folder",
            ("balance", "--profile", "folder", *bad),
            ("is not a file",),
            {"JANGO_DATA_DIR": f"{d}/data"},
        ),
        # --- export
        Case("export missing folder", ("export", f"{d}/none/out.xlsx", *bad), ("does not exist",)),
        Case("export into a folder", ("export", f"{d}/folder.csv", *bad), ("is a folder",)),
        Case("export bad suffix", ("export", f"{d}/out.txt", *bad), (".xlsx or .csv",)),
        Case("export seconds nan", ("export", f"{d}/out.csv", "--seconds", "nan"), ("'nan'",)),
        # --- order, amend, cancel
        Case("order bad code", ("order", "buy", "00593", "1", *bad), ("invalid stock code",)),
        Case("order qty zero", ("order", "buy", "005930", "0"), ("'0'", "from 1")),
        Case("order qty abc", ("order", "buy", "005930", "abc"), ("'abc'", "whole number")),
        Case("order qty huge", ("order", "buy", "005930", "9" * 5000), ("whole number",)),
        Case("order price zero", ("order", "buy", "005930", "1", "--price", "0"), ("from 1",)),
        Case("order bad side", ("order", "hold", "005930", "1"), ("'hold'", "'buy'")),
        Case("order bad type", ("order", "buy", "005930", "1", "--type", "x"), ("'x'",)),
        Case(
            "order loan date bad",
            ("order", "sell", "005930", "1", "--loan-date", "2026-13-01"),
            ("--loan-date", "YYYY-MM-DD"),
        ),
        Case(
            "order loan date year 1",
            ("order", "sell", "005930", "1", "--loan-date", "0001-01-01"),
            ("--loan-date", "from 1990 to 2100"),
        ),
        Case(
            "order loan date on cash",
            ("order", "sell", "005930", "1", "--loan-date", "2026-02-10", *bad),
            ("a cash order has none",),
        ),
        Case("order wait nan", ("order", "buy", "005930", "1", "--wait", "nan"), ("'nan'",)),
        Case(
            "order off the tick grid",
            ("order", "buy", "005930", "1", "--price", "70001", *bad),
            ("tick grid",),
        ),
        Case("amend no price", ("amend", "1"), ("--price",)),
        Case("amend qty -1", ("amend", "1", "--price", "100", "--qty", "-1"), ("'-1'",)),
        Case("amend no such order", ("amend", "9999", "--price", "70000", *bad), ("9999",)),
        Case("cancel qty abc", ("cancel", "1", "--qty", "abc"), ("'abc'",)),
        Case("cancel no such order", ("cancel", "9999", *bad), ("9999",)),
        # --- serve
        Case("serve port 99999", ("serve", "--port", "99999"), ("'99999'", "0 to 65,535")),
        Case("serve port -1", ("serve", "--port", "-1"), ("'-1'", "0 to 65,535")),
        Case("serve port abc", ("serve", "--port", "abc"), ("'abc'",)),
        Case("serve port in use", ("serve", "--port", "{busy_port}"), ("Address already in use",)),
        Case("serve seed abc", ("serve", "--seed", "abc"), ("whole number",)),
        # --- journal and why
        Case("journal profile escape", ("journal", "--profile", "../escape"), ("plain name",)),
        Case("journal path folder", ("journal", "--path", d), ("is a folder",)),
        Case("journal missing", ("journal", "--path", f"{d}/none.sqlite"), ("no journal",)),
        Case(
            "journal bad since", ("journal", "--path", f"{d}/none.sqlite", "--since", "x"), ("x",)
        ),
        Case("journal bad kind", ("journal", "--kind", "nope"), ("'nope'",)),
        Case("why bad code", ("why", "12", "--path", f"{d}/none.sqlite"), ("12",)),
        Case("why profile escape", ("why", "005930", "--profile", "../x"), ("plain name",)),
        # --- sandbox
        Case("sandbox which", ("sandbox", "nope"), ("'nope'", "'kis'")),
        Case("sandbox kis port", ("sandbox", "kis", "--port", "99999"), ("0 to 65,535",)),
        Case("sandbox kis flag", ("sandbox", "kis", "--bogus"), ("--bogus",)),
        Case(
            "sandbox kis port in use",
            ("sandbox", "kis", "--port", "{busy_port}"),
            ("Address already in use",),
        ),
        Case(
            "sandbox cybos missing script",
            ("sandbox", "cybos", f"{d}/none.py"),
            ("no such script",),
        ),
    ]


def bad_config(name: str, toml: bytes, *says: str, public: bool = False) -> Case:
    """``jango balance`` with a config file holding ``toml``."""
    return Case(name, ("--config", "{config}", "balance"), says, config=toml, public=public)


CASES = cases()


@dataclass(frozen=True)
class Ran:
    args: list[str]
    returncode: int
    stderr: str


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Ran]]:
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "plain-file").write_text("not a folder", encoding="utf-8")
    (folder / "kis-latin.env").write_bytes("JANGO_KIS_HTS_ID=한".encode("euc-kr"))
    (folder / "kis-latin.env").chmod(0o600)
    (folder / "folder.csv").mkdir()
    (folder / "data" / "folder.journal.sqlite").mkdir(parents=True)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    values = {"dir": str(folder), "busy_port": str(busy.getsockname()[1])}

    def run(case: Case) -> Ran:
        extra = {}
        if case.config is not None:
            path = folder / f"{case.name.replace(' ', '-')}.toml"
            path.write_bytes(case.config)
            path.chmod(0o644 if case.public else 0o600)
            extra["config"] = str(path)
        args = [a.format(**values, **extra) for a in case.args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("JANGO_")}
        env |= {"JANGO_DATA_DIR": str(folder / "data"), "XDG_CONFIG_HOME": str(folder)}
        env |= {k: v.format(**values) for k, v in case.env.items()}
        out = subprocess.run(
            [sys.executable, "-m", "jango.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
        )
        return Ran(args, out.returncode, out.stderr)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            yield dict(zip((c.name for c in CASES), pool.map(run, CASES), strict=True))
    finally:
        busy.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_gets_one_line_naming_it_and_exit_2(
    case: Case, results: dict[str, Ran]
) -> None:
    ran = results[case.name]
    assert "Traceback" not in ran.stderr, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, (ran.args, ran.stderr)
    assert ran.returncode == 2, (ran.args, ran.stderr)
    assert "error:" in lines[0]
    for words in case.says:
        assert words in lines[0], (words, lines[0])


def test_replay_of_a_non_utf8_file_reports_each_bad_line_and_reads_the_rest(
    tmp_path: Path,
) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    lines[3] = lines[3].replace("삼성전자".encode(), "삼성전자".encode("euc-kr"))
    lines.insert(5, b'{"type":"tick","name":"\xff\xfe"}')
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = subprocess.run(
        [sys.executable, "-m", "jango.cli", "replay", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "Traceback" not in out.stderr
    assert out.returncode == 1
    reported = out.stderr.strip().splitlines()
    assert reported[0].startswith(f"{path}:6: not valid UTF-8: byte 0xff")
    assert reported[-1] == f"{path}: {len(reported) - 1} bad line(s) skipped"
    assert '"accounts"' in out.stdout


@pytest.mark.skipif(ROOT_USER, reason="root reads and writes whatever the file mode says")
def test_unreadable_files_and_read_only_folders_are_refused(tmp_path: Path) -> None:
    unreadable = tmp_path / "secret.jsonl"
    unreadable.write_bytes(SAMPLE.read_bytes())
    unreadable.chmod(0o000)
    config_file = tmp_path / "c.toml"
    config_file.write_text('lang = "en"\n', encoding="utf-8")
    config_file.chmod(0o000)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    checks = [
        (["replay", str(unreadable)], {}, "Permission denied"),
        (["--config", str(config_file), "balance"], {}, "Permission denied"),
        (
            ["balance", "--profile", "p", "--no-demo"],
            {"JANGO_DATA_DIR": str(read_only)},
            "not writable",
        ),
        (["export", str(read_only / "out.csv"), "--no-demo"], {}, "not writable"),
    ]
    for args, env, says in checks:
        out = subprocess.run(
            [sys.executable, "-m", "jango.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, **env},
        )
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and says in lines[0], (args, out.stderr)
