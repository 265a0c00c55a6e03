"""The pipeline steps of the daily run, shared by the CLI (`pwatch run`, `pwatch detect`, ...) and
the Airflow DAGs (the data flow of one run: docs/ARCHITECTURE.md, "One daily run").

Each step takes the resolved settings and the logical date, does its work through the tracking
database, and returns a small dict of counts (what Airflow keeps as XCom). Every step is
idempotent for its date: rerunning it changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from precursor_watch.errors import ConfigError, ServiceError
from precursor_watch.platforms import control_base_url
from precursor_watch.settings import Settings

if TYPE_CHECKING:  # imported where used: a step loads only what it runs
    from sqlalchemy.orm import Session

    from precursor_watch.nlp.detector import Detector

log = logging.getLogger(__name__)

# The asset the daily DAG's report task updates and the audit DAG is scheduled on.
TRACKING_ASSET_URI = "pwatch://tracking/daily"


# -- database ------------------------------------------------------------------------------------


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """A session in one transaction on the settings' tracking database (`storage.db.session_scope`)."""
    from precursor_watch.storage.db import session_scope

    with session_scope(settings.db_url) as session:
        yield session


def upgrade_database(settings: Settings) -> None:
    from precursor_watch.storage.db import upgrade

    settings.data_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)


# -- fixture world -------------------------------------------------------------------------------


def platform_names(settings: Settings) -> list[str]:
    return [name.strip() for name in settings.platforms.split(",") if name.strip()]


def crawl_targets(settings: Settings) -> list[str]:
    """What the daily run crawls, one entry per mapped task: `platform`, or `platform@I/N` for each
    shard of a platform listed in `crawl_shards` (never one task per listing)."""
    shards: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in settings.crawl_shards.split(","))):
        name, _, count = part.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"setting crawl_shards: expected platform=N, got {part!r}")
        shards[name.strip()] = int(count)
    targets = []
    for platform in platform_names(settings):
        n = shards.get(platform, 1)
        targets += [platform] if n == 1 else [f"{platform}@{i}/{n}" for i in range(1, n + 1)]
    return targets


def crawl_target(settings: Settings, target: str, day: dt.date, discovery: str | None = None) -> dict:
    """Crawl one entry of `crawl_targets` (a whole platform or one shard of it); `discovery`
    overrides the setting `crawl_discovery` (the sweep DAG passes "sweep")."""
    platform, _, shard = target.partition("@")
    return crawl_platform(settings, platform, day, shard=shard or None, discovery=discovery)


SWEEP_EVERY_DAYS = 7


def discovery_for(settings: Settings, day: dt.date) -> str:
    """The discovery mode of the in-process daily cycle (`pwatch run --inline`, replays): in search
    mode every 7th day from the world's start is a full sweep. Airflow runs sweeps as their own
    DAG (`pwatch_sweep`, schedule `sweep_schedule`)."""
    if settings.crawl_discovery == "search" and (day - settings.world_start).days % SWEEP_EVERY_DAYS == 0:
        return "sweep"
    return settings.crawl_discovery


def control_url(settings: Settings) -> str:
    return control_base_url(settings.fixture_host_prefix, settings.fixture_port)


