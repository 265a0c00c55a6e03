"""Relisting: a new listing that continues a removed or reported one.

Three signals, each stored with its method and similarity on the link:
- `text`: near-duplicate title + text (exact Jaccard of character 5-gram shingle sets) at or above
  `text_threshold` from the same account or one sharing a contact handle, or at or above
  `text_threshold + UNRELATED_EXTRA` from a fresh account (found by MinHash LSH); two established
  sellers posting the same boilerplate are not a relisting;
- `contact`: a fresh account (the listing is first seen on the account's first day) sharing a
  contact handle (phone, messenger, e-mail) with an original of another account, offering at the
  same price or the same substances; from an established account a shared handle is only the
  seller's other listings;
- `account_substances`: the same account offering the same substances (as detected) at the same
  price.
A relisting is first seen after its original's last live sighting before removal, or after the
day it was reported. Across URLs, accounts and platforms. Each new listing links to at most one original: a text match
first, then the candidate with the most similar substances, then the most similar text, then the
most recent original, then the URL. Nothing depends on database ids: they follow the order crawls
ingested listings in, which varies run to run. Originals are listings removed or reported by the date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import NamedTuple

from datasketch import MinHash, MinHashLSH
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from precursor_watch.storage.bulk import one_of
from precursor_watch.storage.detections import listing_substances
from precursor_watch.storage.kinds import EventKind, ObservationKind, RelistMethod
from precursor_watch.storage.models import Event, Listing, RelistLink, Snapshot

METHODS = tuple(RelistMethod)
NUM_PERM = 128
SHINGLE = 5
UNRELATED_EXTRA = 0.2  # text similarity a fresh account without shared handles needs on top
_SPACE = re.compile(r"\s+")


@dataclass
class Doc:
    listing_id: int
    account_id: int | None
    first_seen_on: dt.date
    text: str
    contacts: frozenset[str]
    price: tuple[str | None, str | None]
    url: str = ""  # a stable tie-break (ids follow crawl ingest order, which varies run to run)
    _shingles: frozenset[str] | None = None

    @property
    def shingles(self) -> frozenset[str]:
        if self._shingles is None:  # computed only for listings a comparison reaches
            self._shingles = shingles(self.text)
        return self._shingles


@dataclass(frozen=True)
class Match:
    new_listing_id: int
    original_listing_id: int
    method: RelistMethod
    similarity: float


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", text).strip()


def shingles(text: str, k: int = SHINGLE) -> frozenset[str]:
    text = normalise(text)
    if len(text) <= k:
        return frozenset({text}) if text else frozenset()
    return frozenset(text[i : i + k] for i in range(len(text) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _docs(session: Session, listing_ids: list[int]) -> dict[int, Doc]:
    out = {}
    rows = session.execute(
        select(
            Listing.id,
            Listing.account_id,
            Listing.first_seen_on,
            Snapshot.title,
            Snapshot.text,
            Snapshot.contacts,
            Snapshot.price,
            Snapshot.currency,
            Listing.url,
        )
        .join(Snapshot, and_(Snapshot.listing_id == Listing.id, Snapshot.content_sha256 == Listing.content_sha256))
        .where(one_of(session, Listing.id, listing_ids))
    )
    for lid, acct, first, title, text, contacts, price, currency, url in rows:
        out[lid] = Doc(lid, acct, first, f"{title}\n{text}", frozenset(contacts or []), (price, currency), url)
    return out


def _contacts(session: Session, listing_ids: list[int]) -> dict[int, frozenset[str]]:
    """The contact handles of each listing's current content (what `_docs` loads, without the text)."""
    rows = session.execute(
        select(Listing.id, Snapshot.contacts)
        .join(Snapshot, and_(Snapshot.listing_id == Listing.id, Snapshot.content_sha256 == Listing.content_sha256))
        .where(one_of(session, Listing.id, listing_ids))
    )
    return {lid: frozenset(contacts or []) for lid, contacts in rows}


class WindowListing(NamedTuple):
    """A listing first seen inside the look-back window and not yet linked to an original."""

    listing_id: int
    first_seen_on: dt.date
    account_id: int | None


