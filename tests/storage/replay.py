"""Replay the fixture world's truth into storage, day by day, as a crawler would see it.

Per day and platform: live listings become `ListingItem`s; removed listings we still revisit
(`revisit_targets`) become `GoneItem`s in the platform's removal style (huaxue is *silent*: a
removed listing simply stops appearing, so only K healthy absences reveal it); the closed
platform answers one `platform_closed` page from a failing crawl; on injected failure days a
platform's crawl fetches nothing and is unhealthy. Then an oracle detector (truth labels, plus a
few deliberate false positives), analyst reviews, reconcile, and notices for a share of the
confirmed offers, POSTed to the platforms' `/notices` over loopback HTTP, which changes the
world's later truth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.request
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, GoneItem, ListingItem
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.detections import DetectionResult, pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Listing, Snapshot
from precursor_watch.storage.notices import confirmed_unreported, record_notice
from precursor_watch.storage.queries import revisit_targets
from precursor_watch.storage.reconcile import reconcile_date
from precursor_watch.storage.reviews import flagged_unreviewed, record_review
from precursor_watch.storage.types import logical_ts

PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")
GONE_STYLE = {"chemdir": ("not_found", 404), "tradehub": ("gone", 410), "boardlist": ("soft_removed", 200),
              "mercado": ("not_found", 404)}
SILENT = {"huaxue"}
REVIEW_HOURS = 10
NOTICE_HOURS = 18
K = 2
THRESHOLD = 0.2


def share(*parts) -> float:
    """A stable number in [0, 1) from the parts (deterministic choices, independent of storage)."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def sha(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class ReplayLog:
    truth: dict[dt.date, dict[str, dict]] = field(default_factory=dict)  # day -> url -> truth record
    failures: set[tuple[str, dt.date]] = field(default_factory=set)
    notices: list[dict] = field(default_factory=list)  # what the platforms answered
    days: list[dt.date] = field(default_factory=list)


def is_false_positive(platform: str, key: str, fp_share: float) -> bool:
    return share(platform, key, "fp") < fp_share


def is_noticed(platform: str, key: str, notice_share: float) -> bool:
    return share(platform, key, "notice") < notice_share


