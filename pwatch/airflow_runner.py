"""Run Airflow for this project: its environment, `dag.test()` over dates, and the local
Airflow components behind `pwatch airflow`.

Airflow reads its configuration when first imported, so everything that imports it runs in a
child process started with `airflow_environment()`; this module itself imports airflow only in
`main()` (the child's entry point).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from precursor_watch.children import child_options, stop_group
from precursor_watch.errors import ServiceError
from precursor_watch.settings import Settings

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"
# The Airflow plugin that links the UI to the review console (dags/.airflowignore keeps the DAG
# processor out of it).
PLUGINS_FOLDER = DAGS_FOLDER / "plugins"


def airflow_environment(settings: Settings, *, metadata_url: str | None = None) -> dict[str, str]:
    """Environment for Airflow processes: metadata DB in the data dir, separate from tracking."""
    from precursor_watch.steps import settings_environment

    home = (settings.data_path / "airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(settings_environment(settings))
    # Airflow starts its components as `airflow ...` subprocesses: our venv's bin must be on PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home / 'airflow.db'}",
            # Sized for 2 cores: the default spawns ~40 processes (~1.2 GB); 4 fits.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        }
    )
    return env


LOCAL_EXECUTOR_ENV = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
}


def local_components(port: int) -> list[list[str]]:
    """The `airflow` commands of the local profile: what `airflow standalone` runs, minus the log
    servers the scheduler and triggerer would bind on every interface; the API server on loopback."""
    return [
        ["scheduler", "--skip-serve-logs"],
        ["dag-processor"],
        ["triggerer", "--skip-serve-logs"],
        ["api-server", "--host", "127.0.0.1", "--port", str(port)],
    ]


def migrate_metadata(env: dict[str, str]) -> None:
    """Create or upgrade Airflow's metadata DB (what `airflow standalone` does before it starts)."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    done = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, **child_options())
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ServiceError(f"airflow db migrate failed (exit {done.returncode}): {tail}")


def worker_hostname() -> str:
    """Airflow `hostname_callable`: a worker's name from PWATCH_WORKER_NAME (several workers on one
    host stay distinguishable in task instances), else the host's FQDN."""
    import socket

    return os.environ.get("PWATCH_WORKER_NAME") or socket.getfqdn()


def test_dates(settings: Settings, dates: list[dt.date], on_result=None, dag_id: str = "pwatch_daily") -> list[dict]:
    """Run a DAG (the daily one by default) with `dag.test()` for each date, in order, in one Airflow
    child process.

    `on_result(summary)` is called as each date finishes (progress for long replays).
    """
    env = airflow_environment(settings)
    command = [sys.executable, "-m", "precursor_watch.airflow_runner", dag_id, *[d.isoformat() for d in dates]]
    results = []
    # Airflow's own output (task logs included) goes to a file operators can read after a failure.
    log_path = Path(env["AIRFLOW_HOME"]) / "dag-test.log"
    with open(log_path, "w+", encoding="utf-8") as errors:
        # Its own process group, stopped with everything it started when we leave (even by an
        # exception); the parent-death signal covers a SIGKILL of this process.
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, **child_options())
        try:
            if child.stdout is None:
                raise RuntimeError("airflow runner: child started without a stdout pipe")
            for line in child.stdout:
                if line.startswith("PWATCH_DAGRUN "):
                    results.append(json.loads(line.removeprefix("PWATCH_DAGRUN ")))
                    if on_result:
                        on_result(results[-1])
            returncode = child.wait()
        finally:
            stop_group(child)
        if returncode != 0 or len(results) != len(dates):
            errors.seek(0)
            tail = " | ".join(errors.read().strip().splitlines()[-8:])
            raise ServiceError(f"Airflow run of {dag_id} failed (exit {returncode}; log {log_path}): {tail}")
    return results


def start_runs_when_created() -> None:
    """Give each DAG run `dag.test()` creates its real start time.

    `dag.test(logical_date=D)` records D as the run's `start_date` (apache/airflow#66127), and the UI
    measures a run from its `start_date`: a replayed date weeks back would show as lasting weeks.
    The run is created when it starts, at its `run_after` (now), so that is its start; a run that
    already has another start date is left alone.
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import event

    @event.listens_for(DagRun, "before_insert")
    def started_now(_mapper, _connection, run: DagRun) -> None:
        if run.logical_date is not None and run.start_date == run.logical_date and run.run_after is not None:
            run.start_date = run.run_after


def main(argv: list[str]) -> int:
    """Child process: initialise the metadata DB, then `dag.test()` the DAG `argv[0]` for each date after it."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    from precursor_watch import redact

    redact.install()  # task logs end up in dag-test.log

    db.initdb()
    start_runs_when_created()
    dag_id, dates = argv[0], argv[1:]
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).get_dag(dag_id)
    if dag is None:
        print(f"{dag_id} not found in the DAG folder", file=sys.stderr)
        return 2
    for text in dates:
        day = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        dag_run = dag.test(logical_date=day)
        instances = dag_run.get_task_instances()
        name = lambda ti: f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id  # noqa: E731
        failed = sorted(name(ti) for ti in instances if ti.state not in ("success", "skipped"))
        seconds = {name(ti): round(ti.duration or 0.0, 1) for ti in instances}
        summary = {"date": text, "state": str(dag_run.state), "failed": failed, "seconds": seconds}
        print("PWATCH_DAGRUN " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