@dataclass(frozen=True)
class Originals:
    """Listings removed or reported by the day. `since`: the first day a continuation of each may be
    first seen; `usable`: the first reconcile that sees it (a notice is sent after that day's reconcile)."""

    since: dict[int, dt.date]
    usable: dict[int, dt.date]


@dataclass
class Comparison:
    """Everything one day's comparison of new listings with originals reads."""

    day: dt.date
    originals: Originals
    recent: set[int]  # originals that became usable on `day`
    fresh_ids: set[int]  # listings posted on their account's first day
    docs: dict[int, Doc]
    by_contact: dict[str, list[int]]
    by_account: dict[int, list[int]]
    substances: dict[int, set[str]]
    lsh_for: set[int]  # listings whose text is searched among unrelated accounts
    lsh: MinHashLSH | None
    text_threshold: float


def find_relistings(
    session: Session, day: dt.date, *, window_days: int = 7, text_threshold: float = 0.7
) -> list[Match]:
    """Matches for listings first seen in the last `window_days` (up to `day`) not yet linked.

    Incremental, so a day costs what changed: a listing first seen on `day` is compared with every
    original; an older one in the window only with originals that became usable on `day` (it met
    the others on earlier days), and only by account or handle (the LSH search for copies from
    unrelated fresh accounts runs for listings first seen on `day`). Reconcile is meant to run for
    every date in order.
    """
    window = _window(session, day, window_days)
    if not window:
        return []
    originals = _originals(session, day)
    if not originals.since:
        return []
    recent = {lid for lid, d in originals.usable.items() if d == day}
    fresh_ids = _fresh_listings(session, window)
    new_ids = [w.listing_id for w in window if w.first_seen_on == day]
    if recent:
        new_ids += _older_related_to(session, day, window, fresh_ids, recent)
    if not new_ids:
        return []
    comparison = _comparison(session, day, originals, recent, fresh_ids, new_ids, text_threshold)
    return [match for nid in new_ids if (match := _match(comparison, nid)) is not None]


def _window(session: Session, day: dt.date, window_days: int) -> list[WindowListing]:
    rows = session.execute(
        select(Listing.id, Listing.first_seen_on, Listing.account_id)
        .where(
            Listing.first_seen_on <= day,
            Listing.first_seen_on >= day - dt.timedelta(days=window_days),
            ~exists().where(RelistLink.new_listing_id == Listing.id),
        )
        .order_by(Listing.id)
    )
    return [WindowListing(*row) for row in rows]


def _day_after(day: dt.date | None) -> dt.date | None:
    return day and day + dt.timedelta(days=1)


def _originals(session: Session, day: dt.date) -> Originals:
    first: dict[EventKind, dict[int, dt.date]] = {}
    for kind in (EventKind.REMOVAL_OBSERVED, EventKind.REPORTED):
        rows = session.execute(
            select(Event.listing_id, func.min(Event.occurred_on))
            .where(Event.kind == kind, Event.occurred_on <= day)
            .group_by(Event.listing_id)
        )
        # removals and reports always name a listing; the check narrows the column's type
        first[kind] = {lid: on for lid, on in rows if lid is not None}
    since, usable = {}, {}
    last_alive = _last_alive_before(session, first[EventKind.REMOVAL_OBSERVED])
    for lid in first[EventKind.REMOVAL_OBSERVED].keys() | first[EventKind.REPORTED].keys():
        removed, reported = first[EventKind.REMOVAL_OBSERVED].get(lid), first[EventKind.REPORTED].get(lid)
        # a continuation is first seen after the original's last live sighting (it may have been
        # removed unseen, on a failed crawl or silently) or after the day it was reported
        since[lid] = min(d for d in (_day_after(last_alive.get(lid)), _day_after(reported)) if d is not None)
        usable[lid] = min(d for d in (removed, _day_after(reported)) if d is not None)
    return Originals(since, usable)


