"""SHA-256 manifest of exported files, in `sha256sum` format so `sha256sum -c` verifies it."""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST_NAME = "MANIFEST.sha256"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, name: str = MANIFEST_NAME) -> Path:
    """Hash every file under `folder` (sorted, relative POSIX paths) except the manifest itself."""
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != name
    ]
    target = folder / name
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def verify_manifest(folder: Path, name: str = MANIFEST_NAME) -> list[str]:
    """Relative paths whose hash differs from the manifest or that are missing (empty = intact)."""
    bad = []
    for line in (folder / name).read_text(encoding="utf-8").splitlines():
        digest, rel = line.split("  ", 1)
        path = folder / rel
        if not path.is_file() or sha256_file(path) != digest:
            bad.append(rel)
    return bad
