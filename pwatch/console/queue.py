"""The console's queue: flagged listings, best score first, filtered and paginated in SQL.

A listing's row comes from its latest `flagged` event (its detection and the snapshot judged).
Pages are limit/offset over (score desc, listing id), driven by `ix_listings_review`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from precursor_watch.reports.queries import parse_matches
from precursor_watch.storage.models import Account, Detection, Event, Listing, Platform, Snapshot, Store

STATUSES = ("flagged", "confirmed", "dismissed", "reported")
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilters:
    platform: str = ""
    substance: str = ""
    lang: str = ""
    min_score: float | None = None
    seen_from: dt.date | None = None
    seen_to: dt.date | None = None
    status: str = "flagged"


@dataclass(frozen=True)
class QueueItem:
    listing_id: int
    platform: str
    listing_key: str
    title: str
    score: float
    lang: str | None
    substances: list[str]
    first_seen_on: dt.date
    flagged_on: dt.date
    account_id: int | None
    account: str | None
    store: str | None
    review: str


@dataclass
class SellerGroup:
    account_id: int | None
    account: str | None
    platform: str
    count: int
    best_score: float
    items: list[QueueItem] = field(default_factory=list)


def _latest_flag_id():
    """The listing's latest `flagged` event, looked up per listing through ix_events_listing_id
    (cheap for the few rows of one page)."""
    flag = aliased(Event)
    return (
        select(func.max(flag.id))
        .where(flag.listing_id == Listing.id, flag.kind == "flagged")
        .correlate(Listing)
        .scalar_subquery()
    )


def _latest_flags():
    """Every listing's latest `flagged` event in one pass over ix_events_kind_on (cheaper than a
    lookup per listing when the whole queue is ordered or counted)."""
    return (
        select(Event.listing_id.label("listing_id"), func.max(Event.id).label("event_id"))
        .where(Event.kind == "flagged", Event.listing_id.is_not(None))
        .group_by(Event.listing_id)
        .subquery("latest_flag")
    )


def _filtered(columns: list, filters: QueueFilters, display: bool = False, page_ids: list[int] | None = None) -> Select:
    """Listings in the filters' review state with their latest flag (`page_ids`: only those). The
    platform and snapshot are joined only when a filter or the displayed columns need them."""
    stmt = select(*columns).select_from(Listing)
    if page_ids is None:
        latest = _latest_flags()
        stmt = stmt.join(latest, latest.c.listing_id == Listing.id).join(Event, Event.id == latest.c.event_id)
    else:
        stmt = stmt.join(Event, Event.id == _latest_flag_id()).where(Listing.id.in_(page_ids))
    stmt = stmt.outerjoin(Detection, Detection.id == Event.detection_id).where(Listing.review == filters.status)
    if display or filters.platform:
        stmt = stmt.join(Platform, Platform.id == Listing.platform_id)
    if display or filters.lang:
        stmt = stmt.outerjoin(Snapshot, Snapshot.id == func.coalesce(Detection.snapshot_id, Event.snapshot_id))
    if filters.platform:
        stmt = stmt.where(Platform.name == filters.platform)
    if filters.substance:  # substance ids are quoted JSON strings in detections.substances
        stmt = stmt.where(cast(Detection.substances, Text).contains(f'"{filters.substance}"', autoescape=True))
    if filters.lang:
        stmt = stmt.where(Snapshot.lang == filters.lang)
    if filters.min_score is not None:
        stmt = stmt.where(Detection.score >= filters.min_score)
    if filters.seen_from:
        stmt = stmt.where(Listing.first_seen_on >= filters.seen_from)
    if filters.seen_to:
        stmt = stmt.where(Listing.first_seen_on <= filters.seen_to)
    return stmt


def _items(session: Session, stmt: Select) -> list[QueueItem]:
    out = []
    for row in session.execute(stmt):
        out.append(
            QueueItem(
                listing_id=row.id,
                platform=row.platform,
                listing_key=row.listing_key,
                title=row.title,
                score=float(row.score or 0.0),
                lang=row.lang,
                substances=sorted({m.substance_id for m in parse_matches(row.substances)}),
                first_seen_on=row.first_seen_on,
                flagged_on=row.occurred_on,
                account_id=row.account_id,
                account=row.account_key,
                store=row.store_key,
                review=row.review,
            )
        )
    return out


def _item_columns() -> list:
    return [
        Listing.id,
        Platform.name.label("platform"),
        Listing.listing_key,
        func.coalesce(Snapshot.title, Listing.title).label("title"),
        Detection.score,
        Snapshot.lang,
        Detection.substances,
        Listing.first_seen_on,
        Event.occurred_on,
        Listing.account_id,
        Account.account_key,
        Store.store_key,
        Listing.review,
    ]


def _with_seller(stmt: Select) -> Select:
    return stmt.outerjoin(Account, Account.id == Listing.account_id).outerjoin(Store, Store.id == Listing.store_id)


def queue_page(
    session: Session, filters: QueueFilters, page: int = 1, per_page: int = PAGE_SIZE
) -> tuple[list[QueueItem], int]:
    """One page of the queue and the number of listings matching the filters. The page's ids (and
    the total, as a window count) come from one ordered pass over the few columns the order needs;
    only those rows are then read in full."""
    ranked = session.execute(
        _filtered([Listing.id, func.count().over().label("total")], filters)
        .order_by(Detection.score.desc().nulls_last(), Listing.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    if not ranked:
        total = session.scalar(select(func.count()).select_from(_filtered([Listing.id], filters).subquery()))
        return [], int(total or 0)
    ids = [row.id for row in ranked]
    stmt = _with_seller(_filtered(_item_columns(), filters, display=True, page_ids=ids))
    rows = {item.listing_id: item for item in _items(session, stmt)}
    return [rows[i] for i in ids if i in rows], int(ranked[0].total)


def seller_groups(
    session: Session, filters: QueueFilters, page: int = 1, per_page: int = 20
) -> tuple[list[SellerGroup], int]:
    """The queue grouped by seller account, sellers with the best flag first, each with its listings."""
    best = func.max(Detection.score)
    grouped = session.execute(
        _filtered(
            [
                Listing.account_id,
                Listing.platform_id,
                func.count().label("n"),
                best.label("best"),
                func.count().over().label("total"),
            ],
            filters,
        )
        .group_by(Listing.account_id, Listing.platform_id)
        .order_by(best.desc().nulls_last(), Listing.account_id.nulls_last(), Listing.platform_id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    if not grouped:
        return [], 0
    names = dict(session.execute(select(Platform.id, Platform.name)).all())
    groups = {
        (r.account_id, r.platform_id): SellerGroup(r.account_id, None, names[r.platform_id], r.n, float(r.best or 0.0))
        for r in grouped
    }
    accounts = [a for a, _ in groups if a is not None]
    members: ColumnElement[bool] = Listing.account_id.in_(accounts)
    if any(a is None for a, _ in groups):
        members = or_(members, Listing.account_id.is_(None))
    ids = list(session.scalars(select(Listing.id).where(members, Listing.review == filters.status)))
    stmt = _with_seller(_filtered(_item_columns(), filters, display=True, page_ids=ids))
    for item in sorted(_items(session, stmt), key=lambda i: (-i.score, i.listing_id)):
        group = groups.get((item.account_id, _platform_id(names, item.platform)))
        if group is not None:
            group.account = item.account
            group.items.append(item)
    return list(groups.values()), int(grouped[0].total)


def _platform_id(names: dict[int, str], name: str) -> int | None:
    return next((i for i, n in names.items() if n == name), None)


def filter_choices(session: Session) -> dict[str, list[str]]:
    """Values the filter menus offer: platforms and languages present."""
    return {
        "platforms": list(session.scalars(select(Platform.name).order_by(Platform.name))),
        "langs": [lang for lang in session.scalars(select(Snapshot.lang).distinct().order_by(Snapshot.lang)) if lang],
    }
