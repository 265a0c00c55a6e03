"""Run mypy on the `precursor_watch` package as it is installed, plus the DAG files.

mypy cannot follow setuptools' editable finder, and it names a module after its folder, so
`pwatch/cli.py` would be checked as `pwatch.cli` while every import says `precursor_watch...`
(and resolves to nothing). This script lays out the package as the wheel would, as a tree of
symlinks built from `[tool.setuptools] package-dir` in pyproject.toml, checks that tree, and
prints findings with the repository's own paths. Settings are in `[tool.mypy]`.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".venv" / "mypy-tree"
PACKAGE = "precursor_watch"


def build_tree() -> dict[str, str]:
    """Symlink the package folders into TREE; return link prefix -> repository prefix."""
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(TREE, ignore_errors=True)
    top = TREE / PACKAGE
    top.mkdir(parents=True)
    # The top package's folder holds the sub-packages that have no folder of their own.
    for entry in (ROOT / package_dir[PACKAGE]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    prefixes = {f"{top.relative_to(ROOT)}/": f"{package_dir[PACKAGE]}/"}
    for name, folder in package_dir.items():
        if name == PACKAGE:
            continue
        link = TREE / Path(*name.split("."))
        link.symlink_to(ROOT / folder)
        prefixes[f"{link.relative_to(ROOT)}/"] = f"{folder}/"
    # Longest prefix first, so `.../precursor_watch/storage/` wins over `.../precursor_watch/`.
    return dict(sorted(prefixes.items(), key=lambda kv: -len(kv[0])))


def _repo_path(line: str, prefixes: dict[str, str]) -> str:
    for link, folder in prefixes.items():
        if line.startswith(link):
            return folder + line[len(link) :]
    return line


def main() -> int:
    prefixes = build_tree()
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *sys.argv[1:]])
    sys.stdout.write("".join(_repo_path(line, prefixes) for line in out.splitlines(keepends=True)))
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main())
