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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.storage.bulk import one_of
from precursor_watch.storage.kinds import EventKind
from precursor_watch.storage.models import Account, Event, Listing, Notice, NoticeListing, Platform, Store
from precursor_watch.storage.statistics import BY_NAME, METRICS, REPEAT_OFFENDER_REMOVALS, STATISTICS, UNITS

__all__ = [
    "METRICS",
    "UNITS",
    "compute_members",
    "compute_stats",
    "explain",
    "explain_all",
    "explain_groups",
    "explain_number",
    "load_event_log",
]

BY = (None, "platform", "account", "store")
NONE_GROUP = "(none)"


@dataclass
class Member:
    """One subject behind a number: its id, whether it counts (for shares) or its value (hours)."""

    subject: str  # listing | account | store | platform | notice_item
    id: int
    counted: bool = True
    value: float | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)


class _Ev(NamedTuple):
    """One event as read from the log (a plain tuple: the log is read in one pass of rows)."""

    id: int
    kind: EventKind | Literal["notice"]  # "notice": the pseudo-event of a notice item
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


class NoticeItem(NamedTuple):
    """One (notice, listing) pair with the listing's place, dated by the notice."""

    notice_id: int
    listing_id: int
    sent_at: dt.datetime
    platform_id: int
    account_id: int | None
    store_id: int | None


@dataclass(frozen=True)
class Period:
    date_from: dt.date | None
    date_to: dt.date | None

    def __contains__(self, on: dt.date) -> bool:
        return (self.date_from is None or on >= self.date_from) and (self.date_to is None or on <= self.date_to)


def _values(members: list[Member]) -> list[float]:
    """The members' values, for the statistics whose every member carries one (hours)."""
    values = [m.value for m in members if m.value is not None]
    if len(values) != len(members):
        raise ValueError("a member of a median or p90 statistic has no value")
    return values


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


class _Names:
    def __init__(self, session: Session):
        self.platform = dict(session.execute(select(Platform.id, Platform.name)).all())
        self.account = {
            i: f"{self.platform[p]}/{k}"
            for i, p, k in session.execute(select(Account.id, Account.platform_id, Account.account_key))
        }
        self.store = {
            i: f"{self.platform[p]}/{k}"
            for i, p, k in session.execute(select(Store.id, Store.platform_id, Store.store_key))
        }

    def key(self, by: str | None, e: _Ev, entity_event: bool = False) -> str | None:
        if by is None:
            return "total"
        if by == "platform":
            return self.platform[e.platform_id]
        ident = e.account_id if by == "account" else e.store_id
        if ident is None:
            return None if entity_event else NONE_GROUP
        return (self.account if by == "account" else self.store)[ident]


# The event kinds some statistic is computed from (the registry's `events`): the log holds only these.
STATISTIC_KINDS = tuple(sorted({kind for stat in STATISTICS for kind in stat.events}))


@dataclass
class EventLog:
    """The events up to a date that statistics read (kinds `STATISTIC_KINDS`), read once: every
    period and grouping of a report is computed from it. `last_day` is the latest logical date of
    any event up to that date (the horizon of stay-down windows when a period has no end)."""

    events: list[_Ev]
    per_listing: dict[int, list[_Ev]]
    notice_items: list[NoticeItem]
    names: _Names
    last_day: dt.date | None


def load_event_log(session: Session, date_to: dt.date | None) -> EventLog:
    """Plain rows through the session's connection (no ORM objects), in event id order."""
    conn = session.connection()
    stmt = (
        select(
            Event.id,
            Event.kind,
            Event.occurred_on,
            Event.occurred_at,
            Event.platform_id,
            Event.account_id,
            Event.store_id,
            Event.listing_id,
            Event.related_listing_id,
            Event.evidence_sha256,
            Event.evidence_file,
            Event.evidence_record,
            Event.evidence_uri,
        )
        .where(Event.kind.in_(STATISTIC_KINDS))
        .order_by(Event.id)
    )
    last = select(func.max(Event.occurred_on))
    if date_to is not None:
        stmt = stmt.where(Event.occurred_on <= date_to)
        last = last.where(Event.occurred_on <= date_to)
    events = list(map(_Ev._make, conn.execute(stmt).all()))
    per_listing: dict[int, list[_Ev]] = defaultdict(list)
    for e in events:
        if e.listing_id is not None:
            per_listing[e.listing_id].append(e)
    rows = conn.execute(
        select(
            NoticeListing.notice_id,
            NoticeListing.listing_id,
            Notice.sent_at,
            Listing.platform_id,
            Listing.account_id,
            Listing.store_id,
        )
        .join(Notice, Notice.id == NoticeListing.notice_id)
        .join(Listing, Listing.id == NoticeListing.listing_id)
        .order_by(NoticeListing.notice_id, NoticeListing.listing_id)
    )
    items = [NoticeItem._make(row) for row in rows]
    return EventLog(events, per_listing, items, _Names(session), conn.execute(last).scalar())