def _fresh_listings(session: Session, window: list[WindowListing]) -> set[int]:
    """Listings among their account's first, i.e. first seen on the day the account was. Not "the
    account's lowest id": ids follow the order concurrent crawls happened to ingest listings in, so
    two listings a new account posts on one day would swap roles by chance."""
    first_day_of_account = dict(
        session.execute(select(Listing.account_id, func.min(Listing.first_seen_on)).group_by(Listing.account_id)).all()
    )
    return {
        w.listing_id
        for w in window
        if w.account_id is None or first_day_of_account.get(w.account_id) == w.first_seen_on
    }


def _older_related_to(
    session: Session, day: dt.date, window: list[WindowListing], fresh_ids: set[int], recent: set[int]
) -> list[int]:
    """Older listings of the window that may continue a newly usable original: by account or, for a
    fresh listing of another account, by a contact handle shared with one of those originals."""
    recent_docs = _docs(session, sorted(recent))
    recent_accounts = {d.account_id for d in recent_docs.values()}
    recent_handles = {c for d in recent_docs.values() for c in d.contacts}
    older = [w for w in window if w.first_seen_on < day]
    by_handle = [w.listing_id for w in older if w.listing_id in fresh_ids and w.account_id not in recent_accounts]
    handles = _contacts(session, by_handle) if recent_handles and by_handle else {}
    return [
        w.listing_id
        for w in older
        if w.account_id in recent_accounts or handles.get(w.listing_id, frozenset()) & recent_handles
    ]


def _comparison(
    session: Session,
    day: dt.date,
    originals: Originals,
    recent: set[int],
    fresh_ids: set[int],
    new_ids: list[int],
    text_threshold: float,
) -> Comparison:
    """Load the texts and substances of both sides and index the originals by handle and account."""
    since = originals.since
    docs = _docs(session, sorted(set(new_ids) | set(since)))
    by_contact: dict[str, list[int]] = {}
    by_account: dict[int, list[int]] = {}
    for lid in sorted(since):
        d = docs.get(lid)
        if d is None:
            continue
        for c in d.contacts:
            by_contact.setdefault(c, []).append(lid)
        if d.account_id is not None:
            by_account.setdefault(d.account_id, []).append(lid)
    substances = listing_substances(session, set(since) | set(new_ids))
    # copies from unrelated fresh accounts are searched (LSH) for listings first seen today only
    lsh_for = {nid for nid in new_ids if nid in fresh_ids and docs.get(nid) and docs[nid].first_seen_on == day}
    lsh = _text_index(docs, sorted(since), text_threshold) if lsh_for else None
    return Comparison(
        day, originals, recent, fresh_ids, docs, by_contact, by_account, substances, lsh_for, lsh, text_threshold
    )


def _match(c: Comparison, nid: int) -> Match | None:
    """The one original listing `nid` continues, if any."""
    new = c.docs.get(nid)
    if new is None:
        return None
    methods = _methods(c, nid, new)
    if not methods:
        return None
    return _best_match(c, nid, new, methods)


def _methods(c: Comparison, nid: int, new: Doc) -> dict[int, set[RelistMethod]]:
    """original id -> the methods by which `new` continues it."""
    allowed = c.originals.since.keys() if new.first_seen_on == c.day else c.recent
    methods: dict[int, set[RelistMethod]] = {}

    def offer(oid: int, method: RelistMethod) -> None:
        o = c.docs.get(oid)
        if o is None or oid not in allowed or oid == nid:
            return
        if o.first_seen_on >= new.first_seen_on:
            return  # an original must predate its relisting (first seen on an earlier day, not a lower id)
        if new.first_seen_on < c.originals.since[oid]:
            return  # a continuation comes after the takedown
        methods.setdefault(oid, set()).add(method)

    for oid in _text_matches(c, nid, new, allowed):
        offer(oid, RelistMethod.TEXT)
    subs = c.substances.get(nid)
    if nid in c.fresh_ids:
        for oid in _contact_matches(c, new, subs):
            offer(oid, RelistMethod.CONTACT)
    if subs and new.account_id is not None:
        for oid in c.by_account.get(new.account_id, ()):
            if c.substances.get(oid) == subs and c.docs[oid].price[0] == new.price[0]:
                offer(oid, RelistMethod.ACCOUNT_SUBSTANCES)
    return methods


