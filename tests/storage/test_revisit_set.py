"""The revisit set of a search-mode crawl is the tracked listings only, and a search crawl counts
toward absence only for what it revisited: an untracked ordinary listing that search mode leaves
alone stays active however many healthy search crawls pass, while a tracked one the platform
removes is observed removed on that day. Full and sweep crawls revisit every active listing.

The "crawler" here does what the spider does with a revisit list (`pwatch crawl`): it fetches
exactly the URLs `revisit_entries` gives, and the run records their keys as `revisit_keys`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.detections import pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Event, Listing
from precursor_watch.storage.notices import record_notice
from precursor_watch.storage.queries import STAY_DOWN_WATCH_DAYS, revisit_entries, revisit_targets, tracked_targets
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.types import logical_ts

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)
ORDINARY = "Borosilicate beaker set, 250 ml, lab glassware, pack of 12."


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def url(key: str) -> str:
    return listing("chemdir", key, D0).url


def lid(s, key: str) -> int:
    return s.scalar(select(Listing.id).where(Listing.listing_key == key))


def crawl(s, n: int, items, mode: str, revisited: list[str] | None = None):
    run = open_crawl_run(s, "chemdir", day(n))
    ingest_batch(s, run, items)
    discovery: dict = {"mode": mode}
    if revisited is not None:
        discovery["revisit_keys"] = sorted(u.rsplit("/", 1)[1] for u in revisited)
    close_crawl_run(s, run, {"pages": 100, "errors": {}, "discovery": discovery})
    return reconcile_date(s, day(n), absence_k=2, error_threshold=0.2)


def detect(s, key: str, n: int, *, flagged: bool, substances: list[str], model: str = "m1") -> None:
    pend = [p for p in pending_snapshots(s, model) if p.listing_id == lid(s, key)]
    result = {"flagged": flagged, "score": 0.9 if flagged else 0.2, "substances": substances, "reasons": []}
    record_detections(s, [(p.id, {**result, "model_version": model}) for p in pend], day=day(n))


def catalogue(s):
    """Day 0, a sweep: an ordinary product, a flagged offer, a listing that names a substance but is
    not flagged (news), one dismissed after review, one reported, and two that the platform removes
    (one tracked, one ordinary)."""
    keys = ("CD1", "CD2", "CD3", "CD4", "CD5", "CD6", "CD7")
    ordinary = {"CD1", "CD7"}
    crawl(s, 0, [listing("chemdir", k, day(0), text=ORDINARY if k in ordinary else None) for k in keys], "sweep")
    for key in ("CD2", "CD4", "CD5", "CD6"):
        detect(s, key, 0, flagged=True, substances=["79099-07-3"])
    detect(s, "CD3", 0, flagged=False, substances=["79099-07-3"])
    for key in ("CD1", "CD7"):
        detect(s, key, 0, flagged=False, substances=[])
    record_review(s, lid(s, "CD4"), "dismissed", "analyst-1", None, logical_ts(day(0)))
    record_review(s, lid(s, "CD5"), "confirmed", "analyst-1", None, logical_ts(day(0)))
    record_notice(
        s,
        platform="chemdir",
        listing_ids=[lid(s, "CD5")],
        legal_basis="21 U.S.C. 802",
        channel="http",
        idempotency_key="k-CD5",
        sent_at=logical_ts(day(0)),
    )


def test_search_revisits_the_tracked_listings_and_sweeps_every_active_one(any_session):
    s = any_session
    catalogue(s)
    tracked = [url(k) for k in ("CD2", "CD3", "CD4", "CD5", "CD6")]  # CD4: dismissed, still names a substance
    assert tracked_targets(s, "chemdir", day(1)) == tracked
    assert [e.url for e in revisit_entries(s, "chemdir", day(1), "search")] == tracked
    everything = [url(f"CD{i}") for i in range(1, 8)]
    assert [e.url for e in revisit_entries(s, "chemdir", day(1), "sweep")] == everything
    assert revisit_targets(s, "chemdir", day(1)) == everything
    # a newer model that finds no substance in CD3 any more: its latest detection decides
    detect(s, "CD3", 1, flagged=False, substances=[], model="m2")
    assert url("CD3") not in tracked_targets(s, "chemdir", day(1))
    # removed: tracked ones stay watched for the window, reported ones for good, ordinary ones not
    crawl(s, 1, [gone("chemdir", k, day(1)) for k in ("CD5", "CD6", "CD7")], "search", tracked)
    assert {url("CD5"), url("CD6")} <= set(tracked_targets(s, "chemdir", day(2)))
    assert url("CD7") not in tracked_targets(s, "chemdir", day(2))
    late = day(1 + STAY_DOWN_WATCH_DAYS + 1)
    assert url("CD5") in tracked_targets(s, "chemdir", late) and url("CD6") not in tracked_targets(s, "chemdir", late)
    entries = {e.url: e for e in revisit_entries(s, "chemdir", day(2), "search")}
    assert entries[url("CD5")].last_seen is None and entries[url("CD2")].last_seen == day(0)


def test_untracked_listing_is_never_removed_by_search_crawls_a_tracked_one_is(any_session):
    s = any_session
    catalogue(s)
    for n in range(1, 6):  # five healthy search crawls; absence_k is 2
        revisit = [e.url for e in revisit_entries(s, "chemdir", day(n), "search")]
        assert url("CD1") not in revisit
        # what the platform answers to the revisits: CD2 is removed on day 3, the rest are live
        items = [
            gone("chemdir", key, day(n)) if key == "CD2" and n >= 3 else listing("chemdir", key, day(n))
            for key in (u.rsplit("/", 1)[1] for u in revisit)
        ]
        crawl(s, n, items, "search", revisit)
        assert s.get(Listing, lid(s, "CD1")).presence == "active", day(n)
    removals = s.execute(select(Event.listing_id, Event.occurred_on).where(Event.kind == "removal_observed")).all()
    assert [tuple(r) for r in removals] == [(lid(s, "CD2"), day(3))]
    # the next sweep does not see CD1 either (the platform dropped it silently): the full crawls
    # then count, and absence_k healthy sweeps without it remove it
    crawl(s, 6, [], "sweep")
    assert s.get(Listing, lid(s, "CD1")).presence == "active"
    crawl(s, 7, [], "sweep")
    assert s.get(Listing, lid(s, "CD1")).presence == "removed"


def test_validators_of_a_live_answer_are_stored_hostile_ones_dropped(any_session):
    s = any_session
    good = listing("chemdir", "CD1", day(0))
    good.etag, good.last_modified = '"v1"', "Sun, 01 Nov 2026 00:00:00 GMT"
    hostile = listing("chemdir", "CD2", day(0))
    hostile.etag, hostile.last_modified = '"x"\r\nSet-Cookie: fake=1', "x" * 500
    crawl(s, 0, [good, hostile], "full")
    stored = {k: (e, m) for k, e, m in s.execute(select(Listing.listing_key, Listing.etag, Listing.last_modified))}
    assert stored == {"CD1": ('"v1"', "Sun, 01 Nov 2026 00:00:00 GMT"), "CD2": (None, None)}
    # a later live answer replaces them (content unchanged); one without validators clears them
    good.crawl_date, good.etag = day(1), '"v2"'
    hostile.crawl_date, hostile.etag, hostile.last_modified = day(1), '"ok"', None
    crawl(s, 1, [good, hostile], "full")
    stored = {k: e for k, e in s.execute(select(Listing.listing_key, Listing.etag))}
    assert stored == {"CD1": '"v2"', "CD2": '"ok"'}
    assert [e.etag for e in revisit_entries(s, "chemdir", day(2), "sweep")] == ['"v2"', '"ok"']
