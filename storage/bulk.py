"""Many rows through one Core statement: the hot path of ingest and the event log.

`session.execute(stmt, rows)` spends much of a bulk insert in SQLAlchemy's per-row parameter
construction (`construct_params`) rather than in the database: skipping it took a first-day
ingest of 100,000 new listings on SQLite from ~9,000 to ~11,000 observations/s (bench/storage.py).
Here the statement is compiled once and each row becomes
a plain tuple, with the column types' own bind processors applied only to the columns that have
one (dates, timestamps, JSON), then goes straight to the driver's `executemany` on the session's
connection (same transaction, same SAVEPOINT).

On PostgreSQL the rows stay dicts (psycopg's named parameters) and psycopg pipelines the
executemany.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import JSON, BindParameter, any_, bindparam, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import ARRAY


def dialect_insert(session: Session, model):
    """The dialect's INSERT (for ON CONFLICT) on the model's Core table: bulk rows skip the ORM."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_for(dialect: str, model):
    """`dialect_insert` by dialect name, for statements built once per dialect."""
    table = getattr(model, "__table__", model)
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def one_of(session: Session, column, values: Sequence[Any]):
    """`column IN (values)` with the values as one bound parameter (a JSON array read by
    `json_each` on SQLite, an array with `= ANY` on PostgreSQL) instead of one per value.

    SQLAlchemy renders an IN list value by value on every call: ~1.5 ms per 1,000 keys here,
    several times the query itself. One parameter also has no bound-parameter limit to chunk for.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    keys: BindParameter[str] = bindparam(
        "pw_values", json.dumps(values), unique=True
    )  # unique: two in one statement are fine
    return column.in_(select(literal_column("value")).select_from(text("json_each(:pw_values)").bindparams(keys)))


def json_strings(values: Sequence[str]) -> str:
    """`json.dumps(values)` for a list of strings, byte for byte.

    `json.dumps` builds a new encoder on every call; for the small contact lists a first day stages
    100,000 of, that was ~4% of the ingest. `encode_basestring_ascii` is the function `json.dumps`
    itself applies to each string (with its default `ensure_ascii=True`).
    """
    return "[" + ", ".join(map(encode_basestring_ascii, values)) + "]"


def executemany(session: Session, stmt, rows: Sequence[dict[str, Any]]) -> None:
    """Execute an INSERT (optionally with ON CONFLICT) once per row; every row has the same keys."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    if compiled.positional:  # SQLite (qmark): one tuple per row, in the statement's order
        order = compiled.positiontup
        row_values = operator.itemgetter(*order)
        params: list = [row_values(row) for row in rows] if len(order) > 1 else [(row_values(row),) for row in rows]
        fixes = _value_fixes(compiled, order, dialect)
        if fixes:
            params = [list(values) for values in params]
            for name, fix in fixes:
                index = order.index(name)
                for values in params:
                    values[index] = fix(values[index])
            params = [tuple(values) for values in params]  # SQLAlchemy passes tuples (not lists) through
    else:  # PostgreSQL (psycopg, named): one dict per row, keyed by bind name
        fixes = _value_fixes(compiled, list(rows[0]), dialect)
        params = [dict(row) for row in rows] if fixes else list(rows)
        for name, fix in fixes:
            for values in params:
                values[name] = fix(values[name])
    conn.exec_driver_sql(str(compiled), params)


def _value_fixes(compiled, names: Sequence[str], dialect) -> list[tuple[str, Callable[[Any], Any]]]:
    """(bind name, converter) for the columns whose type has a bind processor.

    A batch repeats the same few dates and timestamps thousands of times, so those conversions are
    memoised; JSON values (lists, dicts) are unhashable and converted one by one.
    """
    fixes = []
    for name in names:
        impl = compiled.binds[name].type.dialect_impl(dialect)
        process = impl.bind_processor(dialect)
        if process is None:
            continue
        fixes.append((name, process if isinstance(impl, JSON) else _memoised(process)))
    return fixes


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    done: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            done[value] = out = process(value)
            return out

    return convert
