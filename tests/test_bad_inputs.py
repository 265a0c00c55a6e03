"""Bad-input matrix: every command given each bad input ends in exactly one `pwatch: error:` line
on stderr and a non-zero exit, prints no traceback, and creates or changes nothing.

Each case runs the real `pwatch` in a subprocess (a fresh interpreter, as an operator would) in a
folder of its own; the folder's listing and every file's bytes are compared before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import text

from precursor_watch.storage.db import make_engine, upgrade

PG_BASE = os.environ.get("PWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DOWN = "postgresql+psycopg://pw:s3cr3t-pw@127.0.0.1:1/pwatch"  # nothing listens on port 1
D = "2026-11-01"


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "pwatch.db"
    upgrade(f"sqlite:///{path}")
    return path


# -- set-ups: each prepares the case folder (the data dir is `data/`) ----------------------------


def nothing(root: Path, db: Path) -> None:
    pass


def valid_db(root: Path, db: Path) -> None:
    (root / "data").mkdir()
    shutil.copy(db, root / "data" / "pwatch.db")


def corrupt_db(root: Path, db: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "pwatch.db").write_bytes(b"not a database, just bytes\x00\xff" * 200)


def empty_db(root: Path, db: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "pwatch.db").write_bytes(b"")


def newer_db(root: Path, db: Path) -> None:
    valid_db(root, db)
    conn = sqlite3.connect(root / "data" / "pwatch.db")
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()


def data_dir_is_file(root: Path, db: Path) -> None:
    (root / "data").write_text("not a folder\n")


def toml(content: bytes) -> Callable[[Path, Path], None]:
    def setup(root: Path, db: Path) -> None:
        valid_db(root, db)
        (root / "data" / "pwatch.toml").write_bytes(content)
    return setup


def files(**contents: bytes) -> Callable[[Path, Path], None]:
    """Input files in the case folder; a name ending in `/` is a folder (its value: a file in it)."""
    def setup(root: Path, db: Path) -> None:
        valid_db(root, db)
        for name, content in contents.items():
            name = name.replace("__", ".")
            if name.endswith("_dir"):
                (root / name).mkdir()
                (root / name / "already-here.txt").write_bytes(content)
            else:
                (root / name).write_bytes(content)
    return setup


def in_data(**contents: bytes) -> Callable[[Path, Path], None]:
    """Files in the data dir; `audit_dir` is an earlier audit of D to D in its default folder."""
    def setup(root: Path, db: Path) -> None:
        valid_db(root, db)
        for name, content in contents.items():
            if name == "audit_dir":
                (root / "data" / "audit" / f"{D}_{D}").mkdir(parents=True)
                (root / "data" / "audit" / f"{D}_{D}" / "index.html").write_bytes(content)
            else:
                (root / "data" / name.replace("__", ".")).write_bytes(content)
    return setup


FLAG_OK = b'{"id": 1, "text": "ok"}\n'
SURROGATE = b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "seller \\ud800 text"}\n'
DEEP = b'{"id": 1, "text": "x", "title": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"
BIG_NUMBER = b'{"id": ' + b"9" * 5000 + b', "text": "x"}\n'
LABELLED_SURROGATE = b'{"text": "\\udc00", "lang": "en", "label": 1}\n'
CRAWL = ["crawl", "--site", "chemdir", "--date", D]

# (id, argv after `pwatch`, extra environment, set-up)
CASES: list[tuple[str, list[str], dict[str, str], Callable]] = [
    # settings out of range or unreadable
    ("log-level-stats", ["stats"], {"PWATCH_LOG_LEVEL": "LOUD"}, valid_db),
    ("log-level-upgrade", ["db", "upgrade"], {"PWATCH_LOG_LEVEL": "verbose"}, nothing),
    ("db-url-garbage-stats", ["stats"], {"PWATCH_DATABASE_URL": "::not a url::"}, valid_db),
    ("db-url-garbage-upgrade", ["db", "upgrade"], {"PWATCH_DATABASE_URL": "postgres//x"}, nothing),
    ("pg-down-stats", ["stats"], {"PWATCH_DATABASE_URL": PG_DOWN}, nothing),
    ("pg-down-upgrade", ["db", "upgrade"], {"PWATCH_DATABASE_URL": PG_DOWN}, nothing),
    ("pg-down-check", ["db", "check"], {"PWATCH_DATABASE_URL": PG_DOWN}, nothing),
    ("pg-down-review", ["review", "list"], {"PWATCH_DATABASE_URL": PG_DOWN}, nothing),
    ("pg-down-report", ["report", "--date", D], {"PWATCH_DATABASE_URL": PG_DOWN}, nothing),
    ("absence-k-0", ["reconcile", "--date", D], {"PWATCH_ABSENCE_K": "0"}, valid_db),
    ("error-threshold-5", ["reconcile", "--date", D], {"PWATCH_CRAWL_ERROR_THRESHOLD": "5"}, valid_db),
    ("overdue-days-negative", ["notices", "overdue"], {"PWATCH_NOTICE_OVERDUE_DAYS": "-3"}, valid_db),
    ("port-out-of-range", ["fixtures", "truth", "--date", D, "--out", "t.jsonl"], {"PWATCH_FIXTURE_PORT": "70000"}, nothing),
    ("world-days-0", ["run", "--days", "1"], {"PWATCH_WORLD_DAYS": "0"}, nothing),
    ("scale-negative", ["fixtures", "truth", "--date", D, "--out", "t.jsonl"], {"PWATCH_SCALE": "-1"}, nothing),
    ("toml-binary", ["stats"], {}, toml(b"\x00\xff\xfe\x80binary")),
    ("toml-absence-k-0", ["reconcile", "--date", D], {}, toml(b"absence_k = 0\n")),
    ("toml-bool-for-int", ["reconcile", "--date", D], {}, toml(b"absence_k = true\n")),
    ("date-not-iso", ["stats", "--from", "2026-13-01"], {}, valid_db),
    ("date-not-iso-crawl", ["crawl", "--site", "chemdir", "--date", "26-11-01", "--no-db"], {}, nothing),
    # a file given as the data dir
    ("data-dir-file-stats", ["stats"], {}, data_dir_is_file),
    ("data-dir-file-upgrade", ["db", "upgrade"], {}, data_dir_is_file),
    ("data-dir-file-run", ["run", "--days", "1", "--inline"], {}, data_dir_is_file),
    ("data-dir-file-crawl", CRAWL, {}, data_dir_is_file),
    # a mistyped data dir: read-only commands create nothing
    ("missing-stats", ["stats"], {}, nothing),
    ("missing-reconcile", ["reconcile", "--date", D], {}, nothing),
    ("missing-review-list", ["review", "list"], {}, nothing),
    ("missing-review-show", ["review", "show", "1"], {}, nothing),
    ("missing-review-confirm", ["review", "confirm", "1", "--reviewer", "analyst"], {}, nothing),
    ("missing-review-export", ["review", "export", "--out", "labels.jsonl"], {}, nothing),
    ("missing-audit", ["audit", "--from", D, "--to", D], {}, nothing),
    ("missing-notices-export", ["notices", "export"], {}, nothing),
    ("missing-notices-overdue", ["notices", "overdue"], {}, nothing),
    ("missing-detect", ["detect", "--date", D], {}, nothing),
    ("missing-notify", ["notify", "--date", D], {}, nothing),
    ("missing-report", ["report", "--date", D], {}, nothing),
    ("missing-db-check", ["db", "check"], {}, nothing),
    # corrupt, empty and newer-schema databases: refused, never written
    ("corrupt-stats", ["stats"], {}, corrupt_db),
    ("corrupt-upgrade", ["db", "upgrade"], {}, corrupt_db),
    ("corrupt-check", ["db", "check"], {}, corrupt_db),
    ("corrupt-review-list", ["review", "list"], {}, corrupt_db),
    ("corrupt-crawl", CRAWL, {}, corrupt_db),
    ("empty-file-stats", ["stats"], {}, empty_db),
    ("empty-file-review-confirm", ["review", "confirm", "1", "--reviewer", "analyst"], {}, empty_db),
    ("newer-stats", ["stats"], {}, newer_db),
    ("newer-upgrade", ["db", "upgrade"], {}, newer_db),
    ("newer-reconcile", ["reconcile", "--date", D], {}, newer_db),
    ("newer-check", ["db", "check"], {}, newer_db),
    ("newer-crawl", CRAWL, {}, newer_db),
    ("newer-audit", ["audit", "--from", D, "--to", D], {}, newer_db),
    ("newer-review-confirm", ["review", "confirm", "1", "--reviewer", "analyst"], {}, newer_db),
    ("newer-detect", ["detect", "--date", D], {}, newer_db),
    # outputs that would land in a folder, clobber an input or the database, or certify strangers
    ("flag-output-folder", ["flag", "--input", "in.jsonl", "--output", "out_dir"], {}, files(in__jsonl=FLAG_OK, out_dir=b"x")),
    ("flag-output-is-input", ["flag", "--input", "in.jsonl", "--output", "in.jsonl"], {}, files(in__jsonl=FLAG_OK)),
    ("flag-output-is-input-by-other-path", ["flag", "--input", "in.jsonl", "--output", "./data/../in.jsonl"], {}, files(in__jsonl=FLAG_OK)),
    ("flag-output-is-database", ["flag", "--input", "in.jsonl", "--output", "data/pwatch.db"], {}, files(in__jsonl=FLAG_OK)),
    ("truth-out-folder", ["fixtures", "truth", "--date", D, "--out", "out_dir"], {}, files(out_dir=b"x")),
    ("review-export-out-folder", ["review", "export", "--out", "out_dir"], {}, files(out_dir=b"x")),
    ("review-export-out-database", ["review", "export", "--out", "data/pwatch.db"], {}, valid_db),
    ("audit-out-not-empty", ["audit", "--from", D, "--to", D, "--out", "out_dir"], {}, files(out_dir=b"x")),
    ("audit-out-is-file", ["audit", "--from", D, "--to", D, "--out", "f.txt"], {}, files(f__txt=b"x")),
    ("audit-default-out-exists", ["audit", "--from", D, "--to", D], {}, in_data(audit_dir=b"<html>signed-off</html>")),
    ("notices-export-out-is-file", ["notices", "export", "--out", "f.txt"], {}, files(f__txt=b"x")),
    ("train-out-is-file", ["nlp", "train", "--out", "f.txt"], {}, files(f__txt=b"x")),
    ("crawl-out-folder", [*CRAWL, "--no-db", "--out", "out_dir"], {}, files(out_dir=b"x")),
    # values argparse refuses: one line too, not the usage block
    ("bad-date-report", ["report", "--date", "2026-13-45"], {}, valid_db),
    ("bad-date-stats", ["stats", "--from", "yesterday"], {}, valid_db),
    ("bad-date-audit", ["audit", "--from", D, "--to", "2026-11-31"], {}, valid_db),
    ("bad-int-run", ["run", "--days", "three"], {}, nothing),
    # malformed JSONL
    ("flag-lone-surrogate", ["flag", "--input", "in.jsonl", "--output", "o.jsonl"], {}, files(in__jsonl=SURROGATE)),
    ("flag-deeply-nested", ["flag", "--input", "in.jsonl", "--output", "o.jsonl"], {}, files(in__jsonl=DEEP)),
    ("flag-over-long-number", ["flag", "--input", "in.jsonl", "--output", "o.jsonl"], {}, files(in__jsonl=BIG_NUMBER)),
    ("flag-not-utf8", ["flag", "--input", "in.jsonl", "--output", "o.jsonl"], {}, files(in__jsonl=b'{"id": 1, "text": "\xff"}\n')),
    ("evaluate-lone-surrogate", ["nlp", "evaluate", "--input", "in.jsonl"], {}, files(in__jsonl=LABELLED_SURROGATE)),
    ("evaluate-deeply-nested", ["nlp", "evaluate", "--input", "in.jsonl"], {}, files(in__jsonl=DEEP)),
    ("evaluate-not-utf8", ["nlp", "evaluate", "--input", "in.jsonl"], {}, files(in__jsonl=b"\xff\xfe\x00")),
    # revisit files
    ("revisit-bad-line", [*CRAWL, "--no-db", "--revisit", "r.txt"], {}, files(r__txt=b"http://127.0.0.11/l/1\nnot a url\n")),
    ("revisit-binary", [*CRAWL, "--no-db", "--revisit", "r.txt"], {}, files(r__txt=b"\x00\xff\xfe\x80\x81")),
    ("revisit-over-long-url", [*CRAWL, "--no-db", "--revisit", "r.txt"], {}, files(r__txt=b"http://127.0.0.11/" + b"a" * 5000 + b"\n")),
    ("revisit-control-char", [*CRAWL, "--no-db", "--revisit", "r.txt"], {}, files(r__txt=b"http://127.0.0.11/l/\x07x\n")),
    ("revisit-missing", [*CRAWL, "--no-db", "--revisit", "nope.txt"], {}, nothing),
]


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with the SHA-256 of its bytes (folders as `dir`).

    A writer's lock file (`<data_dir>/.lock`, who holds the data dir) is left out: it holds no data,
    and removing it on release would let two writers lock two different files."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.name == ".lock" and path.parent.is_dir() and path.parent != root:
            continue
        out[str(path.relative_to(root))] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run_pwatch(root: Path, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    command = [sys.executable, "-m", "precursor_watch", *argv, "--data-dir", "data"]
    return subprocess.run(command, cwd=root, env={**base, **env}, capture_output=True, text=True,
                          errors="backslashreplace", timeout=300)


def assert_one_error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pwatch: error: "), lines[0]
    assert result.returncode != 0
    return lines[0]


def test_matrix_is_big_enough():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("argv, env, setup", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, migrated_db, argv, env, setup):
    setup(tmp_path, migrated_db)
    before = snapshot(tmp_path)
    result = run_pwatch(tmp_path, argv, env)
    line = assert_one_error_line(result)
    assert snapshot(tmp_path) == before
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert "internal error" not in line


# -- the error lines name what is wrong ----------------------------------------------------------


@pytest.mark.parametrize("case, expected", [
    ("newer-stats", "newer than this code"),
    ("corrupt-stats", "not a readable SQLite database"),
    ("missing-stats", "no file there; check --data-dir, or run `pwatch db upgrade`"),
    ("empty-file-stats", "pwatch db upgrade"),
    ("absence-k-0", "absence_k"),
    ("error-threshold-5", "between 0 and 1"),
    ("date-not-iso", "--from: expected YYYY-MM-DD, got '2026-13-01'"),
    ("flag-lone-surrogate", "in.jsonl:2: field `text`"),
    ("revisit-bad-line", "r.txt:2"),
    ("audit-out-not-empty", "not empty"),
    ("audit-default-out-exists", f"an audit of {D} to {D} already exists in data/audit/{D}_{D}"),
    ("bad-date-report", "report: --date: expected YYYY-MM-DD, got '2026-13-45'"),
    ("pg-down-stats", "pw:***@127.0.0.1:1"),
])
def test_error_line_names_the_problem(tmp_path, migrated_db, case, expected):
    _, argv, env, setup = next(c for c in CASES if c[0] == case)
    setup(tmp_path, migrated_db)
    assert expected in assert_one_error_line(run_pwatch(tmp_path, argv, env))


# -- unexpected errors stay visible --------------------------------------------------------------


def test_a_bug_is_named_and_its_traceback_is_behind_debug(tmp_path, monkeypatch, capsys):
    from precursor_watch import cli

    def broken(args, settings):
        return {}["no such key"]

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_handler(parser(), broken))
    monkeypatch.delenv("PWATCH_LOG_LEVEL", raising=False)
    assert cli.main(["stats", "--data-dir", str(tmp_path)]) == cli.EX_SOFTWARE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("pwatch: internal error at ") and "KeyError" in err[0]
    assert "test_bad_inputs.py" in err[0]
    with pytest.raises(KeyError):
        cli.main(["--debug", "stats", "--data-dir", str(tmp_path)])
    monkeypatch.setenv("PWATCH_LOG_LEVEL", "debug")
    with pytest.raises(KeyError):
        cli.main(["stats", "--data-dir", str(tmp_path)])


def _with_handler(parser, handler):
    parser.set_defaults(handler=handler)
    for action in parser._subparsers._group_actions:  # the subcommand parsers carry their own default
        for sub in action.choices.values():
            sub.set_defaults(handler=handler)
    return parser


# -- `pwatch db check` passes on good databases and fails on damaged ones ------------------------


def test_db_check_passes_on_a_migrated_sqlite_database(tmp_path, migrated_db):
    valid_db(tmp_path, migrated_db)
    before = snapshot(tmp_path)
    result = run_pwatch(tmp_path, ["db", "check"], {})
    assert result.returncode == 0, result.stderr
    assert "ok (schema revision" in result.stdout and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


def test_db_check_finds_a_dangling_foreign_key(tmp_path, migrated_db):
    valid_db(tmp_path, migrated_db)
    conn = sqlite3.connect(tmp_path / "data" / "pwatch.db")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO accounts (id, platform_id, account_key) VALUES (1, 4242, 'ghost')")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    line = assert_one_error_line(run_pwatch(tmp_path, ["db", "check"], {}))
    assert "foreign_key_check: accounts" in line and "platforms" in line
    assert snapshot(tmp_path) == before


def test_db_check_finds_a_damaged_page(tmp_path, migrated_db):
    valid_db(tmp_path, migrated_db)
    db = tmp_path / "data" / "pwatch.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")  # everything in the main file, then damage it
    conn.executemany("INSERT INTO platforms (name) VALUES (?)", [(f"p{i:05d}" + "x" * 200,) for i in range(500)])
    conn.commit()
    conn.close()
    raw = bytearray(db.read_bytes())
    page = 16384 if len(raw) % 16384 == 0 else 4096
    for offset in range(len(raw) - 2 * page, len(raw) - page, 97):  # scribble over an index/table page
        raw[offset] = 0xA5
    db.write_bytes(bytes(raw))
    line = assert_one_error_line(run_pwatch(tmp_path, ["db", "check"], {}))
    assert "fails its check" in line or "not a readable" in line


@pytest.fixture
def pg_schema_url():
    schema = f"pw_bad_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_db_check_and_newer_schema_on_postgresql(tmp_path, pg_schema_url):
    result = run_pwatch(tmp_path, ["db", "check"], {"PWATCH_DATABASE_URL": pg_schema_url})
    assert result.returncode == 0, result.stderr
    engine = make_engine(pg_schema_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        for argv in (["db", "check"], ["db", "upgrade"], ["stats"], ["reconcile", "--date", D]):
            line = assert_one_error_line(run_pwatch(tmp_path, argv, {"PWATCH_DATABASE_URL": pg_schema_url}))
            assert "newer than this code" in line
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_from_the_future"
            assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 0
    finally:
        engine.dispose()
    assert list(tmp_path.iterdir()) == []  # nothing local was created either
