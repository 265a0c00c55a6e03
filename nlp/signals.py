"""Trade signals (price, MOQ, stock, samples, shipping, customs/stealth, messengers, payment,
refusals) from reviewed regular expressions in `nlp/lexicon/signals.toml`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nlp.normalize import NormText

DEFAULT_SIGNALS = Path(__file__).resolve().parent / "lexicon" / "signals.toml"
KNOWN_KINDS = (
    "price", "moq", "stock", "sample", "shipping", "customs_stealth", "messenger",
    "encrypted_messenger", "payment", "refusal",
)


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
    _kinds: list[tuple[str, re.Pattern, bool]]

    @classmethod
    def from_text(cls, text: str, source: str = "<signals>") -> "SignalMatcher":
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
        for kind, spec in kinds.items():
            if kind not in KNOWN_KINDS:
                raise SignalsError(f"{source}: kinds.{kind}: unknown signal kind (known: {', '.join(KNOWN_KINDS)})")
            patterns = spec.get("patterns") if isinstance(spec, dict) else None
            if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
                raise SignalsError(f"{source}: kinds.{kind}: `patterns` must be a non-empty list of strings")
            for i, p in enumerate(patterns, start=1):
                try:
                    re.compile(p)
                except re.error as exc:
                    raise SignalsError(f"{source}: kinds.{kind}: pattern #{i} {p!r}: {exc}") from None
            rx = re.compile("|".join(f"(?:{p})" for p in patterns))
            compiled.append((kind, rx, bool(spec.get("red_flag", False))))
        return cls(version, source, text, compiled)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_SIGNALS) -> "SignalMatcher":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SignalsError(f"{path}: cannot read signals: {exc.strerror}") from None
        return cls.from_text(text, str(path))

    def find(self, nt: NormText) -> list[SignalHit]:
        hits = []
        for kind, rx, red in self._kinds:
            for m in rx.finditer(nt.norm):
                if m.end() <= m.start():
                    continue
                start, end = nt.orig_span(m.start(), m.end())
                hits.append(SignalHit(kind, start, end, nt.original[start:end], red))
        hits.sort(key=lambda h: (h.start, h.kind))
        return hits
