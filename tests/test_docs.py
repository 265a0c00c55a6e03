"""The README is the truth: every setting is documented there with its variable and default."""

from pathlib import Path

from precursor_watch.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_readme():
    missing = [s.name for s in SETTINGS if f"| `{s.name}` | `PWATCH_{s.name.upper()}` | `{s.default}` |" not in README]
    assert missing == [], f"README.md lacks rows for settings: {missing}"


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README
