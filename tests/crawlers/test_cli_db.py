"""`pwatch crawl` as users and the daily run call it: one-line errors, and items into the tracking
database through `storage` (SQLite in the data dir), with the revisit list taken from it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.crawlers.conftest import DAY, ROOT, crawl_command, crawl_env, load_result


def _pwatch(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precursor_watch", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or crawl_env(), timeout=240)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nowhere"], "--site: unknown platform 'nowhere'"),
        (["--site", "chemdir", "--date", "2026-13-01"], "--date: expected YYYY-MM-DD"),
        (["--site", "chemdir", "--revisit", "/nonexistent/list.txt"], "--revisit: file /nonexistent/list.txt does not exist"),
        (["--site", "chemdir", "--base-url", "ftp://x"], "base_url must start with http"),
    ],
)
def test_bad_options_are_one_line_errors(args, message, tmp_path):
    proc = _pwatch("crawl", "--data-dir", str(tmp_path), "--no-db", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pwatch: error:") and message in lines[0], proc.stderr


def _crawl_db(world, platform: str, day: dt.date, data_dir):
    world.handle.set_date(day)
    out = data_dir / f"{platform}-{day}.jsonl"
    command = crawl_command(world, platform, day, data_dir, out)
    proc = subprocess.run(command, env=crawl_env(), capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"pwatch crawl: {platform} {day}:" in proc.stdout
    return load_result(proc, data_dir, out, platform, day)


def test_items_go_to_the_database_and_revisits_come_from_it(fixture_world, tmp_path):
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Observation

    world = fixture_world("none")
    platform = "chemdir"
    early, late = DAY - dt.timedelta(days=8), DAY
    first = _crawl_db(world, platform, early, tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).where(CrawlRun.crawl_date == early)).one()
        assert run.closed and run.healthy and run.items == len(first.items)
        assert run.pages == first.health["pages"]
        n_obs = session.scalar(select(func.count()).select_from(Observation).where(Observation.crawl_run_id == run.id))
        assert n_obs == len(first.items)

    # Later: listings removed since are no longer linked anywhere; only the revisit list from the
    # database brings the crawler back to them.
    second = _crawl_db(world, platform, late, tmp_path)
    revisit = (tmp_path / "jobs" / platform / late.isoformat() / "revisit.txt").read_text().split()
    assert set(first.listings) <= set(revisit)
    removed_since = {r["url"] for r in world.truth(platform, late) if r["status"] == "removed" and r["url"] in first.listings}
    assert removed_since, "the world should remove some of the early listings by the later day"
    assert removed_since <= set(second.gone)
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).where(CrawlRun.crawl_date == late)).one()
        assert run.healthy and run.items == len(second.items)
        gone_obs = session.scalar(
            select(func.count()).select_from(Observation).where(Observation.crawl_run_id == run.id, Observation.kind == "gone")
        )
        assert gone_obs == len(second.gone)
    engine.dispose()


def test_scrapy_crawl_name_works_from_the_repository_root(fixture_world, tmp_path):
    """`scrapy crawl NAME -a ...` (scrapy.cfg at the root) with typed arguments, revisits only."""
    world = fixture_world("none")
    world.handle.set_date(DAY)
    truth = world.truth("mercado", DAY)
    live = [r["url"] for r in truth if r["status"] == "live"][:5]
    removed = [r["url"] for r in truth if r["status"] == "removed"][:1]
    revisit = tmp_path / "revisit.txt"
    revisit.write_text("\n".join(live + removed) + "\n", encoding="utf-8")
    out = tmp_path / "items.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "mercado", "-a", f"base_url={world.base_url('mercado')}",
         "-a", f"date={DAY}", "-a", f"data_dir={tmp_path}", "-a", f"out={out}", "-a", f"revisit={revisit}",
         "-a", "discover=false", "-s", "LOG_LEVEL=WARNING"],
        capture_output=True, text=True, cwd=ROOT, env=crawl_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = load_result(proc, tmp_path, out, "mercado", DAY)
    assert set(result.listings) == set(live) and set(result.gone) == set(removed)
    assert result.health["pages"] == len(live) + len(removed)  # no index, no sitemap


def test_a_revisit_file_into_a_new_database_creates_its_schema_first(fixture_world, tmp_path):
    """`--revisit FILE` skips the database's revisit list, not its migrations."""
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import Observation

    world = fixture_world("none")
    world.handle.set_date(DAY)
    live = [r["url"] for r in world.truth("mercado", DAY) if r["status"] == "live"][:5]
    out = tmp_path / "items.jsonl"
    command = crawl_command(world, "mercado", DAY, tmp_path, out, revisit=live, extra=("--no-discover",))
    proc = subprocess.run(command, env=crawl_env(), capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    with Session(engine) as session:
        assert set(session.scalars(select(Observation.url))) == set(live)
    engine.dispose()
