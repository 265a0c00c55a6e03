"""One JSONL line, parsed so that every way it can be bad is an `InputError` naming file and line."""

from __future__ import annotations

import json
from typing import Any

from precursor_watch.errors import InputError

MAX_DEPTH = 32  # our records are flat; anything nested deeper is not one of them


def parse_line(line: str, where: str) -> Any:
    """The JSON value of `line`; `where` is `file:line` for the error."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InputError(f"{where}: unusable JSON value ({str(exc).split(';')[0]})") from None
    problem = _problem(value, "", 0)
    if problem:
        raise InputError(f"{where}: {problem}")
    return value


def _problem(value: Any, field: str, depth: int) -> str | None:
    """The first value JSON allowed but text output cannot carry (lone surrogates, deep nesting)."""
    if depth > MAX_DEPTH:
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        return _surrogate(value, field)
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for key, item in items:
        name = f"{field}.{key}" if field else str(key)
        problem = _surrogate(str(key), name) or _problem(item, name, depth + 1)
        if problem:
            return problem
    return None


def _surrogate(text: str, field: str) -> str | None:
    for offset, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            where = f"field `{field}`" if field else "value"
            return f"{where} holds a lone surrogate (\\u{ord(char):04x}) at character {offset}; not text"
    return None
