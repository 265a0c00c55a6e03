import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from precursor_watch.contract import Evidence, ListingItem
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.errors import MalformedItem
from precursor_watch.storage.events import listing_kinds
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Account, Event, Listing, Observation, Quarantine, Snapshot
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.state import derive_state

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)
D1 = D0 + dt.timedelta(days=1)


def _counts(s):
    return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Listing, Observation, Snapshot, Event, Account)}


def test_ingest_creates_listings_snapshots_and_first_seen(any_session):
    s = any_session
    run = open_crawl_run(s, "chemdir", D0)
    summary = ingest_batch(s, run, [listing("chemdir", "CD1", D0), listing("chemdir", "CD2", D0, seller="acct-2")])
    assert (summary.seen, summary.new_listings, summary.snapshots) == (2, 2, 2)
    assert _counts(s) == {"listings": 2, "observations": 2, "snapshots": 2, "events": 2, "accounts": 2}
    lid = s.scalar(select(Listing.id).where(Listing.listing_key == "CD1"))
    assert listing_kinds(s, lid) == ["first_seen"]
    row = s.get(Listing, lid)
    assert (row.presence, row.review) == ("active", "none")
    # each first_seen points at the sighting that evidences it and the snapshot it first stored
    for event in s.scalars(select(Event).where(Event.kind == "first_seen")):
        obs = s.get(Observation, event.observation_id)
        snap = s.get(Snapshot, event.snapshot_id)
        assert (obs.listing_id, obs.crawl_run_id, obs.kind) == (event.listing_id, run, "seen")
        assert event.evidence_sha256 == obs.evidence_sha256 and event.evidence_sha256 is not None
        assert (snap.listing_id, snap.content_sha256) == (event.listing_id, s.get(Listing, event.listing_id).content_sha256)
        assert (event.occurred_on, event.details) == (D0, {})


def test_offer_signals_are_stored_with_the_snapshot(any_session):
    s = any_session
    run = open_crawl_run(s, "chemdir", D0)
    with_signals = listing("chemdir", "CD1", D0)
    with_signals.offer_signals = {"price": True, "add_to_cart": True, "inquiry": False, "seller": True, "schema_offer": False}
    ingest_batch(s, run, [with_signals, listing("chemdir", "CD2", D0)])
    stored = dict(s.execute(select(Listing.listing_key, Snapshot.offer_signals).join(Snapshot, Snapshot.listing_id == Listing.id)).all())
    assert stored == {"CD1": with_signals.offer_signals, "CD2": None}


def test_snapshot_only_when_content_changes(any_session):
    s = any_session
    run0 = open_crawl_run(s, "chemdir", D0)
    ingest_batch(s, run0, [listing("chemdir", "CD1", D0)])
    run1 = open_crawl_run(s, "chemdir", D1)
    ingest_batch(s, run1, [listing("chemdir", "CD1", D1)])
    assert s.scalar(select(func.count()).select_from(Snapshot)) == 1
    run2 = open_crawl_run(s, "chemdir", D1 + dt.timedelta(days=1))
    ingest_batch(s, run2, [listing("chemdir", "CD1", D1 + dt.timedelta(days=1), text="Edited: 4-ANPP 98%, 5 kg drum.")])
    assert s.scalar(select(func.count()).select_from(Snapshot)) == 2
    lid = s.scalar(select(Listing.id))
    assert listing_kinds(s, lid) == ["first_seen", "changed"]
    reconcile_date(s, D1 + dt.timedelta(days=1), absence_k=2, error_threshold=0.2)  # sets last_seen_on, set-based
    s.expire_all()
    assert s.get(Listing, lid).last_seen_on == D1 + dt.timedelta(days=1)


def test_ingesting_the_same_batch_twice_changes_nothing(any_session):
    s = any_session
    items = [listing("chemdir", f"CD{i}", D0) for i in range(5)] + [gone("chemdir", "CD9", D0)]
    run = open_crawl_run(s, "chemdir", D0)
    ingest_batch(s, run, items)
    close_crawl_run(s, run, {"pages": 10, "errors": {}})
    first = _counts(s)
    run_again = open_crawl_run(s, "chemdir", D0)
    assert run_again == run
    ingest_batch(s, run_again, items)
    close_crawl_run(s, run, {"pages": 10, "errors": {}})
    assert _counts(s) == first


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda it: setattr(it, "listing_key", ""), "field listing_key"),
        (lambda it: setattr(it, "platform", "tradehub"), "field platform"),
        (lambda it: setattr(it, "contacts", "telegram:@fake"), "field contacts"),
        (lambda it: setattr(it, "content_sha256", "xyz"), "field content_sha256"),
        (lambda it: setattr(it, "content_sha256", "a" * 64 + "\n"), "field content_sha256"),
        (lambda it: setattr(it, "crawl_date", D1), "field crawl_date"),
        (lambda it: setattr(it, "title", None), "field title"),
        (lambda it: setattr(it, "url", "   "), "field url"),
        (lambda it: setattr(it, "price", ["120"]), "field price"),
        (lambda it: setattr(it, "contacts", ["telegram:@fake", None]), "field contacts"),
        (lambda it: setattr(it, "evidence", Evidence("w.warc.gz", "<urn:x>", "not-a-hash")), "field evidence"),
        (lambda it: setattr(it, "evidence", ("w.warc.gz", "<urn:x>", "0" * 64)), "field evidence"),
        (lambda it: setattr(it, "offer_signals", {"add_to_cart": "yes"}), "field offer_signals"),
        (lambda it: setattr(it, "offer_signals", ["price"]), "field offer_signals"),
    ],
)
def test_malformed_item_is_quarantined_naming_the_field_and_the_other_is_stored(any_session, mutate, message):
    s = any_session
    run = open_crawl_run(s, "chemdir", D0)
    before = _counts(s)
    items = [listing("chemdir", "CD1", D0), listing("chemdir", "CD2", D0)]
    mutate(items[1])
    summary = ingest_batch(s, run, items)
    assert summary.quarantined == {"invalid_field": 1}
    (row,) = s.scalars(select(Quarantine).where(Quarantine.crawl_run_id == run)).all()
    assert re.search(rf"item 1 .*{message}", row.message), row.message
    assert row.kind == "invalid_field" and row.field == message.split()[1]
    after = _counts(s)
    assert (after["listings"], after["snapshots"]) == (before["listings"] + 1, before["snapshots"] + 1)
    assert s.scalar(select(Listing.listing_key).where(Listing.platform_id == s.scalar(select(Listing.platform_id)))) == "CD1"


def test_not_an_item_is_rejected(session):
    run = open_crawl_run(session, "chemdir", D0)
    with pytest.raises(MalformedItem, match="item 0: expected ListingItem or GoneItem, got dict"):
        ingest_batch(session, run, [{"platform": "chemdir"}])


def test_cached_state_equals_replayed_events(session):
    run = open_crawl_run(session, "chemdir", D0)
    ingest_batch(session, run, [listing("chemdir", f"CD{i}", D0) for i in range(3)])
    for row in session.scalars(select(Listing)):
        st = derive_state(listing_kinds(session, row.id))
        assert (st.presence, st.review) == (row.presence, row.review)
