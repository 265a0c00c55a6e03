"""Talking to the console like a browser does: log in, read the CSRF token, post forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.console.server import build
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Event, Listing, Review
from tests.console.conftest import PASSWORDS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def client(settings) -> TestClient:
    return TestClient(build(settings), base_url="http://127.0.0.1:8471", follow_redirects=False)


def token(c: TestClient, path: str = "/login") -> str:
    return TOKEN.search(c.get(path).text).group(1)


def login(c: TestClient, name: str, password: str | None = None):
    return c.post("/login", data={"csrf_token": token(c), "name": name, "password": password or PASSWORDS[name], "next": "/queue"})


def logged_in(settings, name: str) -> TestClient:
    c = client(settings)
    assert login(c, name).status_code == 303
    return c


def flagged_ids(settings) -> list[int]:
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            return list(s.scalars(select(Listing.id).where(Listing.review == "flagged").order_by(Listing.id)))
    finally:
        engine.dispose()


def decisions_state(settings) -> tuple[int, int, list]:
    """Counts of reviews and events, and every listing's review state: what a decision changes."""
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            return (len(s.scalars(select(Review.id)).all()), len(s.scalars(select(Event.id)).all()),
                    s.execute(select(Listing.id, Listing.review).order_by(Listing.id)).all())
    finally:
        engine.dispose()
