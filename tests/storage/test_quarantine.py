"""Per-item isolation in ingest: one bad item is quarantined, never the batch it came in.

Run on SQLite and PostgreSQL (`any_session`): PostgreSQL enforces VARCHAR lengths and refuses NUL
in text, SQLite does neither, so ingest must check both itself for the two to agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from precursor_watch.contract import Evidence, QuarantinedItem, clean_text, sanitize_listing
from precursor_watch.storage.crawls import open_crawl_run
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Listing, Observation, Quarantine, Snapshot
from precursor_watch.storage.reconcile import reconcile_date

from .helpers import evidence, listing

D0 = dt.date(2026, 11, 1)


def _count(s, model, *where):
    return s.scalar(select(func.count()).select_from(model).where(*where))


def _batch(n: int = 1000):
    return [listing("mercado", f"M{i:04d}", D0, seller=f"acct-{i % 37}") for i in range(n)]


@pytest.mark.parametrize(
    "poison, kind, field",
    [
        (dict(seller_key="k" * 600), "too_long", "seller_key"),
        (dict(seller_name="n" * 600), "too_long", "seller_name"),
        (dict(lang="x" * 36), "too_long", "lang"),
        (dict(price="9" * 201), "too_long", "price"),
        (dict(posted_at="2" * 201), "too_long", "posted_at"),
        (dict(currency="C" * 33), "too_long", "currency"),
        (dict(title={"not": "text"}), "invalid_field", "title"),
    ],
)
def test_one_bad_item_of_a_thousand_is_quarantined_and_the_other_999_stored(any_session, poison, kind, field):
    s = any_session
    run = open_crawl_run(s, "mercado", D0)
    items = _batch()
    items[500] = dataclasses.replace(items[500], **poison)
    summary = ingest_batch(s, run, items)
    assert summary.quarantined == {kind: 1} and summary.refused == {kind: 1}
    assert _count(s, Listing) == 999 and _count(s, Snapshot) == 999
    (row,) = s.scalars(select(Quarantine).where(Quarantine.crawl_run_id == run)).all()
    assert (row.kind, row.field, row.listing_key, row.url) == (kind, field, "M0500", items[500].url)
    assert "item 500" in row.message and field in row.message
    assert (row.evidence_file, row.evidence_record, row.evidence_sha256) == (
        items[500].evidence.warc_file, items[500].evidence.record_id, items[500].evidence.sha256)
    # the refused page was fetched live: it is a sighting of that URL all the same
    obs = s.scalars(select(Observation).where(Observation.crawl_run_id == run, Observation.url == items[500].url)).one()
    assert obs.kind == "seen" and obs.content_sha256 is None


def test_wide_values_real_pages_carry_are_stored(any_session):
    s = any_session
    run = open_crawl_run(s, "mercado", D0)
    wide = dict(lang="en-GB-oxendict", seller_key="s" * 300, seller_name="N" * 300, price="120.00 " + "p" * 100,
                posted_at="posted " + "d" * 100, currency="USD per kilogram")
    items = [dataclasses.replace(listing("mercado", "M1", D0), **wide), dataclasses.replace(listing("mercado", "M2", D0), lang="zh-Hans-CN")]
    summary = ingest_batch(s, run, items)
    assert summary.quarantined == {} and _count(s, Snapshot) == 2
    snap = s.scalars(select(Snapshot).join(Listing).where(Listing.listing_key == "M1")).one()
    assert (snap.lang, snap.currency, snap.seller_name) == ("en-GB-oxendict", "USD per kilogram", "N" * 300)


def test_nul_lone_surrogates_and_a_numeric_title_are_cleaned_before_storage(any_session):
    s = any_session
    run = open_crawl_run(s, "mercado", D0)
    item = dataclasses.replace(listing("mercado", "M1", D0), title=12345, text="line one\n\x00line two \ud800 end",
                               seller_name="Ana\udc80", contacts=["telegram:@fake\x00x"])
    summary = ingest_batch(s, run, [item, listing("mercado", "M2", D0)])
    assert summary.quarantined == {} and _count(s, Snapshot) == 2
    snap = s.scalars(select(Snapshot).join(Listing).where(Listing.listing_key == "M1")).one()
    assert (snap.title, snap.text, snap.seller_name, snap.contacts) == (
        "12345", "line one\nline two \ufffd end", "Ana\ufffd", ["telegram:@fakex"])


def test_sanitising_is_one_function_that_leaves_clean_items_alone():
    item = listing("mercado", "M1", D0)
    assert sanitize_listing(item) is item
    assert clean_text("plain") == "plain" and clean_text("a\x00b\ud800") == "ab\ufffd"
    assert sanitize_listing(dataclasses.replace(item, title=3.5)).title == "3.5"
    assert sanitize_listing(dataclasses.replace(item, title=True)).title is True  # left for validation to name


@pytest.mark.parametrize("changes, cleaned", [
    (dict(title="氯化 4-ANPP 纯度 99%", text="非ASCII文本 ñ é"), {}),  # clean non-ASCII: the item itself
    (dict(seller_name=None, store_key=None, posted_at=None), {}),
    (dict(text="中文\x00文本"), dict(text="中文文本")),
    (dict(seller_name="Zürich\ud800"), dict(seller_name="Zürich\ufffd")),
    (dict(contacts=["wechat:中文\udfff"]), dict(contacts=["wechat:中文\ufffd"])),
    (dict(listing_key="M1\x00"), dict(listing_key="M1")),
    (dict(price=12), dict(price="12")),
])
def test_sanitising_fast_path_agrees_with_the_field_by_field_path(changes, cleaned):
    item = dataclasses.replace(listing("mercado", "M1", D0), **changes)
    out = sanitize_listing(item)
    if not cleaned:
        assert out is item
    else:
        assert {name: getattr(out, name) for name in cleaned} == cleaned


def test_storage_fast_path_agrees_with_the_limits_and_the_text_scan():
    from precursor_watch.storage.ingest import _plainly_storable as ok

    item = listing("mercado", "M1", D0)
    assert ok(item) and ok(dataclasses.replace(item, seller_name="N" * 512, lang="x" * 35, title="氯化 ñ"))
    assert not ok(dataclasses.replace(item, lang="x" * 36))
    assert not ok(dataclasses.replace(item, currency="C" * 33))
    assert not ok(dataclasses.replace(item, seller_name="N" * 513))
    assert ok(dataclasses.replace(item, seller_key=None, seller_name=None, lang=None, price=None, currency=None))
    assert not ok(dataclasses.replace(item, text="a\x00b")) and not ok(dataclasses.replace(item, title="中\ud800"))
    assert not ok(dataclasses.replace(item, contacts=["x\x00"])) and not ok(dataclasses.replace(item, url="http://x/\udc80"))


def test_a_write_the_database_still_refuses_isolates_only_that_item(any_session):
    """PostgreSQL refuses NUL in any text column, here one validation does not look at (the
    evidence file name): the batch is split until the item is alone, and only it is quarantined."""
    s = any_session
    run = open_crawl_run(s, "mercado", D0)
    items = _batch()
    bad = items[321]
    items[321] = dataclasses.replace(bad, evidence=Evidence("warc/a\x00b.warc.gz", bad.evidence.record_id, bad.evidence.sha256))
    summary = ingest_batch(s, run, items)
    if s.get_bind().dialect.name == "postgresql":
        assert summary.quarantined == {"storage_error": 1} and summary.seen == 999
        assert _count(s, Listing) == 999
        row = s.scalars(select(Quarantine).where(Quarantine.crawl_run_id == run)).one()
        assert (row.kind, row.listing_key) == ("storage_error", "M0321") and "refused" in row.message
    else:  # SQLite stores the NUL: nothing to isolate
        assert summary.quarantined == {} and _count(s, Listing) == 1000


def test_a_quarantined_live_listing_is_never_concluded_absent(any_session):
    """Seen on day 0; on days 1-3 its page is live but its item is refused every time: it stays active."""
    s = any_session
    for n in range(4):
        day = D0 + dt.timedelta(days=n)
        run = open_crawl_run(s, "mercado", day)
        keep = dataclasses.replace(listing("mercado", "M1", day), evidence=evidence(f"keep{n}"))
        bad = dataclasses.replace(listing("mercado", "M2", day), evidence=evidence(f"bad{n}"))
        if n:
            bad = dataclasses.replace(bad, seller_key="k" * 600)
        extraction = QuarantinedItem("mercado", "http://mercado.test/item/M3", "M3", "extraction", None,
                                     "UnicodeEncodeError: surrogates not allowed", crawl_date=day, evidence=evidence(f"x{n}"))
        ingest_batch(s, run, [keep, bad] + ([extraction] if n else [listing("mercado", "M3", day)]))
        from precursor_watch.storage.crawls import close_crawl_run

        close_crawl_run(s, run, {"pages": 50, "errors": {}})
        reconcile_date(s, day, absence_k=2, error_threshold=0.2)
    presence = dict(s.execute(select(Listing.listing_key, Listing.presence)).all())
    assert presence == {"M1": "active", "M2": "active", "M3": "active"}
    assert _count(s, Quarantine) == 6


def test_a_rerun_that_stores_the_item_clears_its_quarantine_row(any_session):
    """The quarantine holds one row per run and URL, the run's current state: a rerun of the date
    that refuses the page again replaces its row, one that stores it (or finds it gone) deletes it,
    so the day's report never counts a page twice or counts one that is stored."""
    s = any_session
    items = _batch(20)
    bad = [dataclasses.replace(items[i], seller_key="k" * 600) for i in (3, 7)]
    run = open_crawl_run(s, "mercado", D0)
    ingest_batch(s, run, items[:3] + bad[:1] + items[4:7] + bad[1:] + items[8:])
    assert _count(s, Quarantine) == 2

    rerun = open_crawl_run(s, "mercado", D0)
    assert rerun == run
    summary = ingest_batch(s, rerun, items[:3] + bad[:1] + items[4:7] + bad[1:] + items[8:])  # refused again
    assert summary.quarantined == {"too_long": 2}
    assert sorted(s.scalars(select(Quarantine.url))) == sorted(b.url for b in bad)

    ingest_batch(s, rerun, [items[3]])  # the page now fits: stored, its stale row gone
    assert list(s.scalars(select(Quarantine.url))) == [items[7].url]
    stored = s.scalars(select(Observation).where(Observation.crawl_run_id == run, Observation.url == items[3].url)).one()
    assert stored.listing_id is not None and stored.content_sha256 is not None
    assert _count(s, Listing) == 19

    from .helpers import gone

    removed = gone("mercado", "M0007", D0)
    ingest_batch(s, rerun, [removed])  # the page is gone now: no longer a quarantined item either
    assert _count(s, Quarantine) == 0
