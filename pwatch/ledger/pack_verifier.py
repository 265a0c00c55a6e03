#!/usr/bin/env python3
"""Verify this evidence pack with the Python standard library and `cryptography` only.

    python3 verify_pack.py [PACK_DIR] [--public-key FILE]

Checks: the tree head's Ed25519 signature (with the publisher's public key: pass the one you got
from them, not only the copy in the pack); each event's leaf hash and its RFC 9162 inclusion proof
to the signed root; each WARC record the events cite, re-hashed from evidence.warc.gz. Exit 0 and
"pack verified" when all hold; otherwise the first failure and exit 1.
"""

import gzip
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_PREFIX = "precursor-watch tree head v1\n"
# A leaf encoding of version 2 is a JSON array of these fields in this order; version 1 is a JSON
# object with the same fields, the four evidence fields under "evidence" (docs/LEDGER.md).
V2_FIELDS = (
    "v", "event_id", "occurred_on", "occurred_at", "kind", "platform_id", "account_id", "store_id",
    "listing_id", "cause", "observation_id", "snapshot_id", "detection_id", "review_id", "notice_id",
    "related_listing_id", "warc_record_id", "target_uri", "payload_sha256", "warc_file", "details",
)  # fmt: skip
EVIDENCE_FIELDS = ("warc_record_id", "target_uri", "payload_sha256", "warc_file")


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf, index, size, proof):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise ValueError("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def leaf_content(data):
    """The fields of a leaf encoding of either version, as version 1 nests them."""
    value = json.loads(data)
    if isinstance(value, dict) and value.get("v") == 1:
        return value
    if isinstance(value, list) and len(value) == len(V2_FIELDS) and value[0] == 2:
        content = dict(zip(V2_FIELDS, value, strict=True))
        content["evidence"] = {name: content.pop(name) for name in EVIDENCE_FIELDS}
        return content
    raise ValueError("not a leaf encoding of version 1 or 2")


def warc_records(path):
    """{WARC-Record-ID: (type, target URI, payload bytes, WARC-Concurrent-To)} of a .warc.gz,
    parsed by hand."""
    data = gzip.decompress(path.read_bytes())
    records, pos = {}, 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        lines = data[pos:end].decode("utf-8").split("\r\n")
        if not lines[0].startswith("WARC/"):
            raise ValueError(f"not a WARC record at byte {pos}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        block = data[end + 4 : end + 4 + length]
        pos = end + 4 + length + 4  # the block is followed by CRLF CRLF
        payload = block
        if headers.get("warc-type") == "response":
            payload = block[block.index(b"\r\n\r\n") + 4 :]
        records[headers.get("warc-record-id")] = (
            headers.get("warc-type"),
            headers.get("warc-target-uri"),
            payload,
            headers.get("warc-concurrent-to"),
        )
    return records


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="Verify a Precursor Watch evidence pack.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--public-key", help="the publisher's public key (default: the pack's copy)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    key_file = args.public_key or folder / "public_key.pem"
    public = serialization.load_pem_public_key(Path(key_file).read_bytes())
    if not isinstance(public, Ed25519PublicKey):  # heads are signed with Ed25519 only
        return fail(f"{key_file}: not an Ed25519 public key")
    head = json.loads((folder / "head.json").read_text(encoding="utf-8"))
    statement = f"{HEAD_PREFIX}{head['date']}\n{head['tree_size']}\n{head['root_hash']}\n".encode()
    try:
        public.verify(bytes.fromhex(head["signature"]), statement)
    except (InvalidSignature, ValueError):
        return fail(f"head of {head['date']} (size {head['tree_size']}): signature does not verify with {key_file}")
    root = bytes.fromhex(head["root_hash"])
    try:
        records = warc_records(folder / "evidence.warc.gz")
    except (OSError, ValueError, KeyError, EOFError) as exc:
        return fail(f"evidence.warc.gz is not a readable WARC file: {exc}")
    for record_id, (kind, uri, _payload, concurrent) in records.items():
        if kind == "request" and (records.get(concurrent) or ("",))[0] != "response":
            return fail(f"request record {record_id} ({uri}) belongs to no response record in evidence.warc.gz")
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines() if line]
    for event in events:
        data = event["leaf_data"]
        try:
            content = leaf_content(data)
        except ValueError as exc:
            return fail(f"events.jsonl, leaf {event.get('leaf_index')}: {exc}")
        what = f"event {content['event_id']} ({content['kind']}, {content['occurred_on']})"
        leaf = hashlib.sha256(b"\x00" + data.encode("utf-8")).digest()
        try:
            computed = root_from_inclusion(
                leaf, event["leaf_index"], head["tree_size"], [bytes.fromhex(p) for p in event["inclusion_proof"]]
            )
        except ValueError as exc:
            return fail(f"{what}: inclusion proof invalid: {exc}")
        if computed != root:
            return fail(f"{what}: not in the signed tree (its content or proof was changed)")
        evidence = content["evidence"]
        if evidence.get("warc_record_id"):
            found = records.get(evidence["warc_record_id"])
            if found is None:
                return fail(f"{what}: cites WARC record {evidence['warc_record_id']}, not in evidence.warc.gz")
            if hashlib.sha256(found[2]).hexdigest() != evidence["payload_sha256"]:
                return fail(
                    f"{what}: WARC record {evidence['warc_record_id']} payload does not hash to "
                    f"{evidence['payload_sha256']}"
                )
    print(
        f"pack verified: {len(events)} events in the head of {head['date']} (size {head['tree_size']}, "
        f"root {head['root_hash']}), {sum(1 for r in records.values() if r[0] == 'response')} WARC records re-hashed, "
        f"{sum(1 for r in records.values() if r[0] == 'request')} request records"
    )
    return 0


def fail(message):
    print(f"pack FAILED: {message}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
