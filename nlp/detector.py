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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import cast

import spacy
from spacy.language import Language
from spacy.pipeline import TextCategorizer
from spacy.tokens import Doc

import precursor_watch.nlp.components  # noqa: F401  (registers the pwatch_* factories)
from precursor_watch.nlp.components import OFFER_LABEL, OTHER_LABEL, SubstanceComponent
from precursor_watch.nlp.detection import (
    OFFER_SIGNAL_REASONS,
    ControlEntry,
    DetectInput,
    Detection,
    DetectionError,
    Reason,
    SignalHitOut,
    SubstanceHit,
)
from precursor_watch.nlp.focus import FOCUS_MIN_CHARS, mention_spans, window_text
from precursor_watch.nlp.lexicon import Lexicon
from precursor_watch.nlp.matching import SubstanceMatch
from precursor_watch.nlp.normalize import normalize
from precursor_watch.nlp.offered import excluded
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
MAX_REASON = 1000  # characters of an exception kept as the reason a detection failed

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ES = re.compile(
    r"[ñ¿¡áéíóú]|\b(?:de|el|la|los|las|para|con|por|envío|envio|precio|venta|disponible|pureza|y|en|del)\b"
)
_EN = re.compile(r"\b(?:the|and|for|with|of|to|price|shipping|purity|in|we|our|sale|stock)\b")


_SIGNAL_LABELS = {
    "refusal": "refusal or legal-only statement",
    "legal_only": "legal-only statement (in-clinic use, not sold online, not a shop)",
    "restricted_sale": "sale restricted to licensed buyers or prescription (still an offer)",
    "relation": "a name given as the relative of another (mentioned, not offered)",
    "report": "the page calls itself a report, notice or alert (news, regulation, research wording)",
    "not_a_substance": "the product is no substance (a book, poster or analyser about them)",
    "aside": "related-products or see-also list (names in it are mentioned, not offered)",
    "prohibited": "prohibited-items list of a policy page (names in it are mentioned, not offered)",
}


class ModelError(RuntimeError):
    """The model directory is missing, incomplete or from another version."""


_LANG_ALIASES = {"zh": "zh", "cmn": "zh", "chi": "zh", "zho": "zh", "en": "en", "eng": "en", "es": "es", "spa": "es"}