# group -> member list name (`Statistic.members`) -> members
Members = dict[str, dict[str, list[Member]]]


class _Sink:
    """Files each member under its group in every requested grouping at once."""

    def __init__(self, names: _Names, bys: tuple[str | None, ...]):
        self.names = names
        self.out: dict[str | None, Members] = {by: defaultdict(lambda: defaultdict(list)) for by in bys}

    def groups(self, e: _Ev, entity_event: bool = False) -> list[tuple[str | None, str]]:
        keys = [(by, self.names.key(by, e, entity_event)) for by in self.out]
        return [(by, g) for by, g in keys if g is not None]

    def add(self, e: _Ev, metric: str, member: Member, entity_event: bool = False) -> None:
        for by, g in self.groups(e, entity_event):
            self.out[by][g][metric].append(member)


def _evidence(e: _Ev) -> dict[str, Any]:
    """One event behind a number with the WARC record it cites: identical pages (one generic 404
    body for many listings) share a hash, never a record."""
    return {
        "event": e.kind,
        "on": e.on.isoformat(),
        "evidence_sha256": e.evidence_sha256,
        "warc_file": e.evidence_file,
        "warc_record_id": e.evidence_record,
        "target_uri": e.evidence_uri,
    }


_COUNTED = (
    ("flagged", EventKind.FLAGGED),
    ("confirmed", EventKind.CONFIRMED),
    ("dismissed", EventKind.DISMISSED),
    ("removed", EventKind.REMOVAL_OBSERVED),
    ("reappeared", EventKind.REAPPEARED),
)


def _event_counts(lid: int, evs: list[_Ev], period: Period, sink: _Sink) -> None:
    """flagged / confirmed / dismissed / removed / reappeared: listings with such an event in the period."""
    for metric, wanted in _COUNTED:
        hits = [e for e in evs if e.kind == wanted and e.on in period]
        if hits:
            sink.add(hits[0], metric, Member("listing", lid, evidence=[_evidence(h) for h in hits]))


def _report_cohort(lid: int, evs: list[_Ev], period: Period, sink: _Sink) -> None:
    """Cohort R (first report in the period) and how long each of its listings took to go."""
    first = next((e for e in evs if e.kind == EventKind.REPORTED), None)
    if first is None or first.on not in period:
        return
    sink.add(first, "reported", Member("listing", lid, evidence=[_evidence(first)]))
    removal = next((e for e in evs if e.kind == EventKind.REMOVAL_OBSERVED and e.id > first.id), None)
    hours = (removal.at - first.at).total_seconds() / 3600 if removal else None
    cited = [_evidence(first)] + ([_evidence(removal)] if removal else [])
    sink.add(first, "removal_rate", Member("listing", lid, counted=removal is not None, value=hours, evidence=cited))
    if removal is not None:
        sink.add(first, "hours_to_removal", Member("listing", lid, value=hours, evidence=cited))
    for days in (1, 7, 30):
        sink.add(
            first,
            f"removed_within_{days}d",
            Member("listing", lid, counted=hours is not None and hours <= 24 * days, value=hours, evidence=cited),
        )


def _stay_down(lid: int, evs: list[_Ev], period: Period, horizon: dt.date | None, sink: _Sink) -> None:
    """Whether the first removal in the period held for 15 / 30 days (windows ending by `horizon`)."""
    first_removal = next((e for e in evs if e.kind == EventKind.REMOVAL_OBSERVED and e.on in period), None)
    if first_removal is None or horizon is None:
        return
    for days in (15, 30):
        end = first_removal.on + dt.timedelta(days=days)
        if end > horizon:
            continue  # window not over yet: cannot tell
        back = [
            e for e in evs if e.kind in (EventKind.REAPPEARED, EventKind.RELISTED_AS) and first_removal.on < e.on <= end
        ]
        sink.add(
            first_removal,
            f"stay_down_rate_{days}d",
            Member("listing", lid, counted=not back, evidence=[_evidence(x) for x in [first_removal, *back]]),
        )


