"""The detect step never stops on one listing: a snapshot the detector fails on is recorded as
failed with its reason, the others are scored, the failure is retried by the next run and shown
in the daily report. Real SQLite database, real trained detector; the failing listing trips a
real spaCy component added to the pipeline."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from spacy.language import Language
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, ListingItem
from precursor_watch.nlp.detector import Detector
from precursor_watch import steps
from precursor_watch.errors import ServiceError
from precursor_watch.settings import load_settings
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Detection, DetectionFailure

D0 = dt.date(2026, 11, 1)
OFFER = "4-ANPP powder 99% purity, MOQ 1 kg, price USD 120 per kg, free samples, Wickr: fake_wickr_{k}"
POISON = "TRIPWIRE <script>alert('x')</script> " + OFFER


@Language.component("pwatch_test_step_tripwire")
def tripwire(doc):
    if "TRIPWIRE" in doc.text:
        raise ValueError(f"cannot judge {doc.text[:60]!r}")
    return doc


@pytest.fixture(scope="module")
def plain(trained_model) -> Detector:
    return Detector.load(trained_model)


@pytest.fixture(scope="module")
def tripped(trained_model) -> Detector:
    det = Detector.load(trained_model)
    for nlp in det.pipelines.values():
        nlp.add_pipe("pwatch_test_step_tripwire", first=True)
    return det


@pytest.fixture
def settings(tmp_path):
    s = load_settings(data_dir=str(tmp_path), environ={})
    steps.upgrade_database(s)
    return s


def crawl(settings, day: dt.date, texts: dict[str, str]) -> None:
    items = [
        ListingItem(platform="chemdir", listing_key=key, url=f"http://127.0.0.11:8470/product/{key}.html",
                    title=f"Listing {key}", text=text, price="120.00", currency="USD", seller_key="cd-a1",
                    seller_name="Seller", contacts=[f"telegram:@fake_{key.lower()}"], lang="en", crawl_date=day,
                    evidence=Evidence("warc/t.warc.gz", f"<urn:uuid:{key}>", hashlib.sha256(key.encode()).hexdigest()))
        for key, text in texts.items()
    ]
    with steps.transaction(settings) as session:
        run = open_crawl_run(session, "chemdir", day)
        ingest_batch(session, run, items)
        close_crawl_run(session, run, {"pages": len(items) + 1, "errors": {}})


def counts(settings) -> tuple[int, list[tuple[dt.date, str]]]:
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            detections = s.scalar(select(func.count()).select_from(Detection))
            failures = [tuple(row) for row in s.execute(select(DetectionFailure.failed_on, DetectionFailure.reason))]
    finally:
        engine.dispose()
    return detections, failures


def test_one_poisoned_listing_is_recorded_and_the_others_scored(settings, tripped, plain):
    crawl(settings, D0, {"CD1": OFFER.format(k=1), "CD2": POISON.format(k=2), "CD3": OFFER.format(k=3)})
    assert steps.detect(settings, D0, detector=tripped) == {"scored": 2, "flagged": 2, "failed": 1}
    detections, failures = counts(settings)
    assert detections == 2
    [(day, reason)] = failures
    assert day == D0 and reason.startswith("ValueError: cannot judge") and "<script>alert('x')</script>" in reason
    # the later steps run on what was scored
    assert steps.reconcile(settings, D0) is not None
    report = steps.report(settings, D0)["report"]
    html = open(report, encoding="utf-8").read()
    assert 'id="detection-failed"' in html and "detection failed" in html and "CD2" in html
    assert "&lt;script&gt;alert(" in html and "<script>alert(" not in html

    # rerunning the day retries it (still failing: one row per day, nothing else changes) ...
    assert steps.detect(settings, D0, detector=tripped) == {"scored": 0, "flagged": 0, "failed": 1}
    assert counts(settings) == (2, failures)
    # ... and the next run with a detector that can judge it scores it
    assert steps.detect(settings, D0 + dt.timedelta(days=1), detector=plain) == {"scored": 1, "flagged": 1, "failed": 0}
    assert counts(settings) == (3, failures)
    html = open(steps.report(settings, D0 + dt.timedelta(days=1))["report"], encoding="utf-8").read()
    assert 'id="detection-failed"' not in html


def test_a_detector_that_fails_on_everything_fails_the_step_loudly(settings, tripped):
    crawl(settings, D0, {"CD1": POISON.format(k=1), "CD2": POISON.format(k=2)})
    with pytest.raises(ServiceError, match="detection failed for all 2 snapshots"):
        steps.detect(settings, D0, detector=tripped)
    assert [d for d, _ in counts(settings)[1]] == [D0, D0]  # recorded all the same
