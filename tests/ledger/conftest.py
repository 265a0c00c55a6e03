"""A small real run (two days of the daily cycle over a small fixture world) per database, made
once per test package; tests tamper with it and put it back."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from precursor_watch import steps
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import WorldConfig
from precursor_watch.settings import load_settings
from precursor_watch.storage.db import make_engine
from tests.storage.conftest import PG_BASE, pg_url_with_schema

START = dt.date(2026, 11, 1)
DATES = [START, START + dt.timedelta(days=1), START + dt.timedelta(days=2)]
SEED, SCALE = 5, 60
PLATFORMS = "chemdir,tradehub"


@pytest.fixture(scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_run(request, tmp_path_factory, trained_model):
    """Settings of a data dir after DATES were run (world server stopped again)."""
    data = tmp_path_factory.mktemp(f"ledger-{request.param}")
    schema = None
    extra = {}
    if request.param == "postgres":
        schema = f"pw_ledger_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_BASE)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        extra["database_url"] = pg_url_with_schema(schema)
    config = WorldConfig(seed=SEED, start=START, days=30, scale=SCALE, port=0, state_dir=data / "fixtures")
    with serve_in_background(config, DATES[0]) as server:
        settings = load_settings(
            data_dir=str(data), environ={}, seed=str(SEED), scale=str(SCALE), world_start=START.isoformat(),
            fixture_port=str(server.config.port), platforms=PLATFORMS, auto_confirm="true",
            model_dir=str(trained_model), **extra,
        )
        for day in DATES:
            result = steps.run_day(settings, day)
            assert result["failed"] == {}, result["failed"]
        # a rerun of a day that changes nothing adds no leaves and no head
        again = steps.run_day(settings, DATES[-1])
        assert again["report"]["ledger"]["leaves_appended"] == 0 and not again["report"]["ledger"]["new_head"]
    yield settings
    if schema:
        admin = make_engine(PG_BASE)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
