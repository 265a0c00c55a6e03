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
        select(Listing.id, Listing.account_id, Listing.first_seen_on, Snapshot.title, Snapshot.text, Snapshot.contacts,
               Snapshot.price, Snapshot.currency, Listing.url)
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
    window = list(
        session.execute(
            select(Listing.id, Listing.first_seen_on, Listing.account_id)
            .where(
                Listing.first_seen_on <= day,
                Listing.first_seen_on >= day - dt.timedelta(days=window_days),
                ~exists().where(RelistLink.new_listing_id == Listing.id),
            )
            .order_by(Listing.id)
        ).all()
    )
    if not window:
        return []
    # originals: listings removed or reported by `day`; `since` = the first of those dates,
    # `usable` = the first reconcile that sees it (a notice is sent after that day's reconcile)
    first = {}
    for kind in (EventKind.REMOVAL_OBSERVED, EventKind.REPORTED):
        first[kind] = dict(
            session.execute(
                select(Event.listing_id, func.min(Event.occurred_on))
                .where(Event.kind == kind, Event.occurred_on <= day)
                .group_by(Event.listing_id)
            ).all()
        )
    since, usable = {}, {}
    last_alive = _last_alive_before(session, first[EventKind.REMOVAL_OBSERVED])
    for lid in first[EventKind.REMOVAL_OBSERVED].keys() | first[EventKind.REPORTED].keys():
        removed, reported = first[EventKind.REMOVAL_OBSERVED].get(lid), first[EventKind.REPORTED].get(lid)
        day_after = lambda d: d and d + dt.timedelta(days=1)  # noqa: E731
        # a continuation is first seen after the original's last live sighting (it may have been
        # removed unseen, on a failed crawl or silently) or after the day it was reported
        since[lid] = min(d for d in (day_after(last_alive.get(lid)), day_after(reported)) if d is not None)
        usable[lid] = min(d for d in (removed, day_after(reported)) if d is not None)
    if not since:
        return []
    recent = {lid for lid, d in usable.items() if d == day}
    # a fresh account: the listing is among the account's first, i.e. first seen on the day the
    # account was. Not "the account's lowest id": ids follow the order concurrent crawls happened
    # to ingest listings in, so two listings a new account posts on one day swapped roles by chance.
    first_day_of_account = dict(
        session.execute(select(Listing.account_id, func.min(Listing.first_seen_on)).group_by(Listing.account_id)).all()
    )
    fresh_ids = {nid for nid, seen, acct in window if acct is None or first_day_of_account.get(acct) == seen}
    new_ids = [nid for nid, seen, _acct in window if seen == day]
    if recent:
        # older listings can only relate to a newly usable original by account or (fresh) handle:
        # a fresh one from another account only if it shares a handle with one of those originals
        recent_docs = _docs(session, sorted(recent))
        recent_accounts = {d.account_id for d in recent_docs.values()}
        recent_handles = {c for d in recent_docs.values() for c in d.contacts}
        by_handle = [nid for nid, seen, acct in window if seen < day and nid in fresh_ids and acct not in recent_accounts]
        handles = _contacts(session, by_handle) if recent_handles and by_handle else {}
        new_ids += [nid for nid, seen, acct in window
                    if seen < day and (acct in recent_accounts or handles.get(nid, frozenset()) & recent_handles)]
    if not new_ids:
        return []
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

    matches = []
    for nid in new_ids:
        new = docs.get(nid)
        if new is None:
            continue
        allowed = since.keys() if new.first_seen_on == day else recent
        fresh = nid in fresh_ids
        methods: dict[int, set[str]] = {}

        def offer(oid: int, method: RelistMethod) -> None:
            o = docs.get(oid)
            if o is None or oid not in allowed or oid == nid:
                return
            if o.first_seen_on >= new.first_seen_on:
                return  # an original must predate its relisting (first seen on an earlier day, not a lower id)
            if new.first_seen_on < since[oid]:
                return  # a continuation comes after the takedown
            methods.setdefault(oid, set()).add(method)

        # near-identical text from the same seller, a fresh account or a shared handle; two
        # established sellers posting the same boilerplate are not a relisting
        related = set(by_account.get(new.account_id, ())) if new.account_id is not None else set()
        related |= {oid for c in new.contacts for oid in by_contact.get(c, ())}
        text_cands = set(related)
        if nid in lsh_for and new.shingles:
            text_cands |= set(lsh.query(_minhashes([new.shingles])[0]))
        for oid in sorted(text_cands):
            # unrelated (only a fresh account): a copy, not just the same boilerplate
            need = text_threshold if oid in related else min(1.0, text_threshold + UNRELATED_EXTRA)
            if oid in allowed and jaccard(new.shingles, docs[oid].shingles) >= need:
                offer(oid, RelistMethod.TEXT)
        subs = substances.get(nid)
        if fresh:
            # a shared handle links a *fresh* account (this is its first listing) to the old one;
            # from an established account it is only the seller's other listings
            # (phone numbers collide between unrelated sellers, so the offer must match too:
            # the same asking price or the same substances)
            for c in new.contacts:
                for oid in by_contact.get(c, ()):
                    o = docs[oid]
                    if o.account_id != new.account_id and (
                        o.price[0] == new.price[0] or (subs and substances.get(oid) == subs)
                    ):
                        offer(oid, RelistMethod.CONTACT)
        if subs and new.account_id is not None:
            for oid in by_account.get(new.account_id, ()):
                if substances.get(oid) == subs and docs[oid].price[0] == new.price[0]:
                    offer(oid, RelistMethod.ACCOUNT_SUBSTANCES)
        if not methods:
            continue

        def rank(oid: int) -> tuple:
            o = docs[oid]
            return (RelistMethod.TEXT in methods[oid], o.price[0] == new.price[0],  # same amount (currency may change)
                    jaccard(frozenset(subs or ()), frozenset(substances.get(oid, ()))),
                    jaccard(new.shingles, o.shingles), since[oid], o.url)  # URL, not id: see Doc.url

        best = max(methods, key=rank)
        method = next(m for m in METHODS if m in methods[best])
        o = docs[best]
        similarity = {
            RelistMethod.TEXT: jaccard(new.shingles, o.shingles),
            RelistMethod.CONTACT: jaccard(new.contacts, o.contacts),
            RelistMethod.ACCOUNT_SUBSTANCES: 1.0,
        }[method]
        matches.append(Match(nid, best, method, round(similarity, 6)))
    return matches


def _minhashes(sets: list[frozenset[str]]) -> list[MinHash]:
    # crc32: deterministic across processes and far cheaper than the default sha1
    return MinHash.bulk([[s.encode("utf-8") for s in sh] for sh in sets], num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32)


def _text_index(docs: dict[int, "Doc"], ids: list[int], threshold: float) -> MinHashLSH:
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.2), num_perm=NUM_PERM)
    ids = [i for i in ids if i in docs and docs[i].shingles]
    for lid, m in zip(ids, _minhashes([docs[i].shingles for i in ids])):
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
        if day < removed_on[lid] and (lid not in out or day > out[lid]):
            out[lid] = day
    return out
