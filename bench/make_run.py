"""Duration of `pwatch run` (what `make run` does after set-up): N days at the default scale,
through Airflow, on a fresh data dir (the detector is trained on first use and counted)."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## make run (`pwatch run`, default scale, through Airflow)"


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of BENCHMARKS.md (from its heading to the next one)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + "\n" + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="replace this benchmark's section of BENCHMARKS.md")
    args = ap.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="pwatch-bench-run-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    cpu_before = os.times()
    completed = subprocess.run(
        [sys.executable, "-m", "precursor_watch", "run", "--days", str(args.days), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    cpu_after = os.times()
    child_cpu = (cpu_after.children_user - cpu_before.children_user) + (
        cpu_after.children_system - cpu_before.children_system
    )
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
        return 1
    report_line = next(line for line in completed.stdout.splitlines() if line.startswith("latest daily report:"))
    day_lines = [line.strip() for line in completed.stdout.splitlines() if line.startswith("  20")]
    print(completed.stdout)
    print(f"pwatch run --days {args.days}: {seconds:.0f} s wall, {child_cpu:.0f} s CPU")
    if args.write:
        section = "\n".join(
            [
                HEADING,
                "",
                f"Command: `.venv/bin/python -m bench.make_run --days {args.days} --write` (a fresh data dir; the "
                "detector is trained on first use and counted; set-up of the virtualenv is not). "
                f"Python {platform.python_version()}, 2 cores, load average {load_before:.1f} at the start.",
                "",
                "| measure | value |",
                "|---|---|",
                f"| days replayed | {args.days} ({', '.join(day_lines)}) |",
                f"| wall time | **{seconds:.0f} s** ({seconds / 60:.1f} min) |",
                f"| CPU time of all processes | {child_cpu:.0f} s |",
                f"| output | `{report_line}` |",
                "",
                "Target: ≤ 10 minutes for 7 days after set-up.",
            ]
        )
        write_section(ROOT / "BENCHMARKS.md", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
