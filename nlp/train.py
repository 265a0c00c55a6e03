"""Build the pipelines from `nlp/config.cfg` and train the context classifier, reproducibly.

`train(examples, out_dir, seed)` → a versioned model directory (see `nlp.detector`). Examples are
plain dicts: `text`, `title` (optional), `lang`, `label` (0/1), `kind`, `substances`. The same
examples and seed give the same weights and the same `model_version`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import spacy
from spacy.language import Language
from spacy.pipeline import TextCategorizer
from spacy.training import Example
from spacy.util import fix_random_seed, load_model_from_config, minibatch
from thinc.api import Config

import precursor_watch.nlp.components  # noqa: F401  (registers the pwatch_* factories)
from precursor_watch.nlp.components import OFFER_LABEL, OTHER_LABEL, SignalComponent, SubstanceComponent
from precursor_watch.nlp.detector import LANGS, MANIFEST
from precursor_watch.nlp.focus import FOCUS_MIN_CHARS, FOCUS_RADIUS, mention_spans, window_text

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.cfg"
PACKAGE_VERSION = "0.1.0"


class TrainingError(ValueError):
    """The training examples are unusable (names the example and field)."""


def load_config(config_path: Path = DEFAULT_CONFIG, lang: str = "en", seed: int = 0) -> Config:
    config = Config().from_disk(config_path, overrides={"system.seed": seed})
    config["nlp"]["lang"] = lang
    if lang == "zh":  # one token per character: no downloads, and matching is per character anyway
        config["nlp"]["tokenizer"] = {"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "char"}
        # A bag of single characters cannot tell 处方药 (a prescription drug) from 无需处方 (no
        # prescription needed): character pairs are the words a Chinese bag of words needs.
        config["components"]["textcat"]["model"]["ngram_size"] = ZH_NGRAM_SIZE
    return config


ZH_NGRAM_SIZE = 2
# What `load_config` sets per language beyond the config file: part of the data fingerprint and the
# model version, so a model trained before a change here is retrained.
LANG_SETTINGS = f"\n# zh: char segmenter, textcat ngram_size {ZH_NGRAM_SIZE}\n"


def build_pipeline(lang: str, config_path: Path = DEFAULT_CONFIG, seed: int = 0) -> Language:
    return load_model_from_config(load_config(config_path, lang, seed), auto_fill=True, validate=True)


def _check(examples: list[dict]) -> None:
    for i, ex in enumerate(examples):
        if not isinstance(ex.get("text"), str):
            raise TrainingError(f"example #{i + 1}: `text` must be a string")
        if ex.get("label") not in (0, 1):
            raise TrainingError(f"example #{i + 1}: `label` must be 0 or 1, got {ex.get('label')!r}")
        if ex.get("lang") not in LANGS:
            raise TrainingError(f"example #{i + 1}: `lang` must be one of {LANGS}, got {ex.get('lang')!r}")


def data_fingerprint(config_path: Path = DEFAULT_CONFIG) -> str:
    """SHA-256 over the config and the packaged lexicon and signal files a model is built from."""
    from precursor_watch.nlp.lexicon import DEFAULT_LEXICON
    from precursor_watch.nlp.signals import DEFAULT_SIGNALS

    h = hashlib.sha256(LANG_SETTINGS.encode())
    for path in (Path(config_path), DEFAULT_LEXICON, DEFAULT_SIGNALS):
        h.update(path.read_bytes())
    return h.hexdigest()


def model_version(examples: list[dict], seed: int, config_text: str, data_texts: list[str]) -> str:
    h = hashlib.sha256()
    h.update(str(seed).encode())
    h.update(config_text.encode())
    for t in data_texts:
        h.update(t.encode())
    for ex in examples:
        h.update(json.dumps([ex.get("title"), ex["text"], ex["lang"], ex["label"]], ensure_ascii=False).encode())
    return f"pwatch-detector-{PACKAGE_VERSION}+{h.hexdigest()[:12]}"


def train(
    examples: list[dict],
    out_dir: Path,
    seed: int = 0,
    config_path: Path = DEFAULT_CONFIG,
    manifest_extra: dict | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Train and write the model; `manifest_extra` is recorded in the manifest (e.g. the analyst
    decisions a model was trained with). Every example takes part in the model version.
    `on_progress(done, total)` after every minibatch, counted in examples seen (each example once
    per epoch)."""
    _check(examples)
    out_dir = Path(out_dir)
    config_text = Path(config_path).read_text(encoding="utf-8") + LANG_SETTINGS
    langs = [lg for lg in LANGS if any(ex["lang"] == lg for ex in examples)]
    if not langs:
        raise TrainingError("no training examples")
    subsets = {lang: [ex for ex in examples if ex["lang"] == lang] for lang in langs}
    training = {lang: load_config(config_path, lang, seed)["training"] for lang in langs}
    total = sum(len(subsets[lang]) * int(training[lang].get("max_epochs", 8)) for lang in langs)
    seen = 0

    def trained(n: int) -> None:
        nonlocal seen
        seen += n
        if on_progress is not None:
            on_progress(seen, total)

    pipelines = {}
    data_texts: list[str] = []
    for lang in langs:
        fix_random_seed(seed)
        nlp = build_pipeline(lang, config_path, seed)
        _train_textcat(nlp, subsets[lang], seed, training[lang], trained)
        pipelines[lang] = nlp
        if not data_texts:
            # spaCy types get_pipe as a plain Doc callable; these names are always our components
            substances = cast(SubstanceComponent, nlp.get_pipe("pwatch_substances"))
            signals = cast(SignalComponent, nlp.get_pipe("pwatch_signals"))
            substances.ready_matcher()  # loads the lexicon text if the pipeline was not initialized
            if substances.lexicon_text is None:
                raise RuntimeError("pwatch_substances: no lexicon text after initialize")
            data_texts = [substances.lexicon_text, signals.ready_matcher().text]
    version = model_version(examples, seed, config_text, data_texts)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".model-", dir=out_dir.parent))
    try:
        for lang, nlp in pipelines.items():
            nlp.meta["name"] = f"pwatch_detector_{lang}"
            nlp.meta["version"] = PACKAGE_VERSION
            nlp.meta["pwatch_model_version"] = version
            nlp.meta["description"] = (
                "Precursor Watch detector: lexicon, obfuscation-proof matching, trade signals, textcat"
            )
            nlp.to_disk(tmp / lang)
        counts = {lg: sum(1 for ex in examples if ex["lang"] == lg) for lg in langs}
        (tmp / MANIFEST).write_text(
            json.dumps(
                {
                    "model_version": version,
                    "langs": langs,
                    "seed": seed,
                    "examples": counts,
                    "data_sha256": data_fingerprint(config_path),
                    **(manifest_extra or {}),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


# Kinds that are offers to trade, whatever the substance: the classifier learns the *context*
# (offer vs news, regulation, research, refusal, harm reduction); which substance is offered is the
# lexicon's and the scorer's business (an ordinary or a plain watched offer stays below the gate).
OFFER_KINDS = ("offer_monitored", "offer_watched_redflag", "offer_watched_plain", "ordinary_chemical")
CONTEXT_KINDS = ("news", "regulation", "research", "refusal", "harm_reduction")


def is_offer(ex: dict) -> bool:
    kind = ex.get("kind")
    if kind in OFFER_KINDS:
        return True
    if kind in CONTEXT_KINDS:
        return False
    return bool(ex["label"])  # unknown kind: fall back to the flag label


def _train_textcat(nlp: Language, subset: list[dict], seed: int, cfg: dict, trained: Callable[[int], None]) -> None:
    def example(ex: dict) -> Example:
        text = f"{ex['title']}\n{ex['text']}" if ex.get("title") else ex["text"]
        y = float(is_offer(ex))
        view = classifier_view(nlp, text, len(ex["title"]) if ex.get("title") else 0)
        return Example.from_dict(nlp.make_doc(view), {"cats": {OFFER_LABEL: y, OTHER_LABEL: 1.0 - y}})

    data = [example(ex) for ex in subset]
    textcat = cast(TextCategorizer, nlp.get_pipe("textcat"))  # spaCy types get_pipe as a Doc callable
    textcat.add_label(OFFER_LABEL)
    textcat.add_label(OTHER_LABEL)
    spacy_log = logging.getLogger("spacy")
    level = spacy_log.level
    spacy_log.setLevel(logging.WARNING)  # "Created vocabulary" x3 is noise on every `pwatch flag`
    try:
        optimizer = nlp.initialize(lambda: data)
    finally:
        spacy_log.setLevel(level)
    rng = random.Random(seed)
    for _ in range(int(cfg.get("max_epochs", 8))):
        rng.shuffle(data)
        for batch in minibatch(data, size=int(cfg.get("batch_size", 32))):
            nlp.update(
                batch,
                sgd=optimizer,
                drop=float(cfg.get("dropout", 0.2)),
                exclude=[n for n in nlp.pipe_names if n != "textcat"],
            )
            trained(len(batch))


def classifier_view(nlp: Language, text: str, title_len: int) -> str:
    """What the classifier reads of one text: the whole of a short one; of a long one, the title
    and the words around its first substance mention (the detector reads every mention's window
    this way and the best one decides, `nlp.detector._judge_docs`; pages introduce what they
    offer at its first mention, under the title)."""
    if len(text) <= FOCUS_MIN_CHARS:
        return text
    doc = nlp.make_doc(text)
    for name in ("pwatch_normalizer", "pwatch_substances"):
        doc = nlp.get_pipe(name)(doc)
    spans = mention_spans(len(text), title_len, [(m.start, m.end) for m in doc._.pw_substances or ()])
    if not spans:
        return window_text(text, (title_len, min(len(text), title_len + 2 * FOCUS_RADIUS)), title_len)
    return window_text(text, spans[0], title_len)


__all__ = ["train", "build_pipeline", "load_config", "TrainingError", "spacy"]
