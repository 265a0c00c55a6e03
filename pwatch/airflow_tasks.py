"""Adapters between Airflow task bodies and the pipeline steps.

DAG files import only `airflow.sdk` and this module, so it must stay cheap to import: every heavy
import (scrapy, spacy, sqlalchemy models) happens inside the step that needs it. Settings come from
the environment (`PWATCH_*`) of the worker, so the same DAG runs on SQLite or PostgreSQL.
Return values are small dicts of counts: they become XComs.
"""

from __future__ import annotations

import datetime as dt

# The asset the daily DAG's report task updates and the audit DAG is scheduled on.
TRACKING_ASSET_URI = "pwatch://tracking/daily"


def _settings():
    from precursor_watch import redact
    from precursor_watch.settings import load_settings

    redact.install()  # task logs never show a database password

    return load_settings()


def _day(ds: str | None) -> dt.date:
    if not ds:
        raise ValueError("the task needs its logical date (ds)")
    return dt.date.fromisoformat(ds)


def prepare(ds: str | None) -> list[str]:
    from precursor_watch import steps

    return steps.prepare_day(_settings(), _day(ds))


def crawl(target: str, ds: str | None) -> dict:
    from precursor_watch import steps

    return steps.crawl_target(_settings(), target, _day(ds))


def detect(ds: str | None) -> dict:
    from precursor_watch import steps

    return steps.detect(_settings(), _day(ds))


def reconcile(ds: str | None) -> dict:
    from precursor_watch import steps

    return steps.reconcile(_settings(), _day(ds))


def notify(ds: str | None) -> dict:
    from precursor_watch import steps

    return steps.notify(_settings(), _day(ds))


def report(ds: str | None) -> dict:
    from precursor_watch import steps

    return steps.report(_settings(), _day(ds))


def audit() -> dict:
    from precursor_watch import steps

    return steps.audit(_settings())
