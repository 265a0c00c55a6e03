"""Trade signals (price, MOQ, stock, samples, shipping, customs/stealth, messengers, payment,
refusals) from reviewed regular expressions in `nlp/lexicon/signals.toml`."""

from __future__ import annotations

import re
import re._constants as _C  # the stdlib's own pattern parser: expands finite patterns
import re._parser as _sre
import tomllib
from dataclasses import dataclass
from pathlib import Path

from precursor_watch.nlp.normalize import NormText

DEFAULT_SIGNALS = Path(__file__).resolve().parent / "lexicon" / "signals.toml"
KNOWN_KINDS = (
    "price",
    "moq",
    "stock",
    "sample",
    "shipping",
    "customs_stealth",
    "destination_stock",
    "messenger",
    "encrypted_messenger",
    "payment",
    "offer",
    "spec",
    "refusal",
    "legal_only",
    "restricted_sale",
    "harm_reduction",
    "not_a_substance",
    "context",
    "report",
    "aside",
    "prohibited",
    "relation",
)

# Wording that the page reports on the trade rather than trades: news, regulation and research
# words ("context"), and a page naming its own genre ("report": "scam alert", "customs notice").
CONTEXT_KINDS = ("context", "report")

EXPAND_LIMIT = 512  # a finite pattern with more alternatives than this stays a regular expression
GUARD = ""  # the kind of a guard literal: it consumes its words and yields no hit

_WORDCHAR = re.compile(r"[a-z0-9_]")  # ASCII: a Chinese character next to "tg" is no word boundary problem


def _expand_pattern(pattern: str, limit: int = EXPAND_LIMIT) -> tuple[list[str], bool, bool] | None:
    """The finite list of strings a simple pattern matches (None when it is not that simple),
    and whether it asks for a word boundary on the left / right."""
    seq = list(_sre.parse(pattern))
    lb = rb = False
    if seq and seq[0] == (_C.AT, _C.AT_BOUNDARY):
        lb, seq = True, seq[1:]
    if seq and seq[-1] == (_C.AT, _C.AT_BOUNDARY):
        rb, seq = True, seq[:-1]
    words = _expand(seq, limit)
    return None if words is None else (words, lb, rb)


def _expand(seq, limit: int) -> list[str] | None:
    outs = [""]
    for op, av in seq:
        if op is _C.LITERAL:
            alts = [chr(av)]
        elif op is _C.IN:
            alts = []
            for o, a in av:
                if o is _C.LITERAL:
                    alts.append(chr(a))
                elif o is _C.RANGE and a[1] - a[0] < 12:
                    alts += [chr(x) for x in range(a[0], a[1] + 1)]
                elif o is _C.CATEGORY and a is _C.CATEGORY_SPACE:
                    alts.append(" ")  # listings separate words with spaces
                else:
                    return None
        elif op is _C.BRANCH:
            alts = []
            for sub in av[1]:
                e = _expand(sub, limit)
                if e is None:
                    return None
                alts += e
        elif op is _C.SUBPATTERN:
            if av[1] or av[2]:
                return None
            inner = _expand(av[3], limit)
            if inner is None:
                return None
            alts = inner
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[1] <= 1:
            e = _expand(av[2], limit)
            if e is None:
                return None
            alts = ([""] if av[0] == 0 else []) + e
        else:
            return None
        outs = [o + a for o in outs for a in alts]
        if len(outs) > limit:
            return None
    return outs


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class SignalsError(ValueError):
    """The signals file is invalid; the message names the file and the kind."""


@dataclass(frozen=True)
class SignalHit:
    kind: str
    start: int  # offsets into the original text
    end: int
    matched: str
    red_flag: bool = False


