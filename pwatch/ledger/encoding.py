"""The leaf of an event: a versioned canonical encoding of its content and the WARC record it cites.

Version 1 (docs/LEDGER.md): UTF-8 JSON, keys sorted, no insignificant whitespace, non-ASCII kept
as is, with `v` = 1 and every column of the `events` row; dates as ISO 8601, the timestamp in UTC
with microseconds and a `Z`; the cited record under `evidence` as `warc_record_id`, `target_uri`,
`payload_sha256` and `warc_file`. The leaf hash is RFC 9162's SHA-256(0x00 || encoding).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from precursor_watch.ledger.merkle import leaf_hash

ENCODING_VERSION = 1
# events columns in the leaf, besides the id, the dates and the evidence
PLAIN_FIELDS = (
    "kind",
    "platform_id",
    "account_id",
    "store_id",
    "listing_id",
    "cause",
    "observation_id",
    "snapshot_id",
    "detection_id",
    "review_id",
    "notice_id",
    "related_listing_id",
)
EVIDENCE_KEYS = {
    "warc_record_id": "evidence_record",
    "target_uri": "evidence_uri",
    "payload_sha256": "evidence_sha256",
    "warc_file": "evidence_file",
}
# every events column the encoding reads (the SELECT of storage rows uses this)
COLUMNS = ("id", "occurred_on", "occurred_at", *PLAIN_FIELDS, *EVIDENCE_KEYS.values(), "details")


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:  # the column type hands back UTC; a naive value is UTC too
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(value: dt.date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def leaf_content(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The structure version 1 encodes, from an events row (a mapping with `COLUMNS`; a Core
    RowMapping, whose keys may also be Column objects, or a dict)."""
    content: dict[str, Any] = {
        "v": ENCODING_VERSION,
        "event_id": row["id"],
        "occurred_on": _day(row["occurred_on"]),
        "occurred_at": _timestamp(row["occurred_at"]),
        "details": row["details"] or {},
    }
    content.update({name: row[name] for name in PLAIN_FIELDS})
    content["evidence"] = {key: row[column] for key, column in EVIDENCE_KEYS.items()}
    return content


# One encoder for every leaf: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(content: Mapping[str, Any]) -> str:
    return _ENCODER.encode(content)


def event_leaf(row: Mapping[Any, Any]) -> tuple[str, bytes]:
    """(canonical encoding, RFC 9162 leaf hash) of one events row."""
    data = encode(leaf_content(row))
    return data, leaf_hash(data.encode("utf-8"))


def differences(logged: str, current: Mapping[str, Any]) -> list[str]:
    """What differs between a logged encoding and the event as it is now, field by field
    (`field: logged X, now Y`), for messages that name what changed."""
    before = json.loads(logged)
    after = json.loads(encode(current))
    out = []
    for key in sorted(before.keys() | after.keys()):
        if key == "evidence":
            for sub in sorted((before.get(key) or {}).keys() | (after.get(key) or {}).keys()):
                old, new = (before.get(key) or {}).get(sub), (after.get(key) or {}).get(sub)
                if old != new:
                    out.append(f"evidence.{sub}: logged {old!r}, now {new!r}")
        elif before.get(key) != after.get(key):
            out.append(f"{key}: logged {before.get(key)!r}, now {after.get(key)!r}")
    return out
