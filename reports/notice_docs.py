"""What a takedown notice says, built from typed inputs (no database, no network here).

One notice per (platform, ground) batch of confirmed listings. It carries the elements of a DSA
Article 16(2) notice (substantiated explanation, exact URLs, notifier name and e-mail, good-faith
statement), the substance and legal basis per jurisdiction in force at each listing's date, and
the evidence (WARC file, record id, target URI and payload hash of each page relied on).
Exports: Lumen-like JSON (notice / works / entity roles) and a CSV of DSA statement-of-reasons
fields, one row per listing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# The one ground we notify on: an offer to sell a controlled substance is illegal content.
GROUND = "illegal_content:controlled_substance_offer"

GOOD_FAITH = (
    "The notifier has a good-faith belief that the information and allegations in this notice are "
    "accurate and complete (Regulation (EU) 2022/2065, Article 16(2)(d))."
)

DSA_CATEGORY = "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS"
DSA_KEYWORD = "KEYWORD_PROHIBITED_PRODUCTS"


@dataclass(frozen=True)
class Control:
    """A substance's control status in one jurisdiction, in force from `effective`."""

    jurisdiction: str
    status: str
    effective: dt.date | None = None
    source: str = ""


@dataclass(frozen=True)
class Substance:
    id: str  # primary CAS RN of the free base
    name: str
    controls: tuple[Control, ...] = ()

    def in_force(self, on: dt.date) -> tuple[Control, ...]:
        """Controls effective on `on` (an unknown effective date is treated as in force)."""
        return tuple(c for c in self.controls if c.effective is None or c.effective <= on)


@dataclass(frozen=True)
class EvidenceRecord:
    """One page capture a notice relies on: the WARC file and record that hold it, the URI it was
    fetched from, and its payload hash. Identical pages are told apart by their records."""

    sha256: str
    warc_file: str | None = None
    record_id: str | None = None
    target_uri: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "sha256": self.sha256,
            "warc_file": self.warc_file,
            "record_id": self.record_id,
            "target_uri": self.target_uri,
        }

    def cite(self) -> str:
        where = f"WARC record {self.record_id} in {self.warc_file}" if self.record_id else "no WARC record"
        return f"{where} (target {self.target_uri or 'unknown'}, SHA-256 {self.sha256})"


@dataclass(frozen=True)
class NoticeItem:
    listing_id: int
    listing_key: str
    url: str
    title: str
    listing_date: dt.date  # first seen: the date whose legal basis applies
    substances: tuple[Substance, ...]
    evidence_sha256: tuple[str, ...]
    lang: str | None = None
    account: str | None = None
    automated_detection: bool = True
    automated_decision: bool = False  # confirmed by a policy (demo auto-confirm), not by a person
    evidence: tuple[EvidenceRecord, ...] = ()  # the records behind evidence_sha256, same order


@dataclass(frozen=True)
class Notifier:
    name: str
    email: str


@dataclass(frozen=True)
class NoticeDraft:
    platform: str
    ground: str
    items: tuple[NoticeItem, ...]
    notifier: Notifier
    sent_on: dt.date
    idempotency_key: str = field(default="")

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"notice for {self.platform} has no listings")
        if not self.idempotency_key:
            object.__setattr__(
                self,
                "idempotency_key",
                idempotency_key(self.platform, [i.listing_key for i in self.items], self.ground),
            )

    @property
    def urls(self) -> list[str]:
        return [i.url for i in self.items]


def idempotency_key(platform: str, listing_keys: Sequence[str], ground: str) -> str:
    """Same platform, listings and ground -> same key, in any order, across reruns and restarts.

    Built from the platform's own listing keys, never our database ids: ids follow the order
    concurrent crawls happened to ingest listings in, and the key is sent to the platform (the
    fixture platforms decide compliance from it), so id-based keys made runs irreproducible.
    """
    basis = "\n".join([platform, ground, ",".join(sorted({str(k) for k in listing_keys}))])
    return "pw-" + hashlib.sha256(basis.encode()).hexdigest()


def legal_basis(draft: NoticeDraft) -> list[dict[str, Any]]:
    """Per substance and jurisdiction, the control in force at the listing date (deduplicated)."""
    seen: dict[tuple, dict[str, Any]] = {}
    for item in draft.items:
        for sub in item.substances:
            for c in sub.in_force(item.listing_date):
                key = (sub.id, c.jurisdiction, c.status)
                seen.setdefault(
                    key,
                    {
                        "substance_id": sub.id,
                        "substance": sub.name,
                        "jurisdiction": c.jurisdiction,
                        "status": c.status,
                        "effective": c.effective.isoformat() if c.effective else None,
                        "source": c.source,
                    },
                )
    return [seen[k] for k in sorted(seen)]


