"""An audit export against the verified log: its files against its manifest, the manifest against
its signature, its heads against the log's, and every number in `statistics.csv` recomputed from
the events (the same computation that wrote it, `reports.audit`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from precursor_watch.ledger.heads import HEADS_NAME, SIGNATURE_SUFFIX
from precursor_watch.ledger.log import heads
from precursor_watch.ledger.signing import key_id, manifest_message, verifies
from precursor_watch.ledger.verify import Outcome
from precursor_watch.reports.manifest import MANIFEST_NAME, sha256_file, verify_manifest


def _same(shown: str, computed: str | float | None) -> bool:
    if computed is None or computed == "":
        return shown.strip() == ""
    try:
        return abs(float(shown) - float(computed)) <= 1e-9 * max(1.0, abs(float(computed)))
    except ValueError:
        return shown == str(computed)


def _check_signature(folder: Path, public: Ed25519PublicKey, problems: list[str]) -> None:
    sig_path = folder / (MANIFEST_NAME + SIGNATURE_SUFFIX)
    if not sig_path.is_file():
        problems.append(f"export {folder}: {sig_path.name} is missing: the manifest is unsigned")
        return
    sig = json.loads(sig_path.read_text(encoding="utf-8"))
    digest = sha256_file(folder / MANIFEST_NAME)
    if sig.get("key_id") != key_id(public):
        problems.append(
            f"export {folder}: manifest signed by key {str(sig.get('key_id'))[:16]}…, not by the verifying key"
        )
    elif sig.get("sha256") != digest or not verifies(public, manifest_message(digest), sig.get("signature", "")):
        problems.append(f"export {folder}: {MANIFEST_NAME} changed after it was signed")


def _check_heads(session: Session, folder: Path, problems: list[str]) -> None:
    logged = {(h.head_date.isoformat(), h.tree_size, h.root_hash, h.signature) for h in heads(session)}
    for h in json.loads((folder / HEADS_NAME).read_text(encoding="utf-8")).get("heads", []):
        if (h["date"], h["tree_size"], h["root_hash"], h["signature"]) not in logged:
            problems.append(
                f"export {folder}: cites head of {h['date']} (size {h['tree_size']}) "
                "that is not among the log's signed heads"
            )


def _check_statement(folder: Path, data: dict, heads_text: str, outcome: Outcome) -> None:
    """statement.json (when the export has one): each term's number, the sentence and the heads
    it rests on, against the verified events and the export's heads.json."""
    from precursor_watch.reports.statement import STATEMENT_JSON, sentence
    from precursor_watch.storage.statistics import STATEMENT_TERMS

    path = folder / STATEMENT_JSON
    if not path.is_file():
        return
    where = f"export {folder}: {STATEMENT_JSON}"
    document = json.loads(path.read_text(encoding="utf-8"))
    total = data["groups"]["total"]
    expected = {t.term: (t.statistic, total.get(t.statistic) or 0) for t in STATEMENT_TERMS}
    shown = {t.get("term"): t for t in document.get("terms", [])}
    for term, (statistic, value) in expected.items():
        entry = shown.get(term)
        if entry is None:
            outcome.problems.append(f"{where}: lacks '{term}'")
        elif entry.get("statistic") != statistic or entry.get("value") != value:
            outcome.problems.append(
                f"{where}: '{term}' is {entry.get('value')!r} ({entry.get('statistic')}), "
                f"the verified events give {value} ({statistic})"
            )
        outcome.export_numbers += 1
    for term in sorted(shown.keys() - expected.keys()):
        outcome.problems.append(f"{where}: '{term}' is no term of the statistics registry")
    if document.get("statement") != sentence({s: v for s, v in expected.values()}):
        outcome.problems.append(
            f"{where}: its sentence {document.get('statement')!r} is not what the verified events give: "
            f"{sentence({s: v for s, v in expected.values()})!r}"
        )
    if document.get("heads") != json.loads(heads_text).get("heads"):
        outcome.problems.append(f"{where}: the heads it cites are not the export's {HEADS_NAME}")


def _check_numbers(session: Session, folder: Path, outcome: Outcome) -> None:
    from precursor_watch.reports.audit import _stat_rows, collect

    period = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))
    data = collect(session, dt.date.fromisoformat(period["from"]), dt.date.fromisoformat(period["to"]))
    _check_statement(folder, data, (folder / HEADS_NAME).read_text(encoding="utf-8"), outcome)
    expected = {(row[0], row[1]): row[2] for row in _stat_rows(data)}
    reader = csv.DictReader(io.StringIO((folder / "statistics.csv").read_text(encoding="utf-8")))
    seen = set()
    for line, row in enumerate(reader, start=2):
        key = (row.get("metric", ""), row.get("group", ""))
        seen.add(key)
        if key not in expected:
            outcome.problems.append(
                f"export {folder}: statistics.csv line {line}: {key[0]} for {key[1]} "
                "is no statistic of the verified events"
            )
        elif not _same(row.get("value", ""), expected[key]):
            outcome.problems.append(
                f"export {folder}: statistics.csv line {line}: {key[0]} for {key[1]} is {row.get('value')!r}, "
                f"the verified events give {expected[key]!r}"
            )
        outcome.export_numbers += 1
    for key in sorted(expected.keys() - seen):
        outcome.problems.append(f"export {folder}: statistics.csv lacks {key[0]} for {key[1]}")


def check_export(session: Session, folder: Path, public: Ed25519PublicKey, outcome: Outcome) -> None:
    """Append every problem of the export in `folder` to `outcome`."""
    for name in (MANIFEST_NAME, HEADS_NAME, "statistics.csv", "statistics.json"):
        if not (folder / name).is_file():
            outcome.problems.append(f"export {folder}: {name} is missing")
            return
    for rel in verify_manifest(folder):
        outcome.problems.append(f"export {folder}: {rel} differs from {MANIFEST_NAME} (changed or missing)")
    _check_signature(folder, public, outcome.problems)
    _check_heads(session, folder, outcome.problems)
    _check_numbers(session, folder, outcome)
