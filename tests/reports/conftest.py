"""A small tracked world for report tests, written only through storage's API, plus a loopback
notice endpoint that implements the fixture world's documented `POST /notices` contract."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, ListingItem
from precursor_watch.storage import events as ev
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.detections import DetectionResult, pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.types import logical_ts

D0 = dt.date(2026, 11, 1)

HOSTILE_TITLES = {
    "script": '<script>document.title="pwned"</script> 4-ANPP 99%',
    "onerror": '<img src=x onerror="document.title=\'pwned\'"> NPP powder',
    "jslink": '<a href="javascript:document.title=\'pwned\'">click</a> ANPP',
    "formula": '=HYPERLINK("http://198.51.100.7/x","ANPP")',
    "rtl": "ANPP \u202egnp.exe",
    "at": "@SUM(1+1) 4-ANPP",
}

ANPP_CONTROLS = [
    {"jurisdiction": "UN", "status": "1988 Convention Table I", "effective": "2017-10-18", "source": "CND 2017"},
    {"jurisdiction": "US", "status": "Schedule II immediate precursor", "effective": "2010-08-30", "source": "75 FR 37295"},
    {"jurisdiction": "XX", "status": "future listing", "effective": "2030-01-01", "source": "test"},
]


@dataclass
class ReportSettings:
    """The attributes reports read from pwatch's settings object."""

    data_path: Path
    db_url: str
    notice_overdue_days: int = 3
    notifier_name: str = "Precursor Watch (test)"
    notifier_email: str = "notices@example.invalid"
    console_url: str = ""


def evidence(tag: str) -> Evidence:
    return Evidence("warc/test.warc.gz", f"<urn:uuid:{hashlib.md5(tag.encode()).hexdigest()}>", hashlib.sha256(tag.encode()).hexdigest())


def item(platform: str, origin: str, key: str, day: dt.date, title: str, text: str | None = None) -> ListingItem:
    return ListingItem(
        platform=platform,
        listing_key=key,
        url=f"{origin}/product/{key}.html",
        title=title,
        text=text if text is not None else f"{title}\nOffer: 4-ANPP, 1 kg, contact telegram @fake_seller_{key.lower()}",
        price="120.00",
        currency="USD",
        seller_key=f"{platform[:2]}-a1",
        seller_name="Seller \u202eevil",
        contacts=[f"telegram:@fake_seller_{key.lower()}"],
        lang="en",
        crawl_date=day,
        evidence=evidence(f"{platform}/{key}/{day}"),
    )


def detection_for(text: str) -> tuple[bool, float, list, list]:
    """Shaped like nlp's Detection after storage stored it: SubstanceHit and Reason dicts with
    per-field offsets (this test detector only reads the text field)."""
    word = "4-ANPP" if "4-ANPP" in text else "ANPP"
    at = text.find(word)
    if at < 0:
        return False, 0.05, [], []
    sub = {"id": "21409-26-7", "name": "4-Anilino-N-phenethylpiperidine", "tier": "monitored", "category": "fentanyl_precursor",
           "matched": word, "field": "text", "start": at, "end": at + len(word), "how": "abbreviation", "detail": "",
           "controls": ANPP_CONTROLS}
    reasons = [{"message": f"monitored substance 4-ANPP matched by abbreviation", "field": "text", "start": at, "end": at + len(word), "matched": word}]
    kg = text.find("1 kg")
    if kg >= 0:
        reasons.append({"message": "trade signal: quantity", "field": "text", "start": kg, "end": kg + 4, "matched": "1 kg"})
    score = 0.5 + (len(text) % 50) / 100
    return True, score, [sub], reasons


@dataclass
class World:
    """Helper to advance a tracked world day by day (through storage's API)."""

    settings: ReportSettings
    engine: object
    listings: dict[str, int] = field(default_factory=dict)

    def crawl(self, platform: str, origin: str, day: dt.date, items: list[ListingItem], detect=None) -> None:
        """Ingest one crawl run and score its new snapshots with `detect(text)` (default
        `detection_for`), the way the pipeline's crawl and detect steps do."""
        detect = detect or detection_for
        with Session(self.engine) as s, s.begin():
            run = open_crawl_run(s, platform, day)
            ingest_batch(s, run, items)
            close_crawl_run(s, run, {"pages": len(items) + 1, "errors": {}})
            pending = pending_snapshots(s, "test-1")
            results = []
            for snap in pending:
                flagged, score, subs, reasons = detect(snap.text)
                results.append(DetectionResult(snap.id, flagged, score, subs, reasons, "test-1"))
            record_detections(s, results, day=day)
        with Session(self.engine) as s:
            from sqlalchemy import select

            from precursor_watch.storage.models import Listing

            for lid, key in s.execute(select(Listing.id, Listing.listing_key)):
                self.listings[key] = lid

    def review(self, key: str, decision: str, day: dt.date, note: str | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            record_review(s, self.listings[key], decision, "analyst-1", note, logical_ts(day) + dt.timedelta(hours=9))

    def event(self, kind: str, key: str, day: dt.date, **kw) -> None:
        with Session(self.engine) as s, s.begin():
            ev.append(s, [ev.NewEvent(kind, self.listings[key], day, **kw)])


@pytest.fixture
def world(tmp_path) -> World:
    url = f"sqlite:///{tmp_path / 'pwatch.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield World(ReportSettings(tmp_path, url), engine)
    engine.dispose()


# -- loopback notice endpoint --------------------------------------------------------------------


class NoticeEndpoint:
    """`POST /notices` as documented in fixtures/README.md: 201 with a ticket for a new key, 200
    with the same body for a key seen before, 400 naming the field when malformed.

    `stall` makes the server hang instead of answering, either after recording the notice
    ("after_record") or before ("before_record"), so a test can kill the client midway.
    `stop()` / `start()` take the platform down and bring it back on the same port.
    """

    def __init__(self):
        self.received: list[dict] = []
        self.answers: dict[str, dict] = {}
        self.stall: str | None = None
        self.stall_seen = False
        self.release = threading.Event()
        self.world_date = D0
        self.port = 0
        self.server = None
        self.start()
        self.origin = f"http://127.0.0.1:{self.port}"

    def _handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                if self.path != "/notices":
                    return self._send(404, {"error": "not found"})
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                for name, kind in (("idempotency_key", str), ("urls", list), ("notifier", dict), ("legal_basis", list), ("explanation", str)):
                    if not isinstance(body.get(name), kind) or not body[name]:
                        return self._send(400, {"error": f"missing or invalid {name}", "field": name})
                if endpoint.stall == "before_record":
                    endpoint.stall_seen = True
                    endpoint.release.wait(30)
                    return
                key = body["idempotency_key"]
                if key in endpoint.answers:
                    return self._send(200, endpoint.answers[key])
                answer = {"ticket": f"T-{len(endpoint.answers) + 1:04d}", "received_on": endpoint.world_date.isoformat(),
                          "urls_accepted": body["urls"]}
                endpoint.answers[key] = answer
                endpoint.received.append(body)
                if endpoint.stall == "after_record":
                    endpoint.release.wait(30)
                    return
                self._send(201, answer)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def close(self):
        self.stop()


@pytest.fixture
def endpoint():
    ep = NoticeEndpoint()
    yield ep
    ep.close()