def _text_matches(c: Comparison, nid: int, new: Doc, allowed) -> list[int]:
    """Near-identical text from the same seller, a shared handle or (only for a fresh account) an
    unrelated one; two established sellers posting the same boilerplate are not a relisting."""
    related = set(c.by_account.get(new.account_id, ())) if new.account_id is not None else set()
    related |= {oid for h in new.contacts for oid in c.by_contact.get(h, ())}
    candidates = set(related)
    if c.lsh is not None and nid in c.lsh_for and new.shingles:  # lsh is built whenever lsh_for is not empty
        candidates |= set(c.lsh.query(_minhashes([new.shingles])[0]))
    found = []
    for oid in sorted(candidates):
        # unrelated (only a fresh account): a copy, not just the same boilerplate
        need = c.text_threshold if oid in related else min(1.0, c.text_threshold + UNRELATED_EXTRA)
        if oid in allowed and jaccard(new.shingles, c.docs[oid].shingles) >= need:
            found.append(oid)
    return found


def _contact_matches(c: Comparison, new: Doc, subs: set[str] | None) -> list[int]:
    """Originals of another account sharing a handle with a *fresh* account's listing (from an
    established account a shared handle is only the seller's other listings). Phone numbers collide
    between unrelated sellers, so the offer must match too: the same asking price or substances."""
    found = []
    for h in new.contacts:
        for oid in c.by_contact.get(h, ()):
            o = c.docs[oid]
            if o.account_id != new.account_id and (
                o.price[0] == new.price[0] or (subs and c.substances.get(oid) == subs)
            ):
                found.append(oid)
    return found


def _best_match(c: Comparison, nid: int, new: Doc, methods: dict[int, set[RelistMethod]]) -> Match:
    """A text match first, then the most similar substances, the most similar text, the most recent
    original, the URL (not the id: see `Doc.url`)."""
    subs = c.substances.get(nid)

    def rank(oid: int) -> tuple:
        o = c.docs[oid]
        return (
            RelistMethod.TEXT in methods[oid],
            o.price[0] == new.price[0],  # same amount (currency may change)
            jaccard(frozenset(subs or ()), frozenset(c.substances.get(oid, ()))),
            jaccard(new.shingles, o.shingles),
            c.originals.since[oid],
            o.url,
        )

    best = max(methods, key=rank)
    method = next(m for m in METHODS if m in methods[best])
    o = c.docs[best]
    similarity = {
        RelistMethod.TEXT: jaccard(new.shingles, o.shingles),
        RelistMethod.CONTACT: jaccard(new.contacts, o.contacts),
        RelistMethod.ACCOUNT_SUBSTANCES: 1.0,
    }[method]
    return Match(nid, best, method, round(similarity, 6))


def _minhashes(sets: list[frozenset[str]]) -> list[MinHash]:
    # crc32: deterministic across processes and far cheaper than the default sha1
    return MinHash.bulk(
        [[s.encode("utf-8") for s in sh] for sh in sets], num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32
    )


def _text_index(docs: dict[int, Doc], ids: list[int], threshold: float) -> MinHashLSH:
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.2), num_perm=NUM_PERM)
    ids = [i for i in ids if i in docs and docs[i].shingles]
    for lid, m in zip(ids, _minhashes([docs[i].shingles for i in ids]), strict=True):
        lsh.insert(lid, m)
    return lsh


def _last_alive_before(session: Session, removed_on: dict[int, dt.date]) -> dict[int, dt.date]:
    """listing id -> its latest live sighting before its first removal."""
    from precursor_watch.storage.models import CrawlRun, Observation

    out: dict[int, dt.date] = {}
    rows = session.execute(
        select(Observation.listing_id, CrawlRun.crawl_date)
        .join(CrawlRun, CrawlRun.id == Observation.crawl_run_id)
        .where(one_of(session, Observation.listing_id, sorted(removed_on)), Observation.kind == ObservationKind.SEEN)
    )
    for lid, day in rows:
        if lid is not None and day < removed_on[lid] and (lid not in out or day > out[lid]):
            out[lid] = day
    return out