def _relisted(evs: list[_Ev], period: Period, sink: _Sink) -> None:
    for e in evs:
        # relisted_as always names the new listing; the check narrows the column's type
        if e.kind == EventKind.RELISTED_AS and e.on in period and e.related_listing_id is not None:
            sink.add(e, "relisted", Member("listing", e.related_listing_id, evidence=[_evidence(e)]))


def _repeat_offenders(events: list[_Ev], period: Period, sink: _Sink) -> None:
    """Accounts with enough distinct removed listings, counted within each group's removal events."""
    removed_by_account: dict[tuple[str | None, str, int], dict[int, _Ev]] = defaultdict(dict)
    for e in events:
        # a removal always names its listing; the check narrows the column's type
        if (
            e.kind == EventKind.REMOVAL_OBSERVED
            and e.account_id is not None
            and e.listing_id is not None
            and e.on in period
        ):
            for by, g in sink.groups(e):
                removed_by_account[(by, g, e.account_id)].setdefault(e.listing_id, e)
    for (by, g, account_id), removed in removed_by_account.items():
        if len(removed) >= REPEAT_OFFENDER_REMOVALS:
            sink.out[by][g]["repeat_offenders"].append(
                Member("account", account_id, value=len(removed), evidence=[_evidence(e) for e in removed.values()])
            )


_CLOSED_SUBJECT: dict[str, str] = {
    EventKind.ACCOUNT_CLOSED: "account",
    EventKind.STORE_CLOSED: "store",
    EventKind.PLATFORM_CLOSED: "platform",
}


def _closures(events: list[_Ev], period: Period, sink: _Sink) -> None:
    for e in events:
        if e.kind in _CLOSED_SUBJECT and e.on in period:
            subject = _CLOSED_SUBJECT[e.kind]
            ident = {"account": e.account_id, "store": e.store_id, "platform": e.platform_id}[subject]
            if ident is None:  # a closure always names its subject; this narrows the column's type
                continue
            sink.add(e, f"{subject}s_closed", Member(subject, ident, evidence=[_evidence(e)]), entity_event=True)


def _notice_items(items: list[NoticeItem], period: Period, sink: _Sink) -> None:
    """One member per (notice, listing), dated by the notice."""
    for item in items:
        on = item.sent_at.date()
        if on in period:
            pseudo = _Ev(
                0,
                "notice",
                on,
                item.sent_at,
                item.platform_id,
                item.account_id,
                item.store_id,
                item.listing_id,
                None,
                None,
                None,
                None,
                None,
            )
            sink.add(
                pseudo,
                "items_reported",
                Member(
                    "listing",
                    item.listing_id,
                    evidence=[{"event": "notice", "notice_id": item.notice_id, "on": on.isoformat()}],
                ),
            )


def compute_members(
    log: EventLog, date_from: dt.date | None, date_to: dt.date | None, bys: tuple[str | None, ...] = (None,)
) -> dict[str | None, Members]:
    """by -> group -> member list -> members, for every grouping in `bys` in one pass; the single
    computation behind numbers and drill-downs."""
    for by in bys:
        if by not in BY:
            raise ValueError(f"by must be one of platform, account, store; got {by!r}")
    period = Period(date_from, date_to)
    horizon = date_to or log.last_day  # stay-down windows must end by it
    sink = _Sink(log.names, bys)
    for lid, evs in log.per_listing.items():
        _event_counts(lid, evs, period, sink)
        _report_cohort(lid, evs, period, sink)
        _stay_down(lid, evs, period, horizon, sink)
        _relisted(evs, period, sink)
    _repeat_offenders(log.events, period, sink)
    _closures(log.events, period, sink)
    _notice_items(log.notice_items, period, sink)
    return sink.out


def _members(session: Session, date_from: dt.date | None, date_to: dt.date | None, by: str | None) -> Members:
    return compute_members(load_event_log(session, date_to), date_from, date_to, (by,))[by]


_AGGREGATES: dict[str, Callable[[list[Member]], Any]] = {
    "distinct": lambda members: len({m.id for m in members}),
    "pairs": len,
    "share": lambda members: round(sum(m.counted for m in members) / len(members), 6) if members else None,
    "median": lambda members: round(statistics.median(_values(members)), 3) if members else None,
    "p90": lambda members: round(p90(_values(members)), 3) if members else None,
}


