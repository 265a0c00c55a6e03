"""The tamper matrix: each forgery of a real run's data dir is caught by `pwatch audit verify`
with a message naming what changed; the untouched data dir verifies clean. Every forgery is
committed (verify reads through its own connection) and undone afterwards."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from precursor_watch import steps
from precursor_watch.cli import main
from precursor_watch.ledger.signing import HeadStatement, key_id, sign
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Event, LedgerHead, LedgerLeaf, Listing, Platform
from tests.ledger.conftest import DATES

pytestmark = pytest.mark.slow


def verify(settings, capsys, *extra: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in steps.settings_environment(settings).items():
            mp.setenv(name, value)
        code = main(["audit", "verify", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


@contextmanager
def db(settings):
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _event(session, where) -> dict:
    row = session.execute(select(Event.__table__).where(where).order_by(Event.id).limit(1)).mappings().one()
    return dict(row)


def _listing_name(session, listing_id) -> str:
    p, k = session.execute(select(Platform.name, Listing.listing_key).join(Platform).where(Listing.id == listing_id)).one()
    return f"{p}/{k}"


def test_untouched_data_dir_verifies_clean(ledger_run, capsys):
    code, out = verify(ledger_run, capsys)
    assert code == 0, out
    assert "every link holds" in out and "cited WARC records re-read: 0 " not in out
    with db(ledger_run) as s:
        size = s.scalar(select(LedgerHead.tree_size).order_by(LedgerHead.tree_size.desc()).limit(1))
        events = s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
        heads = s.scalars(select(LedgerHead.head_date).order_by(LedgerHead.id)).all()
    assert size and size == s_count(ledger_run) and events
    assert heads == DATES  # one head per day; the rerun added none


def s_count(settings) -> int:
    with db(settings) as s:
        return len(s.scalars(select(Event.id)).all())


def test_edit_an_events_time(ledger_run, capsys):
    with db(ledger_run) as s:
        e = _event(s, Event.kind == "removal_observed")
        name = _listing_name(s, e["listing_id"])
        earlier = e["occurred_on"] - dt.timedelta(days=1)
        s.execute(update(Event).where(Event.id == e["id"]).values(occurred_on=earlier))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            s.execute(update(Event).where(Event.id == e["id"]).values(occurred_on=e["occurred_on"]))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"event {e['id']} (removal_observed" in first and name in first
    assert f"occurred_on: logged '{e['occurred_on']}', now '{earlier}'" in first


def test_delete_an_event(ledger_run, capsys):
    with db(ledger_run) as s:
        e = _event(s, Event.kind == "reported")
        name = _listing_name(s, e["listing_id"])
        s.execute(delete(Event).where(Event.id == e["id"]))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            s.execute(insert(Event.__table__).values(**e))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"event {e['id']} (reported, {e['occurred_on']}, listing {name})" in first and "deleted" in first


def test_insert_an_event(ledger_run, capsys):
    with db(ledger_run) as s:
        e = _event(s, (Event.kind == "flagged") & (Event.occurred_on < DATES[-1]))
        forged = {k: v for k, v in e.items() if k != "id"} | {"kind": "reported", "details": {}}
        new_id = s.execute(insert(Event.__table__).values(**forged).returning(Event.id)).scalar_one()
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            s.execute(delete(Event).where(Event.id == new_id))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"event {new_id} (reported, {e['occurred_on']}" in first and "inserted after sealing" in first


def test_reorder_two_events(ledger_run, capsys):
    with db(ledger_run) as s:
        a, b = s.execute(select(LedgerLeaf.__table__).order_by(LedgerLeaf.leaf_index).offset(3).limit(2)).mappings().all()
        a, b = dict(a), dict(b)
        # move b before a, keeping each leaf consistent with its event: only the order is forged
        s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == a["leaf_index"]).values(event_id=-1))
        s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == b["leaf_index"])
                  .values(event_id=a["event_id"], leaf_hash=a["leaf_hash"], leaf_data=a["leaf_data"]))
        s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == a["leaf_index"])
                  .values(event_id=b["event_id"], leaf_hash=b["leaf_hash"], leaf_data=b["leaf_data"]))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            for row in (a, b):
                s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == row["leaf_index"]).values(event_id=-1 - row["leaf_index"]))
            for row in (a, b):
                s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == row["leaf_index"]).values(**row))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"signed head #1 of {DATES[0]}" in first and "no longer hash to its signed root" in first
    assert f"leaves 0..{int(first.split('tree size ')[1].split(')')[0]) - 1} differ" in first
    assert (f"leaf {a['leaf_index']} holds event {b['event_id']} before leaf {b['leaf_index']} with event {a['event_id']}: "
            "the log's order was changed") in first


def test_change_a_listings_stored_evidence_hash(ledger_run, capsys):
    forged = "0" * 64
    with db(ledger_run) as s:
        e = _event(s, (Event.kind == "first_seen") & Event.evidence_record.is_not(None))
        name = _listing_name(s, e["listing_id"])
        s.execute(update(Event).where(Event.id == e["id"]).values(evidence_sha256=forged))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            s.execute(update(Event).where(Event.id == e["id"]).values(evidence_sha256=e["evidence_sha256"]))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"event {e['id']} (first_seen, {e['occurred_on']}, listing {name})" in first
    assert f"evidence.payload_sha256: logged '{e['evidence_sha256']}', now '{forged}'" in first
    # the re-read WARC record contradicts the forged hash as well
    assert f"has payload SHA-256 {e['evidence_sha256']}, the event cites {forged}" in out


def _members(blob: bytes) -> list[bytes]:
    """The decompressed gzip members of a .warc.gz file (warcio writes one member per record)."""
    members = []
    while blob:
        d = zlib.decompressobj(31)
        members.append(d.decompress(blob))
        blob = d.unused_data
    return members


def _flip_payload_byte(blob: bytes, record_id: str) -> bytes:
    """The file with one byte of the record's HTTP payload flipped, every member still valid gzip."""
    members = _members(blob)
    i = next(i for i, m in enumerate(members) if record_id.encode() in m)
    m = members[i]
    body = m.index(b"\r\n\r\n", m.index(b"\r\n\r\n") + 4) + 4 + 10  # past the WARC and HTTP headers
    members[i] = m[:body] + bytes([m[body] ^ 0x01]) + m[body + 1:]
    return b"".join(gzip.compress(x) for x in members)


