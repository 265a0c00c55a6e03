"""Unit tests of the crawler machinery that needs no server: encoding detection, Retry-After,
typed spider arguments, the resume journal, the WARC writer and reader, health stats."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import time

import pytest

from precursor_watch.contract import Evidence
from precursor_watch.crawlers.args import CrawlArgs, SpiderArgumentError, read_revisit_file
from precursor_watch.crawlers.encoding import decode_body
from precursor_watch.crawlers.health import compute_health
from precursor_watch.crawlers.journal import Journal
from precursor_watch.crawlers.middlewares import fault_kind, parse_retry_after
from precursor_watch.crawlers.warc import Capture, EvidenceWriter, iter_records, read_evidence

ZH = "新货到：二氯甲烷 高纯度 99% 🔥✅ 联系邮箱 📩"
ES = "Año de fabricación: España, envío rápido, ñandú"


@pytest.mark.parametrize(
    ("text", "encoding", "content_type", "used"),
    [
        (ZH, "gb18030", "text/html; charset=gb18030", "gb18030"),
        (ZH, "gb18030", "text/html; charset=utf-8", "gb18030"),  # the header lies
        (ZH, "gb18030", "text/html", "gb18030"),  # nothing declared
        (ES, "latin-1", "text/html; charset=gb18030", "cp1252"),  # a wrong GB declaration
        (ES, "latin-1", "text/html; charset=iso-8859-1", "cp1252"),
        (ES, "utf-8", "text/html; charset=iso-8859-1", "utf-8"),  # UTF-8 declared as Latin-1
        (ZH, "utf-8", "text/html; charset=gb2312", "utf-8"),
    ],
)
def test_decode_body_survives_wrong_declarations(text, encoding, content_type, used):
    assert decode_body(text.encode(encoding), content_type) == (text, used)


def test_decode_body_uses_the_meta_declaration():
    body = f'<html><head><meta charset="gb18030"></head><body>{ZH}</body></html>'.encode("gb18030")
    text, used = decode_body(body, "text/html; charset=iso-8859-1")
    assert used == "gb18030" and ZH in text


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after(b"soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True).encode()
    assert 25 <= parse_retry_after(later) <= 31


def test_fault_kinds_are_named():
    from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, ResponseDataLossError

    assert fault_kind(DownloadTimeoutError("x")) == "timeout"
    assert fault_kind(ResponseDataLossError("x")) == "truncated"
    assert fault_kind(DownloadCancelledError("larger than download max size (5)")) == "oversized"


def test_spider_arguments_are_validated_with_the_argument_named(tmp_path):
    args = CrawlArgs.from_spider_kwargs("chemdir", {"date": "2026-11-20", "data_dir": str(tmp_path)})
    assert args.date == dt.date(2026, 11, 20) and args.base_url.startswith("http://")
    assert args.job_path == tmp_path / "jobs" / "chemdir" / "2026-11-20"
    with pytest.raises(SpiderArgumentError, match=r"date: .*"):
        CrawlArgs.from_spider_kwargs("chemdir", {"date": "2026-13-01"})
    with pytest.raises(SpiderArgumentError, match="platform: unknown platform 'nope'"):
        CrawlArgs.from_spider_kwargs("nope", {})
    with pytest.raises(SpiderArgumentError, match="colour"):
        CrawlArgs.from_spider_kwargs("chemdir", {"colour": "red"})
    with pytest.raises(SpiderArgumentError, match="revisit file"):
        CrawlArgs.from_spider_kwargs("chemdir", {"revisit": str(tmp_path / "missing.txt")})


def test_revisit_file_names_the_bad_line(tmp_path):
    path = tmp_path / "revisit.txt"
    path.write_text("# known\nhttp://127.0.0.11:1/product/CD1.html\n\nnot a url\n", encoding="utf-8")
    with pytest.raises(SpiderArgumentError, match=r"revisit.txt:4: not an http\(s\) URL"):
        read_revisit_file(path)


def test_journal_resumes_ignores_a_torn_line_and_restarts_after_completion(tmp_path):
    journal = Journal(tmp_path)
    journal.open()
    assert not journal.resumed
    journal.mark(["a", "b"])
    journal.close(finished=False)
    with open(tmp_path / "journal.keys", "ab") as fh:
        fh.write(b"half-writ")  # killed in the middle of a line
    again = Journal(tmp_path)
    again.open()
    assert again.resumed and again.is_done("a") and again.is_done("b") and not again.is_done("half-writ")
    again.mark(["c"])
    again.close(finished=True)
    fresh = Journal(tmp_path)
    fresh.open()
    assert not fresh.resumed and len(fresh) == 0


def _capture(url: str, body: bytes) -> Capture:
    return Capture(url, 200, [("Content-Type", "text/html; charset=gb18030"), ("Transfer-Encoding", "chunked")], body,
                   dt.datetime.now(dt.timezone.utc))


def test_warc_round_trip_exact_bytes_and_torn_tail(tmp_path):
    writer = EvidenceWriter(tmp_path, "huaxue", dt.date(2026, 11, 20))
    bodies = [ZH.encode("gb18030"), b"", bytes(range(256)) * 50]
    evidence = [writer.write(_capture(f"http://127.0.0.14:1/goods/HX{i}.html", b)) for i, b in enumerate(bodies)]
    for ev, body in zip(evidence, bodies):
        assert read_evidence(tmp_path, ev) == body
        assert ev.sha256 == hashlib.sha256(body).hexdigest()
        assert ev.warc_file.startswith("evidence/huaxue/2026-11-20/") and ev.warc_file.endswith(".warc.gz")
    path = tmp_path / evidence[0].warc_file
    # A writer killed mid-record leaves a torn tail: earlier records stay readable.
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: len(whole) // 3])
    assert [r.record_id for r in iter_records(path)][:3] == [e.record_id for e in evidence]
    with pytest.raises(LookupError):
        read_evidence(tmp_path, Evidence(evidence[0].warc_file, "<urn:uuid:none>", "0" * 64))


def test_warc_rolls_over_to_a_new_file(tmp_path):
    writer = EvidenceWriter(tmp_path, "chemdir", dt.date(2026, 11, 20), rollover_bytes=2000)
    evidence = [writer.write(_capture(f"http://h/{i}", bytes(range(256)) * 20)) for i in range(4)]
    assert len({e.warc_file for e in evidence}) > 1
    assert all(read_evidence(tmp_path, e) == bytes(range(256)) * 20 for e in evidence)


def test_health_counts_errors_against_pages():
    stats = {
        "pwatch/pages_attempted": 50,
        "pwatch/responses": 70,
        "pwatch/errors/http_503": 2,
        "pwatch/errors/timeout": 3,
        "pwatch/faults/http_5xx": 12,
        "pwatch/items/listing": 40,
        "pwatch/items/gone/not_found": 5,
        "robotstxt/forbidden": 1,
    }
    health = compute_health(stats, ["http://x/1"], "finished")
    assert health["pages"] == 50 and health["items"] == 45 and health["error_count"] == 5
    assert health["error_rate"] == 0.1 and health["errors"] == {"http_503": 2, "timeout": 3}
    assert health["faults"] == {"http_5xx": 12} and health["blocked"] == {"robots": 1}
