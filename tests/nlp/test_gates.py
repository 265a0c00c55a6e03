"""Regression gate on held-out data: F1 >= 0.95 overall and >= 0.90 per
language; substance-id set accuracy >= 0.95 on label-1 items.

Held out of training: whole template families of the fixture texts, the listings of two fixture
platforms (world ground truth, held-out families only), and the hand-written evaluation set
(written independently of the templates, never trained on).
"""

from __future__ import annotations

import pytest

from precursor_watch.nlp.detection import DetectInput
from precursor_watch.nlp.evaluate import evaluate
from precursor_watch.commands.nlp import gate_results
from precursor_watch.training_data import EVAL_HANDWRITTEN, heldout_examples, is_held_out, read_labelled, training_examples, world_examples


def run(detector, records):
    inputs = (DetectInput(str(i), r["text"], r.get("title"), r["lang"]) for i, r in enumerate(records))
    return evaluate(records, detector.detect(inputs), keep_errors=20)


def assert_gates(report, name):
    gates = gate_results(report)
    failed = {k: g for k, g in gates.items() if not g["pass"]}
    assert not failed, f"{name}: gates failed {failed}\n{report.format()}\nerrors: {report.errors[:5]}"
    assert set(report.by_lang) == {"en", "es", "zh"} or name == "world platforms"


def test_training_never_sees_held_out_families():
    assert not any(is_held_out(ex["family"]) for ex in training_examples(seed=0, size=600) if "family" in ex)
    assert all(is_held_out(ex["family"]) for ex in heldout_examples(seed=0, size=300))


@pytest.fixture(scope="module")
def heldout():
    return heldout_examples(seed=0, size=1500)


def test_gate_on_held_out_template_families(detector, heldout):
    report = run(detector, heldout)
    assert report.overall.n == 1500 and report.id_sets_total > 100
    assert_gates(report, "held-out families")


def test_gate_on_held_out_platforms_of_the_world(detector):
    records = world_examples(seed=7, scale=5000)
    assert len(records) > 200
    assert_gates(run(detector, records), "world platforms")


def test_gate_on_the_handwritten_evaluation_set(detector):
    records = read_labelled(EVAL_HANDWRITTEN)
    assert len(records) >= 250
    assert_gates(run(detector, records), "hand-written")


def test_gate_on_everything_held_out_together(detector, heldout):
    records = heldout + world_examples(seed=7, scale=5000) + read_labelled(EVAL_HANDWRITTEN)
    assert_gates(run(detector, records), "all held-out data")
