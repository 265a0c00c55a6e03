"""Evidence that binds: every event cites one WARC record by file, record id, target URI and hash.

Two listings removed on one day answer the same generic 404 body: their removal events share the
payload hash but cite different records, and the audit export and `pwatch stats --explain` carry
both. Every cited record is re-read from its WARC file with warcio and re-hashed. SQLite and
PostgreSQL; the WARC files are real (written by the crawlers' EvidenceWriter).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from precursor_watch.contract import Evidence, GoneItem, ListingItem
from precursor_watch.crawlers.warc import Capture, EvidenceWriter
from precursor_watch.cli import main
from precursor_watch.reports.audit import _evidence_rows, collect
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Event, Listing, Observation, Snapshot
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.stats import explain

D0 = dt.date(2026, 11, 1)
D1 = D0 + dt.timedelta(days=1)
ORIGIN = "http://chemdir.test"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
# What chemdir answers for every removed listing: one body, whatever the listing.
NOT_FOUND = b"<!DOCTYPE html><html><body><div class=\"removed\">This product is no longer listed.</div></body></html>"
KEYS = ("CD1", "CD2", "CD3")


def _page(key: str) -> bytes:
    return f"<html><body><h1 class=\"title\">Offer {key}</h1><div class=\"description\">1 kg</div></body></html>".encode()


def _capture(url: str, status: int, body: bytes, location: str | None = None) -> Capture:
    headers = [("Content-Type", "text/html; charset=utf-8")] + ([("Location", location)] if location else [])
    return Capture(url, status, headers, body, dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc))


def _listing(key: str, day: dt.date, evidence: Evidence) -> ListingItem:
    return ListingItem(platform="chemdir", listing_key=key, url=f"{ORIGIN}/product/{key}.html", title=f"Offer {key}",
                       text="1 kg", price="120.00", currency="USD", seller_key="cd-a1", seller_name="Seller One",
                       contacts=["telegram:@fake_seller_one"], lang="en", crawl_date=day, evidence=evidence)


def build(session: Session, data_dir: Path) -> dict[str, Evidence]:
    """Day 0: three live listings (CD1 reached through a redirect); day 1: CD1 and CD2 answer the
    same 404 page, CD3 is still live. Returns the cited evidence by '<event>/<key>'."""
    cited: dict[str, Evidence] = {}
    writer = EvidenceWriter(data_dir, "chemdir", D0)
    items = []
    for key in KEYS:
        url = f"{ORIGIN}/product/{key}.html"
        if key == "CD1":  # the hop is archived, the final page is cited (as the spider does)
            writer.write(_capture(url, 301, b"", location=url + "?via=moved"))
            url += "?via=moved"
        cited[f"first_seen/{key}"] = writer.write(_capture(url, 200, _page(key)))
        items.append(_listing(key, D0, cited[f"first_seen/{key}"]))
    writer.close()
    run = open_crawl_run(session, "chemdir", D0)
    ingest_batch(session, run, items)
    close_crawl_run(session, run, {"pages": 4, "errors": {}})

    writer = EvidenceWriter(data_dir, "chemdir", D1)
    items = []
    for key in ("CD1", "CD2"):
        url = f"{ORIGIN}/product/{key}.html"
        cited[f"removal_observed/{key}"] = writer.write(_capture(url, 404, NOT_FOUND))
        items.append(GoneItem("chemdir", url, key, 404, "not_found", crawl_date=D1, evidence=cited[f"removal_observed/{key}"]))
    live = writer.write(_capture(f"{ORIGIN}/product/CD3.html", 200, _page("CD3")))
    items.append(_listing("CD3", D1, live))
    writer.close()
    run = open_crawl_run(session, "chemdir", D1)
    ingest_batch(session, run, items)
    close_crawl_run(session, run, {"pages": 4, "errors": {}})
    reconcile_date(session, D1)
    session.flush()
    return cited


def reread(data_dir: Path, warc_file: str, record_id: str) -> tuple[str, str, int, bytes]:
    """(record type, WARC-Target-URI, HTTP status, payload) of one record, found by file + id."""
    with open(data_dir / warc_file, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_headers.get_header("WARC-Record-ID") == record_id:
                status = int(record.http_headers.get_statuscode())
                return record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), status, record.content_stream().read()
    pytest.fail(f"record {record_id} not in {warc_file}")


def assert_resolves(data_dir: Path, sha: str, warc_file: str, record_id: str, uri: str) -> None:
    rec_type, target, _status, payload = reread(data_dir, warc_file, record_id)
    assert rec_type == "response" and target == uri
    assert hashlib.sha256(payload).hexdigest() == sha


def test_every_event_cites_its_own_record_and_each_resolves(any_session, tmp_path):
    cited = build(any_session, tmp_path)
    rows = any_session.execute(
        select(Event.kind, Event.listing_id, Event.evidence_sha256, Event.evidence_file, Event.evidence_record, Event.evidence_uri)
        .where(Event.kind.in_(("first_seen", "removal_observed"))).order_by(Event.id)
    ).all()
    key_of = dict(any_session.execute(select(Listing.id, Listing.listing_key)).all())
    got = {f"{kind}/{key_of[lid]}": (sha, file, rec, uri) for kind, lid, sha, file, rec, uri in rows}
    assert set(got) == {f"first_seen/{k}" for k in KEYS} | {"removal_observed/CD1", "removal_observed/CD2"}
    for name, (sha, file, rec, uri) in got.items():
        e = cited[name]
        assert (sha, file, rec, uri) == (e.sha256, e.warc_file, e.record_id, e.target_uri), name
        assert_resolves(tmp_path, sha, file, rec, uri)
    # the redirected listing cites the final page, not the hop's empty body
    assert got["first_seen/CD1"][0] != EMPTY_SHA and got["first_seen/CD1"][3].endswith("?via=moved")
    # identical 404 bodies: one hash, two records
    one, two = got["removal_observed/CD1"], got["removal_observed/CD2"]
    assert one[0] == two[0] == hashlib.sha256(NOT_FOUND).hexdigest() and one[2] != two[2]
    # observations and snapshots name the same records (a flagged event copies the snapshot's)
    obs = any_session.execute(select(Observation.evidence_record, Observation.evidence_uri)).all()
    assert (cited["first_seen/CD1"].record_id, cited["first_seen/CD1"].target_uri) in obs
    snaps = set(any_session.scalars(select(Snapshot.evidence_record)))
    assert {cited[f"first_seen/{k}"].record_id for k in KEYS} <= snaps


def test_explain_and_audit_export_tell_identical_removals_apart(any_session, tmp_path):
    cited = build(any_session, tmp_path)
    for members in (explain(any_session, "removed"),
                    [m for m in collect(any_session, D0, D1)["drill"] if m["metric"] == "removed" and m["group"] == "total"]):
        records = {m["listing_key"]: m["evidence"][0] for m in members}
        assert set(records) == {"CD1", "CD2"}
        for key, e in records.items():
            want = cited[f"removal_observed/{key}"]
            assert (e["evidence_sha256"], e["warc_file"], e["warc_record_id"], e["target_uri"]) == (
                want.sha256, want.warc_file, want.record_id, want.target_uri)
    rows = [r for r in _evidence_rows(collect(any_session, D0, D1)["drill"]) if r[0] == "removed" and r[1] == "total"]
    assert len({r[9] for r in rows}) == 2 and len({r[7] for r in rows}) == 1
    for r in rows:
        assert_resolves(tmp_path, r[7], r[8], r[9], r[10])


def test_cli_explain_and_audit_files_carry_the_records(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PWATCH_DATABASE_URL", raising=False)
    data = str(tmp_path)
    assert main(["db", "upgrade", "--data-dir", data]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    with Session(engine) as s, s.begin():
        cited = build(s, tmp_path)
    engine.dispose()
    removals = [cited["removal_observed/CD1"], cited["removal_observed/CD2"]]
    capsys.readouterr()
    assert main(["stats", "--data-dir", data, "--explain", "removed", "--format", "csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {(r["warc_file"], r["warc_record_id"], r["target_uri"], r["evidence_sha256"]) for r in rows} == {
        (e.warc_file, e.record_id, e.target_uri, e.sha256) for e in removals}
    assert main(["stats", "--data-dir", data, "--explain", "removed"]) == 0
    text = capsys.readouterr().out
    assert all(e.record_id in text and e.warc_file in text for e in removals)
    out = tmp_path / "audit-out"
    assert main(["audit", "--data-dir", data, "--from", D0.isoformat(), "--to", D1.isoformat(), "--out", str(out)]) == 0
    exported = [r for r in csv.DictReader((out / "evidence.csv").open(encoding="utf-8"))
                if r["metric"] == "removed" and r["group"] == "total"]
    assert {(r["warc_file"], r["warc_record_id"]) for r in exported} == {(e.warc_file, e.record_id) for e in removals}
    for r in exported:
        assert_resolves(tmp_path, r["evidence_sha256"], r["warc_file"], r["warc_record_id"], r["target_uri"])
    drill = [r for r in csv.DictReader((out / "drilldown.csv").open(encoding="utf-8")) if r["metric"] == "removed"]
    assert {r["evidence_records"] for r in drill if r["group"] == "total"} == {e.record_id for e in removals}


# A database at revision 0001 with one gone observation and the removal event citing it.
LEGACY_ROWS = (
    "INSERT INTO platforms (id, name) VALUES (1, 'chemdir')",
    "INSERT INTO crawl_runs (id, platform_id, crawl_date, closed, pages, items, errors, error_rate, healthy)"
    " VALUES (1, 1, '2026-11-02', true, 1, 1, '{}', 0.0, true)",
    "INSERT INTO listings (id, platform_id, listing_key, url, title, first_seen_on, last_seen_on, content_sha256, presence, review)"
    f" VALUES (1, 1, 'CD1', 'u', 't', '2026-11-01', '2026-11-01', '{'a' * 64}', 'removed', 'none')",
    "INSERT INTO observations (id, crawl_run_id, listing_id, url, kind, evidence_file, evidence_record, evidence_sha256)"
    f" VALUES (1, 1, 1, 'u', 'gone', 'evidence/x.warc.gz', '<urn:uuid:legacy>', '{'b' * 64}')",
    "INSERT INTO events (id, kind, occurred_on, occurred_at, platform_id, listing_id, evidence_sha256, observation_id, details)"
    f" VALUES (1, 'removal_observed', '2026-11-02', '2026-11-02 00:00:00', 1, 1, '{'b' * 64}', 1, '{{}}')",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def legacy_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    import uuid

    from sqlalchemy import text

    from tests.storage.conftest import PG_BASE, pg_url_with_schema

    schema = f"pw_legacy_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_url_with_schema(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_migration_upgrades_an_existing_database_and_backfills_event_records(legacy_url):
    from sqlalchemy import text

    from precursor_watch.storage.db import upgrade

    upgrade(legacy_url, "0001")
    engine = make_engine(legacy_url)
    try:
        with engine.begin() as conn:
            for statement in LEGACY_ROWS:
                conn.execute(text(statement))
        upgrade(legacy_url)
        with Session(engine) as s:
            row = s.execute(select(Event.evidence_sha256, Event.evidence_file, Event.evidence_record, Event.evidence_uri)).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("b" * 64, "evidence/x.warc.gz", "<urn:uuid:legacy>", None)