def set_world_date(settings: Settings, day: dt.date) -> None:
    """Move the embedded fixture world to `day` (the world serves pages as of that date)."""
    body = json.dumps({"date": day.isoformat()}).encode()
    request = urllib.request.Request(
        f"{control_url(settings)}/date", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(
            f"fixture world not reachable at {control_url(settings)} ({exc}); start it with `pwatch fixtures serve`"
        ) from None
    if answer.get("date") != day.isoformat():
        raise ServiceError(f"fixture world refused date {day}: {answer}")


# -- steps ---------------------------------------------------------------------------------------


def prepare_day(settings: Settings, day: dt.date) -> list[str]:
    """Migrate the tracking DB, move the embedded world to `day`; return the crawl targets."""
    targets = crawl_targets(settings)
    upgrade_database(settings)
    if settings.embedded_world:
        set_world_date(settings, day)
    return targets


def crawl_platform(
    settings: Settings, platform: str, day: dt.date, shard: str | None = None, discovery: str | None = None
) -> dict:
    """Crawl one platform for `day` in its own process (the Twisted reactor cannot restart).

    `shard` "I/N": only shard I of N (crawlers/sharding.py); the run's summary is the merge of the
    shards finished so far, so read it after all N.
    """
    from precursor_watch.storage.crawls import crawl_run_summary

    if (discovery or settings.crawl_discovery) == "search" and not shard:
        with transaction(settings) as session:
            done = crawl_run_summary(session, platform, day)
        if done.get("discovery") == "sweep" and done.get("healthy"):
            return done  # the weekly sweep crawled this platform and date already (a superset)
    command = [sys.executable, "-m", "precursor_watch", "crawl", "--site", platform, "--date", day.isoformat()]
    if shard:
        command += ["--shard", shard]
    if discovery:
        command += ["--discovery", discovery]
    from precursor_watch.children import child_options

    env = dict(os.environ, **settings_environment(settings))
    # Its own process group (killed by `run` on any exception) and the parent-death signal: a
    # crawl never outlives the run or task that started it.
    completed = subprocess.run(command, env=env, capture_output=True, text=True, **child_options())
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise ServiceError(f"crawl of {platform} for {day} failed (exit {completed.returncode}): " + " | ".join(tail))

    with transaction(settings) as session:
        summary = crawl_run_summary(session, platform, day)
    if not summary.get("healthy"):
        # What was fetched is stored, but the run never counts toward absence; failing the task
        # makes Airflow retry it and shows the operator which platform is in trouble.
        raise ServiceError(
            f"crawl of {platform} for {day} is unhealthy: {summary.get('errors')} failed fetches of "
            f"{summary.get('pages')} (error rate {summary.get('error_rate')})"
        )
    return summary


def detect(settings: Settings, day: dt.date, detector: Detector | None = None) -> dict:
    """Score every snapshot not yet scored by the current detector version.

    A snapshot whose detection raises is recorded as failed with its reason and counted; the
    others are scored and stored, and the failed one is tried again by the next run. Only when
    every one of several snapshots fails (the detector itself is broken) does the step fail.
    """
    from precursor_watch.nlp.detection import DetectInput, DetectionError, OfferSignals
    from precursor_watch.nlp.detector import Detector

    def _offer_signals(stored):
        try:  # a stored value another version wrote differently is no evidence, not a failure
            return OfferSignals.from_dict(stored) if stored else None
        except ValueError:
            return None

    from precursor_watch.storage.detections import pending_snapshots, record_detections, record_failures
    from precursor_watch.training_data import ensure_model

    detector = detector or Detector.load(ensure_model(settings))
    with transaction(settings) as session:
        pending = pending_snapshots(session, detector.model_version)
        inputs = [
            DetectInput(
                id=str(s.id),
                text=s.text,
                title=s.title,
                lang=s.lang,
                listing_date=day,
                offer_signals=_offer_signals(s.offer_signals),
            )
            for s in pending
        ]
        scored, failed = [], []
        for snap, result in zip(pending, detector.detect_each(inputs), strict=True):
            if isinstance(result, DetectionError):
                log.error("detection failed for snapshot %s of listing %s: %s", snap.id, snap.listing_id, result.reason)
                failed.append((snap.id, result.reason))
            else:
                scored.append((snap.id, result))
        flagged = record_detections(session, scored, day=day)
        record_failures(session, failed, detector.model_version, day)
    if len(failed) > 1 and not scored:
        raise ServiceError(f"detection failed for all {len(failed)} snapshots on {day} (first: {failed[0][1]})")
    return {"scored": len(scored), "flagged": flagged, "failed": len(failed)}


def reconcile(settings: Settings, day: dt.date) -> dict:
    from precursor_watch.storage.reconcile import reconcile_date

    with transaction(settings) as session:
        summary = reconcile_date(
            session, day, absence_k=settings.absence_k, error_threshold=settings.crawl_error_threshold
        )
    return _counts(summary)


def notify(settings: Settings, day: dt.date) -> dict:
    """Auto-confirm (demo policy only), then send one notice per platform for confirmed flags."""
    from precursor_watch.enforcement.notices import send_notices
    from precursor_watch.storage.reviews import auto_confirm_flags

    confirmed = 0
    if settings.auto_confirm:
        with transaction(settings) as session:
            confirmed = auto_confirm_flags(session, day)
    result = send_notices(settings, day)
    return {"auto_confirmed": confirmed, **_counts(result)}


def seal_ledger(settings: Settings, day: dt.date) -> dict:
    """Log every event written so far in the Merkle log and sign the head of `day` (docs/LEDGER.md)."""
    from precursor_watch.ledger.keys import signing_key
    from precursor_watch.ledger.log import seal

    key = signing_key(settings)
    with transaction(settings) as session:
        result = seal(session, day, key)
    return {
        "leaves_appended": result.appended,
        "tree_size": result.head.tree_size,
        "root_hash": result.head.root_hash,
        "new_head": result.new_head,
    }


def report(settings: Settings, day: dt.date) -> dict:
    """Seal the ledger for `day` (the report carries the head it rests on), then write the report."""
    from precursor_watch.reports.daily import write_daily_report

    ledger = seal_ledger(settings, day)
    path = write_daily_report(settings, day)
    return {"report": str(path), "ledger": ledger}


def audit(settings: Settings, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    from precursor_watch.reports.audit import write_audit_report

    path = write_audit_report(settings, date_from, date_to)
    return {"audit": str(path)}


def run_day(settings: Settings, day: dt.date, detector: Detector | None = None) -> dict:
    """The whole daily cycle in this process (crawls still in their own processes, in parallel).

    `detector`: an already loaded one, for callers that run many days in one process."""
    from concurrent.futures import ThreadPoolExecutor

    targets = prepare_day(settings, day)
    discovery = discovery_for(settings, day)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {t: pool.submit(crawl_target, settings, t, day, discovery) for t in targets}
    crawled, failed = {}, {}
    for platform, future in futures.items():
        try:
            crawled[platform] = future.result()
        except ServiceError as exc:
            failed[platform] = str(exc)
            log.error("%s", exc)
    return {
        "date": day.isoformat(),
        "crawled": crawled,
        "failed": failed,
        "detect": detect(settings, day, detector),
        "reconcile": reconcile(settings, day),
        "notify": notify(settings, day),
        "report": report(settings, day),
    }


# -- helpers -------------------------------------------------------------------------------------


def task_settings() -> Settings:
    """The settings inside an Airflow task: from the worker's environment (`PWATCH_*`), so the same
    DAG runs on SQLite or PostgreSQL. Task logs never show a database password."""
    from precursor_watch import redact
    from precursor_watch.settings import load_settings

    redact.install()
    return load_settings()


def logical_day(ds: str | None) -> dt.date:
    """The logical date D of an Airflow run (its `ds`); Airflow 3 allows runs without one, which the
    daily steps cannot serve."""
    if not ds:
        raise ConfigError("the task needs its run's logical date (ds): trigger the run with a logical date")
    return dt.date.fromisoformat(ds)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as `PWATCH_*` variables, so child processes resolve the same values."""
    env = {}
    for name, value in settings.as_dict().items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[f"PWATCH_{name.upper()}"] = str(value)
    env["PWATCH_DATA_DIR"] = str(settings.data_path.resolve())
    return env


def _counts(summary) -> dict:
    if summary is None:
        return {}
    if hasattr(summary, "__dataclass_fields__"):
        from dataclasses import asdict

        summary = asdict(summary)
    return {k: v for k, v in dict(summary).items() if isinstance(v, (int, float, str, bool)) or v is None}
