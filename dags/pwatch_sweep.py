"""
### Precursor Watch — weekly full sweep

The daily run in search mode (`crawl_discovery = search`) fetches what the site searches return,
the pages of flagged sellers and its tracked listings. Once a week (setting `sweep_schedule`)
this DAG crawls each platform's whole catalogue for its logical date **D**, the way a full daily
crawl does, and runs the search queries in the same crawl, so what the sweep finds that search
missed is counted (the audit report's "found only by sweep"):

1. **prepare** — migrates the database, moves the simulated world to D; returns the crawl targets.
2. **sweep** — one mapped task per platform (or shard): `pwatch crawl --discovery sweep`.
3. **detect**, 4. **reconcile** — as in `pwatch_daily`. A daily run of the same date afterwards
   keeps the sweep's crawl (it does not crawl that platform and date again).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from precursor_watch import steps
from precursor_watch.settings import load_settings

SCHEDULE = load_settings().sweep_schedule or None

DEFAULT_ARGS = {
    "owner": "precursor-watch",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "execution_timeout": dt.timedelta(hours=6),
}


@dag(
    dag_id="pwatch_sweep",
    schedule=SCHEDULE,
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["precursor-watch", "sweep"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def pwatch_sweep():
    @task(doc_md="Migrate the tracking DB and move the fixture world to D.")
    def prepare(ds: str | None = None) -> list[str]:
        return steps.prepare_day(steps.task_settings(), steps.logical_day(ds))

    @task(
        doc_md="""Full-catalogue crawl of one platform (or shard) for D, search queries included
        (`pwatch crawl --discovery sweep`). On failure: read the crawl's health in the task log.""",
        max_active_tis_per_dagrun=4,
    )
    def sweep(target: str, ds: str | None = None) -> dict:
        return steps.crawl_target(steps.task_settings(), target, steps.logical_day(ds), "sweep")

    @task(trigger_rule="all_done", doc_md="Score new snapshots with the detector.")
    def detect(ds: str | None = None) -> dict:
        return steps.detect(steps.task_settings(), steps.logical_day(ds))

    @task(doc_md="Reconcile D from the sweep's observations.")
    def reconcile(ds: str | None = None) -> dict:
        return steps.reconcile(steps.task_settings(), steps.logical_day(ds))

    sweep.expand(target=prepare()) >> detect() >> reconcile()


pwatch_sweep()