def post_json(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def replay(engine, world, handle, days: int, failures: set[tuple[str, int]], *, notice_share: float = 0.7,
           fp_share: float = 0.05, on_day=None) -> ReplayLog:
    """Run `days` days; `on_day(session, day)` is called after each day's transaction."""
    log = ReplayLog()
    start = world.config.start
    log.failures = {(p, start + dt.timedelta(days=n)) for p, n in failures}
    for n in range(days):
        day = start + dt.timedelta(days=n)
        log.days.append(day)
        handle.set_date(day)
        truth = {r["url"]: r for r in world.truth(day) if r["platform"] in PLATFORMS}  # what the replay crawls
        log.truth[day] = truth
        with Session(engine) as s, s.begin():
            for platform in PLATFORMS:
                _crawl(s, platform, day, truth, log)
            _detect(s, day, truth, fp_share)
            reconcile_date(s, day, absence_k=K, error_threshold=THRESHOLD)
            _review(s, day, truth)
            _notify(s, day, handle, notice_share, log)
        if on_day is not None:
            with Session(engine) as s:
                on_day(s, day)
    return log


def _crawl(s: Session, platform: str, day: dt.date, truth: dict[str, dict], log: ReplayLog) -> None:
    run = open_crawl_run(s, platform, day)
    records = [r for r in truth.values() if r["platform"] == platform]
    closed = [r for r in records if r["removal_cause"] == "platform_closed"]
    if closed:  # every path answers 503 + the closure marker: one gone page, a failing crawl
        base = closed[0]["url"].split("/", 3)
        item = GoneItem(platform, "/".join(base[:3]) + "/", None, 503, "platform_closed", crawl_date=day,
                        evidence=Evidence("warc/replay.warc.gz", f"<urn:{platform}:{day}>", sha(platform, day, "closed")))
        ingest_batch(s, run, [item])
        close_crawl_run(s, run, {"pages": 1, "errors": {"http_503": 1}}, error_threshold=THRESHOLD)
        return
    if (platform, day) in log.failures:
        close_crawl_run(s, run, {"pages": 40, "errors": {"http_5xx": 40}, "items": 0}, error_threshold=THRESHOLD)
        return
    targets = set(revisit_targets(s, platform, day))
    items = []
    for r in records:
        evidence = Evidence("warc/replay.warc.gz", f"<urn:{r['url']}:{day}>", sha(r["url"], day, r["status"]))
        if r["status"] == "live":
            items.append(ListingItem(
                platform=platform, listing_key=r["listing_key"], url=r["url"], title=r["title"], text=r["text"],
                price=r["price"], currency=r["currency"], seller_key=r["account"], seller_name=r["seller_name"],
                store_key=r["store"], contacts=list(r["contacts"]), lang=r["lang"], posted_at=r["appeared_on"],
                crawl_date=day, evidence=evidence,
            ))
        elif r["url"] in targets and platform not in SILENT:
            reason, status = GONE_STYLE[platform]
            if r["removal_cause"] in ("account_closed", "store_closed"):
                reason = r["removal_cause"]
            items.append(GoneItem(platform, r["url"], r["listing_key"], status, reason, crawl_date=day, evidence=evidence))
    for i in range(0, len(items), 200):  # batches, as the crawler pipeline sends them
        ingest_batch(s, run, items[i : i + 200])
    close_crawl_run(s, run, {"pages": len(items) + 5, "errors": {}}, error_threshold=THRESHOLD)


def _detect(s: Session, day: dt.date, truth: dict[str, dict], fp_share: float) -> None:
    pending = pending_snapshots(s, "oracle-1")
    urls = dict(s.execute(select(Snapshot.id, Listing.url).join(Listing, Listing.id == Snapshot.listing_id)
                          .where(Snapshot.id.in_([p.id for p in pending]))).all())
    results = []
    for p in pending:
        r = truth[urls[p.id]]
        flagged = bool(r["label"]) or is_false_positive(r["platform"], r["listing_key"], fp_share)
        results.append(DetectionResult(p.id, flagged, 0.9 if flagged else 0.1, list(r["substances"]), [], "oracle-1"))
    record_detections(s, results, day=day)


def _review(s: Session, day: dt.date, truth: dict[str, dict]) -> None:
    at = logical_ts(day) + dt.timedelta(hours=REVIEW_HOURS)
    urls = dict(s.execute(select(Listing.id, Listing.url).where(Listing.id.in_(flagged_unreviewed(s)))).all())
    for lid, url in sorted(urls.items()):
        decision = "confirmed" if truth[url]["label"] else "dismissed"
        record_review(s, lid, decision, "analyst-test", None, at)


def _notify(s: Session, day: dt.date, handle, notice_share: float, log: ReplayLog) -> None:
    at = logical_ts(day) + dt.timedelta(hours=NOTICE_HOURS)
    for platform in PLATFORMS:
        chosen = [r for r in confirmed_unreported(s, platform) if is_noticed(platform, r.listing_key, notice_share)]
        if not chosen:
            continue
        key = f"pw-{platform}-{day.isoformat()}"
        body = {"idempotency_key": key, "urls": [r.url for r in chosen],
                "notifier": {"name": "Precursor Watch test", "email": "nobody@example.invalid"},
                "legal_basis": ["21 U.S.C. 802(34)"], "explanation": "Offer of a monitored fentanyl precursor."}
        status, answer = post_json(handle.base_urls[platform] + "/notices", body)
        assert status == 201, answer
        log.notices.append({"platform": platform, "day": day, "urls": body["urls"], **answer})
        record_notice(s, platform=platform, listing_ids=[r.id for r in chosen], legal_basis="21 U.S.C. 802(34)",
                      channel="http", idempotency_key=key, sent_at=at, ticket=answer["ticket"], response=answer)
