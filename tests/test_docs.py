"""The README is the truth: every setting is documented there with its variable and default."""

from pathlib import Path

from precursor_watch.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_readme():
    missing = [s.name for s in SETTINGS if f"| `{s.name}` | `PWATCH_{s.name.upper()}` | `{s.default}` |" not in README]
    assert missing == [], f"README.md lacks rows for settings: {missing}"


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README


def test_statistics_table_is_the_registry():
    """Each statistic's README row is the registry's (name, unit, definition, how computed), and the
    table names no statistic the registry lacks: a new or changed statistic needs README text."""
    from precursor_watch.storage.statistics import README_HEADER, STATISTICS, readme_row

    missing = [s.name for s in STATISTICS if readme_row(s) not in README]
    assert missing == [], f"README.md statistics table differs from storage/statistics.py for: {missing}"
    table = README.split(README_HEADER, 1)[1].split("\n\n", 1)[0].strip().splitlines()
    assert table == [readme_row(s) for s in STATISTICS]
