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
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import nlp.components  # noqa: F401  (registers the pwatch_* factories)
from nlp.components import OFFER_LABEL
from nlp.detection import ControlEntry, Detection, DetectInput, Reason, SignalHitOut, SubstanceHit
from nlp.lexicon import Lexicon
from nlp.normalize import normalize

LANGS = ("en", "es", "zh")
MANIFEST = "detector.json"

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
        self._lexicon = next(iter(pipelines.values())).get_pipe("pwatch_substances").lexicon
        self._controls: dict[tuple[str, object], tuple[ControlEntry, ...]] = {}

    @classmethod
    def load(cls, model_dir: Path) -> "Detector":
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
        it = iter(records)
        while True:
            chunk = list(islice(it, batch_size))
            if not chunk:
                return
            langs = [self._lang(r) for r in chunk]
            docs: list[Doc | None] = [None] * len(chunk)
            for lang in set(langs):
                idx = [i for i, lg in enumerate(langs) if lg == lang]
                nlp = self.pipelines[lang]
                made = []
                for i in idx:
                    text = _joined(chunk[i])
                    doc = nlp.make_doc(text)
                    doc._.pw_norm = normalize(text)  # spares the pipeline a re-join of doc.text
                    made.append(doc)
                for i, doc in zip(idx, nlp.pipe(made, batch_size=batch_size)):
                    docs[i] = doc
            for rec, lang, doc in zip(chunk, langs, docs):
                yield self._result(rec, lang, doc)

    def _lang(self, rec: DetectInput) -> str:
        lang = rec.lang if rec.lang in self.pipelines else guess_lang(((rec.title or "") + " " + rec.text)[:2000])
        return lang if lang in self.pipelines else next(iter(self.pipelines))

    def _result(self, rec: DetectInput, lang: str, doc: Doc) -> Detection:
        lex = self._lexicon
        ext = doc._
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
        for m in ext.pw_substances or []:
            loc = locate(m.start, m.end)
            if loc is None:
                continue
            s = lex.substances[m.substance_id]
            subs.append(SubstanceHit(s.id, s.name, s.tier, s.category, m.matched, loc[0], loc[1], loc[2], m.how, m.detail))
        sigs: list[SignalHitOut] = []
        for h in ext.pw_signals or []:
            loc = locate(h.start, h.end)
            if loc is not None:
                sigs.append(SignalHitOut(h.kind, h.matched, loc[0], loc[1], loc[2], h.red_flag))
        reasons: list[Reason] = []
        for h in subs:
            how = h.how + (f" ({h.detail})" if h.detail else "")
            reasons.append(Reason(f"{h.tier} substance {h.name} [{h.id}, {h.category}] matched by {how}",
                                  h.field, h.start, h.end, h.matched))
        seen_kinds = set()
        for g in sigs:
            if g.kind in seen_kinds:
                continue
            seen_kinds.add(g.kind)
            label = "refusal or legal-only statement" if g.kind == "refusal" else f"trade signal: {g.kind}"
            reasons.append(Reason(label + (" (red flag)" if g.red_flag else ""), g.field, g.start, g.end, g.matched))
        p_offer = float(doc.cats.get(OFFER_LABEL, 0.0))
        ids = tuple(dict.fromkeys(h.id for h in subs))
        controls = tuple(c for sid in ids for c in self.controls(sid, rec.listing_date))
        return Detection(
            id=rec.id, flagged=bool(ext.pw_flagged), score=float(ext.pw_score), lang=lang,
            substances=tuple(subs), signals=tuple(sigs), reasons=tuple(reasons), controls=controls,
            model_version=self.model_version, offer_probability=round(p_offer, 4), gate=ext.pw_gate or "",
            substance_ids=ids,
        )


def _joined(rec: DetectInput) -> str:
    return f"{rec.title}\n{rec.text}" if rec.title else rec.text
