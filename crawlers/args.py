"""Typed spider arguments: one validated model for `scrapy crawl NAME -a key=value` and `pwatch crawl`.

Scrapy hands spider arguments over as strings; `CrawlArgs.from_spider_kwargs` validates them once
so a typo (`-a date=2026-13-01`) stops the crawl at start with the argument named, instead of
failing somewhere in a callback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from precursor_watch.crawlers.discovery.conditional import is_entity_tag
from precursor_watch.crawlers.platform_file import PlatformFileError, load_platform, platform_names
from precursor_watch.platforms import FIXTURE_PLATFORMS, PLATFORMS, platform_base_url

__all__ = ["PLATFORMS", "CrawlArgs", "SpiderArgumentError", "default_base_url", "read_revisit_file"]


def pwatch_settings(environ: dict[str, str] | None = None):
    """The typed pwatch settings (same sources: `PWATCH_*`, `pwatch.toml`), for a bare `scrapy crawl`."""
    from precursor_watch.errors import ConfigError
    from precursor_watch.settings import load_settings

    try:
        return load_settings(environ=environ)
    except ConfigError as exc:
        raise SpiderArgumentError(str(exc)) from None


def default_base_url(platform: str, environ: dict[str, str] | None = None) -> str:
    """Base URL of a fixture platform from the same settings pwatch reads."""
    settings = pwatch_settings(environ)
    return platform_base_url(platform, settings.fixture_host_prefix, settings.fixture_port)


class SpiderArgumentError(ValueError):
    """A spider argument is missing or invalid; the message names the argument."""


class CrawlArgs(BaseModel):
    """Everything a crawl needs from the outside."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str
    base_url: str = Field(description="origin of the platform, e.g. http://127.0.0.12:8470")
    date: dt.date = Field(description="logical (world) date of the crawl")
    data_dir: Path = Field(description="evidence goes to <data_dir>/evidence/<platform>/<date>/")
    revisit: Path | None = Field(None, description="file of known URLs to revisit, one per line")
    out: Path | None = Field(None, description="JSONL file the items are appended to")
    jobdir: Path | None = Field(None, description="resume state; default <data_dir>/jobs/<platform>/<date>")
    db_url: str | None = Field(None, description="SQLAlchemy URL; items go to storage when set")
    discover: bool = Field(True, description="follow index pagination and sitemaps (false: revisit only)")
    shard: str | None = Field(None, description="I/N: crawl only shard I of N (crawlers/sharding.py)")
    discovery: Literal["full", "search", "sweep"] = Field(
        "full",
        description="full: index pages and sitemaps; search: site search from the query plan, seller "
        "expansion and conditional revisits; sweep: both, recording what search reached",
    )
    queries: Path | None = Field(None, description="query plan file (crawlers/discovery/plan.py) for search/sweep")

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in FIXTURE_PLATFORMS and value not in platform_names(pwatch_settings().platform_files_dir):
            raise ValueError(f"unknown platform {value!r}; expected one of {', '.join(PLATFORMS)} or a platform file")
        return value

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("revisit")
    @classmethod
    def _revisit_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"revisit file {value} does not exist")
        return value

    @field_validator("queries")
    @classmethod
    def _queries_exist(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"query plan file {value} does not exist")
        return value

    @property
    def searches(self) -> bool:
        return self.discover and self.discovery in ("search", "sweep")

    @property
    def walks_catalogue(self) -> bool:
        return self.discover and self.discovery in ("full", "sweep")

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        from precursor_watch.crawlers.sharding import Shard

        return None if value is None else str(Shard.parse(value))

    @property
    def shard_plan(self):
        """The `crawlers.sharding.Shard`, or None for an unsharded crawl."""
        from precursor_watch.crawlers.sharding import Shard

        return Shard.parse(self.shard) if self.shard else None

    @property
    def job_root(self) -> Path:
        return self.jobdir or self.data_dir / "jobs" / self.platform / self.date.isoformat()

    @property
    def job_path(self) -> Path:
        # Each shard has its own journal and health; the crawl's folder holds one per shard.
        plan = self.shard_plan
        return self.job_root / plan.label if plan else self.job_root

    @classmethod
    def from_spider_kwargs(cls, platform: str, kwargs: dict[str, object]) -> CrawlArgs:
        values: dict[str, object] = {k: v for k, v in kwargs.items() if v not in (None, "")}
        if platform in FIXTURE_PLATFORMS:
            values.setdefault("base_url", default_base_url(platform))
        elif "base_url" not in values:
            # A marketplace of its own (not a fixture platform): the origin its platform file names.
            with contextlib.suppress(PlatformFileError):
                values["base_url"] = load_platform(platform, pwatch_settings().platform_files_dir).site.base_url
        values.setdefault("date", dt.datetime.now(dt.UTC).date())
        if "data_dir" not in values:
            values["data_dir"] = pwatch_settings().data_dir
        return cls.checked(platform=platform, **values)

    @classmethod
    def checked(cls, **values: object) -> CrawlArgs:
        """Validate; a problem is one SpiderArgumentError line naming each bad argument."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors()
            )
            raise SpiderArgumentError(f"invalid crawl arguments for {values.get('platform')}: {problems}") from None


def read_revisit_file(path: Path) -> list[str]:
    """Known URLs, one per line; blank lines and `#` comments ignored."""
    return [entry.url for entry in read_revisit_entries(path)]


class RevisitEntry(NamedTuple):
    url: str
    last_seen: dt.date | None  # the listing's last live sighting: `If-Modified-Since` that day's end
    etag: str | None = None  # the ETag of its last live 200 answer: `If-None-Match`


def read_revisit_entries(path: Path) -> list[RevisitEntry]:
    """One entry per line: `URL`, `URL<TAB>YYYY-MM-DD` or `URL<TAB>YYYY-MM-DD<TAB>ETAG` (an ETag
    never holds a tab), the date being the listing's last live sighting."""
    entries: list[RevisitEntry] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url, _, rest = line.partition("\t")
        day, _, etag = rest.partition("\t")
        url = url.strip()
        if not url.startswith(("http://", "https://")):
            raise SpiderArgumentError(f"{path}:{lineno}: not an http(s) URL: {url[:80]!r}")
        try:
            last_seen = dt.date.fromisoformat(day.strip()) if day.strip() else None
        except ValueError:
            raise SpiderArgumentError(f"{path}:{lineno}: not a YYYY-MM-DD date after the URL: {day[:20]!r}") from None
        etag = etag.strip()
        if etag and not is_entity_tag(etag):
            raise SpiderArgumentError(f"{path}:{lineno}: not an ETag after the date: {etag[:40]!r}")
        entries.append(RevisitEntry(url, last_seen, etag or None))
    return entries
