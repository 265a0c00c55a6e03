import datetime as dt

import pytest
from sqlalchemy import func, select

from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.detections import pending_snapshots, record_detections
from precursor_watch.storage.errors import IllegalTransition
from precursor_watch.storage.events import listing_kinds
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Account, Event, Listing, RelistLink
from precursor_watch.storage.notices import confirmed_unreported, record_notice
from precursor_watch.storage.queries import revisit_targets
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.types import logical_ts

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def crawl(s, platform, n, items, *, errors=0, pages=100):
    run = open_crawl_run(s, platform, day(n))
    ingest_batch(s, run, items)
    close_crawl_run(s, run, {"pages": pages, "errors": {"http_5xx": errors} if errors else {}})
    return reconcile_date(s, day(n), absence_k=2, error_threshold=0.2)


def lid(s, key):
    return s.scalar(select(Listing.id).where(Listing.listing_key == key))


def test_explicit_gone_page_removes_on_that_day(any_session):
    s = any_session
    crawl(s, "chemdir", 0, [listing("chemdir", "CD1", day(0)), listing("chemdir", "CD2", day(0))])
    summary = crawl(s, "chemdir", 1, [listing("chemdir", "CD1", day(1)), gone("chemdir", "CD2", day(1))])
    assert summary.removed_explicit == 1
    ev = s.execute(select(Event).where(Event.kind == "removal_observed")).scalar_one()
    assert (ev.listing_id, ev.occurred_on, ev.cause) == (lid(s, "CD2"), day(1), "not_found")
    assert ev.evidence_sha256 and len(ev.evidence_sha256) == 64


def test_silent_removal_after_k_healthy_absences_and_never_on_unhealthy_days(any_session):
    s = any_session
    crawl(s, "boardlist", 0, [listing("boardlist", "BL1", day(0)), listing("boardlist", "BL2", day(0))])
    crawl(s, "boardlist", 1, [listing("boardlist", "BL1", day(1))])  # BL2 absent (1st healthy)
    bad = crawl(s, "boardlist", 2, [], errors=50)  # unhealthy: BL1 and BL2 both absent, counts for nothing
    assert bad.unhealthy_runs == 1 and bad.removed_silent == 0
    done = crawl(s, "boardlist", 3, [listing("boardlist", "BL1", day(3))])  # 2nd healthy absence of BL2
    assert done.removed_silent == 1
    ev = s.execute(select(Event).where(Event.kind == "removal_observed")).scalar_one()
    assert (ev.listing_id, ev.occurred_on, ev.cause) == (lid(s, "BL2"), day(3), "absent")
    assert ev.details["first_absent_on"] == day(1).isoformat()
    assert s.get(Listing, lid(s, "BL1")).presence == "active"


def test_gone_page_in_unhealthy_crawl_waits_for_a_healthy_one(session):
    crawl(session, "chemdir", 0, [listing("chemdir", "CD1", day(0))])
    assert crawl(session, "chemdir", 1, [gone("chemdir", "CD1", day(1))], errors=90).removed_explicit == 0
    assert crawl(session, "chemdir", 2, [gone("chemdir", "CD1", day(2))]).removed_explicit == 1


def test_reappearance_and_reconcile_twice_is_a_no_op(any_session):
    s = any_session
    crawl(s, "chemdir", 0, [listing("chemdir", "CD1", day(0))])
    crawl(s, "chemdir", 1, [gone("chemdir", "CD1", day(1))])
    summary = crawl(s, "chemdir", 2, [listing("chemdir", "CD1", day(2))])
    assert summary.reappeared == 1
    n = s.scalar(select(func.count()).select_from(Event))
    again = reconcile_date(s, day(2), absence_k=2, error_threshold=0.2)
    again_older = reconcile_date(s, day(1), absence_k=2, error_threshold=0.2)
    assert (again.reappeared, again_older.removed_explicit) == (0, 0)
    assert s.scalar(select(func.count()).select_from(Event)) == n
    assert listing_kinds(s, lid(s, "CD1")) == ["first_seen", "removal_observed", "reappeared"]


def test_account_closure_closes_once_and_removes_its_listings(session):
    s = session
    crawl(s, "mercado", 0, [listing("mercado", f"MC{i}", day(0), seller="mc-a1") for i in range(3)]
          + [listing("mercado", "MC9", day(0), seller="mc-a2")])
    summary = crawl(s, "mercado", 1, [gone("mercado", "MC0", day(1), reason="account_closed", status=404),
                                      listing("mercado", "MC9", day(1), seller="mc-a2")])
    assert (summary.accounts_closed, summary.removed_by_closure) == (1, 3)
    assert s.scalar(select(Account.closed_on).where(Account.account_key == "mc-a1")) == day(1)
    causes = s.scalars(select(Event.cause).where(Event.kind == "removal_observed")).all()
    assert causes == ["account_closed"] * 3


