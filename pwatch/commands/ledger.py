"""`pwatch keys init|show` (the ledger's signing key) and the body of `pwatch audit verify`."""

from __future__ import annotations

import argparse
from pathlib import Path

from precursor_watch.errors import ConfigError
from precursor_watch.settings import Settings

SHOWN_PROBLEMS = 10


def register(subparsers, common: argparse.ArgumentParser) -> None:
    keys = subparsers.add_parser("keys", parents=[common], help="the Ed25519 key that signs the ledger's tree heads")
    action = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = action.add_parser(
        "init", parents=[common], help="create the signing key (0600) unless it exists; print and export its public key"
    )
    init.add_argument("--export", metavar="FILE", help="also write the public key (PEM) to FILE")
    init.set_defaults(handler=cmd_keys_init)


def cmd_keys_init(args, settings: Settings) -> int:
    from precursor_watch.ledger.keys import init_key

    info = init_key(settings)
    mode = info.private_path.stat().st_mode & 0o777
    print(f"signing key: {info.private_path} ({'created' if info.created else 'exists'}, mode {mode:04o})")
    print(f"key id: {info.key_id}")
    print(f"public key: {info.public_path}")
    if args.export:
        Path(args.export).write_text(info.public_pem, encoding="ascii")
        print(f"public key exported to {args.export}")
    print(info.public_pem, end="")
    return 0


def _public_key(args, settings: Settings):
    from precursor_watch.ledger.keys import private_key_path, public_key_path
    from precursor_watch.ledger.signing import LedgerKeyError, load_private_key, load_public_key

    try:
        if args.public_key:
            return load_public_key(Path(args.public_key)), args.public_key
        if public_key_path(settings).is_file():
            return load_public_key(public_key_path(settings)), f"{public_key_path(settings)} (the data dir's own)"
        if private_key_path(settings).is_file():
            return load_private_key(
                private_key_path(settings)
            ).public_key(), f"{private_key_path(settings)} (the data dir's own)"
    except LedgerKeyError as exc:
        raise ConfigError(str(exc)) from None
    raise ConfigError("no public key: pass --public-key FILE (the data dir has no ledger key; run `pwatch keys init`)")


def _summary(outcome, key_source: str, export: str | None) -> list[str]:
    first, last = outcome.first_head, outcome.last_head
    lines = [
        f"verifying key: {key_source}",
        f"signed heads checked: {outcome.heads}"
        + (
            f" (log covered from head #{first.id} of {first.head_date}, "
            f"whose {first.tree_size} leaves were logged when it was sealed)"
            if first
            else " (no head yet)"
        ),
        f"leaves: {outcome.leaves}; events recomputed: {outcome.events_checked}; "
        f"events not yet under a head: {outcome.pending}"
        + (
            f" (ids {', '.join(map(str, outcome.pending_ids[:5]))}{', ...' if outcome.pending > 5 else ''})"
            if outcome.pending
            else ""
        ),
        f"cited WARC records re-read: {outcome.records} ({outcome.warc_bytes / 1e6:.1f} MB of payload, "
        f"{outcome.warc_read / 1e6:.1f} MB read from WARC files)",
    ]
    if last:
        lines.append(f"latest head: {last.head_date}, size {last.tree_size}, root {last.root_hash}")
    if export:
        lines.append(f"export {export}: {outcome.export_numbers} numbers recomputed from the verified events")
    return lines


def cmd_audit_verify(args, settings: Settings, session) -> int:
    from precursor_watch.ledger.exports import check_export
    from precursor_watch.ledger.verify import verify

    public, source = _public_key(args, settings)
    if args.export and not Path(args.export).is_dir():
        raise ConfigError(f"--export {args.export}: no such folder")
    outcome = verify(session, settings.data_path, public, args.date_from, args.date_to)
    if args.export:
        check_export(session, Path(args.export), public, outcome)
    if outcome.ok:
        print("ledger verified: every link holds")
        for line in _summary(outcome, source, args.export):
            print("  " + line)
        return 0
    print(f"ledger verification FAILED: {len(outcome.problems)} broken link(s)")
    print(f"first broken link: {outcome.problems[0]}")
    for problem in outcome.problems[1:SHOWN_PROBLEMS]:
        print(f"  also: {problem}")
    if len(outcome.problems) > SHOWN_PROBLEMS:
        print(f"  ... and {len(outcome.problems) - SHOWN_PROBLEMS} more")
    for line in _summary(outcome, source, args.export):
        print("  " + line)
    return 1


def cmd_audit_pack(args, settings: Settings, session) -> int:
    from precursor_watch.ledger.pack import PackError, build_pack
    from precursor_watch.ledger.signing import public_pem

    if not args.listing or not args.out:
        raise ConfigError("pwatch audit pack PLATFORM/LISTING_KEY --out FILE.zip: both are required")
    public, _source = _public_key(args, settings)
    try:
        summary = build_pack(session, settings.data_path, args.listing, Path(args.out), public_pem(public))
    except PackError as exc:
        raise ConfigError(str(exc)) from None
    print(
        f"evidence pack: {summary.path} ({summary.events} events, {summary.records} WARC records, "
        f"head of {summary.head_date}, size {summary.tree_size})"
    )
    return 0
