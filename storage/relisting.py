"""Relisting: a new listing that continues a removed or reported one.

Three signals, each stored with its method and similarity on the link:
- `text`: near-duplicate title + text (MinHash LSH over character 5-gram shingles, then the exact
  Jaccard of the shingle sets of each candidate pair) at or above `text_threshold`;
- `contact`: a contact handle (phone, messenger, e-mail) shared with an original of *another*
  account (within one account a shared handle is only the seller's other listing);
- `account_substances`: the same account offering the same substances (as detected).
Across URLs, accounts and platforms. Each new listing links to at most one original: a text match
first, then the candidate with the most similar substances, then the most similar text, then the
most recent original. Originals are listings removed or reported by the date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from datasketch import MinHash, MinHashLSH
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from storage.detections import listing_substances
from storage.models import Event, Listing, RelistLink, Snapshot

METHODS = ("text", "contact", "account_substances")
NUM_PERM = 128
SHINGLE = 5
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Doc:
    listing_id: int
    account_id: int | None
    first_seen_on: dt.date
    shingles: frozenset[str]
    contacts: frozenset[str]


@dataclass(frozen=True)
class Match:
    new_listing_id: int
    original_listing_id: int
    method: str
    similarity: float


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", text).strip()


def shingles(text: str, k: int = SHINGLE) -> frozenset[str]:
    text = normalise(text)
    if len(text) <= k:
        return frozenset({text}) if text else frozenset()
    return frozenset(text[i : i + k] for i in range(len(text) - k + 1))


def minhash(sh: Iterable[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch([s.encode("utf-8") for s in sh])
    return m


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _docs(session: Session, listing_ids: list[int]) -> dict[int, Doc]:
    out = {}
    for i in range(0, len(listing_ids), 900):
        rows = session.execute(
            select(Listing.id, Listing.account_id, Listing.first_seen_on, Snapshot.title, Snapshot.text, Snapshot.contacts)
            .join(Snapshot, and_(Snapshot.listing_id == Listing.id, Snapshot.content_sha256 == Listing.content_sha256))
            .where(Listing.id.in_(listing_ids[i : i + 900]))
        )
        for lid, acct, first, title, text, contacts in rows:
            out[lid] = Doc(lid, acct, first, shingles(f"{title}\n{text}"), frozenset(contacts or []))
    return out


def find_relistings(
    session: Session, day: dt.date, *, window_days: int = 7, text_threshold: float = 0.8
) -> list[Match]:
    """Matches for listings first seen in the last `window_days` (up to `day`) not yet linked."""
    new_ids = list(
        session.scalars(
            select(Listing.id)
            .where(
                Listing.first_seen_on <= day,
                Listing.first_seen_on >= day - dt.timedelta(days=window_days),
                ~exists().where(RelistLink.new_listing_id == Listing.id),
            )
            .order_by(Listing.id)
        )
    )
    if not new_ids:
        return []
    reported = exists().where(and_(Event.listing_id == Listing.id, Event.kind == "reported", Event.occurred_on <= day))
    orig_ids = list(
        session.scalars(select(Listing.id).where(or_(Listing.presence == "removed", reported)).order_by(Listing.id))
    )
    if not orig_ids:
        return []
    docs = _docs(session, sorted(set(new_ids) | set(orig_ids)))
    originals = [docs[i] for i in orig_ids if i in docs]

    lsh = MinHashLSH(threshold=max(0.1, text_threshold - 0.2), num_perm=NUM_PERM)
    for d in originals:
        if d.shingles:
            lsh.insert(d.listing_id, minhash(d.shingles))
    by_contact: dict[str, list[int]] = {}
    by_account: dict[int, list[int]] = {}
    for d in originals:
        for c in d.contacts:
            by_contact.setdefault(c, []).append(d.listing_id)
        if d.account_id is not None:
            by_account.setdefault(d.account_id, []).append(d.listing_id)
    substances = listing_substances(session, {d.listing_id for d in originals} | set(new_ids))

    matches = []
    for nid in new_ids:
        new = docs.get(nid)
        if new is None:
            continue
        methods: dict[int, set[str]] = {}

        def offer(oid: int, method: str) -> None:
            o = docs[oid]
            if oid == nid or o.first_seen_on > new.first_seen_on or (o.first_seen_on == new.first_seen_on and oid > nid):
                return  # an original must predate its relisting
            methods.setdefault(oid, set()).add(method)

        if new.shingles:
            for oid in lsh.query(minhash(new.shingles)):
                if jaccard(new.shingles, docs[oid].shingles) >= text_threshold:
                    offer(oid, "text")
        for c in new.contacts:
            for oid in by_contact.get(c, ()):
                # within one account a shared handle is just the seller's other listing; across
                # accounts (or platforms) it links the new account to the removed one
                if docs[oid].account_id != new.account_id or new.account_id is None:
                    offer(oid, "contact")
        subs = substances.get(nid)
        if subs and new.account_id is not None:
            for oid in by_account.get(new.account_id, ()):
                if substances.get(oid) == subs:
                    offer(oid, "account_substances")
        if not methods:
            continue

        def rank(oid: int) -> tuple:
            o = docs[oid]
            return ("text" in methods[oid], jaccard(frozenset(subs or ()), frozenset(substances.get(oid, ()))),
                    jaccard(new.shingles, o.shingles), o.first_seen_on, oid)

        best = max(methods, key=rank)
        method = next(m for m in METHODS if m in methods[best])
        o = docs[best]
        similarity = {
            "text": jaccard(new.shingles, o.shingles),
            "contact": jaccard(new.contacts, o.contacts),
            "account_substances": 1.0,
        }[method]
        matches.append(Match(nid, best, method, round(similarity, 6)))
    return matches