@dataclass
class SignalMatcher:
    version: str
    source: str
    text: str  # the TOML as read (saved with the pipeline)
    _kinds: list[tuple[str, re.Pattern, bool, bool]]  # patterns that are not finite word lists
    _tries: list[re.Pattern] | None = None  # every finite pattern, expanded to its words
    _literals: dict[str, list[tuple[str, bool, bool, bool]]] | None = None  # word -> (kind, lb, rb, red)

    @classmethod
    def from_text(cls, text: str, source: str = "<signals>") -> SignalMatcher:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SignalsError(f"{source}: not valid TOML: {exc}") from None
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise SignalsError(f"{source}: missing top-level `version`")
        kinds = data.get("kinds")
        if not isinstance(kinds, dict) or not kinds:
            raise SignalsError(f"{source}: no [kinds.*] tables")
        compiled = []
        literals: dict[str, list[tuple[str, bool, bool, bool]]] = {}
        guards = data.get("guards", {"patterns": []})
        gpatterns = guards.get("patterns") if isinstance(guards, dict) else None
        if not isinstance(gpatterns, list) or not all(isinstance(p, str) for p in gpatterns):
            raise SignalsError(f"{source}: guards: `patterns` must be a list of strings")
        for i, p in enumerate(gpatterns, start=1):
            try:
                expanded = _expand_pattern(p)
            except re.error as exc:
                raise SignalsError(f"{source}: guards: pattern #{i} {p!r}: {exc}") from None
            if expanded is None:
                raise SignalsError(f"{source}: guards: pattern #{i} {p!r} must be a finite list of phrases")
            words, lb, rb = expanded
            for w in words:
                if w:
                    literals.setdefault(w, []).append((GUARD, lb, rb, False))
        for kind, spec in kinds.items():
            if kind not in KNOWN_KINDS:
                raise SignalsError(f"{source}: kinds.{kind}: unknown signal kind (known: {', '.join(KNOWN_KINDS)})")
            patterns = spec.get("patterns") if isinstance(spec, dict) else None
            if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
                raise SignalsError(f"{source}: kinds.{kind}: `patterns` must be a non-empty list of strings")
            red = bool(spec.get("red_flag", False))
            rest = []
            for i, p in enumerate(patterns, start=1):
                try:
                    expanded = _expand_pattern(p)
                except re.error as exc:
                    raise SignalsError(f"{source}: kinds.{kind}: pattern #{i} {p!r}: {exc}") from None
                if expanded is None:
                    rest.append(p)
                    continue
                words, lb, rb = expanded
                for w in words:
                    if w:
                        literals.setdefault(w, []).append((kind, lb, rb, red))
            # A leading \b defeats the regex engine's literal-prefix scan, so word-led patterns
            # are compiled without it and the left boundary is checked after the match.
            led = [p[2:] for p in rest if p.startswith("\\b")]
            free = [p for p in rest if not p.startswith("\\b")]
            if led:
                compiled.append((kind, re.compile("|".join(f"(?:{p})" for p in led)), red, True))
            if free:
                compiled.append((kind, re.compile("|".join(f"(?:{p})" for p in free)), red, False))
        from precursor_watch.nlp.matching import trie_regex  # a prefix trie: one fast pass for every literal pattern

        # Word-led literals are tried only at word starts (a cheap look-behind fails fast
        # mid-word); the rest (Chinese, symbols) everywhere. ~4x faster than one trie.
        word_led = sorted(w for w, uses in literals.items() if _ascii_alnum(w[0]) and all(u[1] for u in uses))
        others = sorted(w for w in literals if w not in set(word_led))
        tries = []
        if word_led:
            tries.append(re.compile(r"(?<![a-z0-9_])" + trie_regex(word_led)))
        if others:
            tries.append(re.compile(trie_regex(others)))
        return cls(version, source, text, compiled, tries, literals)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_SIGNALS) -> SignalMatcher:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SignalsError(f"{path}: cannot read signals: {exc.strerror}") from None
        return cls.from_text(text, str(path))

    def find(self, nt: NormText) -> list[SignalHit]:
        hits = []
        norm = nt.norm
        n = len(norm)
        literals = self._literals or {}
        for trie in self._tries or ():
            for m in trie.finditer(norm):
                word = m.group()
                a, b = m.start(), m.end()
                for kind, lb, rb, red in literals[word]:
                    if kind == GUARD:
                        continue  # a guard phrase: its words are no signal
                    if lb and a > 0 and word[0].isalnum() and _WORDCHAR.match(norm, a - 1):
                        continue
                    if rb and b < n and word[-1].isalnum() and _WORDCHAR.match(norm, b):
                        continue
                    start, end = nt.orig_span(a, b)
                    hits.append(SignalHit(kind, start, end, nt.original[start:end], red))
        for kind, rx, red, left_boundary in self._kinds:
            for m in rx.finditer(norm):
                if m.end() <= m.start():
                    continue
                if left_boundary and m.start() > 0 and _WORDCHAR.match(norm, m.start() - 1):
                    continue
                start, end = nt.orig_span(m.start(), m.end())
                hits.append(SignalHit(kind, start, end, nt.original[start:end], red))
        hits.sort(key=lambda h: (h.start, h.kind))
        return hits