def test_platform_closure_counts_even_from_a_failing_crawl(session):
    s = session
    crawl(s, "boardlist", 0, [listing("boardlist", f"BL{i}", day(0)) for i in range(4)])
    closed = gone("boardlist", "BL0", day(1), reason="platform_closed", status=503)
    closed.listing_key, closed.url = None, "http://boardlist.test/"
    summary = crawl(s, "boardlist", 1, [closed], errors=100, pages=100)
    assert (summary.platforms_closed, summary.removed_by_closure) == (1, 4)
    assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "platform_closed")) == 1


def _flag_confirm(s, key, n):
    pend = [p for p in pending_snapshots(s, "m1") if p.listing_id == lid(s, key)]
    record_detections(s, [(p.id, {"flagged": True, "score": 0.9, "substances": ["79099-07-3"], "reasons": ["CAS"],
                                  "model_version": "m1"}) for p in pend], day=day(n))
    record_review(s, lid(s, key), "confirmed", "analyst-1", None, logical_ts(day(n)))


def test_flag_confirm_report_and_illegal_transitions_write_nothing(any_session):
    s = any_session
    crawl(s, "chemdir", 0, [listing("chemdir", "CD1", day(0)), listing("chemdir", "CD2", day(0))])
    n_events = s.scalar(select(func.count()).select_from(Event))
    with pytest.raises(IllegalTransition, match="confirmed is illegal .* active/none"):
        record_review(s, lid(s, "CD1"), "confirmed", "analyst-1", None, logical_ts(day(0)))
    with pytest.raises(IllegalTransition, match="reported is illegal"):
        record_notice(s, platform="chemdir", listing_ids=[lid(s, "CD1")], legal_basis="21 U.S.C. 802", channel="http",
                      idempotency_key="k0", sent_at=logical_ts(day(0)))
    assert s.scalar(select(func.count()).select_from(Event)) == n_events
    _flag_confirm(s, "CD1", 0)
    assert [r.listing_key for r in confirmed_unreported(s, "chemdir")] == ["CD1"]
    # a notice naming one legal and one illegal listing writes nothing at all
    with pytest.raises(IllegalTransition, match=f"listing {lid(s, 'CD2')}"):
        record_notice(s, platform="chemdir", listing_ids=[lid(s, "CD1"), lid(s, "CD2")], legal_basis="x", channel="http",
                      idempotency_key="k1", sent_at=logical_ts(day(0)))
    assert s.get(Listing, lid(s, "CD1")).review == "confirmed"
    nid = record_notice(s, platform="chemdir", listing_ids=[lid(s, "CD1")], legal_basis="x", channel="http",
                        idempotency_key="k1", sent_at=logical_ts(day(0)), ticket="T-1")
    assert record_notice(s, platform="chemdir", listing_ids=[lid(s, "CD1")], legal_basis="x", channel="http",
                         idempotency_key="k1", sent_at=logical_ts(day(0))) == nid
    assert listing_kinds(s, lid(s, "CD1")) == ["first_seen", "flagged", "confirmed", "reported"]
    assert confirmed_unreported(s, "chemdir") == []
    # reported listings stay revisit targets after removal (stay-down is checked on the URL)
    crawl(s, "chemdir", 1, [gone("chemdir", "CD1", day(1)), gone("chemdir", "CD2", day(1))])
    assert listing("chemdir", "CD1", day(0)).url in revisit_targets(s, "chemdir")


def test_relisting_by_text_contact_and_account(session):
    s = session
    text = "Pure 4-ANPP 99.5% powder, 1 kg in foil bags, stealth shipping, quick reply on messenger."
    crawl(s, "chemdir", 0, [listing("chemdir", "CD1", day(0), text=text, contacts=["telegram:@fake_seller_1"]),
                            listing("chemdir", "CD2", day(0), text="Aniline 99% for dyes, 200 kg drums.", contacts=[])])
    crawl(s, "tradehub", 0, [listing("tradehub", "TH7", day(0), text="Sodium chloride 25 kg.", seller="th-a1", contacts=[])])
    crawl(s, "chemdir", 1, [gone("chemdir", "CD1", day(1)), listing("chemdir", "CD2", day(1), text="Aniline 99% for dyes, 200 kg drums.", contacts=[])])
    crawl(s, "tradehub", 1, [listing("tradehub", "TH7", day(1), text="Sodium chloride 25 kg.", seller="th-a1", contacts=[])])
    # day 2: a copy from a fresh account on another platform and a different text with the same contact
    summary_a = crawl(s, "tradehub", 2, [
        listing("tradehub", "TH7", day(2), text="Sodium chloride 25 kg.", seller="th-a1", contacts=[]),
        listing("tradehub", "TH1FCD", day(2), text=text.replace("messenger", "Messenger!"), seller="th-x", contacts=[],
                title="Offer CD1"),
        listing("tradehub", "TH99", day(2), text="Totally different words here about NPP.", seller="th-y",
                contacts=["telegram:@fake_seller_1"]),
        listing("tradehub", "TH50", day(2), text="Unrelated calcium carbonate.", seller="th-z", contacts=[]),
    ])
    links = {(m.new_listing_id, m.original_listing_id, m.method) for m in s.scalars(select(RelistLink))}
    assert (lid(s, "TH1FCD"), lid(s, "CD1"), "text") in links
    assert (lid(s, "TH99"), lid(s, "CD1"), "contact") in links
    assert len(links) == 2 and summary_a.relisted == 2
    kinds = listing_kinds(s, lid(s, "CD1"))
    assert kinds.count("relisted_as") == 2
    again = reconcile_date(s, day(2), absence_k=2, error_threshold=0.2)
    assert again.relisted == 0


