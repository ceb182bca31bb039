"""The settings loader: every value checked when loaded, files that cannot be used refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jango.config import SETTINGS, ConfigError, check, load_settings, prepare_data_dir

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def write(tmp_path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    path.chmod(mode)
    return path


def load(path: Path, **env: str) -> dict[str, str]:
    return load_settings(path, env=env)


@pytest.mark.parametrize(
    ("toml", "named", "allowed"),
    [
        ('lang = "fr"', "setting lang = 'fr'", "must be one of ko, en"),
        ('pnl = "bogus"', "setting pnl = 'bogus'", "must be one of gross, net"),
        ('broker = "nope"', "setting broker", "must be one of sim, kis, cybos"),
        ('seed = "abc"', "setting seed = 'abc'", "whole number"),
        ("seed = 1.5", "setting seed = '1.5'", "whole number"),
        ("seed = 99999999999999999999", "setting seed", "whole number"),
        ('profile = "../escape"', "setting profile = '../escape'", "plain name"),
        ('profile = ""', "setting profile = ''", "plain name"),
        ('journal = "maybe"', "setting journal", "true or false"),
        ('commission_percent = "abc"', "setting commission_percent", "percentage from 0 to 5"),
        ('commission_percent = "6"', "setting commission_percent", "percentage from 0 to 5"),
        ('commission_percent = "0.00000001"', "commission_percent", "at most 7 decimal places"),
        ('commission_percent = "-0.1"', "setting commission_percent", "percentage"),
        ("commission_unit = 0", "setting commission_unit = '0'", "from 1 to 1,000,000"),
        ("tax_unit = -1", "setting tax_unit", "from 1 to 1,000,000"),
        ('[sim]\ntick_interval = "fast"', "setting sim.tick_interval = 'fast'", "above 0"),
        ("[sim]\ntick_interval = 0", "setting sim.tick_interval", "seconds above 0"),
        ("[sim]\ntick_interval = nan", "setting sim.tick_interval = 'nan'", "seconds above 0"),
        ("[sim]\ntick_interval = inf", "setting sim.tick_interval = 'inf'", "seconds above 0"),
        ("[sim]\ndemo = 1", "setting sim.demo = '1'", "true or false"),
        ('[kis]\nmode = "live"', "setting kis.mode", "must be one of real, paper"),
        ('[cybos]\nemulator = "yes"', "setting cybos.emulator", "true or false"),
    ],
)
def test_a_bad_value_in_the_file_is_refused_naming_setting_file_and_what_is_allowed(
    tmp_path: Path, toml: str, named: str, allowed: str
) -> None:
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert named in message and allowed in message and str(path) in message
    assert "\n" not in message


def test_good_values_load_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'lang = "en"\npnl = "net"\nseed = 7\ncommission_percent = 0.0140527\n'
        "commission_unit = 1\njournal = false\n[sim]\ntick_interval = 0.01\ndemo = true\n",
    )
    assert load(path) == {
        "lang": "en",
        "pnl": "net",
        "seed": "7",
        "commission_percent": "0.0140527",
        "commission_unit": "1",
        "journal": "false",
        "sim.tick_interval": "0.01",
        "sim.demo": "true",
    }


def test_environment_values_are_checked_and_named_by_variable(tmp_path: Path) -> None:
    path = write(tmp_path, 'lang = "ko"\n')
    assert load(path, JANGO_LANG="en", JANGO_SIM_TICK_INTERVAL="0.2") == {
        "lang": "en",
        "sim.tick_interval": "0.2",
    }
    with pytest.raises(ConfigError, match=r"setting lang = 'fr' \(from \$JANGO_LANG\)"):
        load(path, JANGO_LANG="fr")
    with pytest.raises(ConfigError, match=r"sim.tick_interval = 'nan' \(from \$JANGO_SIM_"):
        load(path, JANGO_SIM_TICK_INTERVAL="nan")


def test_an_unknown_setting_is_kept_but_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, 'lnag = "en"\n')
    assert load(path) == {"lnag": "en"}
    assert "unknown setting 'lnag'" in caplog.text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'lang = "\xff"\n', "is not UTF-8 text: byte 0xff on line 1"),
        (b'lang = "en"\n\nseed = \xc3\n', "byte 0xc3 on line 3"),
        (b"lang = \n", "is not valid TOML"),
        (b"seed = " + b"9" * 5_000 + b"\n", "too large or too deeply nested"),
        (b"a = " + b"[" * 5_000 + b"]" * 5_000 + b"\n", "too large or too deeply nested"),
    ],
)
def test_a_file_that_is_not_utf8_toml_is_one_clear_error(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_where_the_config_should_be_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load(tmp_path)


def test_a_missing_explicit_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "none.toml")


def test_dev_null_is_an_empty_config_but_a_fifo_is_refused(tmp_path: Path) -> None:
    assert load(Path("/dev/null")) == {}
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigError, match="not a regular file"):
        load(tmp_path / "fifo")


def test_an_endless_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="larger than 1,048,576 bytes"):
        load(Path("/dev/zero"))


@pytest.mark.skipif(ROOT_USER, reason="root reads files whatever their mode")
def test_an_unreadable_config_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'lang = "en"\n', mode=0o000)
    with pytest.raises(ConfigError, match=r"cannot read config .*Permission denied"):
        load(path)


def test_a_file_with_secrets_must_be_private(tmp_path: Path) -> None:
    path = write(tmp_path, '[kis]\napp_key = "k"\n', mode=0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load(path)
    path.chmod(0o600)
    assert load(path) == {"kis.app_key": "k"}


FREE_TEXT = {"web.token", *(f"kis.{k}" for k in ("app_key", "app_secret", "account", "hts_id"))}
FREE_TEXT |= {"kis.rest_url", "kis.ws_url", "kis.token_cache", "kis.file"}


def test_every_setting_but_free_text_refuses_garbage_saying_what_is_allowed() -> None:
    for name in SETTINGS.keys() - FREE_TEXT:
        with pytest.raises(ConfigError) as caught:
            check(name, "\x00bad value\x00")
        assert str(caught.value).startswith(f"setting {name} = ")
        assert ": must be" in str(caught.value)
    for name in FREE_TEXT:
        assert check(name, "anything at all") == "anything at all"


def test_the_data_dir_is_created_and_proven_writable(tmp_path: Path) -> None:
    assert prepare_data_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_a_file_where_the_data_dir_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a folder"):
        prepare_data_dir(tmp_path / "file")
    with pytest.raises(ConfigError, match=r"cannot create data dir .*Not a directory"):
        prepare_data_dir(tmp_path / "file" / "sub")


def test_a_data_dir_nobody_may_write_is_refused() -> None:
    # /proc refuses new files even to root, so this fault holds however the tests run.
    with pytest.raises(ConfigError, match="data dir /proc/self is not writable"):
        prepare_data_dir(Path("/proc/self"))
