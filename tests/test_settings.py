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
