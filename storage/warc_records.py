"""Where each archived response record lies in its WARC file (`warc_records`): written from the
items' evidence when the crawl pipeline stores a batch, read by `pwatch audit verify` to seek
straight to each cited record instead of scanning its file."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence
from precursor_watch.storage.bulk import dialect_insert, executemany
from precursor_watch.storage.models import WarcRecord


def record_offsets(session: Session, items: Iterable[object]) -> int:
    """Store the offset and length of every item's evidence record that carries them (a record
    already known keeps its row: offsets of an archived record never change). Returns rows offered."""
    rows = {}
    for item in items:
        evidence = getattr(item, "evidence", None)
        if not isinstance(evidence, Evidence) or evidence.offset is None or not evidence.length:
            continue
        if type(evidence.offset) is not int or type(evidence.length) is not int or evidence.offset < 0:
            continue  # not what the writer makes: such evidence is found by scanning instead
        rows[(evidence.warc_file, evidence.record_id)] = {
            "warc_file": evidence.warc_file,
            "record_id": evidence.record_id,
            "record_offset": evidence.offset,
            "record_length": evidence.length,
        }
    executemany(session, dialect_insert(session, WarcRecord).on_conflict_do_nothing(), list(rows.values()))
    return len(rows)
