"""Normalisation against obfuscation, with offsets back into the original text.

Three views of one text, all matched case-insensitively:

- `norm`: NFKC (full-width → ASCII), lower case, Cyrillic/Greek homoglyphs → Latin, dash variants
  → "-", zero-width characters and soft hyphens removed. `norm_to_orig(i)` gives the index in
  the original string of norm character i.
- `compact`: `norm` without separators (spaces, hyphens, dots, brackets, commas ...), so
  "N P P", "4 - A P" and "1 boc 4 piperidone" read as the lexicon's "npp", "4ap", "1boc4piperidone".
- `leet`: `compact` with leetspeak digits/symbols next to letters read as letters ("fent@nyl",
  "f3ntanyl"); only built when such a character occurs.

Plain ASCII text (most listings) takes a fast path with an identity offset map.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

ZERO_WIDTH = (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi controls
)

# Letters that look like Latin ones; mapped 1:1 so offsets survive.
HOMOGLYPHS = {
    # Cyrillic
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "х": "x",
    "у": "y",
    "і": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "һ": "h",
    "ӏ": "l",
    "ԛ": "q",
    "ԝ": "w",
    "к": "k",
    "м": "m",
    "т": "t",
    "в": "b",
    "н": "h",
    "А": "a",
    "В": "b",
    "Е": "e",
    "К": "k",
    "М": "m",
    "Н": "h",
    "О": "o",
    "Р": "p",
    "С": "c",
    "Т": "t",
    "Х": "x",
    "І": "i",
    "Ј": "j",
    "Ѕ": "s",
    "У": "y",
    # Greek
    "α": "a",
    "ο": "o",
    "ρ": "p",
    "ν": "v",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "τ": "t",
    "υ": "u",
    "Α": "a",
    "Β": "b",
    "Ε": "e",
    "Ζ": "z",
    "Η": "h",
    "Ι": "i",
    "Κ": "k",
    "Μ": "m",
    "Ν": "n",
    "Ο": "o",
    "Ρ": "p",
    "Τ": "t",
    "Υ": "y",
    "Χ": "x",
    # dashes and minus signs
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "﹣": "-",
    "－": "-",
}

_ONE_TO_ONE: dict[int, str] = {ord(k): v for k, v in HOMOGLYPHS.items()}
for _cp in range(0xFF01, 0xFF5F):  # full-width ASCII block
    _ONE_TO_ONE.setdefault(_cp, chr(_cp - 0xFEE0))
_ONE_TO_ONE[0x3000] = " "  # ideographic space
_NEEDS_SLOW = re.compile(f"[{ZERO_WIDTH}]")

SEPARATORS = re.compile(r"[\s\-._/\\()\[\]{},'\"*+:;~·•`^=<>?#、，。：；（）【】《》“”‘’]+")

_NON_SEPARATORS = re.compile(SEPARATORS.pattern.replace("[", "[^", 1).rstrip("+") + "+")

LEET = {"@": "a", "4": "a", "3": "e", "1": "i", "0": "o", "$": "s", "5": "s", "7": "t", "!": "i", "|": "l"}
# Only between two letters: "25kg" or "@handle" are not leetspeak, "f3ntanyl", "fent@nyl" and
# "fen74nyl" (two in a row) are.
_LEET_RE = re.compile(r"(?<=[a-z])[@4310$57|!]{1,2}(?=[a-z])")

_char_cache: dict[str, str] = {}


def _norm_char(ch: str) -> str:
    """Normalised form of one character (possibly empty or several characters)."""
    out = _char_cache.get(ch)
    if out is None:
        if ch in ZERO_WIDTH:
            out = ""
        else:
            out = unicodedata.normalize("NFKC", ch)
            out = "".join(HOMOGLYPHS.get(c, c) for c in out).lower()
            out = "".join(HOMOGLYPHS.get(c, c) for c in out)
        _char_cache[ch] = out
    return out


def normalize_term(text: str) -> str:
    """The `norm` view of a lexicon term (no offsets needed)."""
    return "".join(_norm_char(c) for c in text)


def compact_term(text: str) -> str:
    return SEPARATORS.sub("", normalize_term(text))


@dataclass
class NormText:
    """The normalised views of one text and the maps between them."""

    original: str
    norm: str
    _offsets: list[int] | None  # norm index -> original index; None = identity
    compact: str = ""
    _seg_compact: list[int] = field(default_factory=list)  # start of each segment in compact
    _seg_norm: list[int] = field(default_factory=list)  # start of the same segment in norm
    _leet: list[str] | None = None

    def norm_to_orig(self, i: int) -> int:
        return i if self._offsets is None else self._offsets[i]

    def orig_span(self, nstart: int, nend: int) -> tuple[int, int]:
        """Original [start, end) covering norm characters [nstart, nend)."""
        return self.norm_to_orig(nstart), self.norm_to_orig(nend - 1) + 1

    def compact_to_norm(self, i: int) -> int:
        k = bisect_right(self._seg_compact, i) - 1
        return self._seg_norm[k] + (i - self._seg_compact[k])

    def compact_span_to_norm(self, cstart: int, cend: int) -> tuple[int, int]:
        return self.compact_to_norm(cstart), self.compact_to_norm(cend - 1) + 1

    @property
    def leet(self) -> list[str]:
        """Leetspeak-decoded compact views ("1" read as "i", then as "l"); empty when nothing
        in the text looks like leetspeak."""
        if self._leet is None:
            views: list[str] = []
            # decided in the norm view, where "1-boc-4-..." digits stand next to separators
            if _LEET_RE.search(self.norm):
                views.append(SEPARATORS.sub("", _LEET_RE.sub(lambda m: "".join(LEET[c] for c in m.group()), self.norm)))
                if "1" in self.norm:
                    alt = _LEET_RE.sub(lambda m: "".join("l" if c == "1" else LEET[c] for c in m.group()), self.norm)
                    alt = SEPARATORS.sub("", alt)
                    if alt != views[0]:
                        views.append(alt)
            self._leet = views
        return self._leet


def normalize(text: str) -> NormText:
    if text.isascii():
        norm, offsets = text.lower(), None
    else:
        fast = text.translate(_ONE_TO_ONE)
        if not _NEEDS_SLOW.search(fast) and unicodedata.is_normalized("NFKC", fast):
            norm = fast.lower()
            offsets = None
            if len(norm) != len(text):  # rare case-folding expansion (e.g. "İ")
                norm, offsets = _slow(text)
        else:
            norm, offsets = _slow(text)
    nt = NormText(text, norm, offsets)
    _build_compact(nt)
    return nt


def _slow(text: str) -> tuple[str, list[int]]:
    parts: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        m = _norm_char(ch)
        if m:
            parts.append(m)
            offsets.extend([i] * len(m))
    return "".join(parts), offsets


def _build_compact(nt: NormText) -> None:
    norm = nt.norm
    spans = [m.span() for m in _NON_SEPARATORS.finditer(norm)]
    nt.compact = "".join(norm[a:b] for a, b in spans)
    nt._seg_norm = [a for a, _ in spans]
    nt._seg_compact = list(accumulate((b - a for a, b in spans[:-1]), initial=0)) if spans else []
