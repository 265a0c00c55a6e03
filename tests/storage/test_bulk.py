"""The bulk helpers against SQLAlchemy's own execution, on SQLite and PostgreSQL."""

import datetime as dt
import json

from sqlalchemy import Text, cast, insert, select

from precursor_watch.storage.bulk import dialect_insert, executemany, json_strings, one_of
from precursor_watch.storage.crawls import platform_id
from precursor_watch.storage.models import Event, Listing
from precursor_watch.storage.types import logical_ts

D0 = dt.date(2026, 11, 1)


def _listing_rows(pid, prefix, n):
    return [
        {"platform_id": pid, "listing_key": f"{prefix}{i}", "url": f"http://chemdir.test/item/{i}",
         "title": "Ü 'quoted' =cmd|' /C calc'!A0", "account_id": None, "store_id": None,
         "first_seen_on": D0 + dt.timedelta(days=i % 3), "last_seen_on": D0, "content_sha256": f"{i:064x}",
         "presence": "active", "review": "none"}
        for i in range(n)
    ]


def _event_rows(pid, lids):
    details = [{}, {"from": "a" * 64, "to": "b" * 64}, None, {"nested": [1, "二", None]}]
    return [
        {"kind": "first_seen", "occurred_on": D0, "occurred_at": logical_ts(D0 + dt.timedelta(days=k % 2)),
         "platform_id": pid, "account_id": None, "store_id": None, "listing_id": lid, "cause": None,
         "evidence_sha256": None, "observation_id": None, "snapshot_id": None, "detection_id": None,
         "review_id": None, "notice_id": None, "related_listing_id": None, "details": details[k % len(details)]}
        for k, lid in enumerate(lids)
    ]


def _read(s, model, where):
    """Each column as the ORM reads it and as stored text (JSON null vs SQL NULL, date formats)."""
    cols = [c for c in model.__table__.c if c.name not in ("id", "listing_key", "listing_id")]
    raw = [cast(c, Text).label(f"raw_{c.name}") for c in cols]
    return [tuple(r) for r in s.execute(select(*cols, *raw).where(where).order_by(model.id))]


def test_executemany_stores_what_session_execute_stores(any_session):
    """Dates, UTC timestamps and JSON (None included) go through the types' own processors."""
    s = any_session
    pid = platform_id(s, "chemdir")
    s.execute(insert(Listing.__table__), _listing_rows(pid, "A", 8))
    executemany(s, dialect_insert(s, Listing).on_conflict_do_nothing(), _listing_rows(pid, "B", 8))
    assert _read(s, Listing, Listing.listing_key.like("A%")) == _read(s, Listing, Listing.listing_key.like("B%"))

    a_ids = s.scalars(select(Listing.id).where(Listing.listing_key.like("A%")).order_by(Listing.id)).all()
    b_ids = s.scalars(select(Listing.id).where(Listing.listing_key.like("B%")).order_by(Listing.id)).all()
    s.execute(insert(Event.__table__), _event_rows(pid, a_ids))
    executemany(s, insert(Event.__table__), _event_rows(pid, b_ids))
    s.expire_all()
    a = _read(s, Event, Event.listing_id.in_(a_ids))
    b = _read(s, Event, Event.listing_id.in_(b_ids))
    assert a == b and len(a) == 8
    assert {e.occurred_at.tzinfo is not None for e in s.scalars(select(Event).where(Event.listing_id.in_(b_ids)))} == {True}


def test_executemany_respects_on_conflict_do_nothing(any_session):
    s = any_session
    pid = platform_id(s, "chemdir")
    executemany(s, dialect_insert(s, Listing).on_conflict_do_nothing(), _listing_rows(pid, "C", 3))
    again = _listing_rows(pid, "C", 4)
    again[0]["title"] = "changed"
    executemany(s, dialect_insert(s, Listing).on_conflict_do_nothing(), again)
    titles = s.scalars(select(Listing.title).where(Listing.listing_key.like("C%")).order_by(Listing.listing_key)).all()
    assert len(titles) == 4 and "changed" not in titles


def test_one_of_matches_in_for_awkward_values(any_session):
    s = any_session
    pid = platform_id(s, "chemdir")
    rows = _listing_rows(pid, "D", 5)
    rows[1]["listing_key"], rows[2]["listing_key"] = 'D"quote\'s', "D二,\\ [x]"
    executemany(s, dialect_insert(s, Listing), rows)
    wanted = ['D"quote\'s', "D二,\\ [x]", "D4", "missing"]
    got = set(s.scalars(select(Listing.listing_key).where(one_of(s, Listing.listing_key, wanted))))
    assert got == {'D"quote\'s', "D二,\\ [x]", "D4"}
    assert s.scalars(select(Listing.id).where(one_of(s, Listing.listing_key, []))).all() == []
    ids = s.scalars(select(Listing.id).where(Listing.listing_key.in_(wanted))).all()
    assert sorted(s.scalars(select(Listing.id).where(one_of(s, Listing.id, ids)))) == sorted(ids)


def test_json_strings_is_json_dumps_byte_for_byte():
    """Contacts are staged as JSON text: the fast encoder must store exactly what json.dumps would."""
    awkward = ["", "telegram:@fake_seller", 'quote " and \\ backslash', "new\nline\ttab\x00nul\x1f", "微信:fake_wx",
               "emoji 🧪", "lone surrogate \ud800", "</script><!--", "=cmd|' /C calc'!A0", "é\u2028\u2029"]
    for values in ([], awkward[:1], awkward, sorted(set(awkward))):
        assert json_strings(values) == json.dumps(values)
        assert json.loads(json_strings(values)) == values
