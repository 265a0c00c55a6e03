import pytest

from precursor_watch.errors import ConfigError
from precursor_watch.settings import load_settings
from precursor_watch.steps import crawl_targets


def test_platforms_map_one_task_each_and_sharded_ones_one_per_shard(tmp_path):
    settings = load_settings(data_dir=str(tmp_path), environ={}, platforms="chemdir,mercado", crawl_shards="chemdir=2")
    assert crawl_targets(settings) == ["chemdir@1/2", "chemdir@2/2", "mercado"]


def test_bad_shard_setting_names_the_setting(tmp_path):
    settings = load_settings(data_dir=str(tmp_path), environ={}, crawl_shards="chemdir=two")
    with pytest.raises(ConfigError, match="crawl_shards"):
        crawl_targets(settings)
