"""`pwatch flag`, `pwatch nlp train`, `pwatch nlp evaluate`: the detector from the command line."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

from precursor_watch.errors import ConfigError, InputError
from precursor_watch.jsonl import parse_line
from precursor_watch.outputs import output_file, output_folder

GATES = {"f1_overall": 0.95, "f1_per_lang": 0.90, "substance_set_accuracy": 0.95}


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "flag",
        parents=[common],
        help="flag offers of monitored substances in a JSONL file",
        description="Read JSONL (id, text, optional title, lang, listing_date, offer_signals); write "
        "one JSON line per input, in order: id, flagged, score, substances, lang "
        "and lang_source (declared, normalised or guessed), reasons, "
        "model_version. A malformed input line stops the run before anything "
        "is written; a listing the detector fails on gets `error` instead of a "
        "result and the others are still flagged.",
    )
    p.add_argument("--input", required=True, help="input JSONL")
    p.add_argument("--output", required=True, help="output JSONL (written whole, or not at all)")
    p.add_argument("--model", help="model directory (default: setting model_dir; trained on first use)")
    p.set_defaults(handler=cmd_flag)

    nlp = subparsers.add_parser("nlp", parents=[common], help="train or evaluate the detector")
    sub = nlp.add_subparsers(dest="nlp_command", metavar="ACTION", required=True)
    t = sub.add_parser("train", parents=[common], help="train the detector (fixture families + seed set)")
    t.add_argument("--out", help="model directory (default: setting model_dir)")
    t.add_argument("--seed", type=int, default=0, help="training seed (same seed, same model)")
    t.add_argument("--size", type=int, default=None, help="number of fixture listings to train on")
    t.add_argument(
        "--with-reviews",
        metavar="FILE",
        dest="with_reviews",
        help="also train on the analyst decisions of `pwatch review export` (confirmed = offer, "
        "dismissed = not); prints the evaluation before and after and records the decisions "
        "in the model manifest",
    )
    t.set_defaults(handler=cmd_train)
    e = sub.add_parser(
        "evaluate",
        parents=[common],
        help="precision/recall/F1 and substance-id set accuracy",
        description="Evaluate on a labelled JSONL (text, lang, label, optional title, kind, "
        "substances) and/or on fixture listings of held-out template families.",
    )
    e.add_argument("--input", action="append", default=[], help="labelled JSONL (repeatable)")
    e.add_argument(
        "--heldout",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate N fixture listings from template families held out of training",
    )
    e.add_argument(
        "--world",
        type=int,
        default=0,
        metavar="SCALE",
        help="also evaluate the fixture world (this scale, setting seed) on its held-out platforms "
        "(boardlist, mercado), held-out template families only",
    )
    e.add_argument(
        "--eval-files",
        action="store_true",
        dest="eval_files",
        help="also evaluate every nlp/data/dev_*.jsonl and eval_*.jsonl, each reported separately (never "
        "trained on; per genre when its records carry `genre`)",
    )
    e.add_argument("--model", help="model directory (default: setting model_dir; trained on first use)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--errors", type=int, default=0, metavar="K", help="also list up to K misclassified items")
    e.set_defaults(handler=cmd_evaluate)


# ---------------------------------------------------------------------------- flag


def read_flag_input(path: Path):
    """Parse and validate the whole input first: an error names the line and nothing is flagged."""
    from precursor_watch.nlp.detection import DetectInput, OfferSignals

    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # tolerate a BOM
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    records = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        obj = parse_line(line, where)
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        rid = obj.get("id")
        if not isinstance(rid, (str, int)) or isinstance(rid, bool) or rid == "":
            raise InputError(f"{where}: field `id` missing or not a string/integer")
        text = obj.get("text")
        if not isinstance(text, str):
            raise InputError(f"{where}: field `text` missing or not a string")
        title = obj.get("title")
        if title is not None and not isinstance(title, str):
            raise InputError(f"{where}: field `title` must be a string or null")
        lang = obj.get("lang")
        if lang is not None and not isinstance(lang, str):
            # any tag is accepted (`zh-CN` is normalised, `mixed` or `de` guessed); only a
            # non-string is an error
            raise InputError(f"{where}: field `lang` must be a string or null, got {lang!r}")
        raw_date = obj.get("listing_date")
        date = None
        if raw_date is not None:
            try:
                date = dt.date.fromisoformat(str(raw_date)[:10])
            except ValueError:
                raise InputError(f"{where}: field `listing_date` is not an ISO date: {raw_date!r}") from None
        signals = None
        if obj.get("offer_signals") is not None:
            try:
                signals = OfferSignals.from_dict(obj["offer_signals"], "field `offer_signals`")
            except ValueError as exc:
                raise InputError(f"{where}: {exc}") from None
        records.append((rid, DetectInput(str(rid), text, title or None, lang or None, date, signals)))
    return records


def _detector(settings, model: str | None):
    from precursor_watch.nlp.detector import Detector, ModelError
    from precursor_watch.training_data import ensure_model

    path = Path(model) if model else ensure_model(settings)
    try:
        return Detector.load(path)
    except ModelError as exc:
        raise ConfigError(str(exc)) from None


def cmd_flag(args, settings) -> int:
    from precursor_watch.nlp.detection import DetectionError

    out = output_file(args.output, "--output", inputs=[args.input], settings=settings)
    records = read_flag_input(Path(args.input))
    detector = _detector(settings, args.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".flag-", suffix=".jsonl", dir=out.parent)
    flagged = failed = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            results = detector.detect_each(r for _, r in records)
            for n, ((rid, _), det) in enumerate(zip(records, results, strict=True), start=1):
                if isinstance(det, DetectionError):
                    # one listing the detector cannot judge gets its error; the others go on
                    failed += 1
                    print(f"pwatch flag: {args.input}: id {rid!r}: detection failed: {det.reason}", file=sys.stderr)
                    fh.write(
                        json.dumps(
                            {"id": rid, "error": det.reason, "model_version": detector.model_version},
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
                    continue
                flagged += det.flagged
                fh.write(json.dumps(_flag_line(rid, det), ensure_ascii=False) + "\n")
                if n % 5000 == 0:
                    print(f"pwatch flag: {n}/{len(records)} listings", file=sys.stderr)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    note = f", {failed} failed (see their `error`)" if failed else ""
    print(f"{len(records)} listings, {flagged} flagged{note} -> {out} (model {detector.model_version})")
    return 0


def _flag_line(rid, det) -> dict:
    return {
        "id": rid,
        "flagged": det.flagged,
        "score": det.score,
        "substances": list(det.substance_ids),
        "lang": det.lang,
        "lang_source": det.lang_source,
        "reasons": [
            {"reason": r.message, "field": r.field, "start": r.start, "end": r.end, "matched": r.matched}
            for r in det.reasons
        ],
        "model_version": det.model_version,
    }


# ---------------------------------------------------------------------------- train / evaluate


def cmd_train(args, settings) -> int:
    from precursor_watch.nlp.train import train
    from precursor_watch.progress import progress
    from precursor_watch.training_data import TRAIN_SIZE, read_reviews, training_examples

    reviews = read_reviews(Path(args.with_reviews)) if args.with_reviews else None  # a bad file fails first
    if reviews == []:
        raise InputError(f"{args.with_reviews}: no decisions to train on")
    out = output_folder(args.out if args.out else settings.model_path, "--out")
    examples = training_examples(args.seed, args.size or TRAIN_SIZE)
    if reviews:
        return _train_with_reviews(args, out, examples, reviews)
    print(f"training on {len(examples)} listings (seed {args.seed}) ...", file=sys.stderr)
    with progress("train the detector", unit="examples") as bar:
        path = train(examples, out, seed=args.seed, on_progress=lambda done, total: bar.update(done, total))
    manifest = json.loads((path / "detector.json").read_text(encoding="utf-8"))
    print(f"model {manifest['model_version']} -> {path}")
    return 0


def _train_with_reviews(args, out: Path, examples: list[dict], reviews: list[dict]) -> int:
    """Train without and with the analyst decisions; print both evaluations side by side on the
    decisions themselves (trained on: does the model now agree with the analysts?) and on held-out
    data (did it stay as good elsewhere?)."""
    from precursor_watch.nlp.detector import Detector
    from precursor_watch.nlp.train import train
    from precursor_watch.training_data import REVIEW_WEIGHT, heldout_examples, review_manifest

    checks = {
        "reviewed decisions (trained on)": reviews,
        "held-out template families": heldout_examples(seed=args.seed, size=300),
    }
    checks.update(_eval_files())
    print(
        f"training on {len(examples)} listings + {len(reviews)} decisions x{REVIEW_WEIGHT} (seed {args.seed}) ...",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix=".before-", dir=out.parent) as tmp:
        before = Detector.load(train(examples, Path(tmp) / "model", seed=args.seed))
        reports_before = {name: _report(before, recs) for name, recs in checks.items()}
    path = train(
        examples + [r for r in reviews for _ in range(REVIEW_WEIGHT)],
        out,
        seed=args.seed,
        manifest_extra={"reviews": review_manifest(Path(args.with_reviews), reviews)},
    )
    after = Detector.load(path)
    print(f"before: model {before.model_version} (without the decisions)")
    print(
        f"after:  model {after.model_version} (with {len(reviews)} decisions: "
        f"{sum(r['label'] for r in reviews)} confirmed, {sum(1 - r['label'] for r in reviews)} dismissed)"
    )
    for name, recs in checks.items():
        rep = _report(after, recs)
        b = reports_before[name].overall
        a = rep.overall
        print(
            f"{name} ({len(recs)} listings): precision {b.precision:.3f} -> {a.precision:.3f}, "
            f"recall {b.recall:.3f} -> {a.recall:.3f}, F1 {b.f1:.3f} -> {a.f1:.3f}, "
            f"accuracy {b.accuracy:.3f} -> {a.accuracy:.3f}"
        )
    print(f"model {after.model_version} -> {path}")
    return 0


def _report(detector, records: list[dict]):
    from precursor_watch.nlp.detection import DetectInput
    from precursor_watch.nlp.evaluate import evaluate

    inputs = (DetectInput(str(r.get("id", i)), r["text"], r.get("title"), r["lang"]) for i, r in enumerate(records))
    return evaluate(records, detector.detect(inputs))


def _eval_files() -> dict[str, list[dict]]:
    """Every held-out file under nlp/data (`dev_*.jsonl`, `eval_*.jsonl`), by file name: never trained on."""
    from precursor_watch.training_data import eval_files, read_labelled

    return {f"{path.name} (held out)": read_labelled(path) for path in eval_files()}


def cmd_evaluate(args, settings) -> int:
    from precursor_watch.nlp.detection import DetectInput
    from precursor_watch.nlp.evaluate import evaluate
    from precursor_watch.training_data import heldout_examples, read_labelled, world_examples

    if not args.input and not args.heldout and not args.world and not args.eval_files:
        raise ConfigError(
            "nothing to evaluate: give --input LABELLED.jsonl, --heldout N, --world SCALE and/or --eval-files"
        )
    records: list[dict] = []
    for path in args.input:
        records += read_labelled(Path(path))
    if args.heldout:
        records += heldout_examples(size=args.heldout)
    if args.world:
        records += world_examples(seed=settings.seed, scale=args.world)
    sections = [("selected data", records)] if records else []
    if args.eval_files:
        sections += list(_eval_files().items())
    detector = _detector(settings, args.model)
    results = {}
    for name, recs in sections:
        inputs = (DetectInput(str(r.get("id", i)), r["text"], r.get("title"), r["lang"]) for i, r in enumerate(recs))
        report = evaluate(recs, detector.detect(inputs), keep_errors=args.errors)
        results[name] = (len(recs), report, gate_results(report))
    if args.json:
        body = {
            name: {**rep.as_dict(), "gates": gates, "errors": rep.errors} for name, (_n, rep, gates) in results.items()
        }
        if list(results) == ["selected data"]:  # the one-report shape callers already read
            body = body["selected data"]
        print(json.dumps({"model_version": detector.model_version, **body}, ensure_ascii=False, indent=2))
        return 0
    for name, (n, report, gates) in results.items():
        print(f"== {name}: model {detector.model_version}, {n} listings")
        print(report.format())
        for gate, g in gates.items():
            print(f"gate {gate}: {g['value']:.3f} >= {g['min']:.2f} {'PASS' if g['pass'] else 'FAIL'}")
        for err in report.errors:
            print(json.dumps(err, ensure_ascii=False))
    return 0


def gate_results(report) -> dict:
    gates = {"f1_overall": {"value": report.overall.f1, "min": GATES["f1_overall"]}}
    for lang, counts in sorted(report.by_lang.items()):
        gates[f"f1_{lang}"] = {"value": counts.f1, "min": GATES["f1_per_lang"]}
    gates["substance_set_accuracy"] = {"value": report.substance_set_accuracy, "min": GATES["substance_set_accuracy"]}
    for g in gates.values():
        g["value"] = round(g["value"], 4)
        g["pass"] = g["value"] >= g["min"]
    return gates
