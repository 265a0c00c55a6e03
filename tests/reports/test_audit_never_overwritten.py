"""`pwatch audit` without `--out` writes `<data dir>/audit/<from>_<to>/` once; a second audit of
the same period is refused with one error line and leaves the first one byte for byte as it was."""

from __future__ import annotations

import hashlib

from precursor_watch.cli import main
from precursor_watch.reports.manifest import verify_manifest
from tests.reports.test_audit import D, build


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_default_audit_folder_is_written_once_then_refused(world, endpoint, capsys):
    build(world, endpoint)
    argv = ["audit", "--from", D[0].isoformat(), "--to", D[5].isoformat(), "--data-dir", str(world.settings.data_path)]
    folder = world.settings.data_path / "audit" / f"{D[0]}_{D[5]}"
    assert main(argv) == 0 and str(folder / "index.html") in capsys.readouterr().out
    assert verify_manifest(folder) == []
    first = _digest(folder)
    assert main(argv) != 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "already exists" in err[0] and str(folder) in err[0] and "--out" in err[0]
    assert _digest(folder) == first
