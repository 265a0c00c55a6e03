"""`pwatch nlp train --with-reviews`: analyst decisions from `pwatch review export` become training
data; the model version changes, the decisions are recorded, and the evaluation before and after
is printed (on the decisions themselves, held-out families and the evaluation files)."""

import json

from precursor_watch.cli import main
from tests.reports.test_review_cli import _run, _world


def test_reviewed_decisions_change_the_model_and_are_reported(world, capsys, tmp_path):
    _world(world)
    rows = json.loads(_run(capsys, world, "review", "list", "--format", "json")[1])
    first, second = rows[0]["listing_id"], rows[1]["listing_id"]
    assert _run(capsys, world, "review", "confirm", str(first), "--reviewer", "ana")[0] == 0
    assert _run(capsys, world, "review", "dismiss", str(second), "--reviewer", "ben", "--note", "catalogue, no offer")[0] == 0
    labels = tmp_path / "labels.jsonl"
    assert _run(capsys, world, "review", "export", "--out", str(labels))[0] == 0
    exported = [json.loads(line) for line in labels.read_text().splitlines()]

    plain, reviewed = tmp_path / "plain", tmp_path / "reviewed"
    common = ["--data-dir", str(tmp_path), "--size", "150", "--seed", "1"]
    assert main(["nlp", "train", *common, "--out", str(plain)]) == 0
    capsys.readouterr()
    assert main(["nlp", "train", *common, "--out", str(reviewed), "--with-reviews", str(labels)]) == 0
    out = capsys.readouterr().out

    before = json.loads((plain / "detector.json").read_text())
    after = json.loads((reviewed / "detector.json").read_text())
    assert after["model_version"] != before["model_version"]
    recorded = after["reviews"]
    assert recorded["count"] == 2 and recorded["file"] == str(labels)
    assert {(d["id"], d["decision"], d["reviewer"]) for d in recorded["decisions"]} == {
        (r["id"], r["decision"], r["reviewer"]) for r in exported}
    # "before" is the model without the decisions: the same as a plain training
    assert f"before: model {before['model_version']}" in out
    assert f"after:  model {after['model_version']} (with 2 decisions: 1 confirmed, 1 dismissed)" in out
    assert "reviewed decisions (trained on) (2 listings): precision" in out
    assert "held-out template families (300 listings)" in out and "eval_handwritten.jsonl (held out)" in out


def test_a_review_file_that_is_not_an_export_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"id": "x", "text": "t", "label": 1, "decision": "maybe"}) + "\n")
    assert main(["nlp", "train", "--data-dir", str(tmp_path), "--size", "30", "--with-reviews", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "labels.jsonl:1: field `decision` must be confirmed or dismissed" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "model").exists()
