"""`pwatch run` prints the same statistics as a recorded run of the same configuration.

`tests/data/recorded_run.json` holds what one small `pwatch run` printed (the per-day lines and the
statistics table) and what `pwatch stats --format json` answered afterwards, recorded from code
known to be right. Refactoring must not move any of it: the replay is deterministic (same seed,
same world, same trained detector), so any difference is a change of behaviour.

Re-record only when a change is *meant* to change the numbers (a new statistic, a corrected
definition, a changed fixture world or detector), and say why in the commit:

    .venv/bin/python -m tests.e2e.test_recorded_run

The run is `--inline` (the same steps `make run` runs through Airflow's `dag.test()`, which
tests/e2e/test_daily_dag.py covers) over 5 days and 3 platforms so it stays around a minute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

RECORDING = Path(__file__).resolve().parents[1] / "data" / "recorded_run.json"
FIRST, LAST = "2026-11-01", "2026-11-05"
RUN_ARGS = ["run", "--inline", "--days", "5", "--end", LAST, "--seed", "11", "--scale", "100"]
PLATFORMS = "chemdir,tradehub,mercado"  # a directory, a JSON-LD store and a JSON API; 404/410/API removals
STATS_QUERIES = {
    "stats_json": ["stats", "--from", FIRST, "--to", LAST, "--format", "json"],
    "stats_by_platform_json": ["stats", "--from", FIRST, "--to", LAST, "--by", "platform", "--format", "json"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pwatch(args: list[str], data_dir: Path, model_dir: Path, port: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    env.update(PWATCH_MODEL_DIR=str(model_dir), PWATCH_PLATFORMS=PLATFORMS, PWATCH_FIXTURE_PORT=str(port),
               PWATCH_LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data_dir)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pwatch {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def printed_summary(stdout: str) -> dict:
    """The parts of `pwatch run`'s output that do not name paths or ports: day lines and statistics."""
    lines = stdout.splitlines()
    days = [line.strip() for line in lines if line.startswith("  20")]
    start = next(i for i, line in enumerate(lines) if line.startswith("statistics "))
    return {"days": days, "statistics_table": lines[start:]}


def replay(data_dir: Path, model_dir: Path) -> dict:
    port = _free_port()
    out = printed_summary(_pwatch(RUN_ARGS, data_dir, model_dir, port))
    for key, args in STATS_QUERIES.items():
        out[key] = json.loads(_pwatch(args, data_dir, model_dir, port))
    return out


@pytest.mark.slow
def test_pwatch_run_prints_the_recorded_statistics(tmp_path, trained_model):
    recorded = json.loads(RECORDING.read_text(encoding="utf-8"))
    got = replay(tmp_path / "data", trained_model)
    assert got["days"] == recorded["days"]
    assert got["statistics_table"] == recorded["statistics_table"]
    for key in STATS_QUERIES:
        assert got[key] == recorded[key], key


def record() -> None:
    from precursor_watch.settings import load_settings
    from precursor_watch.training_data import ensure_model

    with tempfile.TemporaryDirectory() as tmp:
        model = ensure_model(load_settings(data_dir=str(Path(tmp) / "model-data"), environ={}))
        result = replay(Path(tmp) / "data", model)
    result = {
        "how": "tests/e2e/test_recorded_run.py; re-record with `.venv/bin/python -m tests.e2e.test_recorded_run`",
        "command": ["pwatch", *RUN_ARGS],
        "environment": {"PWATCH_PLATFORMS": PLATFORMS},
        "stats_commands": {key: ["pwatch", *args] for key, args in STATS_QUERIES.items()},
        **result,
    }
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    RECORDING.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {RECORDING}")


if __name__ == "__main__":
    record()
