"""Statistics on a small hand-built history, with the expected numbers worked out by hand."""

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.detections import pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.notices import record_notice
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.stats import METRICS, compute_stats, explain, explain_groups, explain_number, p90
from precursor_watch.storage.types import logical_ts

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)


def d(n):
    return D0 + dt.timedelta(days=n)


def test_p90_is_nearest_rank():
    assert p90([1.0]) == 1.0
    assert p90([float(x) for x in range(1, 11)]) == 9.0
    assert p90([float(x) for x in range(1, 12)]) == 10.0


def _history(s: Session):
    """chemdir: CD1..CD4 by acct-1, CD5 by acct-2. All flagged day 0; CD5 dismissed.
    CD1..CD3 reported day 0 (18:00); removed day 1, 2 and (CD3) never; CD4 removed day 3 unreported.
    CD1 reappears day 5."""
    keys = ["CD1", "CD2", "CD3", "CD4", "CD5"]
    alive = {0: keys, 1: ["CD2", "CD3", "CD4", "CD5"], 2: ["CD3", "CD4", "CD5"], 3: ["CD3", "CD5"],
             4: ["CD3", "CD5"], 5: ["CD1", "CD3", "CD5"]}
    for n in range(6):
        run = open_crawl_run(s, "chemdir", d(n))
        items = [listing("chemdir", k, d(n), seller="acct-2" if k == "CD5" else "acct-1") for k in alive[n]]
        items += [gone("chemdir", k, d(n)) for k in keys if k not in alive[n]]
        ingest_batch(s, run, items)
        close_crawl_run(s, run, {"pages": 10, "errors": {}})
        if n == 0:
            record_detections(s, [(p.id, {"flagged": True, "score": 0.9, "substances": ["79099-07-3"], "reasons": [],
                                          "model_version": "m"}) for p in pending_snapshots(s, "m")], day=d(0))
        reconcile_date(s, d(n), absence_k=2, error_threshold=0.2)
        if n == 0:
            from sqlalchemy import select

            from precursor_watch.storage.models import Listing

            ids = dict(s.execute(select(Listing.listing_key, Listing.id)).all())
            for k in keys:
                record_review(s, ids[k], "dismissed" if k == "CD5" else "confirmed", "analyst", None, logical_ts(d(0)))
            record_notice(s, platform="chemdir", listing_ids=[ids["CD1"], ids["CD2"], ids["CD3"]], legal_basis="x",
                          channel="http", idempotency_key="n1", sent_at=logical_ts(d(0)) + dt.timedelta(hours=18))


def test_statistics_by_hand(any_session):
    s = any_session
    _history(s)
    got = compute_stats(s, d(0), d(5), by="account")
    t = got["total"]
    assert list(t) == list(METRICS)
    assert (t["flagged"], t["confirmed"], t["dismissed"], t["reported"]) == (5, 4, 1, 3)
    assert (t["removed"], t["reappeared"], t["items_reported"]) == (3, 1, 3)
    assert t["removal_rate"] == round(2 / 3, 6)
    # CD1: report day 0 18:00 -> removal day 1 00:00 = 6 h; CD2: -> day 2 = 30 h
    assert (t["median_hours_to_removal"], t["p90_hours_to_removal"]) == (18.0, 30.0)
    assert (t["removed_within_1d"], t["removed_within_7d"]) == (round(1 / 3, 6), round(2 / 3, 6))
    assert t["stay_down_rate_15d"] is None  # no 15-day window has ended by day 5
    assert t["repeat_offenders"] == 1  # acct-1 lost CD1, CD2, CD4
    assert set(got["groups"]) == {"chemdir/acct-1", "chemdir/acct-2"}
    assert got["groups"]["chemdir/acct-2"]["dismissed"] == 1 and got["groups"]["chemdir/acct-2"]["removed"] == 0
    # a later period: only what happened in it
    late = compute_stats(s, d(3), d(5))["total"]
    assert (late["removed"], late["reported"], late["reappeared"], late["removal_rate"]) == (1, 0, 1, None)


def test_explain_lists_listings_and_evidence(session):
    _history(session)
    rows = explain(session, "removed", d(0), d(5))
    assert [r["listing_key"] for r in rows] == ["CD1", "CD2", "CD4"]
    assert all(len(e["evidence_sha256"]) == 64 for r in rows for e in r["evidence"])
    hours = explain(session, "median_hours_to_removal", d(0), d(5))
    assert sorted(r["value"] for r in hours) == [6.0, 30.0]
    with pytest.raises(ValueError, match="unknown statistic"):
        explain(session, "takedowns", d(0), d(5))


def test_explain_names_one_number_or_every_group(session):
    """A grouping without a group (or a group without its grouping) names no number: refused,
    never an empty list; `explain_groups` gives every group, each as `explain` lists it."""
    _history(session)
    for call in (explain, explain_number):
        with pytest.raises(ValueError, match="group"):
            call(session, "removed", d(0), d(5), by="account")
        with pytest.raises(ValueError, match="group"):
            call(session, "removed", d(0), d(5), group="chemdir/acct-1")
    groups = explain_groups(session, "removed", "account", d(0), d(5))
    assert list(groups) == list(compute_stats(session, d(0), d(5), by="account")["groups"])
    assert [r["listing_key"] for r in groups["chemdir/acct-1"]] == ["CD1", "CD2", "CD4"]
    assert groups["chemdir/acct-2"] == []  # a column of the table (CD5 was dismissed), nothing removed
    for group, rows in groups.items():
        assert rows == explain(session, "removed", d(0), d(5), by="account", group=group)
    with pytest.raises(ValueError, match="by must be"):
        explain_groups(session, "removed", None, d(0), d(5))