def resolve_lang(declared: str | None, sample: str) -> tuple[str, str]:
    """The pipeline language for a declared tag: (lang, "declared") for en/zh/es, (lang,
    "normalised") for a variant of them (`zh-CN`, `EN_us`, `es-419`, `spa`), and (guess,
    "guessed") for anything else (`mixed`, `de`, none) from the text."""
    if declared in ("en", "zh", "es"):
        return declared, "declared"
    if isinstance(declared, str):
        primary = declared.strip().lower().replace("_", "-").split("-")[0]
        if primary in _LANG_ALIASES:
            return _LANG_ALIASES[primary], "normalised"
    return guess_lang(sample), "guessed"


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
            got = tuple(
                ControlEntry(substance_id, c.jurisdiction, c.status, c.effective, c.source)
                for c in self._lexicon.substances[substance_id].controls_at(date)
            )
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

    def detect_each(
        self, records: Iterable[DetectInput], batch_size: int = 256
    ) -> Iterator[Detection | DetectionError]:
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
        for lang in {lg for lg, _ in langs}:
            nlp = self.pipelines[lang]
            limit = min(LONG_TEXT_CHARS, nlp.max_length)
            idx = [i for i, (lg, _) in enumerate(langs) if lg == lang and len(texts[i]) <= limit]
            made = []
            for i in idx:
                doc = _make_doc(nlp, texts[i])
                doc._.pw_norm = normalize(texts[i])  # spares the pipeline a re-join of doc.text
                doc._.pw_page = chunk[i].offer_signals
                doc._.pw_title_len = _title_len(chunk[i])
                made.append((doc, doc._.pw_title_len))
            for i, doc in zip(idx, _judge_docs(nlp, made, batch_size), strict=True):
                docs[i] = doc
        out = []
        for rec, (lang, source), text, judged_doc in zip(chunk, langs, texts, docs, strict=True):
            # no doc: the text was too long for one, it is judged window by window
            judged = self._judge_windows(text, lang, rec) if judged_doc is None else _Judgement.of(judged_doc)
            out.append(self._build(rec, lang, source, judged))
        return out

    def _judge_windows(self, text: str, lang: str, rec: DetectInput) -> _Judgement:
        """A text longer than one window, judged window by window (see `windows`)."""
        nlp = self.pipelines[lang]
        spans = windows(len(text), WINDOW_CHARS, WINDOW_OVERLAP)

        title_len = _title_len(rec)

        def made() -> Iterator[tuple[Doc, int]]:
            for start, end, _lo, _hi in spans:
                part = text[start:end]
                # each window is a long text of its own: judged mention by mention, so a page's
                # repeated boilerplate is never what the classifier reads
                doc = _make_doc(nlp, part)
                doc._.pw_norm = normalize(part)
                doc._.pw_page = rec.offer_signals
                doc._.pw_title_len = title_len if start == 0 else 0
                yield doc, doc._.pw_title_len

        subs: list[SubstanceMatch] = []
        sigs: list[SignalHit] = []
        offered: list[SubstanceMatch] = []  # offered mentions of the windows judged offers
        best: _Judgement | None = None
        best_offered: list[SubstanceMatch] = []
        for (start, _end, lo, hi), doc in zip(spans, _judge_stream(nlp, made(), WINDOW_BATCH), strict=True):
            one = _Judgement.of(doc)
            # each window keeps only the matches that start in the part it owns: found once
            own = [
                replace(m, start=m.start + start, end=m.end + start)
                for m in one.substances
                if lo <= m.start + start < hi
            ]
            subs += own
            own_offered = [
                replace(m, start=m.start + start, end=m.end + start) for m in one.offered if lo <= m.start + start < hi
            ]
            if one.flagged:
                offered += own_offered
            sigs += [
                replace(h, start=h.start + start, end=h.end + start) for h in one.signals if lo <= h.start + start < hi
            ]
            if best is None or one.score > best.score:
                best = one  # an offer anywhere in the page counts: the best window decides
                best_offered = own_offered
        assert best is not None
        return replace(best, substances=tuple(subs), signals=tuple(sigs), offered=tuple(offered or best_offered))

    def _lang(self, rec: DetectInput) -> tuple[str, str]:
        """(language used, how it was chosen: declared | normalised | guessed)."""
        lang, source = resolve_lang(rec.lang, ((rec.title or "") + " " + rec.text)[:2000])
        if lang not in self.pipelines:
            return next(iter(self.pipelines)), "guessed"
        return lang, source

    def _build(self, rec: DetectInput, lang: str, lang_source: str, judged: _Judgement) -> Detection:
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
        offered_at = {(m.start, m.end) for m in judged.offered}
        mentioned_only: list[bool] = []
        for m in judged.substances:
            loc = locate(m.start, m.end)
            if loc is None:
                continue
            s = lex.substances[m.substance_id]
            subs.append(
                SubstanceHit(s.id, s.name, s.tier, s.category, m.matched, loc[0], loc[1], loc[2], m.how, m.detail)
            )
            mentioned_only.append((m.start, m.end) not in offered_at)
        sigs: list[SignalHitOut] = []
        for h in judged.signals:
            loc = locate(h.start, h.end)
            if loc is not None:
                sigs.append(SignalHitOut(h.kind, h.matched, loc[0], loc[1], loc[2], h.red_flag))
        reasons: list[Reason] = []
        for hit, only in zip(subs, mentioned_only, strict=True):
            how = hit.how + (f" ({hit.detail})" if hit.detail else "")
            aside = "; mentioned, not offered" if only else ""
            reasons.append(
                Reason(
                    f"{hit.tier} substance {hit.name} [{hit.id}, {hit.category}] matched by {how}{aside}",
                    hit.field,
                    hit.start,
                    hit.end,
                    hit.matched,
                )
            )
        seen_kinds = set()
        for g in sigs:
            if g.kind in seen_kinds:
                continue
            seen_kinds.add(g.kind)
            label = _SIGNAL_LABELS.get(g.kind, f"trade signal: {g.kind}")
            reasons.append(Reason(label + (" (red flag)" if g.red_flag else ""), g.field, g.start, g.end, g.matched))
        if rec.offer_signals is not None:
            # page evidence has no words to anchor to: field "page", an empty span
            reasons += [Reason(OFFER_SIGNAL_REASONS[k], "page", 0, 0, "") for k in rec.offer_signals.present()]
        # the substances offered (nlp.offered); the controls are those of every substance named
        ids = tuple(dict.fromkeys(h.id for h, only in zip(subs, mentioned_only, strict=True) if not only))
        named = tuple(dict.fromkeys(h.id for h in subs))
        controls = tuple(c for sid in named for c in self.controls(sid, rec.listing_date))
        return Detection(
            id=rec.id,
            flagged=judged.flagged,
            score=judged.score,
            lang=lang,
            substances=tuple(subs),
            signals=tuple(sigs),
            reasons=tuple(reasons),
            controls=controls,
            model_version=self.model_version,
            offer_probability=round(judged.p_offer, 4),
            gate=judged.gate,
            substance_ids=ids,
            lang_source=lang_source,
        )


