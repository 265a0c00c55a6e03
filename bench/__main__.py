"""`make bench`: every benchmark in turn, each in its own process, results written to BENCHMARKS.md.

Pass module names to run only some: `python -m bench detector storage`.
"""

from __future__ import annotations

import subprocess
import sys

# (module, arguments): the commands BENCHMARKS.md quotes.
BENCHMARKS = (
    ("bench.bench_texts", []),
    ("bench.fixture_server", ["--write"]),
    ("bench.detector", []),
    ("bench.storage", ["--write"]),
    ("bench.crawler", ["--write"]),
    ("bench.sharded_crawl", ["--write"]),
    ("bench.reports", []),
    ("bench.console", ["--write"]),
    ("bench.make_run", ["--write"]),
    ("bench.ledger", ["--write"]),
)


def main(argv: list[str]) -> int:
    chosen = [(m, a) for m, a in BENCHMARKS if not argv or m.split(".")[-1] in argv]
    failed = []
    for module, args in chosen:
        print(f"== {module} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, "-m", module, *args]).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
