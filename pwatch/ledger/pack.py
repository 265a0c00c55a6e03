"""Evidence pack of one listing: its logged events with RFC 9162 inclusion proofs to the latest
signed head, the WARC records they cite (one valid .warc.gz, opened by a `warcinfo` record), the
public key, a standalone verifier and a README, in one zip with a SHA-256 manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from precursor_watch.ledger.log import latest_head, leaf_hashes
from precursor_watch.ledger.merkle import MerkleTree
from precursor_watch.storage.models import Event, LedgerLeaf, Listing, Platform

VERIFIER = Path(__file__).with_name("pack_verifier.py")
README = """# Evidence pack: {listing}

What it holds: `events.jsonl` (every logged event of the listing: its leaf index, its canonical
encoding as logged (version 1: a JSON object; version 2: a JSON array of the same fields, in the
order `verify_pack.py` names) and its RFC 9162 inclusion proof), `head.json` (the signed tree head of {date}, size
{size}), `public_key.pem` (the signer's key, id {key_id}), `evidence.warc.gz` (a `warcinfo` record,
then each `response` record the events cite and the `request` record of the same fetch, byte for
byte as archived), `verify_pack.py` and `MANIFEST.sha256`.

How to check it, from any folder (Python 3 with the `cryptography` package, and `warcio`):

    sha256sum -c MANIFEST.sha256
    python3 verify_pack.py . --public-key THE_PUBLISHERS_KEY.pem
    warcio index evidence.warc.gz

The first checks that no file changed since the pack was made; the second checks the head's
signature, that each event's encoding is a leaf of the signed tree (inclusion proof to the signed
root), that each cited WARC record's payload hashes to what the event says and that each request
record belongs to a response in the pack; the third shows that an independent WARC reader reads
the file (one line per record: warcinfo, then response and request records). Compare the key id
with the one the publisher announces: the copy of the key in the pack proves nothing by itself.
Pages archived before the crawler kept requests have no request record.
"""


class PackError(ValueError):
    """The listing is unknown or none of its events is under a signed head."""


@dataclass(frozen=True)
class PackSummary:
    path: Path
    events: int
    records: int
    head_date: str
    tree_size: int


def _listing_id(session: Session, ref: str) -> int:
    platform, _, key = ref.partition("/")
    found = session.scalar(
        select(Listing.id).join(Platform).where(Platform.name == platform, Listing.listing_key == key)
    )
    if found is None:
        raise PackError(f"no listing {ref!r}: give PLATFORM/LISTING_KEY, e.g. chemdir/CD-0001")
    return found


def _raw_records(data_dir: Path, cited: set[tuple[str, str]]) -> list[bytes]:
    """The stored bytes (whole gzip members) of each cited response record and of the request
    record of the same fetch (WARC-Concurrent-To), in file order."""
    out = []
    by_file: dict[str, set[str]] = {}
    for warc_file, record_id in cited:
        by_file.setdefault(warc_file, set()).add(record_id)
    for warc_file in sorted(by_file):
        blob = (data_dir / warc_file).read_bytes()
        iterator = ArchiveIterator(io.BytesIO(blob))
        for record in iterator:
            headers = record.rec_headers
            record.content_stream().read()
            if record.rec_type == "response":
                wanted = headers.get_header("WARC-Record-ID") in by_file[warc_file]
            else:
                wanted = record.rec_type == "request" and headers.get_header("WARC-Concurrent-To") in by_file[warc_file]
            if wanted:
                start = iterator.get_record_offset()
                out.append(blob[start : start + iterator.get_record_length()])
    return out


def _warc(listing: str, members: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    writer.write_record(
        writer.create_warcinfo_record(
            "evidence.warc.gz",
            {"software": "precursor-watch evidence pack", "description": f"records cited by the events of {listing}"},
        )
    )
    return buffer.getvalue() + b"".join(members)


def build_pack(session: Session, data_dir: Path, ref: str, out: Path, public_pem: str) -> PackSummary:
    listing_id = _listing_id(session, ref)
    head = latest_head(session)
    if head is None:
        raise PackError("the log has no signed head yet: run the daily cycle (or `pwatch report`) first")
    rows = session.execute(
        select(LedgerLeaf.leaf_index, LedgerLeaf.leaf_data, Event.evidence_file, Event.evidence_record)
        .join(Event, Event.id == LedgerLeaf.event_id)
        .where(Event.listing_id == listing_id, LedgerLeaf.leaf_index < head.tree_size)
        .order_by(LedgerLeaf.leaf_index)
    ).all()
    if not rows:
        raise PackError(f"no event of {ref} is under the latest signed head ({head.head_date})")
    tree = MerkleTree(leaf_hashes(session))
    events = [
        json.dumps(
            {
                "leaf_index": i,
                "leaf_data": data,
                "inclusion_proof": [p.hex() for p in tree.inclusion_proof(i, head.tree_size)],
            },
            sort_keys=True,
        )
        for i, data, _f, _r in rows
    ]
    cited = {(f, r) for _i, _d, f, r in rows if f and r}
    files = {
        "events.jsonl": ("\n".join(events) + "\n").encode(),
        "head.json": (json.dumps(head.as_json(), indent=1, sort_keys=True) + "\n").encode(),
        "public_key.pem": public_pem.encode(),
        "evidence.warc.gz": _warc(ref, _raw_records(Path(data_dir), cited)),
        "verify_pack.py": VERIFIER.read_bytes(),
        "README.md": README.format(listing=ref, date=head.head_date, size=head.tree_size, key_id=head.key_id).encode(),
    }
    files["MANIFEST.sha256"] = "".join(
        f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(files.items())
    ).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return PackSummary(out, len(rows), len(cited), head.head_date.isoformat(), head.tree_size)
