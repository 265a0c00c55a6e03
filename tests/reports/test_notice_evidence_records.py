"""Notices cite the WARC records of their evidence, not only payload hashes: two listings whose
pages are byte-identical are told apart by the record each notice names, in the body POSTed to
the platform, the Lumen-like JSON export and the statements of reasons. Checked against the
evidence stored in the tracking database."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.storage.models import Event, Listing, Observation
from tests.reports.conftest import D0, item

SAME_BODY = "a" * 64  # both listings' pages hash the same: only the records tell them apart


def _stored_records(world) -> dict[str, set[tuple[str, str, str, str]]]:
    """url -> (sha256, WARC file, record id, target URI) of its flagged page and live sightings."""
    out: dict[str, set] = {}
    with Session(world.engine) as s:
        for url, *ev in s.execute(
            select(Listing.url, Event.evidence_sha256, Event.evidence_file, Event.evidence_record, Event.evidence_uri)
            .join(Listing, Listing.id == Event.listing_id).where(Event.kind == "flagged")
        ):
            out.setdefault(url, set()).add(tuple(ev))
        for url, *ev in s.execute(
            select(Listing.url, Observation.evidence_sha256, Observation.evidence_file, Observation.evidence_record,
                   Observation.evidence_uri)
            .join(Listing, Listing.id == Observation.listing_id).where(Observation.kind == "seen")
        ):
            out.setdefault(url, set()).add(tuple(ev))
    return out


def test_notices_cite_the_warc_records_of_their_evidence(world, endpoint):
    items = []
    for i in range(2):
        it = item("chemdir", endpoint.origin, f"CD{i}", D0, f"4-ANPP 99% lot {i}")
        # the page was reached through a redirect: the record's target URI is the final URL
        items.append(replace(it, evidence=Evidence("warc/day-1.warc.gz", f"<urn:uuid:0000000{i}-rec>", SAME_BODY,
                                                   f"{it.url}?via=moved")))
    world.crawl("chemdir", endpoint.origin, D0, items)
    for i in range(2):
        world.review(f"CD{i}", "confirmed", D0)
    assert send_notices(world.settings, D0)["sent"] == 1

    stored = _stored_records(world)
    assert all(len(v) == 1 for v in stored.values()) and len(stored) == 2
    body = endpoint.received[0]
    sent = {e["url"]: e for e in body["evidence"]}
    for url, records in stored.items():
        ((sha, warc_file, record_id, target_uri),) = records
        assert sent[url]["sha256"] == [sha]
        assert sent[url]["records"] == [{"sha256": sha, "warc_file": warc_file, "record_id": record_id,
                                         "target_uri": target_uri}]
        line = next(line for line in body["explanation"].splitlines() if line.startswith(f"- {url} "))
        assert record_id in line and warc_file in line and target_uri in line and sha in line
    assert len({r["record_id"] for e in sent.values() for r in e["records"]}) == 2

    out = world.settings.data_path / "notices"
    works = json.loads((out / "notices.json").read_text())["notices"][0]["works_attributes"]
    for work in works:
        url = work["infringing_urls_attributes"][0]["url"]
        ((sha, warc_file, record_id, target_uri),) = stored[url]
        assert work["evidence_records"] == [{"sha256": sha, "warc_file": warc_file, "record_id": record_id,
                                             "target_uri": target_uri}]
    rows = list(csv.DictReader((out / "statements_of_reasons.csv").open(encoding="utf-8")))
    assert len(rows) == 2
    for row in rows:
        ((_sha, warc_file, record_id, _uri),) = stored[row["pw_url"]]
        assert row["pw_evidence_records"] == f"{record_id}@{warc_file}"
