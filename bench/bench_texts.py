"""Throughput of fixtures.texts.compose(): the fixture server writes every page's text on request.

Run: .venv/bin/python -m bench.bench_texts [--n 50000]
Prints compose() calls per second per language (kinds drawn with kind_weights) and for vary(),
both per wall-clock second and per CPU second of this process (the machine is shared; CPU time
is the steadier number), and characters per CPU second (texts differ in length between revisions
of the fixture world, so characters are the comparable work).
"""

from __future__ import annotations

import argparse
import random
import time

from precursor_watch.fixtures.texts import compose, kind_weights, vary

CONTACTS = ["telegram:@fake_chem_a1b2c3", "email:chem.a1b2c3@example.invalid", "whatsapp:+1-555-0142"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="compose() calls per language")
    args = ap.parse_args()
    rng = random.Random(2026)
    for lang in ("en", "zh", "es"):
        w = kind_weights(lang)
        kinds = rng.choices(list(w), list(w.values()), k=args.n)
        t0, c0 = time.perf_counter(), time.process_time()
        texts = [
            compose(rng, kind=k, lang=lang, contacts=CONTACTS, price="123.45", currency="USD", hostile=(i % 50 == 0))
            for i, k in enumerate(kinds)
        ]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
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


if __name__ == "__main__":
    main()
