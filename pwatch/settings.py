"""One settings object, each setting declared exactly once, typed and range-checked.

`Settings` is a pydantic-settings model; its sources, later winning: declared default <
`pwatch.toml` < environment `PWATCH_<NAME>` < command-line options. `pwatch.toml` is read from the
data dir, then from the current directory. Every value is validated against its field where it
comes from, so an error names the setting and its origin in one line. README.md documents every
setting in `SETTINGS`; `tests/test_docs.py` checks that it does.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import TomlConfigSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from precursor_watch.errors import ConfigError
from precursor_watch.platforms import PLATFORMS


def _check(problem: Callable[[Any], str | None]) -> AfterValidator:
    def check(value: Any) -> Any:
        message = problem(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _at_least(low: int) -> AfterValidator:
    return _check(lambda value: None if value >= low else f"must be at least {low}, got {value}")


def _bool(value: Any) -> Any:
    """Environment spellings of a switch; an empty variable is off."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    return value


def _console_url(value: Any) -> str:
    """Empty, or the console's http(s) base URL (no query or fragment), kept without its final '/'."""
    from urllib.parse import urlsplit

    text = str(value).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"expected an http(s) base URL like http://127.0.0.1:8471, got {value!r}")
    return text.rstrip("/")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return text


def _database_url(value: Any) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = str(value).strip()
    if text:
        try:
            make_url(text)
        except (ArgumentError, ValueError):
            raise ValueError("not a database URL (expected dialect+driver://user@host/db)") from None
    return text


