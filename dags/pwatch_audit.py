"""
### Precursor Watch — audit statistics

Triggered whenever the daily DAG updates the `pwatch://tracking/daily` asset. Recomputes the
takedown statistics over the whole tracked period and writes the audit report (HTML, CSV,
drill-down and a SHA-256 manifest) so auditors can trace every number to its evidence.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, dag, task

from precursor_watch import steps


@dag(
    dag_id="pwatch_audit",
    schedule=[Asset(steps.TRACKING_ASSET_URI)],
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["precursor-watch", "audit"],
    default_args={
        "owner": "precursor-watch",
        "retries": 2,
        "retry_delay": dt.timedelta(seconds=5),
        "retry_exponential_backoff": True,
        "execution_timeout": dt.timedelta(minutes=30),
    },
    doc_md=__doc__,
)
def pwatch_audit():
    @task(
        doc_md="""Write the audit report for the tracked period.
        On failure: is the tracking database reachable and migrated?"""
    )
    def audit() -> dict:
        return steps.audit(steps.task_settings())

    audit()


pwatch_audit()
