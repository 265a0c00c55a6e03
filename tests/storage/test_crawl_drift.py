"""A crawl run whose listing pages drifted (required fields empty) is stored unhealthy, on SQLite
and PostgreSQL, and reconcile's own check agrees: it never counts toward absence."""

from __future__ import annotations

import datetime as dt

from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run, run_is_healthy
from precursor_watch.storage.models import CrawlRun


def test_a_run_with_drift_over_the_threshold_is_stored_unhealthy(any_session):
    run_id = open_crawl_run(any_session, "chemdir", dt.date(2026, 11, 20))
    # Few pages quarantined overall (index and account pages dilute them), most listing pages drifted.
    health = {"pages": 200, "errors": {}, "quarantine_count": 30, "drift_share": 0.75, "items": 10}
    assert close_crawl_run(any_session, run_id, health, error_threshold=0.2) is False
    run = any_session.get(CrawlRun, run_id)
    assert run is not None and run.error_rate == 0.75 and not run_is_healthy(run, 0.2)


def test_a_run_with_a_little_drift_stays_healthy(any_session):
    run_id = open_crawl_run(any_session, "chemdir", dt.date(2026, 11, 21))
    health = {"pages": 200, "errors": {}, "quarantine_count": 2, "drift_share": 0.05, "items": 100}
    assert close_crawl_run(any_session, run_id, health, error_threshold=0.2) is True
