"""One settings object, each setting declared exactly once.

Precedence (later wins): declared default < `pwatch.toml` < environment `PWATCH_<NAME>` <
command-line options. `pwatch.toml` is read from the data dir, then from the current directory.
README.md documents every setting in `SETTINGS`; `tests/test_docs.py` checks that it does.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from precursor_watch.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    check: Callable[[Any], str | None] = lambda _value: None  # a problem with the parsed value, or None


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _date(text: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    return dt.date.fromisoformat(str(text))


def _at_least(low: int) -> Callable[[Any], str | None]:
    return lambda value: None if value >= low else f"must be at least {low}, got {value}"


def _share(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else f"must lie between 0 and 1, got {value}"


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else f"must be a TCP port from 0 to 65535, got {value}"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    value = str(text).strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return value


def _database_url(text: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = str(text).strip()
    if value:
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("not a database URL (expected dialect+driver://user@host/db)") from None
    return value


def _host_prefix(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    return f"expected three dotted numbers such as 127.0.0, got {value!r}"


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "var", "Folder for the tracking database, evidence, reports and fixture state."),
    Setting("database_url", "", "SQLAlchemy URL of the tracking database; empty = SQLite file `<data_dir>/pwatch.db`.", _database_url),
    Setting("seed", 7, "Seed of the simulated marketplace world.", int),
    Setting("world_start", dt.date(2026, 11, 1), "First day of the simulated world (ISO date).", _date),
    Setting("world_days", 30, "Number of days the simulated world runs.", int, _at_least(1)),
    Setting("scale", 1000, "Number of listings in the simulated world, over all platforms.", int, _at_least(1)),
    Setting("fixture_host_prefix", "127.0.0", "Loopback /24 the fixture platforms bind to: platform i listens on `<prefix>.<11+i>`.", str, _host_prefix),
    Setting("fixture_port", 8470, "TCP port every fixture platform listens on (0 = pick a free one).", int, _port),
    Setting("faults", "none", "Fault profile of the fixture world: `none`, `flaky` or `hostile`.", str),
    Setting("platforms", "chemdir,tradehub,boardlist,huaxue,mercado", "Comma-separated platforms the daily run crawls.", str),
    Setting("embedded_world", True, "The daily run moves the embedded fixture world to each logical date (off for real marketplaces).", _bool),
    Setting("daily_schedule", "@daily", "Schedule of the `pwatch_daily` DAG (cron or preset); empty = triggered runs only.", str),
    Setting("crawl_shards", "", "Platforms whose daily crawl is split over several workers, e.g. `chemdir=2,mercado=3`.", str),
    Setting("absence_k", 2, "Consecutive healthy crawls a listing must be missing before it counts as removed.", int, _at_least(1)),
    Setting("crawl_error_threshold", 0.2, "Share of failed fetches above which a crawl is unhealthy and never counts toward absence.", float, _share),
    Setting("auto_confirm", False, "Confirm every flag without analyst review (demo only; `pwatch run` turns it on).", _bool),
    Setting("notice_overdue_days", 7, "Days after which a notice without verified removal is overdue.", int, _at_least(1)),
    Setting("notice_deadline_seconds", 30.0, "Whole-request deadline of one notice POST (connect, send, answer), seconds.", float, _positive),
    Setting("notice_answer_max_bytes", 65536, "Largest notice answer read from a platform; a longer one fails that notice.", int, _at_least(1024)),
    Setting("notifier_name", "Precursor Watch (demo)", "Notifier named in takedown notices (DSA Art. 16(2)(c)).", str),
    Setting("notifier_email", "notices@example.invalid", "Notifier e-mail given in takedown notices (DSA Art. 16(2)(c)).", str),
    Setting("model_dir", "", "Trained spaCy detector directory; empty = `<data_dir>/model` (trained on first use).", str),
    Setting("console_secret", "", "Key that signs the review console's session cookies; required to bind `pwatch console` to anything but loopback (no default: empty = a random key per process on loopback).", str),
    Setting("log_level", "INFO", "Logging level of commands and crawls (DEBUG also shows tracebacks).", _log_level),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class Settings:
    """Resolved settings; attribute access by setting name."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path.resolve() / 'pwatch.db'}"

    @property
    def model_path(self) -> Path:
        return Path(self.model_dir) if self.model_dir else self.data_path / "model"

    def with_overrides(self, **overrides: Any) -> "Settings":
        values = dict(self._values)
        for name, raw in overrides.items():
            if raw is not None:
                values[name] = _coerce(_BY_NAME[name], raw, "option")
        return Settings(values)


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    value = _parse(setting, raw, origin)
    problem = setting.check(value)
    if problem:
        raise ConfigError(f"setting {setting.name} from {origin}: {problem}")
    return value


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    if isinstance(raw, str) or setting.parse in (_date, _log_level, _database_url):
        try:
            return setting.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting {setting.name} from {origin}: {exc}") from None
    expected = type(setting.default)
    if expected is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, expected) or (isinstance(raw, bool) and expected is not bool):
        raise ConfigError(f"setting {setting.name} from {origin}: expected {expected.__name__}, got {raw!r}")
    return raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    return data


def load_settings(data_dir: str | None = None, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve every setting; `data_dir` and `overrides` are command-line values (None = unset)."""
    env = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    chosen_dir = data_dir or env.get("PWATCH_DATA_DIR") or values["data_dir"]
    for candidate in (Path(chosen_dir) / "pwatch.toml", Path("pwatch.toml")):
        if candidate.is_file():
            for name, raw in _read_toml(candidate).items():
                values[name] = _coerce(_BY_NAME[name], raw, str(candidate))
            break
    for setting in SETTINGS:
        key = f"PWATCH_{setting.name.upper()}"
        if key in env:
            values[setting.name] = _coerce(setting, env[key], f"environment {key}")
    if data_dir:
        values["data_dir"] = data_dir
    _check_data_dir(Path(values["data_dir"]))
    return Settings(values).with_overrides(**overrides)


def _check_data_dir(path: Path) -> None:
    """A data dir that exists must be a folder (a file given as `--data-dir` is a typo)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data dir {path} is not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"data dir {path}: {parent} is not a folder")
            break
