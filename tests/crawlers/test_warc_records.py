"""The crawler's WARC files: a `warcinfo` record first, each fetch a `response` record and the
`request` record that asked for it (WARC-Concurrent-To), as warcio reads them; evidence names the
response record's offset and length, and one record is read there with one seek."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from warcio.archiveiterator import ArchiveIterator

from precursor_watch.crawlers.warc import Capture, EvidenceWriter, iter_records, read_evidence, read_record

AT = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def _capture(i: int) -> Capture:
    body = f"<html>listing {i} é</html>".encode() * (i + 1)
    return Capture(f"http://127.0.0.1:8000/listing/{i}?p=1", 200, [("Content-Type", "text/html")], body, AT,
                   request_method="GET", request_headers=(("User-Agent", "pwatch-test"),))  # fmt: skip


def test_records_offsets_and_request_records(tmp_path):
    writer = EvidenceWriter(tmp_path, "chemdir", dt.date(2026, 11, 1))
    evidence = [writer.write(_capture(i)) for i in range(5)]
    writer.close()
    path = tmp_path / evidence[0].warc_file
    with open(path, "rb") as fh:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Concurrent-To"),
                    r.rec_headers.get_header("WARC-Target-URI"), r.http_headers) for r in ArchiveIterator(fh)]  # fmt: skip
    assert records[0][0] == "warcinfo"
    assert [r[0] for r in records[1:]] == ["response", "request"] * 5
    for ev, response, request in zip(evidence, records[1::2], records[2::2], strict=True):
        assert response[1] == ev.record_id and request[2] == ev.record_id  # request tied to its response
        assert request[3] == response[3] == ev.target_uri
        assert (
            request[4].protocol == "GET"
            and request[4].statusline == "/listing/" + ev.target_uri.split("/")[-1] + " HTTP/1.1"
        )
        assert (
            request[4].get_header("Host") == "127.0.0.1:8000" and request[4].get_header("User-Agent") == "pwatch-test"
        )
    # each evidence's offset and length are exactly its response record's gzip member
    for i, ev in enumerate(evidence):
        assert ev.offset is not None and ev.length
        stored = read_record(path, ev.offset, ev.length)
        assert stored.record_id == ev.record_id and stored.payload == _capture(i).body and stored.status == 200
        assert read_evidence(tmp_path, ev) == _capture(i).body
        # evidence from before offsets were kept is found by scanning
        assert read_evidence(tmp_path, dataclasses.replace(ev, offset=None, length=None)) == _capture(i).body
    assert [s.record_id for s in iter_records(path)] == [e.record_id for e in evidence]
    # a wrong offset never returns another record's bytes
    with pytest.raises(LookupError):
        read_evidence(tmp_path, dataclasses.replace(evidence[1], offset=evidence[2].offset, length=evidence[2].length))
    with pytest.raises(LookupError):
        read_evidence(tmp_path, dataclasses.replace(evidence[1], offset=evidence[1].offset + 1))
