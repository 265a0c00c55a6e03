"""WARC evidence: write each listing or gone page as a WARC response record, read the bytes back.

Files live under `<data_dir>/evidence/<platform>/<date>/` and are named so that concurrent or
resumed crawls never append to each other's files. Each file opens with a `warcinfo` record; each
fetch is a `response` record followed by the `request` record that asked for it (linked by
WARC-Concurrent-To). Each record is flushed to the OS before the item that cites it leaves the
spider, so even a SIGKILLed crawl leaves readable records for every item it emitted (a torn last
record is simply skipped by the reader). The evidence of an item names the response record's
gzip member by offset and length, so it is read back with one seek (`read_record`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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
    request_method: str = "GET"
    request_headers: tuple[tuple[str, str], ...] = ()  # as the crawler set them (Host added if absent)


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
        # warcio flushes its output after every record (gzip member) and the offsets came from
        # tell() (an lseek each): three syscalls and two flushes per page. The records of one fetch
        # are built in this buffer and go to the file in one write; `_size` is the file's length.
        self._buffer = io.BytesIO()
        self._size = 0
        self._relpath = ""
        self.records = 0

    def _open_next(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.prefix}-{self._serial:05d}.warc.gz"
        self._serial += 1
        self._file = open(path, "ab")  # noqa: SIM115 - one file per rollover, closed by close()
        self._size = self._file.tell()
        self._writer = WARCWriter(self._buffer, gzip=True)
        self._relpath = path.relative_to(self.data_dir).as_posix()
        info = {"software": "precursor-watch crawler", "format": "WARC File Format 1.0", "isPartOf": self.prefix}
        self._writer.write_record(self._writer.create_warcinfo_record(path.name, info))
        self._write_out()

    def _write_out(self) -> None:
        """The buffered records to the file and on to the OS (survives a SIGKILL of this process)."""
        assert self._file is not None
        data = self._buffer.getbuffer()
        self._file.write(data)
        self._file.flush()
        self._size += len(data)
        del data  # the view must go before the buffer is reset
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, capture: Capture) -> Evidence:
        if self._file is None or self._size >= self.rollover_bytes:
            self._open_next()
        assert self._writer is not None and self._file is not None
        payload_hex = hashlib.sha256(capture.body).hexdigest()
        warc_date = _warc_date(capture.fetched_at)
        offset = self._size
        try:
            record = self._response_record(capture, payload_hex, warc_date)
            self._writer.write_record(record)
            length = self._buffer.tell()
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            self._writer.write_record(self._request_record(capture, record_id, warc_date))
        except BaseException:
            self._buffer.seek(0)  # nothing of a fetch whose records failed reaches the file
            self._buffer.truncate()
            raise
        self._write_out()  # before the item that cites the record leaves the spider
        self.records += 1
        return Evidence(
            warc_file=self._relpath,
            record_id=record_id,
            sha256=payload_hex,
            target_uri=capture.url,
            offset=offset,
            length=length,
        )

    def _response_record(self, capture: Capture, payload_hex: str, warc_date: str):
        assert self._writer is not None
        headers = [(k, v) for k, v in capture.headers if k.lower() not in _DROP_HEADERS]
        http_headers = StatusAndHeaders(f"{capture.status} {_reason(capture.status)}", headers, protocol="HTTP/1.1")
        warc_headers = {
            "WARC-Date": warc_date,
            # Our own digest in SHA-256 (hex) so it is the same string the item carries.
            "WARC-Payload-Digest": f"sha256:{payload_hex}",
        }
        if capture.truncated:
            warc_headers["WARC-Truncated"] = "length"
        return self._writer.create_warc_record(
            capture.url,
            "response",
            payload=io.BytesIO(capture.body),
            length=len(capture.body),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )

    def _request_record(self, capture: Capture, response_id: str, warc_date: str):
        """The request of that fetch: method, path and the headers the crawler sent."""
        assert self._writer is not None
        parts = urlsplit(capture.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(capture.request_headers)
        if not any(k.lower() == "host" for k, _v in headers):
            headers.insert(0, ("Host", parts.netloc))
        http_headers = StatusAndHeaders(f"{capture.request_method} {target} HTTP/1.1", headers, is_http_request=True)
        return self._writer.create_warc_record(
            capture.url,
            "request",
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Concurrent-To": response_id},
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


def read_record(path: Path, offset: int, length: int) -> StoredRecord:
    """The response record whose gzip member is `length` bytes at `offset` of `path`, read with one
    seek; raises LookupError if those bytes are not one whole response record."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        member = fh.read(length)
    return parse_member(member, f"{path} at byte {offset}")


def parse_member(member: bytes, where: str) -> StoredRecord:
    """One gzip member holding one WARC response record, parsed (headers as WARC 1.0 writes them)."""
    inflate = zlib.decompressobj(31)
    try:
        data = inflate.decompress(member)
    except zlib.error as exc:
        raise LookupError(f"{where}: not a gzip member ({exc})") from None
    if not inflate.eof or inflate.unused_data:
        raise LookupError(f"{where}: the stored length does not cover exactly one gzip member")
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0 or not data.startswith(b"WARC/"):
        raise LookupError(f"{where}: not a WARC record")
    fields = {}
    for line in data[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if fields.get(b"warc-type") != b"response":
        raise LookupError(f"{where}: a {fields.get(b'warc-type')!r} record, not a response")
    start = head_end + 4
    end = start + int(fields.get(b"content-length", b"0"))
    http_end = data.find(b"\r\n\r\n", start, end)
    if http_end < 0:
        raise LookupError(f"{where}: the response has no HTTP header end")
    status_line = data[start : data.find(b"\r\n", start, end + 1)].split(b" ")
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    return StoredRecord(
        record_id=fields.get(b"warc-record-id", b"").decode("utf-8", "replace"),
        url=fields.get(b"warc-target-uri", b"").decode("utf-8", "replace"),
        status=status,
        payload=data[http_end + 4 : end],
        payload_digest=fields.get(b"warc-payload-digest", b"").decode("utf-8", "replace"),
    )


def read_evidence(data_dir: Path | str, evidence: Evidence) -> bytes:
    """The exact payload bytes an item's evidence points at; raises LookupError if absent. With an
    offset the record is read with one seek; without (older evidence) the file is scanned."""
    path = Path(data_dir) / evidence.warc_file
    if not path.is_file():
        raise LookupError(f"WARC file {path} does not exist")
    if evidence.offset is not None and evidence.length:
        stored = read_record(path, evidence.offset, evidence.length)
        if stored.record_id != evidence.record_id:
            raise LookupError(f"{path} holds {stored.record_id} at byte {evidence.offset}, not {evidence.record_id}")
        return stored.payload
    for stored in iter_records(path):
        if stored.record_id == evidence.record_id:
            return stored.payload
    raise LookupError(f"record {evidence.record_id} not found in {path}")


def _warc_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.cache  # a handful of statuses; the enum lookup was redone for every page
def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
