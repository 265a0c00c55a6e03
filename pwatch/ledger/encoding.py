"""The leaf of an event: a versioned canonical encoding of its content and the WARC record it cites.

Version 1 (docs/LEDGER.md): UTF-8 JSON, keys sorted, no insignificant whitespace, non-ASCII kept
as is, with `v` = 1 and every column of the `events` row; dates as ISO 8601, the timestamp in UTC
with microseconds and a `Z`; the cited record under `evidence` as `warc_record_id`, `target_uri`,
`payload_sha256` and `warc_file`. Version 2, what sealing writes now: the same values under the
same rules as a JSON array in `V2_FIELDS` order, `2` first (no key names: under half the bytes,
which every leaf row stores). The leaf hash is RFC 9162's SHA-256(0x00 || encoding); a leaf keeps
the version it was logged with.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from precursor_watch.ledger.merkle import leaf_hash

ENCODING_VERSION = 2  # what sealing writes; leaves logged in version 1 keep it
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
# version 2: the values in this order (the events row in `COLUMNS` order, after the version)
V2_FIELDS = ("v", "event_id", "occurred_on", "occurred_at", *PLAIN_FIELDS, *EVIDENCE_KEYS, "details")


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:  # the column type hands back UTC; a naive value is UTC too
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(value: dt.date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def leaf_content(row: Mapping[Any, Any], version: int = ENCODING_VERSION) -> dict[str, Any]:
    """The structure a version encodes, from an events row (a mapping with `COLUMNS`; a Core
    RowMapping, whose keys may also be Column objects, or a dict)."""
    content: dict[str, Any] = {
        "v": version,
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
    """The canonical encoding of `leaf_content`, in the version it names: the definition."""
    if content["v"] == 1:
        return _ENCODER.encode(content)
    if content["v"] == 2:
        evidence = content["evidence"]
        return _ENCODER.encode([content[f] if f in content else evidence[f] for f in V2_FIELDS])
    raise ValueError(f"unknown leaf encoding version {content['v']!r}")


def decode(data: str) -> dict[str, Any]:
    """A logged encoding of either version back to the `leaf_content` structure."""
    value = json.loads(data)
    if isinstance(value, dict) and value.get("v") == 1:
        return value
    if isinstance(value, list) and len(value) == len(V2_FIELDS) and value[0] == 2:
        content = dict(zip(V2_FIELDS, value, strict=True))
        content["evidence"] = {key: content.pop(key) for key in EVIDENCE_KEYS}
        return content
    raise ValueError(f"not a leaf encoding of a known version: {data[:60]!r}")


def version_of(data: str) -> int:
    """The version of a logged encoding, from its first character (version 1 is an object)."""
    return 1 if data.startswith("{") else 2


def event_leaf(row: Mapping[Any, Any], version: int = ENCODING_VERSION) -> tuple[str, bytes]:
    """(canonical encoding, RFC 9162 leaf hash) of one events row."""
    data = encode(leaf_content(row, version))
    return data, leaf_hash(data.encode("utf-8"))


# -- the same encoding, built as text from a plain row tuple (sealing and verifying a million
# events spend most of their time here). `encode(leaf_content(row))` stays the definition;
# tests/ledger/test_log.py checks that both give the same bytes for every event of real runs.

_string = json.encoder.encode_basestring  # json's own escaping with ensure_ascii=False (C version)
_DETAILS_CACHE: dict[str | None, str] = {}


def _details(raw: str | None) -> str:
    """Canonical text of the details column as stored (JSON text); identical texts are cached."""
    out = _DETAILS_CACHE.get(raw)
    if out is None:
        out = _ENCODER.encode((json.loads(raw) if raw is not None else None) or {})
        if len(_DETAILS_CACHE) > 50_000:
            _DETAILS_CACHE.clear()
        _DETAILS_CACHE[raw] = out
    return out


# occurred_on / occurred_at as the driver returns them -> their JSON text (a day's events share
# their values); one cache per column, so a day and a timestamp given as the same text never mix
_DAYS: dict[Any, str] = {}
_MOMENTS: dict[Any, str] = {}


def _time_text(value: Any, is_day: bool) -> str:
    """The JSON text of a date or timestamp given as the driver returns it (a date/datetime, or
    SQLite's ISO text), cached: a day's events share their values."""
    cache = _DAYS if is_day else _MOMENTS
    out = cache.get(value)
    if out is None:
        if is_day:
            out = _string(_day(value) if not isinstance(value, str) else value[:10])
        else:
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
            out = _string(_timestamp_fast(moment))
        if len(cache) > 50_000:
            cache.clear()
        cache[value] = out
    return out


def _timestamp_fast(value: dt.datetime) -> str:
    if value.tzinfo is None:  # naive values are UTC (as `_timestamp` reads them)
        return value.isoformat(timespec="microseconds") + "Z"
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def encode_row(row: Sequence[Any]) -> str:
    """The version 2 encoding of an events row given as a tuple in `COLUMNS` order as the driver
    returns it (`ledger.log.row_tuples`: dates as they come, details as their stored JSON text).
    The caches are read inline (`x.get(v) or fill(v)`: a cached text is never empty)."""
    (event_id, on, at, kind, platform_id, account_id, store_id, listing_id, cause, observation_id,
     snapshot_id, detection_id, review_id, notice_id, related_listing_id,
     record, uri, sha, warc_file, details) = row  # fmt: skip
    s = _string
    n = "null"
    return (
        f"[2,{event_id},{_DAYS.get(on) or _time_text(on, True)},{_MOMENTS.get(at) or _time_text(at, False)},"
        f"{s(kind)},{n if platform_id is None else platform_id},{n if account_id is None else account_id},"
        f"{n if store_id is None else store_id},{n if listing_id is None else listing_id},"
        f"{n if cause is None else s(cause)},{n if observation_id is None else observation_id},"
        f"{n if snapshot_id is None else snapshot_id},{n if detection_id is None else detection_id},"
        f"{n if review_id is None else review_id},{n if notice_id is None else notice_id},"
        f"{n if related_listing_id is None else related_listing_id},{n if record is None else s(record)},"
        f"{n if uri is None else s(uri)},{n if sha is None else s(sha)},{n if warc_file is None else s(warc_file)},"
        f"{_DETAILS_CACHE.get(details) or _details(details)}]"
    )


def encode_row_v1(row: Sequence[Any]) -> str:
    """The version 1 encoding of a row tuple (`encode_row`'s input): what verify compares a leaf
    logged in version 1 with."""
    (event_id, on, at, kind, platform_id, account_id, store_id, listing_id, cause, observation_id,
     snapshot_id, detection_id, review_id, notice_id, related_listing_id,
     record, uri, sha, warc_file, details) = row  # fmt: skip
    s = _string
    n = "null"
    return (
        f'{{"account_id":{n if account_id is None else account_id},'
        f'"cause":{n if cause is None else s(cause)},"details":{_DETAILS_CACHE.get(details) or _details(details)},'
        f'"detection_id":{n if detection_id is None else detection_id},"event_id":{event_id},'
        f'"evidence":{{"payload_sha256":{n if sha is None else s(sha)},"target_uri":{n if uri is None else s(uri)},'
        f'"warc_file":{n if warc_file is None else s(warc_file)},'
        f'"warc_record_id":{n if record is None else s(record)}}},'
        f'"kind":{s(kind)},"listing_id":{n if listing_id is None else listing_id},'
        f'"notice_id":{n if notice_id is None else notice_id},'
        f'"observation_id":{n if observation_id is None else observation_id},'
        f'"occurred_at":{_MOMENTS.get(at) or _time_text(at, False)},'
        f'"occurred_on":{_DAYS.get(on) or _time_text(on, True)},'
        f'"platform_id":{n if platform_id is None else platform_id},'
        f'"related_listing_id":{n if related_listing_id is None else related_listing_id},'
        f'"review_id":{n if review_id is None else review_id},'
        f'"snapshot_id":{n if snapshot_id is None else snapshot_id},'
        f'"store_id":{n if store_id is None else store_id},"v":1}}'
    )


def row_leaf(row: Sequence[Any], version: int = ENCODING_VERSION) -> tuple[str, bytes]:
    """(canonical encoding, leaf hash) of a row tuple, as `event_leaf` gives for its mapping."""
    data = encode_row(row) if version == 2 else encode_row_v1(row)
    return data, leaf_hash(data.encode("utf-8"))


def row_mapping(row: Sequence[Any]) -> dict[str, Any]:
    """The mapping `leaf_content` reads, from a row tuple (for messages; details parsed)."""
    out = dict(zip(COLUMNS, row, strict=True))
    out["details"] = json.loads(out["details"]) if out["details"] is not None else None
    if isinstance(out["occurred_at"], str):  # SQLite's text, as the driver returns it
        out["occurred_at"] = dt.datetime.fromisoformat(out["occurred_at"])
    if isinstance(out["occurred_on"], str):
        out["occurred_on"] = out["occurred_on"][:10]
    return out


def differences(logged: str, current: Mapping[str, Any]) -> list[str]:
    """What differs between a logged encoding and the event as it is now, field by field
    (`field: logged X, now Y`), for messages that name what changed."""
    before = decode(logged)
    after = decode(encode(current))
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
