"""One import package: `precursor_watch`, with its parts in their top-level folders.

The folders `pwatch/`, `crawlers/`, `fixtures/`, `nlp/`, `reports/` and `storage/` are mapped by
setuptools' `package-dir` onto `precursor_watch` and its subpackages, so no generic name (`nlp`,
`fixtures`) is installed into site-packages where it would collide with other distributions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"pwatch": "precursor_watch", "crawlers": "precursor_watch.crawlers", "fixtures": "precursor_watch.fixtures",
           "nlp": "precursor_watch.nlp", "reports": "precursor_watch.reports", "storage": "precursor_watch.storage"}
LEGACY = set(FOLDERS)  # the old top-level import names


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert set(config["packages"]) == _packages_on_disk()
    assert config["package-dir"] == {package: folder for folder, package in FOLDERS.items()}


def _imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def test_no_module_imports_an_old_top_level_name():
    offenders = []
    for folder in [*FOLDERS, "dags", "bench", "tests"]:
        for path in (ROOT / folder).rglob("*.py"):
            legacy = _imported_tops(path) & LEGACY
            if legacy:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(legacy)}")
    assert offenders == []


def test_no_subprocess_runs_an_old_module_name():
    """`python -m precursor_watch` only works from the checkout's root; `-m precursor_watch` works anywhere."""
    import re

    pattern = re.compile(r"""["']-m["'],\s*["'](%s)\b""" % "|".join(sorted(LEGACY)))
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in [*FOLDERS, "dags", "bench", "tests"]
                 for path in (ROOT / folder).rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if pattern.search(line)]
    assert offenders == []


def test_only_precursor_watch_is_importable_outside_the_checkout(tmp_path):
    """From another directory the installed project offers `precursor_watch.*` and none of the
    generic names (the checkout's own folders are not on the path there)."""
    probe = ("import importlib.util as u, json; "
             f"print(json.dumps({{n: u.find_spec(n) is not None for n in {sorted(LEGACY)!r}}})); "
             "import precursor_watch.cli, precursor_watch.nlp.components, precursor_watch.crawlers.settings, "
             "precursor_watch.storage.models, precursor_watch.reports.daily, precursor_watch.fixtures.world, "
             "precursor_watch.contract, precursor_watch.enforcement.notices, precursor_watch.enforcement.review, precursor_watch.ledger.merkle, "
             "precursor_watch.console.app")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    found = __import__("json").loads(out.stdout)
    assert not any(found.values()), f"generic top-level names importable: {found}"
