"""Throughput of fixtures.texts.compose(): the fixture server writes every page's text on request.

Run: .venv/bin/python -m bench.bench_texts [--n 50000]
     .venv/bin/python -m bench.bench_texts --dump-texts FILE  (compose, write the texts as JSON)
     .venv/bin/python -m bench.bench_texts --vary-from FILE   (time vary() over those texts)
Prints compose() calls per second per language (kinds drawn with kind_weights) and for vary(),
both per wall-clock second and per CPU second of this process (the machine is shared; CPU time
is the steadier number), and characters per CPU second (texts differ in length between revisions
of the fixture world, so characters are the comparable work).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

from precursor_watch.fixtures.texts import compose, kind_weights, vary
from precursor_watch.fixtures.texts.compose import ListingText

CONTACTS = ["telegram:@fake_chem_a1b2c3", "email:chem.a1b2c3@example.invalid", "whatsapp:+1-555-0142"]


def vary_from(path: Path) -> None:
    """CPU seconds of vary() over the texts in `path` (min of 3 runs, one seed): the same inputs on
    both sides of an A/B, whatever each side's compose() would write."""
    fields = {f.name for f in dataclasses.fields(ListingText)}
    rows = json.loads(path.read_text(encoding="utf-8"))
    texts = [
        ListingText(**{k: tuple(v) if isinstance(v, list) else v for k, v in r.items() if k in fields}) for r in rows
    ]
    runs = []
    for _ in range(3):
        rng, start = random.Random(7), time.process_time()
        for t in texts:
            vary(rng, t)
        runs.append(time.process_time() - start)
    print(f"vary over {len(texts):,} given texts: {min(runs):.3f} CPU s (min of 3)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="compose() calls per language")
    ap.add_argument("--dump-texts", type=Path, help="write the composed texts to this JSON file")
    ap.add_argument("--vary-from", type=Path, help="only time vary() over the texts of this JSON file")
    args = ap.parse_args()
    if args.vary_from:
        vary_from(args.vary_from)
        return
    rng = random.Random(2026)
    dumped: list[dict] = []
    for lang in ("en", "zh", "es"):
        w = kind_weights(lang)
        kinds = rng.choices(list(w), list(w.values()), k=args.n)
        t0, c0 = time.perf_counter(), time.process_time()
        texts = [
            compose(rng, kind=k, lang=lang, contacts=CONTACTS, price="123.45", currency="USD", hostile=(i % 50 == 0))
            for i, k in enumerate(kinds)
        ]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        dumped += [dataclasses.asdict(t) for t in texts]
        chars = sum(len(t.title) + len(t.text) for t in texts)
        print(
            f"compose {lang}: {args.n / wall:,.0f} calls/s wall, {args.n / cpu:,.0f} calls/s CPU, "
            f"{chars / cpu:,.0f} characters/s CPU"
        )
        m = min(10_000, args.n)
        t0, c0 = time.perf_counter(), time.process_time()
        for t in texts[:m]:
            vary(rng, t)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        chars = sum(len(t.title) + len(t.text) for t in texts[:m])
        print(
            f"vary    {lang}: {m / wall:,.0f} calls/s wall, {m / cpu:,.0f} calls/s CPU, "
            f"{chars / cpu:,.0f} characters/s CPU"
        )
    if args.dump_texts:
        args.dump_texts.write_text(json.dumps(dumped, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
