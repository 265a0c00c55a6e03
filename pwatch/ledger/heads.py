"""The signed heads a report or an export rests on, written next to it as `heads.json`, and the
signature of an export's manifest (`MANIFEST.sha256.sig`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.ledger.log import Head, heads, latest_head
from precursor_watch.storage.models import Event, LedgerHead, LedgerLeaf

HEADS_NAME = "heads.json"
SIGNATURE_SUFFIX = ".sig"


def _unlogged(session: Session) -> int:
    logged = select(LedgerLeaf.event_id).where(LedgerLeaf.event_id == Event.id).exists()
    return session.scalar(select(func.count()).select_from(Event).where(~logged)) or 0


def heads_for(session: Session, date_from: dt.date | None, date_to: dt.date) -> list[Head]:
    """The heads dated in the period and the latest head up to its end (the one covering it)."""
    query = select(LedgerHead.id).where(LedgerHead.head_date <= date_to)
    if date_from is not None:
        query = query.where(LedgerHead.head_date >= date_from)
    chosen = set(session.scalars(query))
    last = latest_head(session, on_or_before=date_to)
    if last is not None:
        chosen.add(last.id)
    return heads(session, chosen)


def heads_document(session: Session, date_from: dt.date | None, date_to: dt.date) -> dict:
    return {
        "version": 1,
        "heads": [h.as_json() for h in heads_for(session, date_from, date_to)],
        "events_not_in_log": _unlogged(session),
    }


def write_heads(path: Path, settings, day: dt.date, date_from: dt.date | None = None) -> Path:
    """`heads.json` for a report of `day` (or an export of `date_from`..`day`)."""
    from precursor_watch.storage.db import make_engine

    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as session:
            document = heads_document(session, day if date_from is None else date_from, day)
    finally:
        engine.dispose()
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def sign_manifest(manifest: Path, settings) -> Path:
    """`<manifest>.sig`: key id and Ed25519 signature over the manifest's SHA-256 (JSON)."""
    from precursor_watch.ledger.keys import signing_key
    from precursor_watch.ledger.signing import key_id, manifest_message, sign

    key = signing_key(settings)
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    document = {
        "manifest": manifest.name,
        "sha256": digest,
        "key_id": key_id(key.public_key()),
        "signature": sign(key, manifest_message(digest)),
    }
    target = manifest.with_name(manifest.name + SIGNATURE_SUFFIX)
    target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target
