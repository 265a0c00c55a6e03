"""Control status per jurisdiction with effective dates, when the detection did not record it.

The detector writes substance hits (and, if the pipeline passes them, their control entries) into
`detections.substances`. When a stored hit has no control entries, the legal basis is read from
the reviewed lexicon data file `nlp/lexicon/substances.toml` — as data (tomllib), never by
importing `nlp` code — so notices and reports can always cite the law in force at the listing date.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import lru_cache
from pathlib import Path

LEXICON_FILE = Path(__file__).resolve().parents[1] / "nlp" / "lexicon" / "substances.toml"


@lru_cache(maxsize=4)
def _controls(path: str) -> dict[str, tuple[dict, ...]]:
    file = Path(path)
    if not file.is_file():
        return {}
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    out: dict[str, tuple[dict, ...]] = {}
    for entry in data.get("substance", []):
        controls = tuple(
            {
                "jurisdiction": str(c.get("jurisdiction", "")),
                "status": str(c.get("status", "")),
                "effective": c.get("effective") if isinstance(c.get("effective"), dt.date) else None,
                "source": str(c.get("source", "")),
            }
            for c in entry.get("control", [])
            if isinstance(c, dict)
        )
        out[str(entry.get("id"))] = controls
    return out


def lexicon_controls(substance_id: str, path: Path = LEXICON_FILE) -> tuple[dict, ...]:
    """Every control entry of the substance (all dates); empty when unknown."""
    return _controls(str(path)).get(substance_id, ())
