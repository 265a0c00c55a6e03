"""Notice contents: Art. 16 elements, legal basis at the listing date, idempotency, exports."""

import csv
import datetime as dt
import io
from dataclasses import replace

from precursor_watch.reports.notice_docs import (
    GOOD_FAITH,
    SOR_FIELDS,
    Control,
    NoticeDraft,
    NoticeItem,
    Notifier,
    SentNotice,
    Substance,
    idempotency_key,
    legal_basis,
    lumen_json,
    request_body,
    sor_rows,
)
from precursor_watch.reports.safe import csv_text

PIPERIDONE = Substance(
    "41661-47-6",
    "4-Piperidone",
    (
        Control("US", "List I chemical", dt.date(2023, 5, 12), "88 FR 21902"),
        Control("UN", "1988 Convention Table I", dt.date(2024, 12, 3), "CND 67/6"),
    ),
)
NOTIFIER = Notifier("Precursor Watch (test)", "notices@example.invalid")


def _item(lid, day, url=None):
    return NoticeItem(
        listing_id=lid,
        listing_key=f"CD{lid}",
        url=url or f"http://127.0.0.11:8470/product/CD{lid}.html",
        title="=HYPERLINK(\"x\") 4-piperidone",
        listing_date=day,
        substances=(PIPERIDONE,),
        evidence_sha256=("ab" * 32,),
        lang="en",
    )


def test_idempotency_key_depends_on_set_not_order():
    assert idempotency_key("chemdir", ["CD3", "CD1", "CD2"], "g") == idempotency_key("chemdir", ["CD2", "CD3", "CD1", "CD1"], "g")
    assert idempotency_key("chemdir", ["CD1", "CD2"], "g") != idempotency_key("chemdir", ["CD1", "CD2", "CD3"], "g")
    assert idempotency_key("chemdir", ["CD1"], "g") != idempotency_key("tradehub", ["CD1"], "g")
    assert idempotency_key("chemdir", ["CD1"], "g") != idempotency_key("chemdir", ["CD1"], "h")


def test_idempotency_key_names_the_platforms_listings_not_our_database_ids():
    """Database ids follow crawl ingest order (which varies run to run) and the platform decides
    compliance from the key: the same listings must give the same key whatever ids they got."""
    day = dt.date(2026, 11, 1)
    drafts = [NoticeDraft("chemdir", "g", (replace(_item(lid, day), listing_key="CD7"),), NOTIFIER, day) for lid in (1, 2)]
    assert drafts[0].items[0].listing_id != drafts[1].items[0].listing_id
    assert drafts[0].idempotency_key == drafts[1].idempotency_key == idempotency_key("chemdir", ["CD7"], "g")
    # and the statement of reasons keeps its id too
    uuids = [sor_rows(SentNotice(1, d, "T-1", "2026-11-01", "sent", {}))[0][0] for d in drafts]
    assert uuids[0] == uuids[1]


def test_legal_basis_only_cites_controls_in_force_at_listing_date():
    early = NoticeDraft("chemdir", "g", (_item(1, dt.date(2024, 1, 1)),), NOTIFIER, dt.date(2026, 11, 5))
    late = NoticeDraft("chemdir", "g", (_item(1, dt.date(2025, 1, 1)),), NOTIFIER, dt.date(2026, 11, 5))
    assert [b["jurisdiction"] for b in legal_basis(early)] == ["US"]
    assert [b["jurisdiction"] for b in legal_basis(late)] == ["UN", "US"]


def test_request_body_has_article_16_elements():
    draft = NoticeDraft("chemdir", "g", (_item(2, dt.date(2026, 11, 1)), _item(1, dt.date(2026, 11, 1))), NOTIFIER, dt.date(2026, 11, 5))
    body = request_body(draft)
    assert body["idempotency_key"] == idempotency_key("chemdir", ["CD1", "CD2"], "g")
    assert body["urls"] == [i.url for i in draft.items]
    assert body["notifier"] == {"name": NOTIFIER.name, "email": NOTIFIER.email}
    assert GOOD_FAITH in body["explanation"]
    for item in draft.items:
        assert item.url in body["explanation"] and item.evidence_sha256[0] in body["explanation"]


def test_lumen_and_sor_exports():
    day = dt.date(2026, 11, 1)
    draft = NoticeDraft("chemdir", "g", (_item(1, day), _item(2, day)), NOTIFIER, dt.date(2026, 11, 5))
    sent = SentNotice(7, draft, "T-1", "2026-11-05", "sent", {2: dt.date(2026, 11, 7)})
    lumen = lumen_json(sent)
    assert [w["infringing_urls_attributes"][0]["url"] for w in lumen["works_attributes"]] == draft.urls
    assert {r["name"] for r in lumen["entity_notice_roles_attributes"]} == {"sender", "submitter", "recipient"}
    assert lumen["jurisdiction_list"] == ["UN", "US"]
    rows = sor_rows(sent)
    assert all(len(r) == len(SOR_FIELDS) for r in rows)
    by_field = [dict(zip(SOR_FIELDS, r)) for r in rows]
    assert [r["decision_visibility"] for r in by_field] == ["", "DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert by_field[1]["application_date"] == "2026-11-07"
    assert all(len(r["illegal_content_legal_ground"]) <= 500 for r in by_field)
    parsed = list(csv.DictReader(io.StringIO(csv_text(SOR_FIELDS, rows))))
    assert parsed[0]["pw_url"] == draft.urls[0] and parsed[0]["source_type"] == "SOURCE_ARTICLE_16"