def legal_basis_text(basis: list[dict[str, Any]], limit: int = 500) -> str:
    """The legal ground in one line (DSA `illegal_content_legal_ground` allows 500 characters)."""
    text = "; ".join(
        f"{b['substance']} (CAS {b['substance_id']}): {b['jurisdiction']} {b['status']}"
        + (f" since {b['effective']}" if b["effective"] else "")
        for b in basis
    )
    if not text:
        text = "monitored controlled substance (no control record at the listing date)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explanation(draft: NoticeDraft) -> str:
    """Art. 16(2)(a): why the content is illegal, per listing."""
    lines = [
        f"The {len(draft.items)} listing(s) below on {draft.platform} offer for sale substances that are "
        "controlled as drug precursors or narcotic drugs in the jurisdictions cited. Offering them for sale "
        f"to the public is illegal content. {_decided_by(draft.items)} Page captures are kept as WARC records "
        "identified by the WARC record ids, target URIs and SHA-256 values given.",
    ]
    for item in draft.items:
        names = ", ".join(f"{s.name} (CAS {s.id})" for s in item.substances) or "monitored substance"
        how = " [confirmed automatically]" if item.automated_decision and len(draft.items) > 1 else ""
        lines.append(
            f"- {item.url} (listing {item.listing_key}, first seen {item.listing_date}){how}: {names}; "
            f"evidence: {_cited(item)}"
        )
    lines.append(GOOD_FAITH)
    return "\n".join(lines)


def _cited(item: NoticeItem) -> str:
    """The item's evidence as WARC records when known, else as bare hashes (older records)."""
    if item.evidence:
        return "; ".join(e.cite() for e in item.evidence)
    return ("SHA-256 " + ", ".join(item.evidence_sha256)) if item.evidence_sha256 else "none"


def evidence_records(item: NoticeItem) -> list[dict[str, str | None]]:
    return [e.as_dict() for e in item.evidence] or [EvidenceRecord(h).as_dict() for h in item.evidence_sha256]


def _decided_by(items: Sequence[NoticeItem]) -> str:
    """Who confirmed the listings, truthfully: a person, or an automated policy without review."""
    automated = sum(1 for i in items if i.automated_decision)
    if automated == 0:
        return "Each listing was reviewed and confirmed by an analyst."
    if automated == len(items):
        return (
            "Each listing was flagged by automated detection and confirmed automatically, without human "
            "review (automated decision)."
        )
    return (
        f"{automated} of the {len(items)} listings were confirmed automatically, without human review "
        "(marked below); the others were reviewed and confirmed by an analyst."
    )


def decision_automation(items: Sequence[NoticeItem]) -> str:
    """DSA statement-of-reasons `automated_decision` value for these listings."""
    automated = sum(1 for i in items if i.automated_decision)
    if automated == 0:
        return "DECISION_NOT_AUTOMATED"
    return "DECISION_FULLY_AUTOMATED" if automated == len(items) else "DECISION_PARTIALLY_AUTOMATED"


def request_body(draft: NoticeDraft) -> dict[str, Any]:
    """The JSON body POSTed to the platform's `/notices` endpoint."""
    return {
        "idempotency_key": draft.idempotency_key,
        "urls": draft.urls,
        "notifier": {"name": draft.notifier.name, "email": draft.notifier.email},
        "legal_basis": legal_basis(draft),
        "explanation": explanation(draft),
        "ground": draft.ground,
        "good_faith_statement": GOOD_FAITH,
        "evidence": [
            {"url": i.url, "sha256": list(i.evidence_sha256), "records": evidence_records(i)} for i in draft.items
        ],
    }


# -- exports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentNotice:
    """A notice as recorded: the draft plus what the platform answered and what happened next."""

    notice_id: int
    draft: NoticeDraft
    ticket: str | None
    received_on: str | None
    status: str  # pending | sent | failed
    removals: dict[int, dt.date]  # listing id -> date its removal was observed
    request: dict[str, Any] | None = None  # the body actually POSTed, when recorded
    failure: str | None = None  # why the last delivery attempt failed


