"""The console on PostgreSQL: the queue equals the CLI's, filters and groups work, and a bulk
decision through HTTP records one review per listing (JSON text search and window counts differ
between the two databases, so this runs on the real server)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.console import build as build_world
from precursor_watch.console.passwords import hash_password
from precursor_watch.console.queue import QueueFilters, queue_page, seller_groups
from precursor_watch.console.server import build as build_app
from precursor_watch.reports.review import queue as cli_queue
from precursor_watch.settings import load_settings
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.users import add_user
from tests.storage.conftest import PG_BASE

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url():
    schema = f"pw_console_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_console_on_postgres(pg_url, tmp_path):
    from fastapi.testclient import TestClient

    build_world(tmp_path, 200, 1500, pg_url)
    engine = make_engine(pg_url)
    with Session(engine) as s, s.begin():
        items, total = queue_page(s, QueueFilters(), 2, 15)
        cli = cli_queue(s)
        assert total == len(cli) == 190  # 200 flags, 5 % confirmed and noticed by the bench world
        assert [i.listing_id for i in items] == [r.listing_id for r in cli][15:30]
        narrowed, _ = queue_page(s, QueueFilters(substance="21409-26-7", lang="es", min_score=0.9), 1, 500)
        assert narrowed and all(i.lang == "es" and i.score >= 0.9 and "21409-26-7" in i.substances for i in narrowed)
        groups, _ = seller_groups(s, QueueFilters(), 1, per_page=1000)
        assert sum(len(g.items) for g in groups) == 190
        add_user(s, "ana", "analyst", hash_password("analyst-pass-1"), dt.datetime.now(dt.timezone.utc))
    settings = load_settings(data_dir=str(tmp_path), environ={"PWATCH_DATABASE_URL": pg_url})
    client = TestClient(build_app(settings), base_url="http://127.0.0.1:8471", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf_token": token, "name": "ana", "password": "analyst-pass-1"}).status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/queue").text).group(1)
    batch = [str(i.listing_id) for i in groups[0].items]
    assert client.post("/decide", data={"csrf_token": token, "listing_id": batch, "decision": "dismissed"}).status_code == 303
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT listing_id, decision, reviewer FROM reviews WHERE reviewer <> 'bench'")).all()
    engine.dispose()
    assert sorted((str(r.listing_id), r.decision, r.reviewer) for r in rows) == sorted((i, "dismissed", "ana") for i in batch)