def _joined(rec: DetectInput) -> str:
    return f"{rec.title}\n{rec.text}" if rec.title else rec.text


def _title_len(rec: DetectInput) -> int:
    return len(rec.title) if rec.title else 0


_MATCHERS = ("pwatch_normalizer", "pwatch_substances", "pwatch_signals")


def _make_doc(nlp: Language, text: str) -> Doc:
    """The doc of one text. A long one is judged on its windows, never on its own tokens, so it
    is not tokenised: one token holding the whole text (what the extensions hang on)."""
    if len(text) <= FOCUS_MIN_CHARS:
        return nlp.make_doc(text)
    return Doc(nlp.vocab, words=[text], spaces=[False])


def _judge_docs(nlp: Language, made: list[tuple[Doc, int]], batch_size: int) -> list[Doc]:
    """Run the pipeline over (doc, title length) pairs, in order. A short doc goes through the
    whole pipeline; a long one is matched whole, but its classifier reads only its focus (the
    title and the windows around its substance mentions, `nlp.focus`)."""
    out: dict[int, Doc] = {}  # index into `made` -> its judged doc
    # a long doc is judged on its pw_norm (the matchers) and its windows: never on its tokens
    short = [i for i, (doc, _) in enumerate(made) if len(doc._.pw_norm.original) <= FOCUS_MIN_CHARS]
    for i, doc in zip(short, nlp.pipe((made[i][0] for i in short), batch_size=batch_size), strict=True):
        out[i] = doc
    long = [i for i, (doc, _) in enumerate(made) if len(doc._.pw_norm.original) > FOCUS_MIN_CHARS]
    if long:
        matchers = [nlp.get_pipe(name) for name in _MATCHERS]
        views: list[Doc] = []
        owner: list[tuple[int, tuple[int, int]]] = []  # (index into `long`, span) of each view
        for k, i in enumerate(long):
            doc, title_len = made[i]
            for matcher in matchers:
                doc = matcher(doc)
            original = doc._.pw_norm.original  # the offsets of the matches index this string
            subs = doc._.pw_substances or []
            # a name in a related-products list or a refusal is no listing to judge (nlp.offered)
            gone = excluded(original, subs, doc._.pw_signals or [], relations=False)
            mentions = [(m.start, m.end) for i, m in enumerate(subs) if i not in gone]
            doc._.pw_windows = []
            doc.cats = {OFFER_LABEL: 0.0, OTHER_LABEL: 1.0}  # no mention: no offer of anything
            for span in mention_spans(len(original), title_len, mentions):
                views.append(nlp.make_doc(window_text(original, span, title_len)))
                owner.append((k, span))
            out[i] = doc
        # spaCy types get_pipe as a plain Doc callable; "textcat" is always a TextCategorizer
        textcat = cast(TextCategorizer, nlp.get_pipe("textcat"))
        for (k, (a, b)), vdoc in zip(owner, textcat.pipe(views, batch_size=batch_size), strict=True):
            doc, title_len = out[long[k]], made[long[k]][1]
            p = vdoc.cats.get(OFFER_LABEL, 0.0)
            doc._.pw_windows.append(((0, title_len), (a, b), p))
            if p > doc.cats[OFFER_LABEL]:
                doc.cats = dict(vdoc.cats)
        scorer = nlp.get_pipe("pwatch_scorer")
        for i in long:
            out[i] = scorer(out[i])
    return [out[i] for i in range(len(made))]  # every doc is short or long: all are judged


def _judge_stream(nlp: Language, made: Iterator[tuple[Doc, int]], batch: int) -> Iterator[Doc]:
    while True:
        part = list(islice(made, batch))
        if not part:
            return
        yield from _judge_docs(nlp, part, batch)


@dataclass(frozen=True)
class _Judgement:
    """What the pipeline concluded about one doc (or, merged, about all windows of a text)."""

    substances: tuple[SubstanceMatch, ...]
    signals: tuple[SignalHit, ...]
    flagged: bool
    score: float
    gate: str
    p_offer: float
    offered: tuple[SubstanceMatch, ...] = ()  # the mentions the listing offers (`nlp.offered`)

    @classmethod
    def of(cls, doc: Doc) -> _Judgement:
        ext = doc._
        return cls(
            tuple(ext.pw_substances or ()),
            tuple(ext.pw_signals or ()),
            bool(ext.pw_flagged),
            float(ext.pw_score),
            ext.pw_gate or "",
            float(doc.cats.get(OFFER_LABEL, 0.0)),
            tuple(ext.pw_offered if ext.pw_offered is not None else ext.pw_substances or ()),
        )


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
