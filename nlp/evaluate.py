"""Precision, recall and F1 of the flag, overall / per language / per kind, and substance-id
set accuracy (label-1 items whose predicted id set equals the truth set)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from precursor_watch.nlp.detection import Detection


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: int, pred: bool) -> None:
        if truth and pred:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif pred:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else 1.0

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "accuracy": round(self.accuracy, 4),
        }


@dataclass
class Report:
    overall: Counts = field(default_factory=Counts)
    by_lang: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_kind: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_genre: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))  # records with a `genre`
    id_sets_total: int = 0
    id_sets_equal: int = 0
    errors: list[dict] = field(default_factory=list)

    @property
    def substance_set_accuracy(self) -> float:
        return self.id_sets_equal / self.id_sets_total if self.id_sets_total else 1.0

    def as_dict(self) -> dict:
        return {
            "overall": self.overall.as_dict(),
            "by_lang": {k: v.as_dict() for k, v in sorted(self.by_lang.items())},
            "by_kind": {k: v.as_dict() for k, v in sorted(self.by_kind.items())},
            "by_genre": {k: v.as_dict() for k, v in sorted(self.by_genre.items())},
            "substance_set_accuracy": round(self.substance_set_accuracy, 4),
            "substance_sets": {"equal": self.id_sets_equal, "label1_items": self.id_sets_total},
        }

    def format(self) -> str:
        rows = [f"{'group':<28}{'n':>6}{'precision':>11}{'recall':>8}{'F1':>8}{'acc':>8}"]

        def row(name: str, c: Counts) -> str:
            return f"{name:<28}{c.n:>6}{c.precision:>11.3f}{c.recall:>8.3f}{c.f1:>8.3f}{c.accuracy:>8.3f}"

        rows.append(row("overall", self.overall))
        rows += [row(f"lang={k}", v) for k, v in sorted(self.by_lang.items())]
        # a kind holds one label only, so its precision/recall are degenerate: show the counts too
        rows.append(
            f"{'kind':<28}{'n':>6}{'precision':>11}{'recall':>8}{'F1':>8}{'acc':>8}{'flagged':>9}{'missed':>8}{'false+':>8}"
        )
        rows += [row(k, v) + f"{v.tp + v.fp:>9}{v.fn:>8}{v.fp:>8}" for k, v in sorted(self.by_kind.items())]
        if self.by_genre:
            rows.append(f"{'genre':<28}{'n':>6}{'precision':>11}{'recall':>8}{'F1':>8}{'acc':>8}")
            rows += [row(k, v) for k, v in sorted(self.by_genre.items())]
        rows.append(
            f"substance-id set accuracy (label 1): {self.substance_set_accuracy:.3f} "
            f"({self.id_sets_equal}/{self.id_sets_total})"
        )
        return "\n".join(rows)


def evaluate(records: Iterable[dict], detections: Iterable[Detection], keep_errors: int = 50) -> Report:
    rep = Report()
    for rec, det in zip(records, detections, strict=True):
        truth = int(rec["label"])
        rep.overall.add(truth, det.flagged)
        rep.by_lang[rec["lang"]].add(truth, det.flagged)
        rep.by_kind[rec.get("kind", "unknown")].add(truth, det.flagged)
        if rec.get("genre"):
            rep.by_genre[str(rec["genre"])].add(truth, det.flagged)
        same = True
        if truth == 1:
            rep.id_sets_total += 1
            same = set(det.substance_ids) == set(rec.get("substances", []))
            rep.id_sets_equal += same
        if (truth != det.flagged or not same) and len(rep.errors) < keep_errors:
            rep.errors.append(
                {
                    "id": rec.get("id"),
                    "lang": rec["lang"],
                    "kind": rec.get("kind"),
                    "label": truth,
                    "flagged": det.flagged,
                    "score": det.score,
                    "p_offer": det.offer_probability,
                    "gate": det.gate,
                    "truth_ids": rec.get("substances", []),
                    "pred_ids": list(det.substance_ids),
                    "title": rec.get("title"),
                    "text": rec["text"][:300],
                }
            )
    return rep
