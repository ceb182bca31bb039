"""The ``[journal]`` settings reach the journal a session writes, and turn it off when asked."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jango.config import ConfigError, load_settings
from jango.journal.settings import JournalOptions, journaling_enabled


def _settings(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "jango.toml"
    path.write_text(text)
    return load_settings(path, env={})


def test_the_journal_table_sets_how_the_journal_writes(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        '[journal]\ndurability = "batch"\nwindow_ms = 5\nflush_ms = 200\nticks = "latest"\n'
        "max_queue = 1000\ncheckpoint_every = 50\n",
    )
    options = JournalOptions.from_settings(settings)
    assert options == JournalOptions("batch", 5.0, 200.0, "latest", 1000, 50)
    journal = options.open(tmp_path / "j.sqlite")
    try:
        assert (journal.durability, journal.window_ms, journal.ticks) == ("batch", 5.0, "latest")
        assert (journal.flush_ms, journal.max_queue, journal.checkpoint_every) == (200, 1000, 50)
    finally:
        journal.close()


def test_no_journal_settings_keep_the_journals_own_defaults(tmp_path: Path) -> None:
    journal = JournalOptions.from_settings({}).open(tmp_path / "j.sqlite")
    try:
        assert (journal.durability, journal.window_ms, journal.ticks) == ("window", 20, "all")
    finally:
        journal.close()


def test_the_environment_names_journal_settings_too(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    settings = load_settings(
        tmp_path / "empty.toml",
        env={"JANGO_JOURNAL_WINDOW_MS": "2.5", "JANGO_JOURNAL_TICKS": "none"},
    )
    assert JournalOptions.from_settings(settings).window_ms == 2.5
    assert JournalOptions.from_settings(settings).ticks == "none"


@pytest.mark.parametrize(
    ("text", "enabled"),
    [
        ("", True),
        ("journal = false\n", False),
        ("[journal]\nenabled = false\n", False),
        ("[journal]\nenabled = true\nwindow_ms = 10\n", True),
    ],
)
def test_journaling_is_on_unless_switched_off(tmp_path: Path, text: str, enabled: bool) -> None:
    assert journaling_enabled(_settings(tmp_path, text)) is enabled


def test_a_window_above_a_second_is_refused_when_loaded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"journal.window_ms.*above 0 to 1000"):
        _settings(tmp_path, "[journal]\nwindow_ms = 5000\n")


def _kinds(journal: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return dict(db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())


def test_a_run_told_to_journal_no_ticks_keeps_only_the_balance(tmp_path: Path) -> None:
    kinds = []
    for ticks in ("all", "none"):
        data = tmp_path / ticks
        env = {**os.environ, "JANGO_DATA_DIR": str(data), "JANGO_JOURNAL_TICKS": ticks}
        done = subprocess.run(
            [sys.executable, "-m", "jango.cli", "run", "--profile", "p", "--seconds", "1.5"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-500:]
        kinds.append(_kinds(data / "p.journal.sqlite"))
    everything, balance_only = kinds
    assert everything["tick"] > 0
    assert balance_only == {"snapshot": 1}
