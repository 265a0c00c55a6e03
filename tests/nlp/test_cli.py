"""`pwatch flag` and `pwatch nlp evaluate` from the command line (in process)."""

from __future__ import annotations

import json

import pytest

from precursor_watch.cli import main

GOOD = [
    {"id": "a1", "title": "CAS79099 powder", "text": "79099 in USA warehouse, pay btc, Wickr: fake_wickr_1", "lang": "en"},
    {"id": 2, "text": "Zaporizhzhia NPP: the nuclear power plant lost power again."},
    {"id": "c3", "text": "现货供应N-苯乙基-4-哌啶酮，纯度99%，双清包税到墨西哥，联系微信", "lang": "zh", "listing_date": "2025-01-10"},
]


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")


def test_flag_writes_one_line_per_input_in_order(tmp_path, model_dir, capsys):
    write_jsonl(tmp_path / "in.jsonl", GOOD)
    rc = main(["flag", "--data-dir", str(tmp_path), "--model", str(model_dir),
               "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")])
    assert rc == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["a1", 2, "c3"]
    for o in out:
        assert {"id", "flagged", "score", "substances", "reasons", "model_version"} <= set(o)
    assert [o["flagged"] for o in out] == [True, False, True]
    assert out[0]["substances"] == ["79099-07-3"] and out[2]["substances"] == ["39742-60-4"]
    for o, rec in zip(out, GOOD):
        for r in o["reasons"]:
            assert rec[r["field"]][r["start"]:r["end"]] == r["matched"]
    assert "3 listings, 2 flagged" in capsys.readouterr().out


