"""`pwatch fixtures serve|truth`: the simulated marketplace world on loopback, and its ground truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from precursor_watch.commands.argtypes import iso_date
from precursor_watch.errors import ConfigError, InputError, ServiceError


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("fixtures", help="serve the simulated marketplaces or export their ground truth")
    sub = parser.add_subparsers(dest="fixtures_command", metavar="SUBCOMMAND", required=True)

    serve = sub.add_parser("serve", parents=[common], help="serve the world on loopback until stopped")
    _world_options(serve)
    serve.add_argument("--date", type=iso_date, help="world date to serve (default: the world's start date)")
    serve.add_argument("--faults", help="fault profile: none, flaky, hostile, optionally ,down=<platform>")
    serve.add_argument("--port", help="TCP port of every host (0 = a free one)")
    serve.add_argument("--workers", default="1", help="platform worker processes sharing the port (default 1)")
    serve.set_defaults(handler=run_serve)

    truth = sub.add_parser("truth", parents=[common], help="write the ground truth for a date as JSONL")
    _world_options(truth)
    truth.add_argument("--date", type=iso_date, required=True, help="world date (YYYY-MM-DD)")
    truth.add_argument("--out", required=True, help="output JSONL file")
    truth.set_defaults(handler=run_truth)


def _world_options(parser) -> None:
    # plain strings: bad values become one ConfigError line naming the option, not argparse usage
    parser.add_argument("--seed", help="world seed (setting `seed`)")
    parser.add_argument("--scale", help="number of listings (setting `scale`)")
    parser.add_argument(
        "--relevant-share", help="share of listings about monitored/watched substances (setting `relevant_share`)"
    )


def world_config(args, settings, **extra):
    """Build a WorldConfig from settings + options; any problem is one ConfigError line."""
    from precursor_watch.fixtures.world import WorldConfig

    try:
        settings = settings.with_overrides(
            seed=args.seed,
            scale=args.scale,
            relevant_share=getattr(args, "relevant_share", None),
            faults=getattr(args, "faults", None),
            fixture_port=getattr(args, "port", None),
        )
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("from option", "from the command line")) from None
    try:
        return WorldConfig(
            seed=settings.seed,
            start=settings.world_start,
            days=settings.world_days,
            scale=settings.scale,
            relevant_share=settings.relevant_share,
            faults=settings.faults,
            host_prefix=settings.fixture_host_prefix,
            port=settings.fixture_port,
            state_dir=Path(settings.data_dir) / "fixtures",
            **extra,
        )
    except ValueError as exc:
        raise ConfigError(f"world config: {exc}") from None


def _world_date(date: dt.date | None, config) -> dt.date:
    if date is None:
        return config.start
    if not config.start <= date <= config.end:
        raise ConfigError(f"--date: {date} is outside the world ({config.start} .. {config.end})")
    return date


def run_serve(args, settings) -> int:
    from precursor_watch.fixtures.server import serve

    config = world_config(args, settings)
    date = _world_date(args.date, config)
    if not args.workers.isdigit() or not 1 <= int(args.workers) <= 64:
        raise ConfigError(f"--workers: expected an integer from 1 to 64, got {args.workers!r}")

    def ready(info):
        print(f"fixture world (seed {config.seed}, scale {config.scale}, faults {config.faults}) on {info['date']}:")
        for name, url in info["base_urls"].items():
            print(f"  {name:10s} {url}")
        print(f"  {'control':10s} {info['control_url']}")
        print(f"  state in {config.state_dir}; Ctrl-C stops", flush=True)

    try:
        serve(config, date, ready, workers=int(args.workers))
    except OSError as exc:
        raise ServiceError(
            f"cannot listen on {config.host_prefix}.10-99 port {config.port}: {exc.strerror or exc}"
        ) from None
    return 0


def run_truth(args, settings) -> int:
    from precursor_watch.fixtures.world import World
    from precursor_watch.outputs import output_file

    out = output_file(args.out, "--out", settings=settings)
    config = world_config(args, settings)
    date = _world_date(args.date, config)
    from precursor_watch.progress import progress

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        world = World(config)
        n = 0
        # big worlds take minutes: progress over the listing slots the truth walks
        with out.open("w", encoding="utf-8") as fh, progress(f"truth {date}", world.truth_slots(date), "slots") as bar:
            for record in world.truth(date, on_slot=bar.advance):
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
    except OSError as exc:
        raise InputError(f"{out}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a corrupt notices.jsonl line
        raise InputError(str(exc)) from None
    print(f"wrote {n} truth records for {date} to {out}")
    return 0
