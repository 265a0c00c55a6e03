"""`pwatch run` (the whole demo cycle), the single steps (`detect`, `notify`, `report`) and
`pwatch airflow` (the local Airflow UI)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

from precursor_watch.commands.argtypes import iso_date
from precursor_watch.errors import ConfigError, ServiceError
from precursor_watch.progress import progress
from precursor_watch.settings import Settings


def register(subparsers, common) -> None:
    run = subparsers.add_parser(
        "run",
        parents=[common],
        help="the whole daily cycle over N simulated days (starts and stops the fixture world)",
        description="Run the daily cycle for each of the N logical dates ending at --end on the embedded "
        "defaults: SQLite in the data dir, the fixture world served on loopback, analyst review "
        "simulated by the auto-confirm policy (demo only). Prints where the reports are.",
    )
    run.add_argument("--days", type=int, default=7, help="number of logical dates (default 7)")
    run.add_argument("--end", type=iso_date, help="last logical date (default: yesterday, kept inside the world)")
    run.add_argument("--seed", type=int, help="world seed (setting `seed`)")
    run.add_argument("--scale", type=int, help="listings in the world (setting `scale`)")
    run.add_argument(
        "--discovery",
        choices=("full", "search"),
        help="daily discovery mode (setting `crawl_discovery`); search sweeps the whole catalogue weekly",
    )
    run.add_argument(
        "--relevant-share", help="share of listings about monitored/watched substances (setting `relevant_share`)"
    )
    run.add_argument(
        "--inline",
        action="store_true",
        help="run the steps in this process instead of through Airflow's dag.test()",
    )
    run.set_defaults(handler=cmd_run)

    for name, helptext in (
        ("detect", "score snapshots not yet scored by the current detector"),
        ("notify", "send notices for confirmed flags not yet reported"),
        ("report", "write the daily flag report"),
    ):
        step = subparsers.add_parser(name, parents=[common], help=helptext, description=helptext)
        step.add_argument("--date", type=iso_date, required=True, help="logical date (YYYY-MM-DD)")
        step.set_defaults(handler=cmd_step, step=name)

    airflow = subparsers.add_parser(
        "airflow",
        parents=[common],
        help="start Airflow (scheduler, DAG processor, triggerer, API server) on this project's DAGs "
        "(local profile, login off)",
        description="Airflow's scheduler, DAG processor, triggerer and API server (what `airflow standalone` runs, "
        "without the log servers it binds on every interface) with its metadata DB in <data dir>/airflow, "
        "sized for 2 cores, on 127.0.0.1:8080 with login turned off (local profile only; deployments keep auth).",
    )
    airflow.add_argument("--port", type=int, default=8080)
    airflow.set_defaults(handler=cmd_airflow)


def world_dates(settings: Settings, days: int, end: dt.date | None) -> list[dt.date]:
    if days < 1:
        raise ConfigError("--days must be at least 1")
    first_day = settings.world_start
    last_day = first_day + dt.timedelta(days=settings.world_days - 1)
    if end is None:
        end = min(max(dt.date.today() - dt.timedelta(days=1), first_day + dt.timedelta(days=days - 1)), last_day)
    start = end - dt.timedelta(days=days - 1)
    if start < first_day or end > last_day:
        raise ConfigError(f"dates {start}..{end} fall outside the world ({first_day}..{last_day})")
    return [start + dt.timedelta(days=i) for i in range(days)]


def cmd_run(args, settings: Settings) -> int:
    from precursor_watch import steps
    from precursor_watch.commands.fixtures import world_config
    from precursor_watch.fixtures.server import serve_in_background

    settings = settings.with_overrides(
        seed=args.seed,
        scale=args.scale,
        relevant_share=args.relevant_share,
        auto_confirm=True,
        embedded_world=True,
        crawl_discovery=args.discovery,
    )
    dates = world_dates(settings, args.days, args.end)
    # Child processes (crawls, Airflow) resolve the same settings through the environment.
    os.environ.update(steps.settings_environment(settings))
    config = world_config(args, settings)  # the same builder as `pwatch fixtures`, same errors
    print(f"pwatch run: {len(dates)} days {dates[0]}..{dates[-1]}, seed {settings.seed}, scale {settings.scale}")
    steps.upgrade_database(settings)
    from precursor_watch.training_data import ensure_model

    print(f"detector model: {ensure_model(settings)}")
    from precursor_watch.datalock import inherited_fds

    # The server keeps the data-dir lock's descriptor: a rerun waits until it is really gone.
    with serve_in_background(config, dates[0], pass_fds=inherited_fds()) as world:
        for platform, url in world.base_urls.items():
            print(f"  fixture platform {platform}: {url}")
        failed_days = []
        with progress(f"pwatch run {dates[0]}..{dates[-1]}", len(dates), "days") as bar:
            if args.inline:
                for day in dates:
                    result = steps.run_day(settings, day)
                    failed = sorted(result["failed"])
                    _print_day(day.isoformat(), "failed" if failed else "success", failed)
                    failed_days += [day.isoformat()] if failed else []
                    bar.advance()
            else:
                from precursor_watch.airflow_runner import test_dates

                print("running pwatch_daily through Airflow (dag.test), one line per date:", flush=True)

                def on_result(r: dict) -> None:
                    _print_day(r["date"], r["state"], r["failed"])
                    if r["state"] != "success" or r["failed"]:
                        failed_days.append(r["date"])
                    bar.advance()

                if settings.crawl_discovery == "search":
                    _with_sweeps(settings, dates, on_result)
                else:
                    test_dates(settings, dates, on_result=on_result)
    report = (settings.data_path / "reports" / dates[-1].isoformat() / "index.html").resolve()
    if report.exists():
        print(f"latest daily report: {report}")
    print(stats_summary_text(settings, dates[0], dates[-1]))
    if failed_days:
        where = "" if args.inline else f" (Airflow log: {settings.data_path.resolve() / 'airflow' / 'dag-test.log'})"
        raise ServiceError(f"the daily run failed on {', '.join(failed_days)}{where}")
    return 0


def _with_sweeps(settings: Settings, dates: list[dt.date], on_result) -> None:
    """Search mode through Airflow: `pwatch_sweep` first on each sweep day, then `pwatch_daily`."""
    from precursor_watch import steps
    from precursor_watch.airflow_runner import test_dates

    batch: list[dt.date] = []
    for day in dates:
        if steps.discovery_for(settings, day) == "sweep":
            if batch:
                test_dates(settings, batch, on_result=on_result)
                batch = []
            for r in test_dates(settings, [day], dag_id="pwatch_sweep"):
                if r["state"] != "success" or r["failed"]:
                    raise ServiceError(f"the weekly sweep of {day} failed: {r['failed']}")
        batch.append(day)
    if batch:
        test_dates(settings, batch, on_result=on_result)


def stats_summary_text(settings: Settings, date_from: dt.date, date_to: dt.date) -> str:
    """The headline statistics of the run, each with its unit (`pwatch stats` has them all)."""
    from precursor_watch.steps import transaction
    from precursor_watch.storage.stats import UNITS, compute_stats

    with transaction(settings) as session:
        total = compute_stats(session, date_from, date_to)["total"]
    lines = [f"statistics {date_from}..{date_to} (all of them: pwatch stats --from {date_from} --to {date_to})"]
    for name, value in total.items():
        shown = "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else value)
        lines.append(f"  {name:<28}{shown!s:>12}  {UNITS[name]}")
    return "\n".join(lines)


def _print_day(day: str, state: str, failed: list[str]) -> None:
    note = f" (failed: {', '.join(failed)})" if failed else ""
    print(f"  {day}: {state}{note}", flush=True)


def cmd_step(args, settings: Settings) -> int:
    from precursor_watch import steps
    from precursor_watch.database import require_database

    require_database(settings)  # the steps work on a migrated database; never create one here

    result = getattr(steps, args.step)(settings, args.date)
    print(json.dumps(result, default=str))
    return 0


def cmd_airflow(args, settings: Settings) -> int:
    """Airflow's local components (and, on the embedded defaults, the fixture world) until interrupted."""
    import signal
    import subprocess
    import time

    from precursor_watch.airflow_runner import airflow_environment

    env = airflow_environment(settings)
    env.update(
        {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(args.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{args.port}/execution/",
            # Local profile only: every user is admin, no login page. Deployments keep real auth.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        }
    )
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    if not os.path.exists(airflow):
        raise ServiceError(f"airflow executable not found next to {sys.executable}")
    from precursor_watch.children import child_options, stop_group

    # Each child in its own process group, killed with it on exit, and signalled by the kernel
    # should this process die without cleaning up (parent-death signal).
    children = []
    if settings.embedded_world:
        world_cmd = [sys.executable, "-m", "precursor_watch", "fixtures", "serve"]
        children.append(subprocess.Popen(world_cmd, env=env, **child_options()))
    # `airflow standalone` starts the scheduler and triggerer with log servers bound to every
    # interface (Airflow offers no host setting for them); the same components started one by one
    # skip those servers, and only the API server listens, on loopback. Task logs are read from
    # the log folder on this machine, so nothing is lost.
    from precursor_watch.airflow_runner import LOCAL_EXECUTOR_ENV, local_components, migrate_metadata

    env.update(LOCAL_EXECUTOR_ENV)
    migrate_metadata(env)
    for component in local_components(args.port):
        children.append(subprocess.Popen([airflow, *component], env=env, **child_options()))
    print(f"Airflow UI: http://127.0.0.1:{args.port}/  (AIRFLOW_HOME={env['AIRFLOW_HOME']}; Ctrl-C stops)", flush=True)

    def stop(*_):
        # One shared grace period: every group is asked at once, whatever is left is killed.
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            stop_group(child, grace=10)

    def on_sigterm(*_):
        # Only unwind here: stopping inside the handler would call Popen.wait re-entrantly while
        # the interrupted `wait()` below holds its lock (a deadlock). `finally` stops the children.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while all(child.poll() is None for child in children):  # until interrupted or one dies
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0
