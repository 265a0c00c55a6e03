"""WARC evidence: write each listing or gone page as a WARC response record, read the bytes back.

Files live under `<data_dir>/evidence/<platform>/<date>/` and are named so that concurrent or
resumed crawls never append to each other's files. Each record is flushed to the OS before the
item that cites it leaves the spider, so even a SIGKILLed crawl leaves readable records for every
item it emitted (a torn last record is simply skipped by the reader).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from precursor_watch.contract import Evidence

# The stored body is the de-chunked body as received; these headers would make readers decode it again.
_DROP_HEADERS = {"transfer-encoding"}


@dataclass(frozen=True)
class Capture:
    """What the writer needs of a fetched page (kept free of Scrapy so tests and benches can build one)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: dt.datetime
    truncated: bool = False  # the body was cut at the size limit


class EvidenceWriter:
    """Appends response records to rolling gzip WARC files of one platform and date."""

    def __init__(self, data_dir: Path, platform: str, date: dt.date, rollover_bytes: int = 100 * 1024 * 1024):
        self.data_dir = Path(data_dir)
        self.folder = self.data_dir / "evidence" / platform / date.isoformat()
        self.prefix = f"{platform}-{date.isoformat()}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{os.getpid()}"
        self.rollover_bytes = rollover_bytes
        self._serial = 0
        self._file: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None
        self._relpath = ""
        self.records = 0

    def _open_next(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.prefix}-{self._serial:05d}.warc.gz"
        self._serial += 1
        self._file = open(path, "ab")  # noqa: SIM115 - one file per rollover, closed by close()
        self._writer = WARCWriter(self._file, gzip=True)
        self._relpath = path.relative_to(self.data_dir).as_posix()

    def write(self, capture: Capture) -> Evidence:
        if self._file is None or self._file.tell() >= self.rollover_bytes:
            self._open_next()
        assert self._writer is not None and self._file is not None
        payload_hex = hashlib.sha256(capture.body).hexdigest()
        headers = [(k, v) for k, v in capture.headers if k.lower() not in _DROP_HEADERS]
        http_headers = StatusAndHeaders(f"{capture.status} {_reason(capture.status)}", headers, protocol="HTTP/1.1")
        warc_headers = {
            "WARC-Date": capture.fetched_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            # Our own digest in SHA-256 (hex) so it is the same string the item carries.
            "WARC-Payload-Digest": f"sha256:{payload_hex}",
        }
        if capture.truncated:
            warc_headers["WARC-Truncated"] = "length"
        record = self._writer.create_warc_record(
            capture.url,
            "response",
            payload=io.BytesIO(capture.body),
            length=len(capture.body),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        self._writer.write_record(record)
        self._file.flush()  # to the OS: survives a SIGKILL of this process
        self.records += 1
        return Evidence(
            warc_file=self._relpath,
            record_id=record.rec_headers.get_header("WARC-Record-ID"),
            sha256=payload_hex,
            target_uri=capture.url,
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    url: str
    status: int
    payload: bytes
    payload_digest: str


def iter_records(path: Path) -> Iterator[StoredRecord]:
    """Every complete response record of one WARC file (a torn record at the end is skipped)."""
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except (ArchiveLoadFailed, EOFError, OSError, ValueError):
                return  # torn tail of a file whose writer was killed
            if record.rec_type != "response":
                continue
            # raw_stream: the payload exactly as stored, without content-decoding.
            payload = record.raw_stream.read()
            status = int(record.http_headers.get_statuscode()) if record.http_headers else 0
            yield StoredRecord(
                record_id=record.rec_headers.get_header("WARC-Record-ID"),
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=status,
                payload=payload,
                payload_digest=record.rec_headers.get_header("WARC-Payload-Digest") or "",
            )


def read_evidence(data_dir: Path | str, evidence: Evidence) -> bytes:
    """The exact payload bytes an item's evidence points at; raises LookupError if absent."""
    path = Path(data_dir) / evidence.warc_file
    if not path.is_file():
        raise LookupError(f"WARC file {path} does not exist")
    for stored in iter_records(path):
        if stored.record_id == evidence.record_id:
            return stored.payload
    raise LookupError(f"record {evidence.record_id} not found in {path}")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