def lumen_json(notice: SentNotice) -> dict[str, Any]:
    """Lumen-like notice: title/type/body/dates, works with infringing URLs, entity roles.

    Body, legal basis and evidence come from the request actually sent when it was recorded.
    """
    d = notice.draft
    sent = notice.request or {}
    basis = sent.get("legal_basis") or legal_basis(d)
    evidence = {e.get("url"): e for e in sent.get("evidence", []) if isinstance(e, dict)}
    return {
        "id": notice.notice_id,
        "title": f"Offer of controlled substances on {d.platform}",
        "type": "Other",
        "subject": "Controlled drug precursors / narcotic drugs offered for sale",
        "body": sent.get("explanation") or explanation(d),
        "date_sent": d.sent_on.isoformat(),
        "date_received": notice.received_on,
        "language": "en",
        "tag_list": sorted({s.name for i in d.items for s in i.substances}),
        "jurisdiction_list": sorted({b["jurisdiction"] for b in basis}),
        "legal_basis": basis,
        "ground": d.ground,
        "idempotency_key": d.idempotency_key,
        "ticket": notice.ticket,
        "status": notice.status,
        "failure": notice.failure,
        "works_attributes": [
            {
                "description": f"listing {i.listing_key}: "
                + (", ".join(f"{s.name} (CAS {s.id})" for s in i.substances) or "monitored substance"),
                "kind": "marketplace_listing",
                "infringing_urls_attributes": [{"url": i.url}],
                "copyrighted_urls_attributes": [],
                "evidence_sha256": list(evidence.get(i.url, {}).get("sha256") or i.evidence_sha256),
                "evidence_records": evidence.get(i.url, {}).get("records") or evidence_records(i),
            }
            for i in d.items
        ],
        "entity_notice_roles_attributes": [
            {
                "name": "sender",
                "entity_attributes": {"name": d.notifier.name, "kind": "organization", "email": d.notifier.email},
            },
            {
                "name": "submitter",
                "entity_attributes": {"name": d.notifier.name, "kind": "organization", "email": d.notifier.email},
            },
            {"name": "recipient", "entity_attributes": {"name": d.platform, "kind": "organization"}},
        ],
    }


SOR_FIELDS = [
    "uuid",
    "decision_visibility",
    "decision_ground",
    "decision_ground_reference_url",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "category",
    "category_specification",
    "content_type",
    "content_language",
    "content_date",
    "territorial_scope",
    "application_date",
    "decision_facts",
    "source_type",
    "source_identity",
    "automated_detection",
    "automated_decision",
    "platform_name",
    "platform_uid",
    "created_at",
    # ours, not in the DSA schema (it has no URL or notice id): what an auditor needs to join back
    "pw_notice_id",
    "pw_ticket",
    "pw_url",
    "pw_evidence_sha256",
    "pw_evidence_records",  # WARC record id @ WARC file, one per hash, same order
]


def sor_rows(notice: SentNotice) -> list[list[Any]]:
    """DSA statement-of-reasons fields, one row per listing; the decision fields stay empty until a
    removal was observed (we notify; the platform decides)."""
    d = notice.draft
    rows = []
    for item in d.items:
        basis = legal_basis(NoticeDraft(d.platform, d.ground, (item,), d.notifier, d.sent_on, d.idempotency_key))
        removed = notice.removals.get(item.listing_id)
        rows.append(
            [
                # the platform's listing key, not our database id (which follows crawl ingest order)
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"{d.idempotency_key}/{item.listing_key}")),
                "DECISION_VISIBILITY_CONTENT_REMOVED" if removed else "",
                "DECISION_GROUND_ILLEGAL_CONTENT",
                "",
                legal_basis_text(basis),
                explanation(NoticeDraft(d.platform, d.ground, (item,), d.notifier, d.sent_on, d.idempotency_key))[
                    :2000
                ],
                DSA_CATEGORY,
                DSA_KEYWORD,
                "CONTENT_TYPE_PRODUCT",
                (item.lang or "").upper()[:2],
                item.listing_date.isoformat(),
                ",".join(sorted({b["jurisdiction"] for b in basis})),
                removed.isoformat() if removed else "",
                f"Listing {item.listing_key} offered "
                + (", ".join(s.name for s in item.substances) or "a monitored substance"),
                "SOURCE_ARTICLE_16",
                d.notifier.name,
                "Yes" if item.automated_detection else "No",
                decision_automation((item,)),
                d.platform,
                item.listing_key,
                d.sent_on.isoformat(),
                notice.notice_id,
                notice.ticket or "",
                item.url,
                " ".join(item.evidence_sha256),
                " ".join(f"{e['record_id']}@{e['warc_file']}" for e in evidence_records(item) if e["record_id"]),
            ]
        )
    return rows
