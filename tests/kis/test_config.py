from pathlib import Path

import pytest

from jango.brokers.kis import KisConfig, KisConfigError

ENV = {
    "JANGO_KIS_APP_KEY": "K" * 36,
    "JANGO_KIS_APP_SECRET": "S" * 180,
    "JANGO_KIS_ACCOUNT": "50123456-01",
    "JANGO_KIS_HTS_ID": "trader1",
}


def test_environment_gives_a_config_with_a_normalised_account_and_real_defaults() -> None:
    config = KisConfig.from_env(ENV)
    assert config.account == "5012345601"
    assert (config.cano, config.product_code) == ("50123456", "01")
    assert config.rest_url == "https://openapi.koreainvestment.com:9443"
    assert config.ws_url == "ws://ops.koreainvestment.com:21000"


def test_paper_mode_points_at_the_paper_servers() -> None:
    config = KisConfig.from_env({**ENV, "JANGO_KIS_MODE": "paper"})
    assert config.paper
    assert "openapivts" in config.rest_url
    assert config.ws_url.endswith(":31000")


def test_missing_settings_are_named() -> None:
    with pytest.raises(KisConfigError, match=r"JANGO_KIS_APP_SECRET.*JANGO_KIS_HTS_ID"):
        KisConfig.from_env({"JANGO_KIS_APP_KEY": "k", "JANGO_KIS_ACCOUNT": "5012345601"})


def test_secrets_never_appear_in_repr_and_the_account_error_is_masked() -> None:
    config = KisConfig.from_env(ENV)
    assert "K" * 36 not in repr(config)
    assert "S" * 180 not in repr(config)
    with pytest.raises(KisConfigError) as caught:
        KisConfig.from_env({**ENV, "JANGO_KIS_ACCOUNT": "123456789"})
    assert "123456789" not in str(caught.value)


def test_a_settings_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "kis.env"
    file.write_text("\n".join(f"{k}={v}" for k, v in ENV.items()))
    file.chmod(0o644)
    with pytest.raises(KisConfigError, match="chmod 600"):
        KisConfig.from_env({}, file)


def test_a_private_settings_file_is_read_and_the_environment_overrides_it(tmp_path: Path) -> None:
    file = tmp_path / "kis.env"
    file.write_text("# KIS\n" + "\n".join(f"{k}={v}" for k, v in ENV.items()))
    file.chmod(0o600)
    config = KisConfig.from_env({"JANGO_KIS_HTS_ID": "other"}, file)
    assert config.hts_id == "other"
    assert config.account == "5012345601"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(KisConfigError, match="real' or 'paper"):
        KisConfig.from_env({**ENV, "JANGO_KIS_MODE": "live"})
