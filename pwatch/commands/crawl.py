"""`pwatch crawl --site NAME [--date D] [--out FILE.jsonl]`: one platform, in this process.

This process is the crawl's own (the Twisted reactor cannot restart), so callers that crawl
several platforms or dates run one `pwatch crawl` subprocess each (`pwatch.steps.crawl_platform`).
Items go to the tracking database (batched transactions through `storage`) unless `--no-db`, and
to JSONL with `--out`. The revisit list comes from the database (`storage.queries.revisit_targets`;
in search mode `tracked_targets`) or from `--revisit FILE`. An interrupted crawl of the same site
and date resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from precursor_watch.commands.argtypes import iso_date
from precursor_watch.errors import ConfigError, InputError, ServiceError, mask_url
from precursor_watch.outputs import output_file, output_folder
from precursor_watch.progress import Progress, progress
from precursor_watch.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "crawl",
        parents=[common],
        help="crawl one marketplace for one date (discovery + revisits), with WARC evidence",
        description="Crawl one platform of the (fixture) marketplace world for one logical date. "
        "Items go to the tracking database and, with --out, to a JSONL file; evidence to "
        "<data-dir>/evidence/<site>/<date>/*.warc.gz. Re-running an interrupted crawl resumes it.",
    )
    parser.add_argument("--site", required=True, help="platform: the name of a platform file (pwatch platforms list)")
    parser.add_argument("--date", type=iso_date, help="logical (world) date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--out", help="also append the items to this JSONL file")
    parser.add_argument("--revisit", help="file of known URLs to revisit, one per line (default: from the database)")
    parser.add_argument("--no-db", action="store_true", help="do not use the tracking database (JSONL/evidence only)")
    parser.add_argument("--base-url", help="platform origin (default: from settings fixture_host_prefix/fixture_port)")
    parser.add_argument("--jobdir", help="resume state folder (default: <data-dir>/jobs/<site>/<date>)")
    parser.add_argument("--no-discover", action="store_true", help="revisit known URLs only (no index or sitemap)")
    parser.add_argument(
        "--discovery",
        choices=("full", "search", "sweep"),
        help="full: every index page and sitemap; search: site search from the lexicon, flagged sellers' "
        "pages and conditional revisits; sweep: both, counting what search missed (default: setting "
        "crawl_discovery)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="crawl only shard I of N (1-based); N processes with "
        "I = 1..N fetch disjoint pages whose union is the whole crawl (crawlers/sharding.py)",
    )
    parser.set_defaults(handler=run_crawl)


def _storage_available() -> bool:
    try:
        import precursor_watch.storage.crawls  # noqa: F401
        import precursor_watch.storage.db  # noqa: F401
        import precursor_watch.storage.ingest  # noqa: F401
    except ImportError:
        return False
    return True


def _revisit_from_db(
    settings: Settings, platform_file, base_url: str, day: dt.date, job_path: Path, discovery: str
) -> Path:
    """The revisit list. A search crawl revisits the tracked listings only (suspects, reported and
    recently removed tracked ones: `storage.queries.tracked_targets`), a sweep or full crawl every
    active one. Search and sweep crawls also get each active listing's last sighting date and ETag
    (conditional revisits) and the seller and store pages of flagged accounts (seller expansion, by
    the platform file's `urls.seller_page` / `urls.store_page`)."""
    from precursor_watch.storage.db import session_scope
    from precursor_watch.storage.queries import flagged_sellers, revisit_entries, revisit_targets

    platform = platform_file.name
    with session_scope(settings.db_url) as session:
        if discovery == "full":
            lines = list(revisit_targets(session, platform, day))
        else:
            from precursor_watch.crawlers.discovery.conditional import is_entity_tag
            from precursor_watch.crawlers.discovery.search import account_urls

            lines = []
            for url, seen, etag in revisit_entries(session, platform, day, discovery):
                validator = f"\t{etag}" if etag and is_entity_tag(etag) else ""
                lines.append(f"{url}\t{seen.isoformat()}{validator}" if seen else url)
            if platform_file.urls.account_templates() is None:
                log.warning("%s: no urls.seller_page in %s: no seller expansion", platform, platform_file.path)
            lines += account_urls(platform_file.urls, base_url, *flagged_sellers(session, platform))
    job_path.mkdir(parents=True, exist_ok=True)
    path = job_path / "revisit.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    log.info("revisit list for %s on %s: %d URLs from the database", platform, day, len(lines))
    return path


def _query_plan(platform_file, job_path: Path) -> Path:
    """The site-search queries of the platform from the lexicon, in its file's `site.languages`,
    into the crawl's job dir."""
    from precursor_watch.nlp.lexicon import load_lexicon
    from precursor_watch.nlp.search_terms import query_plan

    plan = query_plan(load_lexicon(), tuple(platform_file.site.languages))
    job_path.mkdir(parents=True, exist_ok=True)
    path = job_path / "queries.jsonl"
    path.write_text("".join(json.dumps(q.to_json(), ensure_ascii=False) + "\n" for q in plan), encoding="utf-8")
    log.info("query plan for %s: %d queries", platform_file.name, len(plan))
    return path


def _discovery_for(platform_file, requested: str) -> str:
    """`requested`, unless it needs a site search the platform file does not declare: then the
    catalogue walk.

    Falling back is the safe side: a platform without a site search is still crawled whole, so
    nothing it lists goes unseen (the health's `discovery.mode` says `full`)."""
    if requested in ("search", "sweep") and platform_file.discovery.search is None:
        log.warning(
            "%s has no site search ([discovery.search] in %s): discovery %s falls back to the full catalogue walk",
            platform_file.name,
            platform_file.path,
            requested,
        )
        return "full"
    return requested


def crawl_arguments(args, settings: Settings) -> dict[str, object]:
    """Validated spider arguments for this invocation (ConfigError names the bad option)."""
    from precursor_watch.crawlers.args import CrawlArgs
    from precursor_watch.crawlers.platform_file import PlatformFileError, load_platform, platform_names
    from precursor_watch.platforms import FIXTURE_PLATFORMS, platform_base_url

    known = platform_names(settings.platform_files_dir)
    if args.site not in known:
        raise ConfigError(f"--site: unknown platform {args.site!r}; choose from {', '.join(known)} (platform files)")
    try:
        platform_file = load_platform(args.site, settings.platform_files_dir)
    except PlatformFileError as exc:
        raise ConfigError(str(exc)) from None
    day = args.date or dt.datetime.now(dt.UTC).date()
    if args.revisit:
        check_revisit_file(Path(args.revisit))
    if args.out:
        output_file(args.out, "--out", inputs=[args.revisit] if args.revisit else [], settings=settings)
    if args.jobdir:
        output_folder(args.jobdir, "--jobdir")
    base_url = args.base_url or (
        platform_base_url(args.site, settings.fixture_host_prefix, settings.fixture_port)
        if args.site in FIXTURE_PLATFORMS
        else platform_file.site.base_url
    )
    if not base_url:
        raise ConfigError(f"--base-url: {platform_file.path} names no site.base_url; give --base-url")
    use_db = not args.no_db and _storage_available()
    if not args.no_db and not use_db:
        log.warning("storage is not importable: items go to JSONL and evidence only")
    values: dict[str, object] = {
        "base_url": base_url,
        "date": day,
        "data_dir": settings.data_path,
        "out": Path(args.out) if args.out else None,
        "jobdir": Path(args.jobdir) if args.jobdir else None,
        "db_url": settings.db_url if use_db else None,
        "discover": not args.no_discover,
        "shard": args.shard,
        "discovery": _discovery_for(platform_file, getattr(args, "discovery", None) or settings.crawl_discovery),
    }
    try:
        checked = CrawlArgs.checked(platform=args.site, **values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if use_db:  # the crawl stores into it, whichever list of URLs it revisits
        from precursor_watch.database import as_pwatch_error
        from precursor_watch.storage.db import DatabaseProblem, upgrade

        try:
            upgrade(settings.db_url)
            if not args.revisit:
                values["revisit"] = _revisit_from_db(
                    settings, platform_file, base_url, day, checked.job_path, checked.discovery
                )
        except DatabaseProblem as exc:
            raise as_pwatch_error(exc, settings.db_url) from None
        except Exception as exc:  # the database is a service: one line, not a traceback
            reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ServiceError(f"tracking database {mask_url(settings.db_url)}: {reason}") from None
    if args.revisit:
        values["revisit"] = Path(args.revisit)
    if checked.searches:
        values["queries"] = _query_plan(platform_file, checked.job_path)
    return values


# Scrapy's UrlLengthMiddleware drops longer URLs without an error (URLLENGTH_LIMIT): a listing
# revisited through one would never be fetched and later look removed.
MAX_URL_LENGTH = 2083


def check_revisit_file(path: Path) -> None:
    """Read the revisit file the way the spider will; any bad line is one InputError naming it."""
    from precursor_watch.crawlers.args import SpiderArgumentError, read_revisit_file

    if not path.is_file():
        raise ConfigError(f"--revisit: file {path} does not exist")
    try:
        urls = read_revisit_file(path)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except SpiderArgumentError as exc:
        raise InputError(str(exc)) from None
    for url in urls:
        if len(url) > MAX_URL_LENGTH:
            raise InputError(
                f"{path}: URL of {len(url)} characters, over the {MAX_URL_LENGTH} a crawl fetches: {url[:60]!r}..."
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise InputError(f"{path}: URL holds a control character: {url[:60]!r}")


def run_crawl(args, settings: Settings) -> int:
    values = crawl_arguments(args, settings)
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    from precursor_watch.crawlers.args import CrawlArgs

    scrapy_settings = ScrapySettings()
    scrapy_settings.setmodule("precursor_watch.crawlers.settings", priority="project")
    scrapy_settings.set("LOG_LEVEL", settings.log_level, priority="cmdline")
    scrapy_settings.set("LOGSTATS_INTERVAL", 15.0, priority="cmdline")  # progress every 15 s
    scrapy_settings.set("PWATCH_ERROR_THRESHOLD", settings.crawl_error_threshold, priority="cmdline")
    # Scrapy's root handler filters at LOG_LEVEL; the CLI's own handler would pass Scrapy's DEBUG
    # lines through (one per page), so this process (the crawl's own) hands logging over.
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)
    scrapy_settings.set("LOG_INSTALL_ROOT_HANDLER", True, priority="cmdline")
    process = CrawlerProcess(scrapy_settings)
    crawler = process.create_crawler(process.spider_loader.load(args.site))
    # That handler drops records under LOG_LEVEL only once they exist: Scrapy's two DEBUG lines per
    # page (crawled, scraped) were each made, formatted and redacted (pwatch.redact) for nothing,
    # about 3% of the crawl's CPU. Scrapy's own logger at LOG_LEVEL stops them before they are made.
    scrapy_logger = logging.getLogger("scrapy")
    level_before = scrapy_logger.level
    scrapy_logger.setLevel(settings.log_level)
    try:
        with progress(f"crawl {args.site} {values['date']}", unit="pages", total_grows=True) as bar:
            pages = PageCount(crawler, bar)  # noqa: F841  (Scrapy holds signal receivers weakly)
            process.crawl(crawler, **{k: v for k, v in values.items() if v is not None})
            process.start()
    finally:
        scrapy_logger.setLevel(level_before)

    job_path = CrawlArgs.checked(platform=args.site, **{k: v for k, v in values.items() if v is not None}).job_path
    health_file = job_path / "health.json"
    if not health_file.is_file():
        raise ServiceError(f"crawl of {args.site} ended without health stats (see the log above)")
    health = json.loads(health_file.read_text(encoding="utf-8"))
    counts = health["item_counts"]
    print(
        f"pwatch crawl: {args.site} {values['date']}: {counts['listings']} listings, "
        f"{sum(counts['gone'].values())} gone, {health['pages']} pages, {health['error_count']} errors "
        f"(rate {health['error_rate']:.3f}), {health.get('quarantine_count', 0)} quarantined, "
        f"faults {sum(health['faults'].values())}; "
        f"finish {health['finish_reason']}; health {health_file}"
    )
    if health["finish_reason"] != "finished":
        raise ServiceError(f"crawl of {args.site} did not finish ({health['finish_reason']})")
    from precursor_watch.crawlers.platform_file import files_dir

    unhealthy = drift_reason(
        health, settings.crawl_error_threshold, str(files_dir(settings.platform_files_dir) / f"{args.site}.toml")
    ) or unhealthy_reason(health, settings.crawl_error_threshold)
    if unhealthy:  # health is recorded; failing here makes the scheduler's task fail visibly
        raise ServiceError(f"crawl of {args.site} {values['date']} is unhealthy: {unhealthy} (health {health_file})")
    return 0


class PageCount:
    """Pages fetched out of pages scheduled so far (the total grows as discovery finds more)."""

    def __init__(self, crawler, bar: Progress) -> None:
        from scrapy import signals

        self.bar, self.scheduled, self.fetched = bar, 0, 0
        crawler.signals.connect(self.on_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.on_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self.on_fetched, signal=signals.response_received)

    def on_scheduled(self, **_) -> None:
        self.scheduled += 1
        self.bar.update(self.fetched, self.scheduled)

    def on_dropped(self, **_) -> None:
        self.scheduled -= 1

    def on_fetched(self, **_) -> None:
        self.fetched += 1
        self.bar.update(self.fetched, max(self.scheduled, self.fetched))


def drift_reason(health: dict, threshold: float, platform_file: str) -> str | None:
    """Layout drift: too many whole listing pages without required fields, named with their counts."""
    if health.get("drift_share", 0.0) <= threshold:
        return None
    fields = ", ".join(f"{name} ({count} pages)" for name, count in sorted(health.get("drift", {}).items()))
    return (
        f"layout drift: {health['drift_share']:.3f} of listing pages lack required fields {fields}; "
        f"update platform file {platform_file} (over crawl_error_threshold {threshold})"
    )


def unhealthy_reason(health: dict, threshold: float) -> str | None:
    """Why a finished crawl cannot be trusted (absence is never concluded from it), or None."""
    pages, errors = health.get("pages", 0), health.get("error_count", 0)
    if pages == 0:
        return "no page was fetched"
    if errors >= pages:
        return f"every fetch failed ({errors} of {pages} pages)"
    if health.get("error_rate", 0.0) > threshold:
        return f"error rate {health['error_rate']:.3f} is over crawl_error_threshold {threshold}"
    if health.get("quarantine_share", 0.0) > threshold:
        return f"quarantined share {health['quarantine_share']:.3f} is over crawl_error_threshold {threshold}"
    return None
