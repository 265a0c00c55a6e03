import datetime as dt

import pytest

from precursor_watch.errors import ConfigError
from precursor_watch.settings import load_settings


def test_defaults_then_toml_then_env_then_option(tmp_path):
    (tmp_path / "pwatch.toml").write_text('seed = 11\nscale = 50\nworld_start = "2026-01-02"\n')
    settings = load_settings(data_dir=str(tmp_path), environ={"PWATCH_SCALE": "70"}, seed=None)
    assert settings.seed == 11 and settings.scale == 70
    assert settings.world_start == dt.date(2026, 1, 2)
    assert load_settings(data_dir=str(tmp_path), environ={}, seed=99).seed == 99


def test_bad_values_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="PWATCH_SCALE"):
        load_settings(data_dir=str(tmp_path), environ={"PWATCH_SCALE": "many"})
    (tmp_path / "pwatch.toml").write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(data_dir=str(tmp_path), environ={})


def test_sqlite_default_lives_in_data_dir(tmp_path):
    settings = load_settings(data_dir=str(tmp_path), environ={})
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'pwatch.db'}"


def test_values_are_typed_and_range_checked(tmp_path):
    settings = load_settings(data_dir=str(tmp_path), environ={"PWATCH_CRAWL_ERROR_THRESHOLD": "0.5",
                                                              "PWATCH_AUTO_CONFIRM": "yes", "PWATCH_LOG_LEVEL": "debug"})
    assert settings.crawl_error_threshold == 0.5 and settings.auto_confirm is True and settings.log_level == "DEBUG"
    with pytest.raises(ConfigError, match=r"^setting fixture_port from environment PWATCH_FIXTURE_PORT: .*65535"):
        load_settings(data_dir=str(tmp_path), environ={"PWATCH_FIXTURE_PORT": "70000"})
    with pytest.raises(ConfigError, match=r"^setting scale from option: must be at least 1"):
        settings.with_overrides(scale=0)
    (tmp_path / "pwatch.toml").write_text("absence_k = true\n")  # a switch is not a count
    with pytest.raises(ConfigError, match=r"setting absence_k from .*pwatch.toml"):
        load_settings(data_dir=str(tmp_path), environ={})


def test_a_bare_scrapy_crawl_reads_the_same_settings(tmp_path):
    from precursor_watch.crawlers.args import SpiderArgumentError, default_base_url

    env = {"PWATCH_FIXTURE_HOST_PREFIX": "127.0.9", "PWATCH_FIXTURE_PORT": "9001", "PWATCH_DATA_DIR": str(tmp_path)}
    assert default_base_url("tradehub", env) == "http://127.0.9.12:9001"
    with pytest.raises(SpiderArgumentError, match="PWATCH_FIXTURE_PORT"):
        default_base_url("tradehub", {**env, "PWATCH_FIXTURE_PORT": "port"})
