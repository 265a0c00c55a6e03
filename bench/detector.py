"""Benchmark: the full detector against a bare spaCy tokenizer pass over the same listings.

    .venv/bin/python -m bench.detector [--n 10000] [--model DIR] [--repeat 2]

Listings are fixture texts (`fixtures.texts.compose`, kinds drawn with `kind_weights`, the three
languages in turn): the mix includes the long real-page genres (web shops, catalogue pages,
pharmacies, drug-information pages of 2-10 kB with navigation and boilerplate), which the
detector judges through its focus windows. Rates are also given in characters/s. Both passes
run in this one process on one core, alternating, best of `--repeat`; rates are given per CPU
second (`time.process_time`, what one dedicated core gets) and per wall second (depends on the
machine's load). Target: >= 1,000 listings/s and >= 25% of the bare tokenizer rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import spacy

from precursor_watch.nlp.detection import DetectInput
from precursor_watch.nlp.detector import Detector
from precursor_watch.nlp.train import train
from precursor_watch.training_data import fixture_examples, training_examples


def _timed(fn) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--model", help="trained model directory (default: train one into a temp dir)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)

    model = Path(args.model) if args.model else train(training_examples(0), Path(tempfile.mkdtemp()) / "model")
    detector = Detector.load(model)
    half = args.n // 2  # both the training and the held-out families
    records = fixture_examples(half, seed=99, held_out=False) + fixture_examples(args.n - half, seed=99, held_out=True)
    inputs = [DetectInput(str(i), r["text"], r["title"], r["lang"]) for i, r in enumerate(records)]
    tokenizers = {lang: spacy.blank(lang).tokenizer for lang in ("en", "es", "zh")}
    joined = [(r["lang"], f"{r['title']}\n{r['text']}") for r in records]
    chars = sum(len(t) for _, t in joined)

    def bare() -> None:
        for lang, text in joined:
            tokenizers[lang](text)

    flagged = []

    def full() -> None:
        flagged.clear()
        flagged.extend(d.flagged for d in detector.detect(inputs))

    bare()  # warm both (vocab lexemes, caches) so neither pays first-use costs in the timing
    full()
    best = {"bare": (1e9, 1e9), "full": (1e9, 1e9)}
    for _ in range(args.repeat):
        for name, fn in (("bare", bare), ("full", full)):
            cpu, wall = _timed(fn)
            best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    n = len(records)
    rate = {k: (n / v[0], n / v[1]) for k, v in best.items()}
    long_pages = sum(1 for _, t in joined if len(t.encode()) >= 2000)
    print(
        f"listings: {n} ({chars / n:.0f} chars on average; en/es/zh in turn; {long_pages} pages of 2 kB or more), "
        f"flagged {sum(flagged)}"
    )
    print(f"model: {detector.model_version}; load average {os.getloadavg()[0]:.1f}")
    print(f"bare spaCy tokenizer : {rate['bare'][0]:>8,.0f} listings/s CPU  {rate['bare'][1]:>8,.0f} listings/s wall")
    print(f"full detector        : {rate['full'][0]:>8,.0f} listings/s CPU  {rate['full'][1]:>8,.0f} listings/s wall")
    print(
        f"detector / tokenizer : {rate['full'][0] / rate['bare'][0]:.1%} (CPU)  "
        f"{rate['full'][1] / rate['bare'][1]:.1%} (wall)"
    )
    print(f"characters/s CPU     : tokenizer {chars / best['bare'][0]:,.0f}  detector {chars / best['full'][0]:,.0f}")


if __name__ == "__main__":
    main()