def _relist_links_by_key(s, order: int) -> set[tuple[str, str, str]]:
    """Two relisting situations where only the crawl's ingest order (and so the ids) differ."""
    resale = "Pure 4-ANPP 99.5% powder, 1 kg in foil bags, stealth shipping, quick reply on messenger."
    twin = "NPP 99% crystals, 500 g bags, ships from stock, escrow accepted, ask for the price list."
    day0 = [listing("chemdir", "CD5", day(0), text=resale, seller="old", contacts=["telegram:@fake_seller_5"]),
            # one seller's two identical listings: removed together, so they tie as originals
            listing("chemdir", "CD1", day(0), text=twin, seller="twin", contacts=["telegram:@fake_seller_twin"]),
            listing("chemdir", "CD2", day(0), text=twin, seller="twin", contacts=["telegram:@fake_seller_twin"])]
    day1 = [gone("chemdir", k, day(1)) for k in ("CD5", "CD1", "CD2")]
    day2 = [  # a new account posts two listings on one day; one shares the removed listing's handle
        listing("chemdir", "CD8", day(2), text="New shop: industrial solvents, lab glassware and steel drums in stock.",
                seller="new", contacts=["telegram:@fake_seller_5"]),
        listing("chemdir", "CD9", day(2), text="Calcium carbonate, food grade, 25 kg bags, fast delivery.",
                seller="new", contacts=[]),
        listing("chemdir", "CD3", day(2), text=twin, seller="twin", contacts=["telegram:@fake_seller_twin"]),
    ]
    savepoint = s.begin_nested()
    try:
        for n, items in enumerate((day0, day1, day2)):
            crawl(s, "chemdir", n, items[::order])
        keys = dict(s.execute(select(Listing.id, Listing.listing_key)).all())
        return {(keys[m.new_listing_id], keys[m.original_listing_id], m.method) for m in s.scalars(select(RelistLink))}
    finally:
        savepoint.rollback()


def test_relisting_does_not_depend_on_ingest_order(session):
    """Listing ids follow the order a crawl's items were ingested in, which concurrent Scrapy
    requests and parallel platform crawls change from run to run; relisting must not read them
    (a new account's "first" listing, ties between originals), or `pwatch run` is irreproducible."""
    forward, backward = _relist_links_by_key(session, 1), _relist_links_by_key(session, -1)
    assert forward == backward
    # both of the new account's first-day listings count as fresh: the shared handle links CD8;
    # of two fully tied originals the one with the greater URL wins, whichever got the greater id
    assert forward == {("CD8", "CD5", "contact"), ("CD3", "CD2", "text")}


def test_closure_evidence_does_not_depend_on_ingest_order(session):
    """A closed account's listings all cite one of its "account closed" pages: the same page
    whichever order the crawl ingested them in (ids, and so `Observation.id`, follow that order)."""
    s = session

    def evidence_cited(order: int) -> set[tuple[str | None, str, str | None]]:
        savepoint = s.begin_nested()
        try:
            crawl(s, "mercado", 0, [listing("mercado", f"MC{i}", day(0), seller="mc-a1") for i in range(3)][::order])
            crawl(s, "mercado", 1, [gone("mercado", f"MC{i}", day(1), reason="account_closed") for i in range(3)][::order])
            keys = dict(s.execute(select(Listing.id, Listing.listing_key)).all())
            return {(keys.get(e.listing_id), e.kind, e.evidence_sha256) for e in s.scalars(
                select(Event).where(Event.kind.in_(("account_closed", "removal_observed"))))}
        finally:
            savepoint.rollback()

    forward, backward = evidence_cited(1), evidence_cited(-1)
    assert forward == backward
    assert len({sha for _key, _kind, sha in forward}) == 1 and len(forward) == 4