def test_flip_one_byte_of_a_warc_payload(ledger_run, capsys):
    with db(ledger_run) as s:
        e = _event(s, (Event.kind == "first_seen") & Event.evidence_record.is_not(None))
        name = _listing_name(s, e["listing_id"])
    path = Path(ledger_run.data_path) / e["evidence_file"]
    original = path.read_bytes()
    path.write_bytes(_flip_payload_byte(original, e["evidence_record"]))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        path.write_bytes(original)
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"(first_seen, {e['occurred_on']}, listing {name})" in first
    assert f"WARC record {e['evidence_record']} in {e['evidence_file']} has payload SHA-256" in first
    assert f"the event cites {e['evidence_sha256']}" in first


def test_edit_a_number_in_an_exported_statistics_csv(ledger_run, capsys, tmp_path):
    out_dir = tmp_path / "export"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in steps.settings_environment(ledger_run).items():
            mp.setenv(name, value)
        assert main(["audit", "--from", DATES[0].isoformat(), "--to", DATES[-1].isoformat(), "--out", str(out_dir)]) == 0
    capsys.readouterr()
    code, out = verify(ledger_run, capsys, "--export", str(out_dir))
    assert code == 0, out
    assert "numbers recomputed from the verified events" in out
    rows = list(csv.reader((out_dir / "statistics.csv").open(encoding="utf-8")))
    line = next(i for i, r in enumerate(rows) if r[0] == "flagged" and r[1] == "total")
    original = rows[line][2]
    rows[line][2] = str(int(original) + 1)
    with (out_dir / "statistics.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    code, out = verify(ledger_run, capsys, "--export", str(out_dir))
    assert code == 1
    assert "statistics.csv differs from MANIFEST.sha256" in out.split("first broken link:")[1].splitlines()[0]
    assert f"statistics.csv line {line + 1}: flagged for total is '{int(original) + 1}', the verified events give {original}" in out
    # rewriting the manifest to match does not help: its signature no longer holds
    from precursor_watch.reports.manifest import write_manifest

    shutil.move(out_dir / "MANIFEST.sha256.sig", tmp_path / "sig")
    write_manifest(out_dir)
    shutil.move(tmp_path / "sig", out_dir / "MANIFEST.sha256.sig")
    code, out = verify(ledger_run, capsys, "--export", str(out_dir))
    assert code == 1 and "MANIFEST.sha256 changed after it was signed" in out


def test_replace_a_signed_head_with_one_signed_by_another_key(ledger_run, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    with db(ledger_run) as s:
        head = s.execute(select(LedgerHead.__table__).order_by(LedgerHead.id).limit(1)).mappings().one()
        head = dict(head)
        statement = HeadStatement(head["head_date"].isoformat(), head["tree_size"], head["root_hash"])
        s.execute(update(LedgerHead).where(LedgerHead.id == head["id"])
                  .values(key_id=key_id(other.public_key()), signature=sign(other, statement.message())))
    try:
        code, out = verify(ledger_run, capsys)
    finally:
        with db(ledger_run) as s:
            s.execute(update(LedgerHead).where(LedgerHead.id == head["id"]).values(key_id=head["key_id"], signature=head["signature"]))
    assert code == 1
    first = out.split("first broken link:")[1].splitlines()[0]
    assert f"signed head #{head['id']} of {head['head_date']}" in first
    assert f"signed by key {key_id(other.public_key())[:16]}" in first and "not by the verifying key" in first


def test_after_every_forgery_was_undone_and_the_log_resealed_it_verifies_clean(ledger_run, capsys):
    result = steps.seal_ledger(ledger_run, DATES[-1])
    assert result["leaves_appended"] == 0 and not result["new_head"]
    code, out = verify(ledger_run, capsys)
    assert code == 0, out
    assert "events not yet under a head: 0" in out


def test_a_public_statement_verifies_and_a_changed_number_in_it_is_named(ledger_run, capsys, tmp_path):
    import json

    from precursor_watch.storage.statistics import STATEMENT_TERMS

    out_dir = tmp_path / "statement"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in steps.settings_environment(ledger_run).items():
            mp.setenv(name, value)
        args = ["audit", "--statement", "--from", DATES[0].isoformat(), "--to", DATES[-1].isoformat()]
        assert main([*args, "--out", str(out_dir)]) == 0
    capsys.readouterr()
    document = json.loads((out_dir / "statement.json").read_text(encoding="utf-8"))
    assert [t["term"] for t in document["terms"]] == [t.term for t in STATEMENT_TERMS]
    removed = next(t for t in document["terms"] if t["statistic"] == "removed")
    assert removed["value"] > 0 and f"{removed['value']:,} pieces of information cleaned" in document["statement"]
    # every number links to its drill-down section, and the page names the heads it rests on
    html = (out_dir / "statement.html").read_text(encoding="utf-8")
    drill = (out_dir / "statement-drilldown.html").read_text(encoding="utf-8")
    heads = json.loads((out_dir / "heads.json").read_text(encoding="utf-8"))["heads"]
    assert document["heads"] == heads and heads
    for t in document["terms"]:
        assert f'href="statement-drilldown.html#{t["statistic"]}"' in html and f'id="{t["statistic"]}"' in drill
    assert 'href="heads.json"' in html and heads[-1]["root_hash"] in html
    code, out = verify(ledger_run, capsys, "--export", str(out_dir))
    assert code == 0, out

    removed["value"] += 1
    (out_dir / "statement.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    code, out = verify(ledger_run, capsys, "--export", str(out_dir))
    assert code == 1
    assert "statement.json differs from MANIFEST.sha256" in out.split("first broken link:")[1].splitlines()[0]
    assert (f"statement.json: 'pieces of information cleaned' is {removed['value']} (removed), "
            f"the verified events give {removed['value'] - 1} (removed)") in out
