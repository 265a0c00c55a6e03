"""The detector: one trained spaCy pipeline per language, loaded from a versioned directory.

    model_dir/
      detector.json      {"model_version": ..., "langs": [...], ...}
      en/ es/ zh/        each a spaCy pipeline directory (`spacy.load`-able once
                         `nlp.components` is imported; meta.json carries the same version)

`Detector.load(dir).detect(records)` yields one `Detection` per `DetectInput`, in order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import cast

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import precursor_watch.nlp.components  # noqa: F401  (registers the pwatch_* factories)
from precursor_watch.nlp.components import OFFER_LABEL, SubstanceComponent
from precursor_watch.nlp.detection import (
    ControlEntry,
    DetectInput,
    Detection,
    DetectionError,
    Reason,
    SignalHitOut,
    SubstanceHit,
)
from precursor_watch.nlp.lexicon import Lexicon
from precursor_watch.nlp.matching import SubstanceMatch
from precursor_watch.nlp.normalize import normalize
from precursor_watch.nlp.signals import SignalHit

LANGS = ("en", "es", "zh")
MANIFEST = "detector.json"

# Texts longer than LONG_TEXT_CHARS are judged in overlapping windows of WINDOW_CHARS. spaCy
# refuses texts over its max_length (1,000,000, error E088), and the zh segmenter's tokenisation
# is quadratic in the text length (measured on one doc: zh 100k chars 0.9 s, 200k 3.7 s, 1M 43 s;
# en 1M 1.2 s, +74 MB). Windows are listing-sized because the bag-of-words classifier sums over
# the whole doc: an offer inside 10k characters of legal boilerplate scored P(offer) 0.00.
LONG_TEXT_CHARS = 100_000
WINDOW_CHARS = 5_000
WINDOW_OVERLAP = 2_000  # a match or an offer of up to 1,000 characters is seen whole in its window
WINDOW_BATCH = 64  # windows in memory at once
# The bag-of-words classifier sums over its doc, so a page padded with repeated template lines
# sways it either way (measured: 10k characters of lorem ipsum took a news text from P(offer)
# 0.25 to 0.999); in a long text, lines repeated this often are left out of what it reads.
REPEATED_LINE_MIN = 5
MAX_REASON = 1000  # characters of an exception kept as the reason a detection failed

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ES = re.compile(r"[ñ¿¡áéíóú]|\b(?:de|el|la|los|las|para|con|por|envío|envio|precio|venta|disponible|pureza|y|en|del)\b")
_EN = re.compile(r"\b(?:the|and|for|with|of|to|price|shipping|purity|in|we|our|sale|stock)\b")


class ModelError(RuntimeError):
    """The model directory is missing, incomplete or from another version."""


def guess_lang(text: str) -> str:
    if len(_CJK.findall(text)) >= max(2, len(text) // 20):
        return "zh"
    low = text.lower()
    return "es" if len(_ES.findall(low)) > len(_EN.findall(low)) else "en"


class Detector:
    def __init__(self, pipelines: dict[str, Language], model_version: str, model_dir: Path | None = None):
        self.pipelines = pipelines
        self.model_version = model_version
        self.model_dir = model_dir
        # spaCy types get_pipe as a plain Doc callable; this name is always our component
        substances = cast(SubstanceComponent, next(iter(pipelines.values())).get_pipe("pwatch_substances"))
        self._lexicon = substances.ready_matcher().lexicon
        self._controls: dict[tuple[str, object], tuple[ControlEntry, ...]] = {}

    @classmethod
    def load(cls, model_dir: Path) -> Detector:
        model_dir = Path(model_dir)
        manifest = model_dir / MANIFEST
        if not manifest.is_file():
            raise ModelError(f"{model_dir}: not a detector model (no {MANIFEST}); train one with `pwatch nlp train`")
        info = json.loads(manifest.read_text(encoding="utf-8"))
        version = info["model_version"]
        pipelines = {}
        for lang in info["langs"]:
            nlp = spacy.load(model_dir / lang)
            got = nlp.meta.get("pwatch_model_version")
            if got != version:
                raise ModelError(f"{model_dir / lang}: model version {got!r} differs from {MANIFEST} ({version!r})")
            pipelines[lang] = nlp
        return cls(pipelines, version, model_dir)

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    def controls(self, substance_id: str, date) -> tuple[ControlEntry, ...]:
        """Control entries of one substance in force at `date` (all of them when None)."""
        key = (substance_id, date)
        got = self._controls.get(key)
        if got is None:
            got = tuple(ControlEntry(substance_id, c.jurisdiction, c.status, c.effective, c.source)
                        for c in self._lexicon.substances[substance_id].controls_at(date))
            if len(self._controls) < 100_000:
                self._controls[key] = got
        return got

    def detect(self, records: Iterable[DetectInput], batch_size: int = 256) -> Iterator[Detection]:
        """One `Detection` per record, in order; the first exception stops the run."""
        it = iter(records)
        while True:
            chunk = list(islice(it, batch_size))
            if not chunk:
                return
            yield from self._detect_chunk(chunk, batch_size)

    def detect_each(self, records: Iterable[DetectInput], batch_size: int = 256) -> Iterator[Detection | DetectionError]:
        """Like `detect`, but a record whose detection raises yields a `DetectionError` and the
        others are still judged (a failing batch is redone one record at a time)."""
        it = iter(records)
        while True:
            chunk = list(islice(it, batch_size))
            if not chunk:
                return
            try:
                results: list[Detection | DetectionError] = list(self._detect_chunk(chunk, batch_size))
            except Exception:  # noqa: BLE001 - isolate the record below, whatever it raised
                results = [self._detect_one(rec) for rec in chunk]
            yield from results

    def _detect_one(self, rec: DetectInput) -> Detection | DetectionError:
        try:
            return self._detect_chunk([rec], 1)[0]
        except Exception as exc:  # noqa: BLE001 - reported per record, never swallowed silently
            return DetectionError(rec.id, f"{type(exc).__name__}: {exc}"[:MAX_REASON])

    def _detect_chunk(self, chunk: list[DetectInput], batch_size: int) -> list[Detection]:
        langs = [self._lang(r) for r in chunk]
        texts = [_joined(r) for r in chunk]
        docs: list[Doc | None] = [None] * len(chunk)
        for lang in set(langs):
            nlp = self.pipelines[lang]
            limit = min(LONG_TEXT_CHARS, nlp.max_length)
            idx = [i for i, lg in enumerate(langs) if lg == lang and len(texts[i]) <= limit]
            made = []
            for i in idx:
                doc = nlp.make_doc(texts[i])
                doc._.pw_norm = normalize(texts[i])  # spares the pipeline a re-join of doc.text
                made.append(doc)
            for i, doc in zip(idx, nlp.pipe(made, batch_size=batch_size), strict=True):
                docs[i] = doc
        out = []
        for rec, lang, text, parsed in zip(chunk, langs, texts, docs, strict=True):
            if parsed is None:
                out.append(self._build(rec, lang, self._judge_windows(text, lang)))
            else:
                out.append(self._build(rec, lang, _Judgement.of(parsed)))
        return out

    def _judge_windows(self, text: str, lang: str) -> _Judgement:
        """A text longer than one window, judged window by window (see `windows`)."""
        nlp = self.pipelines[lang]
        spans = windows(len(text), WINDOW_CHARS, WINDOW_OVERLAP)

        boilerplate = _repeated_lines(text)

        def made() -> Iterator[Doc]:
            for start, end, _lo, _hi in spans:
                part = text[start:end]
                # the classifier reads the window without the page's boilerplate; the matchers
                # read every character (their offsets come from pw_norm, not from the tokens)
                doc = nlp.make_doc(_without_lines(part, boilerplate) if boilerplate else part)
                doc._.pw_norm = normalize(part)
                yield doc

        subs: list[SubstanceMatch] = []
        sigs: list[SignalHit] = []
        best: _Judgement | None = None
        for (start, _end, lo, hi), doc in zip(spans, nlp.pipe(made(), batch_size=WINDOW_BATCH), strict=True):
            one = _Judgement.of(doc)
            # each window keeps only the matches that start in the part it owns: found once
            subs += [replace(m, start=m.start + start, end=m.end + start) for m in one.substances
                     if lo <= m.start + start < hi]
            sigs += [replace(h, start=h.start + start, end=h.end + start) for h in one.signals
                     if lo <= h.start + start < hi]
            if best is None or one.score > best.score:
                best = one  # an offer anywhere in the page counts: the best window decides
        assert best is not None
        return replace(best, substances=tuple(subs), signals=tuple(sigs))

    def _lang(self, rec: DetectInput) -> str:
        lang = rec.lang if rec.lang in self.pipelines else guess_lang(((rec.title or "") + " " + rec.text)[:2000])
        return lang if lang in self.pipelines else next(iter(self.pipelines))

    def _build(self, rec: DetectInput, lang: str, judged: _Judgement) -> Detection:
        lex = self._lexicon
        title_len = len(rec.title) if rec.title else -1

        def locate(start: int, end: int) -> tuple[str, int, int] | None:
            if title_len < 0:
                return "text", start, end
            if end <= title_len:
                return "title", start, end
            if start > title_len:
                return "text", start - title_len - 1, end - title_len - 1
            return None  # straddles the title/text seam: not a real mention

        subs: list[SubstanceHit] = []
        for m in judged.substances:
            loc = locate(m.start, m.end)
            if loc is None:
                continue
            s = lex.substances[m.substance_id]
            subs.append(SubstanceHit(s.id, s.name, s.tier, s.category, m.matched, loc[0], loc[1], loc[2], m.how, m.detail))
        sigs: list[SignalHitOut] = []
        for h in judged.signals:
            loc = locate(h.start, h.end)
            if loc is not None:
                sigs.append(SignalHitOut(h.kind, h.matched, loc[0], loc[1], loc[2], h.red_flag))
        reasons: list[Reason] = []
        for hit in subs:
            how = hit.how + (f" ({hit.detail})" if hit.detail else "")
            reasons.append(Reason(f"{hit.tier} substance {hit.name} [{hit.id}, {hit.category}] matched by {how}",
                                  hit.field, hit.start, hit.end, hit.matched))
        seen_kinds = set()
        for g in sigs:
            if g.kind in seen_kinds:
                continue
            seen_kinds.add(g.kind)
            label = "refusal or legal-only statement" if g.kind == "refusal" else f"trade signal: {g.kind}"
            reasons.append(Reason(label + (" (red flag)" if g.red_flag else ""), g.field, g.start, g.end, g.matched))
        ids = tuple(dict.fromkeys(hit.id for hit in subs))
        controls = tuple(c for sid in ids for c in self.controls(sid, rec.listing_date))
        return Detection(
            id=rec.id, flagged=judged.flagged, score=judged.score, lang=lang,
            substances=tuple(subs), signals=tuple(sigs), reasons=tuple(reasons), controls=controls,
            model_version=self.model_version, offer_probability=round(judged.p_offer, 4), gate=judged.gate,
            substance_ids=ids,
        )


def _joined(rec: DetectInput) -> str:
    return f"{rec.title}\n{rec.text}" if rec.title else rec.text


@dataclass(frozen=True)
class _Judgement:
    """What the pipeline concluded about one doc (or, merged, about all windows of a text)."""

    substances: tuple[SubstanceMatch, ...]
    signals: tuple[SignalHit, ...]
    flagged: bool
    score: float
    gate: str
    p_offer: float

    @classmethod
    def of(cls, doc: Doc) -> _Judgement:
        ext = doc._
        return cls(tuple(ext.pw_substances or ()), tuple(ext.pw_signals or ()), bool(ext.pw_flagged),
                   float(ext.pw_score), ext.pw_gate or "", float(doc.cats.get(OFFER_LABEL, 0.0)))


def _repeated_lines(text: str) -> frozenset[str]:
    """Lines a long page repeats REPEATED_LINE_MIN times or more: template, not the listing."""
    counts = Counter(text.split("\n"))
    return frozenset(line for line, n in counts.items() if n >= REPEATED_LINE_MIN and line.strip())


def _without_lines(part: str, lines: frozenset[str]) -> str:
    return "\n".join(line for line in part.split("\n") if line not in lines)


def windows(n: int, size: int = WINDOW_CHARS, overlap: int = WINDOW_OVERLAP) -> list[tuple[int, int, int, int]]:
    """Overlapping windows over a text of `n` characters: (start, end, own_start, own_end).

    Consecutive windows share `overlap` characters; the boundary of ownership lies in the middle
    of the shared part. A match starting in a window's own part and at most `overlap // 2` long
    lies wholly inside that window, with `overlap // 2` characters of context on each side, so it
    is found there and kept once; the same match seen by the neighbour is dropped there.
    """
    if not 0 < overlap < size:
        raise ValueError(f"window overlap {overlap} must lie between 0 and the window size {size}")
    if n <= size:
        return [(0, n, 0, n)]
    step = size - overlap
    count = -(-(n - size) // step) + 1
    starts = [k * step for k in range(count)]
    cuts = [0] + [s + overlap // 2 for s in starts[1:]] + [n]
    return [(s, min(s + size, n), cuts[k], cuts[k + 1]) for k, s in enumerate(starts)]
