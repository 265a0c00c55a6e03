"""
### Precursor Watch — daily monitoring cycle

One run per logical date **D** (re-running a date changes nothing):

1. **prepare** — migrates the tracking database and moves the simulated world (embedded default)
   to day D; returns the crawl targets (platforms, or shards of large ones).
2. **crawl** — one mapped task per platform (or platform shard), each crawl in its own process; a failed platform
   fails only its own task (the others' results are kept) and is retried with backoff.
3. **detect** — scores every snapshot not yet scored by the current detector version.
4. **reconcile** — removals, reappearances, relistings, account/store/platform closures for D.
5. **notify** — sends notices for confirmed flags not yet reported (auto-confirm is a demo policy).
6. **report** — seals the event ledger, writes the daily flag report and updates the `pwatch://tracking/daily` asset,
   which triggers the `pwatch_audit` DAG.

XComs carry counts and ids only; all data goes through the tracking database.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, dag, task

# `steps` imports only the standard library and our settings at parse time; each step imports
# what it needs (scrapy, spacy, sqlalchemy) when it runs.
from precursor_watch import steps
from precursor_watch.settings import load_settings

# Cheap at parse time (env + optional pwatch.toml); empty schedule = triggered runs only.
SCHEDULE = load_settings().daily_schedule or None

TRACKING_ASSET = Asset(steps.TRACKING_ASSET_URI)

DEFAULT_ARGS = {
    "owner": "precursor-watch",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "execution_timeout": dt.timedelta(minutes=60),
}


@dag(
    dag_id="pwatch_daily",
    schedule=SCHEDULE,
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["precursor-watch", "daily"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def pwatch_daily():
    @task(
        doc_md="""Migrate the tracking DB and move the fixture world to D.
        On failure: is the fixture server (`pwatch fixtures serve`) or the database reachable?"""
    )
    def prepare(ds: str | None = None) -> list[str]:
        return steps.prepare_day(steps.task_settings(), steps.logical_day(ds))

    @task(
        doc_md="""Crawl one platform (or one shard `platform@I/N` of a large one, setting
        `crawl_shards`) for D in a subprocess (`pwatch crawl --site NAME --date D [--shard I/N]`).
        On failure: read the task log for the crawl's health stats (errors by kind); a platform that
        is down fails only this task.""",
        max_active_tis_per_dagrun=4,
    )
    def crawl(target: str, ds: str | None = None) -> dict:
        return steps.crawl_target(steps.task_settings(), target, steps.logical_day(ds))

    @task(
        trigger_rule="all_done",
        doc_md="""Score new snapshots with the detector.
        Runs even if a platform's crawl failed. On failure: is the model directory readable?""",
    )
    def detect(ds: str | None = None) -> dict:
        return steps.detect(steps.task_settings(), steps.logical_day(ds))

    @task(
        doc_md="""Reconcile D: removals (explicit gone pages, or absence in K healthy crawls),
        reappearances, relistings, closures. On failure: an illegal transition names the listing."""
    )
    def reconcile(ds: str | None = None) -> dict:
        return steps.reconcile(steps.task_settings(), steps.logical_day(ds))

    @task(
        doc_md="""Send notices for confirmed, unreported flags (idempotent per listing and ground).
        On failure: is the platform's notice endpoint answering?"""
    )
    def notify(ds: str | None = None) -> dict:
        return steps.notify(steps.task_settings(), steps.logical_day(ds))

    @task(
        outlets=[TRACKING_ASSET],
        doc_md="""Seal the event ledger (signed head of D), write the daily
        flag report for D and update the tracking asset (triggers `pwatch_audit`). On failure: is
        the data dir writable, is the ledger key (`ledger_key_file`) readable?""",
    )
    def report(ds: str | None = None) -> dict:
        return steps.report(steps.task_settings(), steps.logical_day(ds))

    # Only the crawl targets travel as XCom; the steps after them meet in the tracking database,
    # so they are ordered, not fed.
    crawled = crawl.expand(target=prepare())
    crawled >> detect() >> reconcile() >> notify() >> report()


pwatch_daily()