def numbers(metrics: dict[str, list[Member]]) -> dict[str, Any]:
    """Every statistic of one group, in registry order, from its members."""
    return {s.name: _AGGREGATES[s.aggregate](metrics.get(s.members, [])) for s in STATISTICS}


def stats_result(members: dict[str | None, Members], by: str | None = None) -> dict[str, Any]:
    """`{"total": {metric: value}, "groups": {name: {metric: value}}}` from `compute_members`
    output that holds the total (by None) and, when `by` is given, that grouping."""
    total = members[None].get("total", {})
    groups = {g: numbers(ms) for g, ms in sorted(members[by].items())} if by is not None else {}
    return {"total": numbers(total), "groups": groups}


def compute_stats(
    session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None, by: str | None = None
) -> dict[str, Any]:
    """`{"total": {metric: value}, "groups": {name: {metric: value}}}` (groups empty when by=None)."""
    bys = (None,) if by is None else (None, by)
    return stats_result(compute_members(load_event_log(session, date_to), date_from, date_to, bys), by)


def _known(metric: str) -> None:
    if metric not in BY_NAME:
        raise ValueError(f"unknown statistic {metric!r}; one of {', '.join(METRICS)}")


def _one_number(metric: str, by: str | None, group: str | None) -> None:
    """One number is a statistic of the total (no `by`, no group) or of one group of a grouping."""
    _known(metric)
    if (by is None) != (group is None):
        raise ValueError(
            f"a group needs its grouping and a grouping a group (by={by!r}, group={group!r}); "
            "explain_groups lists every group of a grouping"
        )


def explain(
    session: Session,
    metric: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    by: str | None = None,
    group: str | None = None,
) -> list[dict[str, Any]]:
    """The subjects behind one number, with their evidence hashes (for shares: `counted` says
    whether each one is in the numerator; for times: `value` is its hours)."""
    _one_number(metric, by, group)
    members = _members(session, date_from, date_to, by).get(group or "total", {}).get(BY_NAME[metric].members, [])
    return _described(session, members)


def explain_groups(
    session: Session, metric: str, by: str, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, list[dict[str, Any]]]:
    """group -> what `explain` lists for that group of `by`, for every group that `compute_stats`
    gives a column (in its order), from one computation."""
    _known(metric)
    if by not in BY[1:]:
        raise ValueError(f"by must be one of platform, account, store; got {by!r}")
    raw = _members(session, date_from, date_to, by)
    name = BY_NAME[metric].members
    info = _listing_info(session, [m for metrics in raw.values() for m in metrics.get(name, [])])
    return {group: _described(session, raw[group].get(name, []), info) for group in sorted(raw)}


def explain_number(
    session: Session,
    metric: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    by: str | None = None,
    group: str | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """One number and what `explain` lists behind it, from one computation (the console's drill-down)."""
    _one_number(metric, by, group)
    metrics = _members(session, date_from, date_to, by).get(group or "total", {})
    return numbers(metrics)[metric], _described(session, metrics.get(BY_NAME[metric].members, []))


def explain_members(session: Session, raw: Members) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """group -> metric -> what `explain` returns for it, from one `compute_members` grouping."""
    everyone = [m for metrics in raw.values() for members in metrics.values() for m in members]
    info = _listing_info(session, everyone)
    return {
        group: {s.name: _described(session, metrics.get(s.members, []), info) for s in STATISTICS}
        for group, metrics in raw.items()
    }


def explain_all(
    session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None, by: str | None = None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """group -> metric -> what `explain` returns for it, from one computation of every statistic
    (an audit drills into all of them; `explain` per metric and group would redo it each time)."""
    return explain_members(session, _members(session, date_from, date_to, by))


def _listing_info(session: Session, members: list[Member]) -> dict[int, dict[str, str]]:
    ids = sorted({m.id for m in members if m.subject == "listing"})
    if not ids:
        return {}
    rows = session.execute(
        select(Listing.id, Platform.name, Listing.listing_key, Listing.url)
        .join(Platform)
        .where(one_of(session, Listing.id, ids))
    )
    return {lid: {"platform": pname, "listing_key": key, "url": url} for lid, pname, key, url in rows}


def _described(
    session: Session, members: list[Member], info: dict[int, dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    info = _listing_info(session, members) if info is None else info
    return [
        {
            "subject": m.subject,
            "id": m.id,
            **(info.get(m.id, {}) if m.subject == "listing" else {}),
            "counted": m.counted,
            "value": m.value,
            "evidence": m.evidence,
        }
        for m in sorted(members, key=lambda m: (m.subject, m.id))
    ]
