"""`pwatch review ...` through the real CLI entry point on a tracked world."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.cli import main
from precursor_watch.storage.models import Review
from tests.reports.conftest import D0, HOSTILE_TITLES, item


def _world(world):
    origin = "http://127.0.0.11:8470"
    items = [item("chemdir", origin, f"CD{i}", D0, title) for i, title in enumerate(HOSTILE_TITLES.values())]
    items.append(item("chemdir", origin, "CDX", D0, "acetone 99%", text="plain acetone, drums"))
    world.crawl("chemdir", origin, D0, items)
    return world


def _run(capsys, world, *argv):
    code = main([*argv, "--data-dir", str(world.settings.data_path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_show_confirm_dismiss_export(world, capsys, tmp_path):
    _world(world)
    code, out, _ = _run(capsys, world, "review", "list", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == len(HOSTILE_TITLES)  # the acetone listing is not flagged
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)

    code, out, _ = _run(capsys, world, "review", "list")
    assert "\u202e" not in out and "[U+202E]" in out  # terminal never gets a raw bidi override

    first, second = rows[0]["listing_id"], rows[1]["listing_id"]
    code, out, _ = _run(capsys, world, "review", "confirm", str(first), "--note", "4-ANPP offer, bulk", "--reviewer", "ana", "--date", "2026-11-01")
    assert code == 0 and "confirmed by ana" in out
    code, out, _ = _run(capsys, world, "review", "dismiss", str(second), "--reviewer", "ben")
    assert code == 0

    with Session(world.engine) as s:
        reviews = {r.listing_id: r for r in s.scalars(select(Review))}
    assert reviews[first].reviewer == "ana" and reviews[first].note == "4-ANPP offer, bulk"
    assert reviews[first].decided_at.date().isoformat() == "2026-11-01" and reviews[first].decided_at.tzinfo is not None
    assert reviews[second].decision == "dismissed"

    # deciding twice is illegal: one clear line, non-zero exit, nothing written
    code, _, err = _run(capsys, world, "review", "confirm", str(first), "--reviewer", "ana")
    assert code != 0 and err.startswith("pwatch: error: listing") and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, world, "review", "show", "999999")
    assert code != 0 and "no listing with id 999999" in err

    code, out, _ = _run(capsys, world, "review", "show", str(first), "--format", "json")
    case = json.loads(out)
    assert case["reviews"][0]["reviewer"] == "ana" and [e["kind"] for e in case["events"]] == ["first_seen", "flagged", "confirmed"]
    assert case["matched_words"] and all(w in case["text"] for w in case["matched_words"])

    labels = tmp_path / "labels.jsonl"
    code, out, _ = _run(capsys, world, "review", "export", "--out", str(labels))
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    assert code == 0 and {(r["listing_id"], r["label"]) for r in rows} == {(first, 1), (second, 0)}
    assert all(r["text"] and r["id"].startswith("chemdir:") and r["reviewer"] in ("ana", "ben") for r in rows)


def test_no_database_is_one_clear_line(tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    for argv in (["review", "list"], ["notices", "overdue"], ["audit", "--from", "2026-11-01", "--to", "2026-11-02"]):
        assert main([*argv, "--data-dir", str(empty)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("pwatch: error: no tracking database") and len(err.splitlines()) == 1
    assert not empty.exists()  # reading never creates a database


def test_review_date_must_lie_between_flag_date_and_logical_date(world, capsys):
    import datetime as dt

    _world(world)
    world.crawl("chemdir", "http://127.0.0.11:8470", D0 + dt.timedelta(days=3), [])  # logical date now D0 + 3
    first = json.loads(_run(capsys, world, "review", "list", "--format", "json")[1])[0]["listing_id"]
    for date, says in (("2020-01-01", "before the listing was flagged (2026-11-01)"),
                       ("2026-11-05", "after the logical date 2026-11-04")):
        code, _, err = _run(capsys, world, "review", "confirm", str(first), "--reviewer", "ana", "--date", date)
        assert code != 0 and says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with Session(world.engine) as s:
        assert s.scalars(select(Review)).all() == []  # nothing written
    code, out, _ = _run(capsys, world, "review", "confirm", str(first), "--reviewer", "ana")  # default: the logical date
    with Session(world.engine) as s:
        assert code == 0 and s.scalars(select(Review)).one().decided_at.date() == D0 + dt.timedelta(days=3)


def test_export_leaves_automated_decisions_out_unless_asked(world, capsys, tmp_path):
    from precursor_watch.storage.reviews import auto_confirm_flags

    _world(world)
    rows = json.loads(_run(capsys, world, "review", "list", "--format", "json")[1])
    human = rows[0]["listing_id"]
    assert _run(capsys, world, "review", "dismiss", str(human), "--reviewer", "ana")[0] == 0
    with Session(world.engine) as s, s.begin():
        assert auto_confirm_flags(s, D0) == len(rows) - 1
    with Session(world.engine) as s:
        reviews = s.scalars(select(Review)).all()
    assert sorted((r.reviewer, r.automated) for r in reviews)[0] == ("ana", False)
    assert all(r.automated for r in reviews if r.listing_id != human)

    labels = tmp_path / "labels.jsonl"
    assert _run(capsys, world, "review", "export", "--out", str(labels))[0] == 0
    assert [(json.loads(line)["listing_id"], json.loads(line)["automated"]) for line in labels.read_text().splitlines()] == [(human, False)]
    assert _run(capsys, world, "review", "export", "--out", str(labels), "--include-automated")[0] == 0
    exported = [json.loads(line) for line in labels.read_text().splitlines()]
    assert len(exported) == len(rows) and sum(r["automated"] for r in exported) == len(rows) - 1
