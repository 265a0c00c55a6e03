"""Exporting recorded notices: Lumen-like JSON, DSA statement-of-reasons CSV, and a manifest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.reports.manifest import write_manifest
from precursor_watch.reports.notice_docs import GROUND, SOR_FIELDS, NoticeDraft, SentNotice, lumen_json, sor_rows
from precursor_watch.reports.notice_drafts import notice_items, notifier_of
from precursor_watch.reports.safe import write_csv
from precursor_watch.storage.kinds import EventKind
from precursor_watch.storage.models import Event, Notice, NoticeListing, Platform


def sent_notices(session: Session, settings: Any, day: dt.date | None = None) -> list[SentNotice]:
    """Every notice recorded on or before `day` (all when None), with removals observed by `day`."""
    notifier = notifier_of(settings)
    out = []
    query = select(Notice, Platform.name).join(Platform, Platform.id == Notice.platform_id).order_by(Notice.id)
    for notice, platform in session.execute(query):
        sent_on = notice.sent_at.date()
        if day is not None and sent_on > day:
            continue
        ids = list(session.scalars(select(NoticeListing.listing_id).where(NoticeListing.notice_id == notice.id)))
        response = notice.response if isinstance(notice.response, dict) else {}
        request = response.get("request") or {}
        draft = NoticeDraft(
            platform,
            request.get("ground", GROUND),
            tuple(notice_items(session, ids)),
            notifier,
            sent_on,
            notice.idempotency_key,
        )
        removals: dict[int, dt.date] = {}
        removal_query = select(Event.listing_id, Event.occurred_on).where(
            Event.kind == EventKind.REMOVAL_OBSERVED, Event.listing_id.in_(ids), Event.occurred_on >= sent_on
        )
        if day is not None:
            removal_query = removal_query.where(Event.occurred_on <= day)
        for lid, on in session.execute(removal_query.order_by(Event.id)):
            if lid is not None:  # the IN filter excludes NULL; this tells the type checker
                removals.setdefault(lid, on)
        answer = response.get("answer") or {}
        out.append(
            SentNotice(
                notice.id,
                draft,
                notice.ticket,
                answer.get("received_on"),
                notice.status,
                removals,
                request or None,
                notice.failure,
            )
        )
    return out


def export_notices(session: Session, settings: Any, out_dir: Path, day: dt.date | None = None) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    notices = sent_notices(session, settings, day)
    (out_dir / "notices.json").write_text(
        json.dumps({"notices": [lumen_json(n) for n in notices]}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    rows = [row for n in notices for row in sor_rows(n)]
    write_csv(out_dir / "statements_of_reasons.csv", SOR_FIELDS, rows)
    write_manifest(out_dir)
    return {"notices": len(notices), "listings": len(rows), "out": str(out_dir)}
