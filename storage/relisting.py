"""Relisting: a new listing that continues a removed or reported one.

Three signals, each stored with its method and similarity on the link:
- `text`: near-duplicate title + text (MinHash LSH over character 5-gram shingles, then the exact
  Jaccard of the shingle sets of each candidate pair) at or above `text_threshold`, from the same
  account, a fresh account or one sharing a contact handle (two established sellers posting the
  same boilerplate are not a relisting);
- `contact`: a fresh account (this is its first listing) sharing a contact handle (phone,
  messenger, e-mail) with an original of another account; from an established account a shared
  handle is only the seller's other listings;
- `account_substances`: the same account offering the same substances (as detected) at the same
  price.
A relisting is first seen after its original was removed or reported (with SLACK_DAYS of slack,
as silent removals are verified late). Across URLs, accounts and platforms. Each new listing links to at most one original: a text match
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
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from storage.detections import listing_substances
from storage.models import Event, Listing, RelistLink, Snapshot

METHODS = ("text", "contact", "account_substances")
NUM_PERM = 128
SHINGLE = 5
SLACK_DAYS = 2
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Doc:
    listing_id: int
    account_id: int | None
    first_seen_on: dt.date
    shingles: frozenset[str]
    contacts: frozenset[str]
    price: tuple[str | None, str | None]


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
            select(Listing.id, Listing.account_id, Listing.first_seen_on, Snapshot.title, Snapshot.text, Snapshot.contacts,
                   Snapshot.price, Snapshot.currency)
            .join(Snapshot, and_(Snapshot.listing_id == Listing.id, Snapshot.content_sha256 == Listing.content_sha256))
            .where(Listing.id.in_(listing_ids[i : i + 900]))
        )
        for lid, acct, first, title, text, contacts, price, currency in rows:
            out[lid] = Doc(lid, acct, first, shingles(f"{title}\n{text}"), frozenset(contacts or []), (price, currency))
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
    # originals: listings removed or reported by `day`, with the date that first happened
    since = dict(
        session.execute(
            select(Event.listing_id, func.min(Event.occurred_on))
            .where(Event.kind.in_(("removal_observed", "reported")), Event.occurred_on <= day)
            .group_by(Event.listing_id)
        ).all()
    )
    orig_ids = sorted(since)
    if not orig_ids:
        return []
    fresh_accounts = _first_listing_of_account(session)
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
            if new.first_seen_on < since[oid] - dt.timedelta(days=SLACK_DAYS):
                return  # a continuation comes after the takedown (slack: silent removals are verified late)
            methods.setdefault(oid, set()).add(method)

        fresh = new.account_id is None or fresh_accounts.get(new.account_id) == nid
        if new.shingles:
            for oid in lsh.query(minhash(new.shingles)):
                o = docs[oid]
                # near-identical text from the same seller, a fresh account or a shared handle; two
                # established sellers posting the same boilerplate are not a relisting
                if jaccard(new.shingles, o.shingles) >= text_threshold and (
                    fresh or o.account_id == new.account_id or new.contacts & o.contacts
                ):
                    offer(oid, "text")
        for c in new.contacts:
            for oid in by_contact.get(c, ()):
                # A shared handle links a *fresh* account (this is its first listing) to the old one;
                # from an established account it is only the seller's other listings.
                if fresh and docs[oid].account_id != new.account_id:
                    offer(oid, "contact")
        subs = substances.get(nid)
        if subs and new.account_id is not None:
            for oid in by_account.get(new.account_id, ()):
                if substances.get(oid) == subs and docs[oid].price == new.price:
                    offer(oid, "account_substances")
        if not methods:
            continue

        def rank(oid: int) -> tuple:
            o = docs[oid]
            return ("text" in methods[oid], o.price == new.price, jaccard(frozenset(subs or ()), frozenset(substances.get(oid, ()))),
                    jaccard(new.shingles, o.shingles), since[oid], oid)

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


def _first_listing_of_account(session: Session) -> dict[int, int]:
    """account id -> its earliest listing (first seen, then lowest id)."""
    out: dict[int, int] = {}
    for acct, lid in session.execute(
        select(Listing.account_id, Listing.id).where(Listing.account_id.is_not(None)).order_by(Listing.first_seen_on.desc(), Listing.id.desc())
    ):
        out[acct] = lid
    return out