def _host_prefix(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    return f"expected three dotted numbers such as 127.0.0, got {value!r}"


DISCOVERY_MODES = ("full", "search")


def _discovery(value: str) -> str | None:
    return None if value in DISCOVERY_MODES else f"expected one of {', '.join(DISCOVERY_MODES)}, got {value!r}"


Count = Annotated[int, _at_least(1)]
Share = Annotated[float, _check(lambda v: None if 0.0 <= v <= 1.0 else f"must lie between 0 and 1, got {v}")]
Positive = Annotated[float, _check(lambda v: None if v > 0 else f"must be greater than 0, got {v}")]
Port = Annotated[int, _check(lambda v: None if 0 <= v <= 65535 else f"must be a TCP port from 0 to 65535, got {v}")]
Switch = Annotated[bool, BeforeValidator(_bool)]


class Settings(BaseSettings):
    """Resolved settings (frozen); `load_settings` builds it from its sources."""

    model_config = SettingsConfigDict(env_prefix="PWATCH_", case_sensitive=False, extra="forbid", frozen=True)

    data_dir: str = Field("var", description="Folder for the tracking database, evidence, reports and fixture state.")
    database_url: Annotated[str, BeforeValidator(_database_url)] = Field(
        "", description="SQLAlchemy URL of the tracking database; empty = SQLite file `<data_dir>/pwatch.db`."
    )
    seed: int = Field(7, description="Seed of the simulated marketplace world.")
    world_start: dt.date = Field(dt.date(2026, 11, 1), description="First day of the simulated world (ISO date).")
    world_days: Count = Field(30, description="Number of days the simulated world runs.")
    scale: Count = Field(1000, description="Number of listings in the simulated world, over all platforms.")
    relevant_share: Share = Field(
        1.0,
        description="Share of the simulated listings that mention a monitored or watched substance; "
        "the rest are ordinary products (1.0 = the demo world).",
    )
    fixture_host_prefix: Annotated[str, _check(_host_prefix)] = Field(
        "127.0.0", description="Loopback /24 the fixture platforms bind to: platform i listens on `<prefix>.<11+i>`."
    )
    fixture_port: Port = Field(8470, description="TCP port every fixture platform listens on (0 = pick a free one).")
    faults: str = Field("none", description="Fault profile of the fixture world: `none`, `flaky` or `hostile`.")
    platforms: str = Field(",".join(PLATFORMS), description="Comma-separated platforms the daily run crawls.")
    embedded_world: Switch = Field(
        True,
        description="The daily run moves the embedded fixture world to each logical date (off for real marketplaces).",
    )
    daily_schedule: str = Field(
        "@daily", description="Schedule of the `pwatch_daily` DAG (cron or preset); empty = triggered runs only."
    )
    crawl_discovery: Annotated[str, _check(_discovery)] = Field(
        "full",
        description="How a daily crawl finds listings: `full` (every index page and sitemap) or `search` "
        "(site search from the lexicon, flagged sellers' pages, conditional revisits; `pwatch_sweep` "
        "runs the full crawl weekly).",
    )
    sweep_schedule: str = Field(
        "@weekly", description="Schedule of the `pwatch_sweep` DAG (full-catalogue crawl); empty = triggered only."
    )
    crawl_shards: str = Field(
        "", description="Platforms whose daily crawl is split over several workers, e.g. `chemdir=2,mercado=3`."
    )
    absence_k: Count = Field(
        2, description="Consecutive healthy crawls a listing must be missing before it counts as removed."
    )
    platform_files_dir: str = Field(
        "", description="Directory of platform files (NAME.toml); empty = the packaged crawlers/platforms."
    )
    crawl_error_threshold: Share = Field(
        0.2,
        description="Share of failed fetches (or of listing pages without a required field: layout drift) above "
        "which a crawl is unhealthy and never counts toward absence.",
    )
    auto_confirm: Switch = Field(
        False, description="Confirm every flag without analyst review (demo only; `pwatch run` turns it on)."
    )
    notice_overdue_days: Count = Field(7, description="Days after which a notice without verified removal is overdue.")
    notice_deadline_seconds: Positive = Field(
        30.0, description="Whole-request deadline of one notice POST (connect, send, answer), seconds."
    )
    notice_answer_max_bytes: Annotated[int, _at_least(1024)] = Field(
        65536, description="Largest notice answer read from a platform; a longer one fails that notice."
    )
    notifier_name: str = Field(
        "Precursor Watch (demo)", description="Notifier named in takedown notices (DSA Art. 16(2)(c))."
    )
    notifier_email: str = Field(
        "notices@example.invalid", description="Notifier e-mail given in takedown notices (DSA Art. 16(2)(c))."
    )
    model_dir: str = Field(
        "", description="Trained spaCy detector directory; empty = `<data_dir>/model` (trained on first use)."
    )
    ledger_key_file: str = Field(
        "",
        description="Ed25519 private key (PEM) that signs the ledger's tree heads and audit "
        "manifests; empty = `<data_dir>/ledger/signing_key.pem` (`pwatch keys init`).",
    )
    console_secret: str = Field(
        "",
        description="Key that signs the review console's session cookies; required to bind "
        "`pwatch console` to anything but loopback (no default: empty = a random key per "
        "process on loopback).",
    )
    console_url: Annotated[str, BeforeValidator(_console_url)] = Field(
        "",
        description="Base URL of the review console as analysts reach it (e.g. http://127.0.0.1:8471): "
        "daily reports link each flag to its case page and evidence pack, the Airflow UI links to it; "
        "empty = no links.",
    )
    log_level: Annotated[str, BeforeValidator(_log_level)] = Field(
        "INFO", description="Logging level of commands and crawls (DEBUG also shows tracebacks)."
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` reads and checks every source itself (to name a bad value's origin) and
        # passes the merged values in; the model must not read the process environment again.
        return (init_settings,)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path.resolve() / 'pwatch.db'}"

    @property
    def model_path(self) -> Path:
        return Path(self.model_dir) if self.model_dir else self.data_path / "model"

    def with_overrides(self, **overrides: Any) -> Settings:
        """Command-line values (None = not given) over these settings."""
        given = {name: _coerce(name, raw, "option") for name, raw in overrides.items() if raw is not None}
        return self.model_copy(update=given)


class Setting(NamedTuple):
    """One setting as README.md documents it."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name, info.default, info.description or "") for name, info in Settings.model_fields.items()
)
_FIELDS: dict[str, FieldInfo] = dict(Settings.model_fields)


def _adapter(name: str, info: FieldInfo) -> TypeAdapter[Any]:
    """A validator of one setting's type with its constraints (pydantic keeps them as metadata)."""
    if info.annotation is None:  # FieldInfo allows it; every Settings field has a type
        raise TypeError(f"setting {name} has no type annotation")
    if info.metadata:
        # a valid type form built at runtime, which mypy cannot check statically
        return TypeAdapter(Annotated[info.annotation, *info.metadata])  # type: ignore[arg-type]
    return TypeAdapter(info.annotation)


_ADAPTERS = {name: _adapter(name, info) for name, info in _FIELDS.items()}


def _coerce(name: str, raw: Any, origin: str) -> Any:
    """`raw` validated as setting `name`; a bad value is a ConfigError naming setting and origin.

    Text (environment, options, quoted TOML) is parsed; typed TOML values must have the setting's
    type (`absence_k = true` is not a count), except that a whole number is a valid float."""
    strict = not isinstance(raw, str) and not (_FIELDS[name].annotation is float and type(raw) is int)
    strict = strict and name not in ("log_level", "database_url", "console_url", "auto_confirm", "embedded_world")
    try:
        return _ADAPTERS[name].validate_python(raw, strict=strict)
    except ValidationError as exc:
        problem = exc.errors()[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] != "value_error":
            message = f"{message}, got {raw!r}"
        raise ConfigError(f"setting {name} from {origin}: {message}") from None


class _Environ(EnvSettingsSource):
    """`PWATCH_<NAME>` variables from a given mapping (the process environment by default)."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    def variables(self) -> dict[str, tuple[str, Any]]:
        """setting name -> (variable name, raw text) for every variable set."""
        found = {}
        for name, info in _FIELDS.items():
            raw, _key, _complex = self.get_field_value(info, name)
            if raw is not None:
                found[name] = (f"PWATCH_{name.upper()}", raw)
        return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = TomlConfigSettingsSource(Settings, toml_file=path)()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    return data


def load_settings(data_dir: str | None = None, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve every setting; `data_dir` and `overrides` are command-line values (None = unset)."""
    env = _Environ(os.environ if environ is None else environ).variables()
    values: dict[str, Any] = {}
    chosen_dir = data_dir or (env["data_dir"][1] if "data_dir" in env else _FIELDS["data_dir"].default)
    for candidate in (Path(chosen_dir) / "pwatch.toml", Path("pwatch.toml")):
        if candidate.is_file():
            for name, raw in _read_toml(candidate).items():
                values[name] = _coerce(name, raw, str(candidate))
            break
    for name, (key, raw) in env.items():
        values[name] = _coerce(name, raw, f"environment {key}")
    if data_dir:
        values["data_dir"] = data_dir
    _check_data_dir(Path(values.get("data_dir", _FIELDS["data_dir"].default)))
    return Settings(**values).with_overrides(**overrides)


def _check_data_dir(path: Path) -> None:
    """A data dir that exists must be a folder (a file given as `--data-dir` is a typo)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data dir {path} is not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"data dir {path}: {parent} is not a folder")
            break