@pytest.mark.parametrize("bad_line,message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"id": "x"}', "field `text` missing"),
    ('{"text": "no id"}', "field `id` missing"),
    ('{"id": "x", "text": "t", "lang": 5}', "field `lang` must be a string"),
    ('{"id": "x", "text": "t", "offer_signals": {"add_to_cart": "yes"}}', "offer_signals`.add_to_cart: must be true or false"),
    ('{"id": "x", "text": "t", "offer_signals": {"basket": true}}', "offer_signals`.basket: unknown offer signal"),
    ('{"id": "x", "text": "t", "listing_date": "yesterday"}', "listing_date"),
])
def test_flag_on_a_malformed_line_names_it_and_writes_nothing(tmp_path, model_dir, capsys, bad_line, message):
    write_jsonl(tmp_path / "in.jsonl", [GOOD[0], GOOD[1], bad_line, GOOD[2]])
    out = tmp_path / "out.jsonl"
    rc = main(["flag", "--data-dir", str(tmp_path), "--model", str(model_dir), "--input", str(tmp_path / "in.jsonl"),
               "--output", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    assert f"in.jsonl:3: " in err and message in err
    assert len(err.strip().splitlines()) == 1  # one clear line, no traceback
    assert not out.exists()
    assert not list(tmp_path.glob(".flag-*"))


def test_flag_does_not_clobber_an_existing_output_on_error(tmp_path, model_dir):
    (tmp_path / "out.jsonl").write_text("previous\n")
    write_jsonl(tmp_path / "in.jsonl", [GOOD[0], "{broken"])
    assert main(["flag", "--data-dir", str(tmp_path), "--model", str(model_dir), "--input", str(tmp_path / "in.jsonl"),
                 "--output", str(tmp_path / "out.jsonl")]) != 0
    assert (tmp_path / "out.jsonl").read_text() == "previous\n"


def test_evaluate_prints_metrics_per_language_and_kind(tmp_path, model_dir, capsys):
    rows = [dict(GOOD[0], label=1, kind="offer_monitored", substances=["79099-07-3"]),
            dict(GOOD[1], lang="en", label=0, kind="news", substances=[]),
            dict(GOOD[2], label=1, kind="offer_monitored", substances=["39742-60-4"])]
    write_jsonl(tmp_path / "lab.jsonl", rows)
    rc = main(["nlp", "evaluate", "--data-dir", str(tmp_path), "--model", str(model_dir),
               "--input", str(tmp_path / "lab.jsonl"), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["f1"] == 1.0 and report["substance_set_accuracy"] == 1.0
    assert set(report["by_lang"]) == {"en", "zh"} and set(report["by_kind"]) == {"offer_monitored", "news"}
    assert all(g["pass"] for g in report["gates"].values())


def test_evaluate_rejects_bad_labelled_lines(tmp_path, model_dir, capsys):
    write_jsonl(tmp_path / "lab.jsonl", [{"text": "x", "lang": "en", "label": 3}])
    assert main(["nlp", "evaluate", "--data-dir", str(tmp_path), "--model", str(model_dir),
                 "--input", str(tmp_path / "lab.jsonl")]) != 0
    assert "lab.jsonl:1: field `label` must be 0 or 1" in capsys.readouterr().err


def test_nlp_train_writes_a_versioned_model(tmp_path, capsys):
    rc = main(["nlp", "train", "--data-dir", str(tmp_path), "--size", "150", "--seed", "3"])
    assert rc == 0
    manifest = json.loads((tmp_path / "model" / "detector.json").read_text())
    assert manifest["seed"] == 3 and set(manifest["langs"]) == {"en", "es", "zh"}
    assert manifest["model_version"] in capsys.readouterr().out


def test_ensure_model_reuses_an_existing_model(tmp_path, model_dir):
    import shutil

    from precursor_watch.settings import load_settings
    from precursor_watch.training_data import ensure_model

    settings = load_settings(data_dir=str(tmp_path), environ={})
    shutil.copytree(model_dir, settings.model_path)
    before = (settings.model_path / "detector.json").stat().st_mtime_ns
    assert ensure_model(settings) == settings.model_path
    assert (settings.model_path / "detector.json").stat().st_mtime_ns == before


TRIPWIRE_CONFIG = '\n[components.pwatch_test_cli_tripwire]\nfactory = "pwatch_test_cli_tripwire"\n'


def _tripwire_model(model_dir, tmp_path):
    """A copy of the model whose en pipeline raises on the word TRIPWIRE (a real spaCy component)."""
    import shutil

    from spacy.language import Language

    if "pwatch_test_cli_tripwire" not in Language.factories:
        @Language.factory("pwatch_test_cli_tripwire")
        def make_tripwire(nlp, name):
            def tripwire(doc):
                if "TRIPWIRE" in doc.text:
                    raise ValueError("tripwire touched")
                return doc
            return tripwire

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    cfg = copy / "en" / "config.cfg"
    text = cfg.read_text(encoding="utf-8").replace('pipeline = ["', 'pipeline = ["pwatch_test_cli_tripwire","', 1)
    cfg.write_text(text + TRIPWIRE_CONFIG, encoding="utf-8")
    return copy


def test_flag_survives_one_giant_line_and_one_failing_line(tmp_path, model_dir, capsys):
    offer = "CAS79099 powder, USA warehouse, pay btc, Wickr: fake_wickr_1"
    giant = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 21_100) + offer
    assert len(giant) > 1_200_000
    rows = [GOOD[0], {"id": "giant", "text": giant, "lang": "en"},
            {"id": "trip", "text": "TRIPWIRE " + offer, "lang": "en"}, GOOD[2]]
    write_jsonl(tmp_path / "in.jsonl", rows)
    model = _tripwire_model(model_dir, tmp_path)
    rc = main(["flag", "--data-dir", str(tmp_path), "--model", str(model),
               "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")])
    captured = capsys.readouterr()
    assert rc == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["a1", "giant", "trip", "c3"]
    assert [o.get("flagged") for o in out] == [True, True, None, True]
    assert out[1]["substances"] == ["79099-07-3"]
    [cas] = [r for r in out[1]["reasons"] if "79099-07-3" in r["reason"]]
    assert len(giant) - len(offer) <= cas["start"] < len(giant) - len(offer) + 8
    assert giant[cas["start"]:cas["end"]] == cas["matched"] and cas["matched"].startswith("79099")
    assert out[2]["error"] == "ValueError: tripwire touched" and "score" not in out[2]
    assert "4 listings, 3 flagged, 1 failed" in captured.out
    assert "id 'trip': detection failed: ValueError: tripwire touched" in captured.err


def test_flag_accepts_any_lang_and_says_which_language_was_used(tmp_path, model_dir):
    """`mixed`, `de`, `zh-CN` no longer stop the file: normalised or guessed, and reported."""
    rows = [dict(GOOD[0], id="m", lang="mixed"), dict(GOOD[2], id="z", lang="zh-CN"), dict(GOOD[0], id="d", lang="de"),
            dict(GOOD[0], id="e", lang="en"), {"id": "n", "text": GOOD[0]["text"]}]
    write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert main(["flag", "--data-dir", str(tmp_path), "--model", str(model_dir), "--input", str(tmp_path / "in.jsonl"),
                 "--output", str(out)]) == 0
    got = {r["id"]: (r["lang"], r["lang_source"]) for r in map(json.loads, out.read_text().splitlines())}
    assert got == {"m": ("en", "guessed"), "z": ("zh", "normalised"), "d": ("en", "guessed"), "e": ("en", "declared"),
                   "n": ("en", "guessed")}


def test_flag_reads_offer_signals_and_gives_them_as_reasons(tmp_path, model_dir):
    row = dict(GOOD[0], id="s", offer_signals={"add_to_cart": True, "price": True, "schema_offer": False})
    write_jsonl(tmp_path / "in.jsonl", [row, dict(GOOD[0], id="plain")])
    out = tmp_path / "out.jsonl"
    assert main(["flag", "--data-dir", str(tmp_path), "--model", str(model_dir), "--input", str(tmp_path / "in.jsonl"),
                 "--output", str(out)]) == 0
    with_signals, plain = map(json.loads, out.read_text().splitlines())
    page = [r["reason"] for r in with_signals["reasons"] if r["field"] == "page"]
    assert page == ["page shows a price", "page has an add-to-cart control"]
    assert not [r for r in plain["reasons"] if r["field"] == "page"]
    assert with_signals["score"] >= plain["score"]


def test_evaluate_scores_every_eval_file_separately_and_per_genre(tmp_path, model_dir, capsys, monkeypatch):
    from precursor_watch import training_data

    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "eval_genres_demo.jsonl", [
        dict(GOOD[0], label=1, kind="offer_monitored", substances=["79099-07-3"], genre="b2b_card"),
        dict(GOOD[1], lang="en", label=0, kind="news", substances=[], genre="quoted_advert")])
    write_jsonl(data / "eval_other.jsonl", [dict(GOOD[2], label=1, kind="offer_monitored", substances=["39742-60-4"])])
    write_jsonl(data / "dev_demo.jsonl", [dict(GOOD[0], label=1, kind="offer_monitored", substances=["79099-07-3"])])
    write_jsonl(data / "seed_train.jsonl", [dict(GOOD[2], label=0, kind="news")])  # not an eval file
    monkeypatch.setattr(training_data, "DATA_DIR", data)
    rc = main(["nlp", "evaluate", "--data-dir", str(tmp_path), "--model", str(model_dir), "--eval-files", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    files = {k: v for k, v in report.items() if k != "model_version"}
    # the development sets are held out and reported like the evaluation sets, each on its own
    assert set(files) == {"dev_demo.jsonl (held out)", "eval_genres_demo.jsonl (held out)", "eval_other.jsonl (held out)"}
    assert files["dev_demo.jsonl (held out)"]["overall"]["n"] == 1
    demo = files["eval_genres_demo.jsonl (held out)"]
    assert demo["overall"]["n"] == 2 and set(demo["by_genre"]) == {"b2b_card", "quoted_advert"}
    assert files["eval_other.jsonl (held out)"]["overall"]["n"] == 1 and files["eval_other.jsonl (held out)"]["by_genre"] == {}
    rc = main(["nlp", "evaluate", "--data-dir", str(tmp_path), "--model", str(model_dir), "--eval-files"])
    text = capsys.readouterr().out
    assert rc == 0 and "== eval_genres_demo.jsonl (held out)" in text and "genre" in text and "b2b_card" in text
