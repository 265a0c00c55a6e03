"""`pwatch db upgrade`, `pwatch reconcile` and `pwatch stats`, in-process through the real CLI."""

import csv
import datetime as dt
import io
import json
import logging

import pytest

from sqlalchemy.orm import Session

from precursor_watch.cli import main
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.stats import METRICS

from .helpers import gone, listing

D0 = dt.date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _restore_logging():
    """`pwatch` configures root logging onto pytest's captured stderr; undo it afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_upgrade_reconcile_stats(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PWATCH_DATABASE_URL", raising=False)
    data = str(tmp_path)
    assert main(["db", "upgrade", "--data-dir", data]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    for n, items in enumerate([[listing("chemdir", "CD1", D0)], [gone("chemdir", "CD1", D0 + dt.timedelta(days=1))]]):
        with Session(engine) as s, s.begin():
            run = open_crawl_run(s, "chemdir", D0 + dt.timedelta(days=n))
            ingest_batch(s, run, items)
            close_crawl_run(s, run, {"pages": 5, "errors": {}})
    engine.dispose()
    capsys.readouterr()
    assert main(["reconcile", "--date", "2026-11-02", "--data-dir", data]) == 0
    assert json.loads(capsys.readouterr().out)["removed_explicit"] == 1
    assert main(["stats", "--data-dir", data, "--by", "platform", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"total", "groups"} and list(out["total"]) == list(METRICS)
    assert out["total"]["removed"] == 1 and out["groups"]["chemdir"]["removed"] == 1
    assert main(["stats", "--data-dir", data, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",")[:3] == ["group", "flagged", "confirmed"] and lines[1].startswith("total,")
    assert main(["stats", "--data-dir", data, "--explain", "removed", "--format", "csv"]) == 0
    assert "CD1" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PWATCH_DATABASE_URL", raising=False)
    assert main(["stats", "--data-dir", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pwatch db upgrade" in err[0]
    assert main(["stats", "--data-dir", str(tmp_path), "--from", "2026-11-05", "--to", "2026-11-01"]) != 0
    assert "after" in capsys.readouterr().err


def test_stats_csv_neutralises_hostile_names(tmp_path, capsys, monkeypatch):
    """Account, store and listing keys are the marketplace's text: the CSV neither evaluates a
    formula nor passes a right-to-left override through, as in the reports."""
    monkeypatch.delenv("PWATCH_DATABASE_URL", raising=False)
    data = str(tmp_path)
    assert main(["db", "upgrade", "--data-dir", data]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    with Session(engine) as s, s.begin():
        run = open_crawl_run(s, "chemdir", D0)
        ingest_batch(s, run, [listing("chemdir", "=HYPERLINK(1)", D0, seller="acct\u202egpj.exe", store="+SUM(A1)")])
        close_crawl_run(s, run, {"pages": 5, "errors": {}})
    with Session(engine) as s, s.begin():
        run = open_crawl_run(s, "chemdir", D0 + dt.timedelta(days=1))
        ingest_batch(s, run, [gone("chemdir", "=HYPERLINK(1)", D0 + dt.timedelta(days=1))])
        close_crawl_run(s, run, {"pages": 5, "errors": {}})
    engine.dispose()
    assert main(["reconcile", "--date", "2026-11-02", "--data-dir", data]) == 0
    capsys.readouterr()
    assert main(["stats", "--data-dir", data, "--by", "account", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "chemdir/acct[U+202E]gpj.exe," in out
    assert main(["stats", "--data-dir", data, "--explain", "removed", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[1][3] == "'=HYPERLINK(1)"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_explain_by_without_group_lists_every_group(tmp_path, capsys, monkeypatch):
    """`--explain X --by G` and no `--group`: the members behind each group's number, every group
    that the grouped table has a column for, each as `--group` alone would list it."""
    monkeypatch.delenv("PWATCH_DATABASE_URL", raising=False)
    data = str(tmp_path)
    assert main(["db", "upgrade", "--data-dir", data]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    alive = {"chemdir": ["CD1", "CD2", "CD3"], "tradehub": ["TH1", "TH2"]}
    for n, day in enumerate([D0, D0 + dt.timedelta(days=1)]):
        for platform, keys in alive.items():
            with Session(engine) as s, s.begin():
                run = open_crawl_run(s, platform, day)
                # CD3 and TH2 stay up; the others are gone on the second day
                items = [
                    listing(platform, k, day, seller=f"acct-{k}") if n == 0 or k in ("CD3", "TH2") else gone(platform, k, day)
                    for k in keys
                ]
                ingest_batch(s, run, items)
                close_crawl_run(s, run, {"pages": 5, "errors": {}})
    engine.dispose()
    assert main(["reconcile", "--date", "2026-11-02", "--data-dir", data]) == 0
    capsys.readouterr()

    assert main(["stats", "--data-dir", data, "--explain", "removed", "--by", "platform", "--format", "json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert {g: [r["listing_key"] for r in rows] for g, rows in groups.items()} == {
        "chemdir": ["CD1", "CD2"],
        "tradehub": ["TH1"],
    }
    for group, rows in groups.items():  # each group as `--group` lists it
        assert main(["stats", "--data-dir", data, "--explain", "removed", "--by", "platform", "--group", group,
                     "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == rows
    assert main(["stats", "--data-dir", data, "--by", "platform", "--format", "json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["groups"]) == list(groups)

    assert main(["stats", "--data-dir", data, "--explain", "removed", "--by", "account", "--format", "json"]) == 0
    by_account = json.loads(capsys.readouterr().out)
    assert {g: [r["listing_key"] for r in rows] for g, rows in by_account.items()} == {
        "chemdir/acct-CD1": ["CD1"],
        "chemdir/acct-CD2": ["CD2"],
        "tradehub/acct-TH1": ["TH1"],
    }

    assert main(["stats", "--data-dir", data, "--explain", "removed", "--by", "platform"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "== platform chemdir" and "2 subject(s)" in table and "== platform tradehub" in table
    assert table[-1] == "2 group(s)"

    assert main(["stats", "--data-dir", data, "--explain", "removed", "--by", "platform", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["group", "subject", "id"]
    assert [(r[0], r[4]) for r in rows[1:]] == [("chemdir", "CD1"), ("chemdir", "CD2"), ("tradehub", "TH1")]
