"""Audit statistics: queries over the event log, per period and per platform / account / store.

Every number has one definition and one unit (`UNITS`), and `explain` lists the listings (or
accounts, stores, platforms) and evidence hashes behind it. Period = [date_from, date_to] on the
events' logical dates, inclusive; open ends are unbounded.

Definitions (cohort R = listings whose *first* `reported` event lies in the period):
- flagged / confirmed / dismissed / reappeared / removed: distinct listings with such an event in
  the period. reported: |R|.
- removal_rate: share of R with a `removal_observed` after the first report, by date_to.
- median / p90 hours to removal: over those removed listings of R, hours from the first report
  to the first removal after it (p90 by the nearest-rank method).
- removed_within_1d / 7d / 30d: share of R removed within 24 / 168 / 720 hours of the report.
- stay_down_rate_15d / 30d: of listings whose first removal in the period is at least N days
  before date_to, the share with no `reappeared` and no `relisted_as` event in the N days after.
- relisted: distinct new listings linked as relistings (event in the period; grouped by the
  original's platform / account / store).
- repeat_offenders: accounts with at least 3 distinct listings removed in the period.
- accounts_closed / stores_closed / platforms_closed: closure events in the period.
- items_reported: (notice, listing) pairs of notices sent in the period.
Ratios and times are None when their cohort is empty. Groups: listing events with no account or
store fall in group "(none)"; closure events count only in groupings that name their entity.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.storage.bulk import one_of
from precursor_watch.storage.kinds import EventKind
from precursor_watch.storage.models import Account, Event, Listing, Notice, NoticeListing, Platform, Store

METRICS = (
    "flagged", "confirmed", "dismissed", "reported", "removed", "removal_rate",
    "median_hours_to_removal", "p90_hours_to_removal", "removed_within_1d", "removed_within_7d",
    "removed_within_30d", "stay_down_rate_15d", "stay_down_rate_30d", "reappeared", "relisted",
    "repeat_offenders", "accounts_closed", "stores_closed", "platforms_closed", "items_reported",
)
UNITS = {
    **{m: "listings" for m in ("flagged", "confirmed", "dismissed", "reported", "removed", "reappeared", "relisted")},
    **{m: "share of listings (0-1)" for m in ("removal_rate", "removed_within_1d", "removed_within_7d",
                                               "removed_within_30d", "stay_down_rate_15d", "stay_down_rate_30d")},
    "median_hours_to_removal": "hours",
    "p90_hours_to_removal": "hours",
    "repeat_offenders": "accounts",
    "accounts_closed": "accounts",
    "stores_closed": "stores",
    "platforms_closed": "platforms",
    "items_reported": "notice items",
}
DEFINITIONS = {
    "flagged": "distinct listings with a flagged event in the period",
    "confirmed": "distinct listings confirmed in the period (by an analyst, or automatically under the demo auto-confirm policy)",
    "dismissed": "distinct listings dismissed on review in the period",
    "reported": "listings whose first report (notice) falls in the period (cohort R)",
    "removed": "distinct listings with a verified removal in the period",
    "removal_rate": "share of R removed after the first report, by the end of the period",
    "median_hours_to_removal": "median hours from first report to the first verified removal after it, over removed listings of R",
    "p90_hours_to_removal": "90th percentile (nearest rank) of the same hours",
    "removed_within_1d": "share of R removed within 24 hours of the report",
    "removed_within_7d": "share of R removed within 168 hours of the report",
    "removed_within_30d": "share of R removed within 720 hours of the report",
    "stay_down_rate_15d": "of listings first removed in the period at least 15 days before its end, share not reappeared or relisted within 15 days",
    "stay_down_rate_30d": "of listings first removed in the period at least 30 days before its end, share not reappeared or relisted within 30 days",
    "reappeared": "distinct listings back at the same URL after a removal, in the period",
    "relisted": "distinct new listings linked as relistings in the period (grouped by the original)",
    "repeat_offenders": "accounts with at least 3 distinct listings removed in the period",
    "accounts_closed": "account closures observed in the period",
    "stores_closed": "store closures observed in the period",
    "platforms_closed": "platform closures observed in the period",
    "items_reported": "(notice, listing) pairs of notices sent in the period",
}
BY = (None, "platform", "account", "store")
REPEAT_OFFENDER_REMOVALS = 3
NONE_GROUP = "(none)"


@dataclass
class Member:
    """One subject behind a number: its id, whether it counts (for shares) or its value (hours)."""

    subject: str  # listing | account | store | platform | notice_item
    id: int
    counted: bool = True
    value: float | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Ev:
    id: int
    kind: EventKind
    on: dt.date
    at: dt.datetime
    platform_id: int
    account_id: int | None
    store_id: int | None
    listing_id: int | None
    related_listing_id: int | None
    evidence_sha256: str | None
    evidence_file: str | None
    evidence_record: str | None
    evidence_uri: str | None


def _in(on: dt.date, lo: dt.date | None, hi: dt.date | None) -> bool:
    return (lo is None or on >= lo) and (hi is None or on <= hi)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


class _Names:
    def __init__(self, session: Session):
        self.platform = dict(session.execute(select(Platform.id, Platform.name)).all())
        self.account = {i: f"{self.platform[p]}/{k}" for i, p, k in session.execute(select(Account.id, Account.platform_id, Account.account_key))}
        self.store = {i: f"{self.platform[p]}/{k}" for i, p, k in session.execute(select(Store.id, Store.platform_id, Store.store_key))}

    def key(self, by: str | None, e: _Ev, entity_event: bool = False) -> str | None:
        if by is None:
            return "total"
        if by == "platform":
            return self.platform[e.platform_id]
        ident = e.account_id if by == "account" else e.store_id
        if ident is None:
            return None if entity_event else NONE_GROUP
        return (self.account if by == "account" else self.store)[ident]


def _evidence(e: _Ev) -> dict[str, Any]:
    """One event behind a number with the WARC record it cites: identical pages (one generic 404
    body for many listings) share a hash, never a record."""
    return {"event": e.kind, "on": e.on.isoformat(), "evidence_sha256": e.evidence_sha256,
            "warc_file": e.evidence_file, "warc_record_id": e.evidence_record, "target_uri": e.evidence_uri}


def _members(session: Session, date_from: dt.date | None, date_to: dt.date | None, by: str | None) -> dict[str, dict[str, list[Member]]]:
    """group -> metric -> members; the single computation behind numbers and drill-downs."""
    if by not in BY:
        raise ValueError(f"by must be one of platform, account, store; got {by!r}")
    names = _Names(session)
    stmt = select(Event.id, Event.kind, Event.occurred_on, Event.occurred_at, Event.platform_id, Event.account_id,
                  Event.store_id, Event.listing_id, Event.related_listing_id, Event.evidence_sha256, Event.evidence_file,
                  Event.evidence_record, Event.evidence_uri).order_by(Event.id)
    if date_to is not None:
        stmt = stmt.where(Event.occurred_on <= date_to)
    events = [_Ev(*row) for row in session.execute(stmt)]
    horizon = date_to or max((e.on for e in events), default=None)  # stay-down windows must end by it
    out: dict[str, dict[str, list[Member]]] = defaultdict(lambda: defaultdict(list))
    per_listing: dict[int, list[_Ev]] = defaultdict(list)
    for e in events:
        if e.listing_id is not None:
            per_listing[e.listing_id].append(e)

    def add(e: _Ev, metric: str, member: Member, entity_event: bool = False) -> None:
        g = names.key(by, e, entity_event)
        if g is not None:
            out[g][metric].append(member)

    for lid, evs in per_listing.items():
        for metric, wanted in (("flagged", EventKind.FLAGGED), ("confirmed", EventKind.CONFIRMED),
                               ("dismissed", EventKind.DISMISSED), ("removed", EventKind.REMOVAL_OBSERVED),
                               ("reappeared", EventKind.REAPPEARED)):
            hits = [e for e in evs if e.kind == wanted and _in(e.on, date_from, date_to)]
            if hits:
                add(hits[0], metric, Member("listing", lid, evidence=[_evidence(h) for h in hits]))
        reports = [e for e in evs if e.kind == EventKind.REPORTED]
        if reports and _in(reports[0].on, date_from, date_to):
            first = reports[0]
            add(first, "reported", Member("listing", lid, evidence=[_evidence(first)]))
            removal = next((e for e in evs if e.kind == EventKind.REMOVAL_OBSERVED and e.id > first.id), None)
            hours = (removal.at - first.at).total_seconds() / 3600 if removal else None
            ev_list = [_evidence(first)] + ([_evidence(removal)] if removal else [])
            add(first, "removal_rate", Member("listing", lid, counted=removal is not None, value=hours, evidence=ev_list))
            if removal is not None:
                add(first, "hours_to_removal", Member("listing", lid, value=hours, evidence=ev_list))
            for days in (1, 7, 30):
                add(first, f"removed_within_{days}d",
                    Member("listing", lid, counted=hours is not None and hours <= 24 * days, value=hours, evidence=ev_list))
        removals = [e for e in evs if e.kind == EventKind.REMOVAL_OBSERVED and _in(e.on, date_from, date_to)]
        if removals and horizon is not None:
            first_removal = removals[0]
            for days in (15, 30):
                end = first_removal.on + dt.timedelta(days=days)
                if end > horizon:
                    continue  # window not over yet: cannot tell
                back = [e for e in evs if e.kind in (EventKind.REAPPEARED, EventKind.RELISTED_AS) and first_removal.on < e.on <= end]
                add(first_removal, f"stay_down_rate_{days}d",
                    Member("listing", lid, counted=not back, evidence=[_evidence(x) for x in [first_removal, *back]]))
        for e in evs:
            if e.kind == EventKind.RELISTED_AS and _in(e.on, date_from, date_to):
                add(e, "relisted", Member("listing", e.related_listing_id, evidence=[_evidence(e)]))

    # accounts with >= 3 distinct removed listings (within each group's removal events)
    removed_by_account: dict[tuple[str, int], dict[int, _Ev]] = defaultdict(dict)
    for e in events:
        if e.kind == EventKind.REMOVAL_OBSERVED and e.account_id is not None and _in(e.on, date_from, date_to):
            g = names.key(by, e)
            if g is not None:
                removed_by_account[(g, e.account_id)].setdefault(e.listing_id, e)
    for (g, account_id), removed in removed_by_account.items():
        if len(removed) >= REPEAT_OFFENDER_REMOVALS:
            out[g]["repeat_offenders"].append(
                Member("account", account_id, value=len(removed), evidence=[_evidence(e) for e in removed.values()])
            )
    for e in events:
        if e.kind in (EventKind.ACCOUNT_CLOSED, EventKind.STORE_CLOSED, EventKind.PLATFORM_CLOSED) and _in(e.on, date_from, date_to):
            subject, ident = {EventKind.ACCOUNT_CLOSED: ("account", e.account_id), EventKind.STORE_CLOSED: ("store", e.store_id),
                              EventKind.PLATFORM_CLOSED: ("platform", e.platform_id)}[e.kind]
            add(e, e.kind.replace("_closed", "s_closed"), Member(subject, ident, evidence=[_evidence(e)]), entity_event=True)

    # notice items: one per (notice, listing), dated by the notice
    rows = session.execute(
        select(NoticeListing.notice_id, NoticeListing.listing_id, Notice.sent_at, Listing.platform_id, Listing.account_id, Listing.store_id)
        .join(Notice, Notice.id == NoticeListing.notice_id)
        .join(Listing, Listing.id == NoticeListing.listing_id)
        .order_by(NoticeListing.notice_id, NoticeListing.listing_id)
    )
    for notice_id, lid, sent_at, pid, aid, sid in rows:
        if _in(sent_at.date(), date_from, date_to):
            pseudo = _Ev(0, "notice", sent_at.date(), sent_at, pid, aid, sid, lid, None, None, None, None, None)
            add(pseudo, "items_reported", Member("listing", lid, evidence=[{"event": "notice", "notice_id": notice_id, "on": sent_at.date().isoformat()}]))
    return out


def _numbers(metrics: dict[str, list[Member]]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for m in ("flagged", "confirmed", "dismissed", "reported", "removed", "reappeared", "relisted",
              "repeat_offenders", "accounts_closed", "stores_closed", "platforms_closed", "items_reported"):
        members = metrics.get(m, [])
        res[m] = len(members) if m == "items_reported" else len({x.id for x in members})
    for m in ("removal_rate", "removed_within_1d", "removed_within_7d", "removed_within_30d",
              "stay_down_rate_15d", "stay_down_rate_30d"):
        members = metrics.get(m, [])
        res[m] = round(sum(x.counted for x in members) / len(members), 6) if members else None
    hours = [x.value for x in metrics.get("hours_to_removal", [])]
    res["median_hours_to_removal"] = round(statistics.median(hours), 3) if hours else None
    res["p90_hours_to_removal"] = round(p90(hours), 3) if hours else None
    return {m: res[m] for m in METRICS}


def compute_stats(session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None,
                  by: str | None = None) -> dict[str, Any]:
    """`{"total": {metric: value}, "groups": {name: {metric: value}}}` (groups empty when by=None)."""
    total = _members(session, date_from, date_to, None).get("total", {})
    groups = {}
    if by is not None:
        groups = {g: _numbers(ms) for g, ms in sorted(_members(session, date_from, date_to, by).items())}
    return {"total": _numbers(total), "groups": groups}


def explain(session: Session, metric: str, date_from: dt.date | None = None, date_to: dt.date | None = None,
            by: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
    """The subjects behind one number, with their evidence hashes (for shares: `counted` says
    whether each one is in the numerator; for times: `value` is its hours)."""
    if metric not in METRICS:
        raise ValueError(f"unknown statistic {metric!r}; one of {', '.join(METRICS)}")
    members = _members(session, date_from, date_to, by).get(group or "total", {}).get(_member_key(metric), [])
    return _described(session, members)


def explain_all(session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None,
                by: str | None = None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """group -> metric -> what `explain` returns for it, from one computation of every statistic
    (an audit drills into all of them; `explain` per metric and group would redo it each time)."""
    raw = _members(session, date_from, date_to, by)
    everyone = [m for metrics in raw.values() for members in metrics.values() for m in members]
    info = _listing_info(session, everyone)
    return {
        group: {metric: _described(session, metrics.get(_member_key(metric), []), info) for metric in METRICS}
        for group, metrics in raw.items()
    }


def _member_key(metric: str) -> str:
    """The member list a statistic is computed from (the two percentiles share theirs)."""
    return "hours_to_removal" if metric in ("median_hours_to_removal", "p90_hours_to_removal") else metric


def _listing_info(session: Session, members: list[Member]) -> dict[int, dict[str, str]]:
    ids = sorted({m.id for m in members if m.subject == "listing"})
    if not ids:
        return {}
    rows = session.execute(
        select(Listing.id, Platform.name, Listing.listing_key, Listing.url).join(Platform).where(one_of(session, Listing.id, ids))
    )
    return {lid: {"platform": pname, "listing_key": key, "url": url} for lid, pname, key, url in rows}


def _described(session: Session, members: list[Member], info: dict[int, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    info = _listing_info(session, members) if info is None else info
    return [
        {"subject": m.subject, "id": m.id, **(info.get(m.id, {}) if m.subject == "listing" else {}),
         "counted": m.counted, "value": m.value, "evidence": m.evidence}
        for m in sorted(members, key=lambda m: (m.subject, m.id))
    ]
