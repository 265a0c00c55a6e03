"""The substance lexicon: load once, validate, compile into lookup tables.

The data lives in `nlp/lexicon/substances.toml` (reviewed, versioned). A bad entry raises
`LexiconError` naming the file and the entry (its position and id), e.g. a CAS RN that fails its
check digit or an unknown category.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from precursor_watch.nlp.normalize import SEPARATORS, compact_term, normalize_term

DEFAULT_LEXICON = Path(__file__).resolve().parent / "lexicon" / "substances.toml"

CATEGORIES = {
    "fentanyl_precursor",
    "fentanyl",
    "fentanyl_analogue",
    "nitazene",
    "xylazine",
    "other_opioid",
    "reagent",
    "pre_precursor",
    "watch_list",
    "context",
    "ordinary",
}
TIERS = {"monitored", "watched", "ordinary"}
LANGS = ("en", "zh", "es")
JURISDICTIONS = {"UN", "US", "CN", "MX", "EU"}
_ENTRY_KEYS = {"id", "name", "category", "tier", "note", "names", "abbreviations", "salts", "control"}
_CAS_RE = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


class LexiconError(ValueError):
    """A lexicon file is invalid; the message names the file and the entry."""


def cas_check_digit_ok(cas: str) -> bool:
    """True when `cas` ("NNNNNNN-NN-N") is well formed and its check digit is right."""
    m = _CAS_RE.match(cas)
    if not m:
        return False
    digits = (m.group(1) + m.group(2))[::-1]
    return sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 == int(m.group(3))


@dataclass(frozen=True)
class Control:
    jurisdiction: str
    status: str
    effective: dt.date
    source: str


@dataclass(frozen=True)
class Salt:
    cas: str
    form: str


@dataclass(frozen=True)
class Abbreviation:
    text: str
    ambiguous: bool = False
    false_friends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Substance:
    id: str
    name: str
    category: str
    tier: str
    names: dict[str, tuple[str, ...]]
    abbreviations: tuple[Abbreviation, ...]
    salts: tuple[Salt, ...]
    controls: tuple[Control, ...]
    note: str = ""

    def controls_at(self, date: dt.date | None) -> list[Control]:
        """Control entries in force at `date` (all entries when the date is unknown)."""
        return [c for c in self.controls if date is None or c.effective <= date]


@dataclass(frozen=True)
class Term:
    """One matchable surface form, in the compact view."""

    compact: str
    substance_id: str
    how: str  # name | synonym | abbreviation
    text: str  # as written in the lexicon
    segments: tuple[str, ...]  # the norm-view pieces between separators
    ambiguous: bool = False
    false_friends: tuple[str, ...] = ()


@dataclass
class Lexicon:
    version: str
    source: str
    substances: dict[str, Substance]
    terms: dict[str, list[Term]] = field(default_factory=dict)  # compact form -> terms
    cas: dict[str, tuple[str, str]] = field(default_factory=dict)  # CAS RN -> (substance id, form)
    first_blocks: dict[str, set[str]] = field(default_factory=dict)  # first CAS block -> substance ids


def load_lexicon(path: str | Path = DEFAULT_LEXICON) -> Lexicon:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read lexicon: {exc.strerror}") from None
    return parse_lexicon(text, source=str(path))


def parse_lexicon(text: str, source: str = "<lexicon>") -> Lexicon:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{source}: not valid TOML: {exc}") from None
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise LexiconError(f"{source}: missing top-level `version`")
    entries = data.get("substance")
    if not isinstance(entries, list) or not entries:
        raise LexiconError(f"{source}: no [[substance]] entries")
    lex = Lexicon(version=version, source=source, substances={})
    for index, raw in enumerate(entries, start=1):
        where = f"{source}: substance #{index} ({raw.get('id', 'no id') if isinstance(raw, dict) else '?'})"
        sub = _parse_entry(raw, where)
        if sub.id in lex.substances:
            raise LexiconError(f"{where}: duplicate id {sub.id}")
        lex.substances[sub.id] = sub
        for cas, form in [(sub.id, "free base")] + [(s.cas, s.form) for s in sub.salts]:
            if cas in lex.cas:
                raise LexiconError(f"{where}: CAS RN {cas} already belongs to {lex.cas[cas][0]}")
            lex.cas[cas] = (sub.id, form)
            lex.first_blocks.setdefault(cas.split("-")[0], set()).add(sub.id)
        _add_terms(lex, sub)
    return lex


def _parse_entry(raw: object, where: str) -> Substance:
    if not isinstance(raw, dict):
        raise LexiconError(f"{where}: entry is not a table")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise LexiconError(f"{where}: unknown field {unknown[0]!r}")
    sid = raw.get("id")
    if not isinstance(sid, str) or not _CAS_RE.match(sid):
        raise LexiconError(f"{where}: id must be a CAS RN like 79099-07-3, got {sid!r}")
    if not cas_check_digit_ok(sid):
        raise LexiconError(f"{where}: CAS RN {sid} fails its check digit")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LexiconError(f"{where}: missing name")
    category = raw.get("category")
    if category not in CATEGORIES:
        raise LexiconError(f"{where}: unknown category {category!r} (known: {', '.join(sorted(CATEGORIES))})")
    tier = raw.get("tier")
    if tier not in TIERS:
        raise LexiconError(f"{where}: unknown tier {tier!r} (known: {', '.join(sorted(TIERS))})")
    names_raw = raw.get("names", {})
    if not isinstance(names_raw, dict):
        raise LexiconError(f"{where}: names must be a table of languages")
    names: dict[str, tuple[str, ...]] = {}
    for lang, values in names_raw.items():
        if lang not in LANGS:
            raise LexiconError(f"{where}: unknown language {lang!r} in names (known: {', '.join(LANGS)})")
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise LexiconError(f"{where}: names.{lang} must be a list of non-empty strings")
        names[lang] = tuple(values)
    abbrevs = []
    for a in raw.get("abbreviations", []):
        if not isinstance(a, dict) or not isinstance(a.get("text"), str) or not a["text"].strip():
            raise LexiconError(f"{where}: abbreviation needs a non-empty `text`")
        extra = sorted(set(a) - {"text", "ambiguous", "false_friends"})
        if extra:
            raise LexiconError(f"{where}: abbreviation {a['text']!r}: unknown field {extra[0]!r}")
        ff = a.get("false_friends", [])
        if not isinstance(ff, list) or not all(isinstance(x, str) for x in ff):
            raise LexiconError(f"{where}: abbreviation {a['text']!r}: false_friends must be a list of strings")
        abbrevs.append(Abbreviation(a["text"], bool(a.get("ambiguous", False)), tuple(ff)))
    salts = []
    for s in raw.get("salts", []):
        cas = s.get("cas") if isinstance(s, dict) else None
        if not isinstance(cas, str) or not _CAS_RE.match(cas):
            raise LexiconError(f"{where}: salt CAS RN must look like 40064-34-4, got {cas!r}")
        if not cas_check_digit_ok(cas):
            raise LexiconError(f"{where}: salt CAS RN {cas} fails its check digit")
        salts.append(Salt(cas, str(s.get("form", "salt"))))
    controls = []
    for c in raw.get("control", []):
        if not isinstance(c, dict):
            raise LexiconError(f"{where}: control entry is not a table")
        j = c.get("jurisdiction")
        if j not in JURISDICTIONS:
            raise LexiconError(
                f"{where}: control: unknown jurisdiction {j!r} (known: {', '.join(sorted(JURISDICTIONS))})"
            )
        eff = c.get("effective")
        if not isinstance(eff, dt.date) or isinstance(eff, dt.datetime):
            raise LexiconError(f"{where}: control {j}: effective must be a date (YYYY-MM-DD), got {eff!r}")
        for key in ("status", "source"):
            if not isinstance(c.get(key), str) or not c[key].strip():
                raise LexiconError(f"{where}: control {j}: missing {key}")
        controls.append(Control(j, c["status"], eff, c["source"]))
    return Substance(
        sid, name, category, tier, names, tuple(abbrevs), tuple(salts), tuple(controls), str(raw.get("note", ""))
    )


def _add_terms(lex: Lexicon, sub: Substance) -> None:
    forms: list[tuple[str, str, Abbreviation | None]] = [(sub.name, "name", None)]
    for lang in LANGS:
        for i, n in enumerate(sub.names.get(lang, ())):
            forms.append((n, "name" if i == 0 else "synonym", None))
    forms += [(a.text, "abbreviation", a) for a in sub.abbreviations]
    for text, how, abbrev in forms:
        compact = compact_term(text)
        if not compact:
            continue
        segments = tuple(s for s in SEPARATORS.split(normalize_term(text)) if s)
        term = Term(
            compact,
            sub.id,
            how,
            text,
            segments,
            ambiguous=bool(abbrev and abbrev.ambiguous),
            false_friends=tuple(normalize_term(f) for f in (abbrev.false_friends if abbrev else ())),
        )
        bucket = lex.terms.setdefault(compact, [])
        others = [t.substance_id for t in bucket if t.substance_id != sub.id]
        if others:
            raise LexiconError(f"{lex.source}: substance {sub.id}: form {text!r} already names {others[0]}")
        if not bucket:  # the same form twice for one substance counts once
            bucket.append(term)
