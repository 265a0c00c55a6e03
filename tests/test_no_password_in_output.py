"""No output of `pwatch` (stdout, stderr, files it writes) ever contains the database password,
whether the command succeeds or fails. PostgreSQL on 127.0.0.1 uses trust auth, so any password
is accepted and the commands really run against it (in a schema of their own)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from precursor_watch.redact import display_url, redact

pytestmark = pytest.mark.postgres

PASSWORD = "s3cretpw"
BASE = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/test"


def test_redact_masks_every_url_password_in_free_text():
    line = f"failed: {BASE} and redis://:{PASSWORD}@h:6379/0 and 'db+postgresql://a:{PASSWORD}@x/y'"
    assert PASSWORD not in redact(line)
    assert "postgres:***@127.0.0.1" in redact(line)
    assert display_url(BASE) == "postgresql+psycopg://postgres:***@127.0.0.1:5432/test"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


@pytest.fixture
def schema():
    name = f"pw_secret_{uuid.uuid4().hex[:8]}"
    engine = create_engine(BASE)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


def test_no_command_prints_or_writes_the_database_password(tmp_path, schema):
    good = f"{BASE}?options=-csearch_path%3D{schema}"
    unreachable = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/test"
    data = tmp_path / "data"
    commands = [
        (good, ["db", "upgrade"], 0),
        (good, ["stats", "--format", "json"], 0),
        (good, ["reconcile", "--date", "2026-11-02"], 0),
        (good, ["review", "list"], 0),
        (good, ["notices", "overdue", "--date", "2026-11-02"], 0),
        (good, ["report", "--date", "2026-11-02"], 0),
        (good, ["audit", "--from", "2026-11-01", "--to", "2026-11-02"], 0),
        (unreachable, ["db", "upgrade"], None),
        (unreachable, ["stats"], None),
        (unreachable, ["reconcile", "--date", "2026-11-02"], None),
        (unreachable, ["review", "list"], None),
        (unreachable, ["crawl", "--site", "chemdir", "--date", "2026-11-02", "--base-url", "http://127.0.0.11:1"], None),
        (unreachable, ["report", "--date", "2026-11-02"], None),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    failures = 0
    for url, args, expected in commands:
        out = subprocess.run([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data)],
                             env={**env, "PWATCH_DATABASE_URL": url, "PWATCH_LOG_LEVEL": "DEBUG"},
                             capture_output=True, text=True, timeout=300)
        if expected is not None:
            assert out.returncode == expected, (args, out.stderr)
        failures += out.returncode != 0
        assert PASSWORD not in out.stdout + out.stderr, (args, out.stdout + out.stderr)
    assert failures >= 5  # the unreachable database really failed each time
    written = [p for p in data.rglob("*") if p.is_file()]
    assert written, "the commands wrote reports and logs"
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path
