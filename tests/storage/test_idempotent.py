"""Ingesting or reconciling the same date twice leaves the database identical (a full dump)."""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Base
from precursor_watch.storage.reconcile import reconcile_date

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)


def dump(session: Session) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key."""
    out = {}
    for table in Base.metadata.sorted_tables:
        out[table.name] = [tuple(r) for r in session.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def _day(session, n, items, errors=0):
    day = D0 + dt.timedelta(days=n)
    for platform in ("chemdir", "boardlist"):
        run = open_crawl_run(session, platform, day)
        ingest_batch(session, run, [it for it in items(day) if it.platform == platform])
        close_crawl_run(session, run, {"pages": 50, "errors": {"http_503": errors} if errors else {}})


def test_same_date_twice_gives_an_identical_dump(tmp_path):
    url = f"sqlite:///{tmp_path / 'idem.db'}"
    upgrade(url)
    engine = make_engine(url)

    def items(day):
        n = (day - D0).days
        out = [listing("chemdir", f"CD{i}", day, text=f"Offer {i} v{n // 2}") for i in range(6) if not (i == 1 and n >= 1)]
        out += [listing("boardlist", f"BL{i}", day, contacts=["telegram:@fake_shared_1"]) for i in range(4) if not (i == 3 and n >= 1)]
        if n >= 1:
            out.append(gone("chemdir", "CD1", day))
        if n >= 2:
            out.append(listing("boardlist", "BL9", day, text="Offer BL3 again", seller="acct-new", contacts=["telegram:@fake_shared_1"]))
        return out

    dumps = []
    for n in range(4):
        with Session(engine) as s, s.begin():
            _day(s, n, items)
            reconcile_date(s, D0 + dt.timedelta(days=n), absence_k=2, error_threshold=0.2)
        with Session(engine) as s:
            dumps.append(dump(s))
        with Session(engine) as s, s.begin():  # the whole date again: crawl + ingest + reconcile
            _day(s, n, items)
            reconcile_date(s, D0 + dt.timedelta(days=n), absence_k=2, error_threshold=0.2)
        with Session(engine) as s:
            assert dump(s) == dumps[-1], f"day {n}: rerun changed the database"
        with Session(engine) as s, s.begin():  # reconcile alone again
            reconcile_date(s, D0 + dt.timedelta(days=n), absence_k=2, error_threshold=0.2)
        with Session(engine) as s:
            assert dump(s) == dumps[-1]
    assert dumps[-1]["events"] != dumps[0]["events"]  # the days did change something
    kinds = {row[1] for row in dumps[-1]["events"]}
    assert {"first_seen", "changed", "removal_observed", "relisted_as"} <= kinds
    engine.dispose()
