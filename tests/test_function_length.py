"""No function or method longer than 80 lines in the code we ship (the package folders, the DAGs and
the benchmarks; migrations and tests aside): a longer one is split into named steps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("pwatch", "crawlers", "storage", "nlp", "reports", "fixtures", "dags", "bench")
LIMIT = 80


def python_files() -> list[Path]:
    files = []
    for folder in FOLDERS:
        files += [p for p in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in p.relative_to(ROOT).parts]
    return files


def long_functions(path: Path, root: Path = ROOT, limit: int = LIMIT) -> list[str]:
    """`file:line name (N lines)` for every function or method in `path` longer than `limit` lines
    (from its `def` line, decorators aside, to its last line, docstring included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_walk_sees_the_package_dags_and_benchmarks():
    names = {str(p.relative_to(ROOT)) for p in python_files()}
    assert {"storage/ingest.py", "dags/pwatch_daily.py", "bench/storage.py", "pwatch/cli.py"} <= names
    assert not any("migrations" in n or n.startswith("tests/") for n in names)


def test_the_rule_catches_a_long_function(tmp_path):
    def method(lines: int) -> str:
        return "    def long(self):\n" + "".join(f"        x{i} = {i}\n" for i in range(lines - 1))

    source = tmp_path / "long.py"
    source.write_text(f"def short():\n    return 1\n\n\nclass C:\n{method(LIMIT + 1)}\n\nclass D:\n{method(LIMIT)}",
                      encoding="utf-8")
    assert long_functions(source, root=tmp_path) == [f"long.py:6 long ({LIMIT + 1} lines)"]


def test_no_function_is_longer_than_80_lines():
    offenders = [line for path in python_files() for line in long_functions(path)]
    print("\n".join(offenders))
    assert not offenders, f"{len(offenders)} function(s) over {LIMIT} lines:\n" + "\n".join(offenders)
