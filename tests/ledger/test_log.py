"""Appending and sealing on SQLite and PostgreSQL: bulk leaves in id order, signed heads, no new
leaf or head from a rerun, proofs from the stored log; the v1 and v2 encodings and a log holding
both; `pwatch keys init`."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from precursor_watch.ledger import log
from precursor_watch.ledger.encoding import (
    V2_FIELDS,
    decode,
    encode,
    encode_row,
    encode_row_v1,
    event_leaf,
    leaf_content,
)
from precursor_watch.ledger.log import event_rows, heads, leaf_hashes, row_tuples, seal
from precursor_watch.ledger.merkle import MerkleTree, verify_consistency, verify_inclusion
from precursor_watch.ledger.pack_verifier import V2_FIELDS as VERIFIER_V2_FIELDS
from precursor_watch.ledger.pack_verifier import leaf_content as verifier_leaf_content
from precursor_watch.ledger.signing import key_id, verifies
from precursor_watch.ledger.verify import verify
from precursor_watch.storage.crawls import open_crawl_run
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Event, LedgerHead, LedgerLeaf
from tests.storage.conftest import any_engine, any_session, pg_schema, pg_url, sqlite_url  # noqa: F401
from tests.storage.helpers import listing

D0 = dt.date(2026, 11, 1)
D1 = D0 + dt.timedelta(days=1)


def test_seal_logs_new_events_once_and_signs_heads(any_session):
    s = any_session
    key = Ed25519PrivateKey.generate()
    ingest_batch(s, open_crawl_run(s, "chemdir", D0), [listing("chemdir", f"L{i}", D0) for i in range(3)])
    first = seal(s, D0, key)
    assert first.appended == 3 and first.new_head and first.head.tree_size == 3
    again = seal(s, D0, key)
    assert again.appended == 0 and not again.new_head and again.head == first.head

    ingest_batch(s, open_crawl_run(s, "chemdir", D1), [listing("chemdir", "L9", D1)])
    second = seal(s, D1, key)
    assert second.appended == 1 and second.head.tree_size == 4

    # leaves in event id order, each the hash of the event's encoding as it is now
    ids = list(s.scalars(select(Event.id).order_by(Event.id)))
    assert list(s.scalars(select(LedgerLeaf.event_id).order_by(LedgerLeaf.leaf_index))) == ids
    tree = MerkleTree(leaf_hashes(s))
    assert tree.leaves == [event_leaf(row)[1] for row in event_rows(s)]
    stored = heads(s)
    assert [(h.head_date, h.tree_size) for h in stored] == [(D0, 3), (D1, 4)]
    for h in stored:
        assert h.key_id == key_id(key.public_key()) and verifies(key.public_key(), h.statement().message(), h.signature)
        assert h.root_hash == tree.root(h.tree_size).hex()
        for i in range(h.tree_size):
            verify_inclusion(
                tree.leaves[i], i, h.tree_size, tree.inclusion_proof(i, h.tree_size), bytes.fromhex(h.root_hash)
            )
    verify_consistency(
        3, 4, bytes.fromhex(stored[0].root_hash), bytes.fromhex(stored[1].root_hash), tree.consistency_proof(3, 4)
    )
    # the text-built encodings sealing and verify use are byte for byte the definition's, both versions
    assert [encode_row(r) for r in row_tuples(s)] == [encode(leaf_content(r, 2)) for r in event_rows(s)]
    assert [encode_row_v1(r) for r in row_tuples(s)] == [encode(leaf_content(r, 1)) for r in event_rows(s)]
    # a logged leaf keeps the encoding it was logged with (now version 2), and decodes to its content
    data = s.scalar(select(LedgerLeaf.leaf_data).where(LedgerLeaf.leaf_index == 0))
    content = decode(data)
    assert content["v"] == 2 and content["event_id"] == ids[0] and content["kind"] == "first_seen"
    assert content == leaf_content(next(iter(event_rows(s))), 2) == verifier_leaf_content(data)


_ROW = {
    "id": 7,
    "occurred_on": D0,
    "occurred_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    "kind": "removal_observed",
    "platform_id": 1,
    "account_id": None,
    "store_id": None,
    "listing_id": 3,
    "cause": "not_found",
    "observation_id": 9,
    "snapshot_id": None,
    "detection_id": None,
    "review_id": None,
    "notice_id": None,
    "related_listing_id": None,
    "details": {"b": 1, "a": "é"},
    "evidence_record": "<urn:uuid:1>",
    "evidence_uri": "http://127.0.0.11/x",
    "evidence_sha256": "ab" * 32,
    "evidence_file": "evidence/x.warc.gz",
}


def test_encoding_v1_is_canonical():
    row = _ROW
    text = encode(leaf_content(row, 1))
    assert text == (
        '{"account_id":null,"cause":"not_found","details":{"a":"é","b":1},"detection_id":null,'
        '"event_id":7,"evidence":{"payload_sha256":"' + "ab" * 32 + '","target_uri":"http://127.0.0.11/x",'
        '"warc_file":"evidence/x.warc.gz","warc_record_id":"<urn:uuid:1>"},"kind":"removal_observed",'
        '"listing_id":3,"notice_id":null,"observation_id":9,"occurred_at":"2026-11-01T00:00:00.000000Z",'
        '"occurred_on":"2026-11-01","platform_id":1,"related_listing_id":null,"review_id":null,"snapshot_id":null,"store_id":null,"v":1}'
    )
    # a naive timestamp is UTC; another zone is converted
    plus_one = dt.datetime(2026, 11, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert encode(leaf_content(row | {"occurred_at": plus_one}, 1)) == text
    assert encode(leaf_content(row | {"occurred_at": dt.datetime(2026, 11, 1)}, 1)) == text


def test_encoding_v2_is_the_v1_values_in_order_and_decodes_to_them():
    row = _ROW
    text = encode(leaf_content(row, 2))
    assert text == (
        '[2,7,"2026-11-01","2026-11-01T00:00:00.000000Z","removal_observed",1,null,null,3,"not_found",9,null,null,'
        'null,null,null,"<urn:uuid:1>","http://127.0.0.11/x","' + "ab" * 32 + '","evidence/x.warc.gz",{"a":"é","b":1}]'
    )
    assert len(text) < len(encode(leaf_content(row, 1))) / 2 + 40
    assert decode(text) == leaf_content(row, 2) and decode(encode(leaf_content(row, 1))) == leaf_content(row, 1)
    # the pack's standalone verifier reads the same fields in the same order
    assert VERIFIER_V2_FIELDS == V2_FIELDS and verifier_leaf_content(text) == decode(text)
    assert verifier_leaf_content(encode(leaf_content(row, 1))) == leaf_content(row, 1)
    for bad in ("[3,1]", '{"v":9}', '"x"'):
        with pytest.raises(ValueError):
            decode(bad)


def test_a_log_with_leaves_of_both_versions_verifies_and_names_a_changed_v1_event(any_session, monkeypatch, tmp_path):
    """Leaves logged by an older release (version 1) stay as they are; new ones are version 2; verify
    compares each with its event in its own version."""
    s = any_session
    key = Ed25519PrivateKey.generate()
    ingest_batch(s, open_crawl_run(s, "chemdir", D0), [listing("chemdir", f"L{i}", D0) for i in range(3)])
    with monkeypatch.context() as m:  # sealing as a release before version 2 did
        m.setattr(log, "encode_row", encode_row_v1)
        seal(s, D0, key)
    ingest_batch(s, open_crawl_run(s, "chemdir", D1), [listing("chemdir", "L9", D1)])
    seal(s, D1, key)
    datas = list(s.scalars(select(LedgerLeaf.leaf_data).order_by(LedgerLeaf.leaf_index)))
    assert [d[0] for d in datas] == ["{", "{", "{", "["]
    s.flush()
    clean = verify(s, tmp_path, key.public_key())
    assert clean.leaves == 4 and clean.events_checked == 4
    assert not [p for p in clean.problems if "changed" in p or "stored hash" in p], clean.problems

    first = s.scalar(select(Event.id).order_by(Event.id).limit(1))
    s.execute(update(Event).where(Event.id == first).values(occurred_on=D1))
    broken = verify(s, tmp_path, key.public_key())
    assert any(f"event {first} " in p and f"occurred_on: logged '{D0}', now '{D1}'" in p for p in broken.problems), (
        broken.problems
    )


def test_keys_init_creates_a_private_key_0600_and_exports_the_public_key(tmp_path, capsys):
    from precursor_watch.cli import main

    exported = tmp_path / "pub.pem"
    assert main(["keys", "init", "--data-dir", str(tmp_path / "data"), "--export", str(exported)]) == 0
    out = capsys.readouterr().out
    private = tmp_path / "data" / "ledger" / "signing_key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "created" in out and "BEGIN PUBLIC KEY" in out
    assert exported.read_text() == (tmp_path / "data" / "ledger" / "public_key.pem").read_text()
    before = private.read_bytes()
    assert main(["keys", "init", "--data-dir", str(tmp_path / "data")]) == 0
    assert "exists" in capsys.readouterr().out and private.read_bytes() == before


def test_the_pack_verifier_needs_only_the_standard_library_and_cryptography():
    import ast
    from pathlib import Path

    from precursor_watch.ledger.pack import VERIFIER

    tops = set()
    for node in ast.walk(ast.parse(Path(VERIFIER).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            tops.add(node.module.split(".")[0])
    assert tops - {"cryptography"} <= set(__import__("sys").stdlib_module_names), tops


def test_a_database_with_events_from_before_the_ledger_is_logged_in_id_order_at_its_first_seal(tmp_path):
    from sqlalchemy.orm import Session

    from precursor_watch.storage.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    # Events written before the ledger existed are rows without leaves; ingesting at the current
    # schema and sealing nothing gives the same rows (the models cannot write an older schema).
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as s, s.begin():
            ingest_batch(s, open_crawl_run(s, "chemdir", D0), [listing("chemdir", f"OLD{i}", D0) for i in range(4)])
            assert s.scalar(select(func.count()).select_from(LedgerLeaf)) == 0
        key = Ed25519PrivateKey.generate()
        with Session(engine) as s, s.begin():
            result = seal(s, D1, key)
            ids = list(s.scalars(select(Event.id).order_by(Event.id)))
            assert result.appended == len(ids) == 4 and result.head.tree_size == 4
            assert list(s.scalars(select(LedgerLeaf.event_id).order_by(LedgerLeaf.leaf_index))) == ids
    finally:
        engine.dispose()


def test_heads_sealed_without_a_frontier_are_extended_from_the_stored_leaves(any_session):
    """A head from before frontiers were kept (or one whose frontier is lost) makes the next
    sealing rebuild the compact range from the leaf hashes; the root is the whole tree's."""
    s = any_session
    key = Ed25519PrivateKey.generate()
    ingest_batch(s, open_crawl_run(s, "chemdir", D0), [listing("chemdir", f"F{i}", D0) for i in range(5)])
    first = seal(s, D0, key)
    assert s.scalar(select(LedgerHead.frontier).where(LedgerHead.id == first.head.id))
    s.execute(LedgerHead.__table__.update().values(frontier=None))
    ingest_batch(s, open_crawl_run(s, "chemdir", D1), [listing("chemdir", f"G{i}", D1) for i in range(3)])
    second = seal(s, D1, key)
    tree = MerkleTree(leaf_hashes(s))
    assert second.head.tree_size == len(tree) > first.head.tree_size
    assert second.head.root_hash == tree.root().hex()
    # and the next one extends the frontier the second head kept
    ingest_batch(s, open_crawl_run(s, "chemdir", D1 + dt.timedelta(days=1)), [listing("chemdir", "H0", D1)])
    third = seal(s, D1 + dt.timedelta(days=1), key)
    assert third.head.root_hash == MerkleTree(leaf_hashes(s)).root().hex()


@pytest.mark.parametrize("garbage", ["not json at all", '[3, "a future version"]', '{"v": 9}'])
def test_a_leaf_whose_logged_encoding_is_unreadable_is_named_and_the_others_still_checked(
    any_session, tmp_path, garbage
):
    """Verify reads every leaf: one whose stored encoding is no leaf encoding of a known version is
    a problem of its own (named by index and event), and the leaves after it are still compared."""
    s = any_session
    key = Ed25519PrivateKey.generate()
    ingest_batch(s, open_crawl_run(s, "chemdir", D0), [listing("chemdir", f"L{i}", D0) for i in range(3)])
    seal(s, D0, key)
    s.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == 1).values(leaf_data=garbage))
    s.flush()
    outcome = verify(s, tmp_path, key.public_key())
    event = s.scalar(select(LedgerLeaf.event_id).where(LedgerLeaf.leaf_index == 1))
    assert f"leaf 1 (event {event}): its logged encoding is not a leaf encoding" in outcome.problems, outcome.problems
    assert not outcome.ok and outcome.leaves == 3 and outcome.events_checked == 2
