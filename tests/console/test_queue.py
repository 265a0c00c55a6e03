"""The console's queue against the CLI's own queue (`reports.review.queue`) over a real run:
same listings, same order, every filter keeping exactly the rows it should, pages and seller
groups adding up to the whole queue."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from precursor_watch.console.case import load_case
from precursor_watch.console.queue import QueueFilters, queue_page, seller_groups
from precursor_watch.reports.review import queue as cli_queue
from precursor_watch.storage.db import make_engine


@pytest.fixture(scope="module")
def session(console_run):
    engine = make_engine(f"sqlite:///{console_run / 'pwatch.db'}", read_only=True)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _all(session, filters: QueueFilters, per_page: int = 4) -> list:
    out, page = [], 1
    while True:
        items, total = queue_page(session, filters, page, per_page)
        out += items
        if not items:
            assert len(out) == total
            return out
        page += 1


def test_pages_add_up_to_the_cli_queue_in_its_order(session):
    console = _all(session, QueueFilters())
    cli = cli_queue(session)
    assert len(cli) >= 5
    assert [i.listing_id for i in console] == [r.listing_id for r in cli]
    assert [round(i.score, 9) for i in console] == [round(r.score, 9) for r in cli]


def test_each_filter_keeps_exactly_its_rows(session):
    everything = _all(session, QueueFilters())
    top = everything[0]
    substance = top.substances[0]
    mid = sorted(i.score for i in everything)[len(everything) // 2]
    day = max(i.first_seen_on for i in everything)
    cases = [
        (QueueFilters(platform=top.platform), lambda i: i.platform == top.platform),
        (QueueFilters(substance=substance), lambda i: substance in i.substances),
        (QueueFilters(lang=top.lang), lambda i: i.lang == top.lang),
        (QueueFilters(min_score=mid), lambda i: i.score >= mid),
        (QueueFilters(seen_from=day), lambda i: i.first_seen_on >= day),
        (QueueFilters(seen_to=day - dt.timedelta(days=1)), lambda i: i.first_seen_on < day),
        (QueueFilters(platform=top.platform, min_score=mid), lambda i: i.platform == top.platform and i.score >= mid),
    ]
    for filters, keep in cases:
        assert [i.listing_id for i in _all(session, filters)] == [i.listing_id for i in everything if keep(i)], filters
    assert _all(session, QueueFilters(substance="%")) == []  # LIKE wildcards are text, not patterns
    assert _all(session, QueueFilters(status="confirmed")) == []  # nobody decided yet in this run


def test_seller_groups_partition_the_queue(session):
    everything = {i.listing_id: i for i in _all(session, QueueFilters())}
    groups, total = seller_groups(session, QueueFilters(), 1, per_page=1000)
    assert total == len(groups)
    seen = [i.listing_id for g in groups for i in g.items]
    assert sorted(seen) == sorted(everything)
    for g in groups:
        assert g.count == len(g.items) and {i.account_id for i in g.items} == {g.account_id}
        assert g.best_score == max(i.score for i in g.items)
    assert [g.best_score for g in groups] == sorted((g.best_score for g in groups), reverse=True)


def test_case_highlights_are_the_detectors_words(session):
    for item in _all(session, QueueFilters())[:10]:
        case = load_case(session, item.listing_id)
        marked = [text for text, hit in case.text_pieces + case.title_pieces if hit]
        assert marked, item.listing_id
        assert "".join(text for text, _ in case.text_pieces) == _snapshot_text(session, item.listing_id)
        assert {s.substance_id for s in case.substances} == set(item.substances)


def _snapshot_text(session, listing_id: int) -> str:
    from sqlalchemy import select

    from precursor_watch.storage.models import Detection, Event, Snapshot

    event = session.scalar(select(Event).where(Event.listing_id == listing_id, Event.kind == "flagged").order_by(Event.id.desc()))
    detection = session.get(Detection, event.detection_id)
    return session.get(Snapshot, detection.snapshot_id).text
