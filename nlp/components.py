"""spaCy components of the detector, registered with `@Language.factory("pwatch_<name>")`.

Import this module before `spacy.load(model_dir)` (the `nlp.detector` module does). Pipeline:

    pwatch_normalizer → pwatch_substances → pwatch_signals → textcat → pwatch_scorer

Results live on `Doc` extensions: `doc._.pw_norm` (NormText), `doc._.pw_substances`
(list[SubstanceMatch]), `doc._.pw_signals` (list[SignalHit]), `doc._.pw_score` (float),
`doc._.pw_flagged` (bool), `doc._.pw_gate` (why the substance gate opened or stayed shut),
`doc._.pw_offered` (the mentions the listing offers, `nlp.offered`).
Offsets are character offsets into `doc.text`. The caller may set `doc._.pw_page` (the page's
`OfferSignals`) and `doc._.pw_windows` (for a long text: one (title span, mention span, P(offer))
per substance mention, see `nlp.focus`) before the scorer runs. The lexicon and signal data are loaded in
`initialize` (default: the packaged files) and saved with the pipeline (`to_disk`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import ConfigValidationError

from precursor_watch.nlp.lexicon import DEFAULT_LEXICON, Lexicon, parse_lexicon
from precursor_watch.nlp.matching import SubstanceMatcher
from precursor_watch.nlp.normalize import normalize
from precursor_watch.nlp.offered import (
    aside_spans,
    could_be_offered,
    listed_outside_refusals,
    offered_mentions,
    refuses,
    unquoted_evidence,
)
from precursor_watch.nlp.signals import CONTEXT_KINDS, DEFAULT_SIGNALS, SignalHit, SignalMatcher

_EXTENSIONS = (
    "pw_norm",
    "pw_substances",
    "pw_signals",
    "pw_score",
    "pw_flagged",
    "pw_gate",
    "pw_page",
    "pw_windows",
    "pw_title_len",  # characters of the doc that are the listing's title (0: none or unknown)
)
for _name in (*_EXTENSIONS, "pw_offered"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

TRADE_KINDS = (
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
)
# Page evidence (`OfferSignals`) as trade-evidence kinds: a price shown by the page is the same
# evidence as a price in the text; a seller is on every listing page, so it is no evidence.
PAGE_KINDS = {
    "price": "price",
    "add_to_cart": "offer_control",
    "inquiry": "offer_control",
    "schema_offer": "structured_offer",
}
# The gate of a page whose every name is in an aside, a prohibited-items list, a refusal or a
# legal-only statement, or is named as the relative of another (`nlp.offered.could_be_offered`).
NOT_OFFERED_GATE = "substances named only in asides, prohibited lists, refusals or as relatives"
OFFER_LABEL = "OFFER"
OTHER_LABEL = "OTHER"


def _norm(doc: Doc):
    if doc._.pw_norm is None:  # component used without pwatch_normalizer in front of it
        doc._.pw_norm = normalize(doc.text)
    return doc._.pw_norm


# ---------------------------------------------------------------------------- normaliser


@Language.factory("pwatch_normalizer")
def make_normalizer(nlp: Language, name: str) -> Normalizer:
    return Normalizer()


class Normalizer:
    """Computes the obfuscation-proof views of the text once per doc (kept when the caller
    already set `doc._.pw_norm` from the very string the doc was made of)."""

    def __call__(self, doc: Doc) -> Doc:
        if doc._.pw_norm is None:
            doc._.pw_norm = normalize(doc.text)
        return doc


# ---------------------------------------------------------------------------- substances


@Language.factory("pwatch_substances", default_config={"fuzzy": True})
def make_substances(nlp: Language, name: str, fuzzy: bool) -> SubstanceComponent:
    return SubstanceComponent(name, fuzzy=fuzzy)


class SubstanceComponent:
    def __init__(self, name: str, *, fuzzy: bool = True):
        self.name = name
        self.fuzzy = fuzzy
        self.lexicon_text: str | None = None
        self.lexicon: Lexicon | None = None
        self.matcher: SubstanceMatcher | None = None

    def initialize(
        self,
        get_examples: Callable[[], Iterable] | None = None,
        *,
        nlp: Language | None = None,
        lexicon_path: str | None = None,
    ) -> None:
        path = Path(lexicon_path) if lexicon_path else DEFAULT_LEXICON
        self._set(path.read_text(encoding="utf-8"), str(path))

    def _set(self, text: str, source: str) -> None:
        self.lexicon = parse_lexicon(text, source)
        self.lexicon_text = text
        self.matcher = SubstanceMatcher(self.lexicon)
        if not self.fuzzy:
            self.matcher._deletes = {}

    def ready_matcher(self) -> SubstanceMatcher:
        """The matcher, built on first use when the pipeline was loaded without `initialize`."""
        if self.matcher is None:
            self.initialize()
        if self.matcher is None:
            raise RuntimeError(f"{type(self).__name__}: initialize() built no matcher")
        return self.matcher

    def __call__(self, doc: Doc) -> Doc:
        doc._.pw_substances = self.ready_matcher().find(_norm(doc))
        return doc

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        return srsly.msgpack_dumps({"lexicon": self.lexicon_text or ""})

    def from_bytes(self, data: bytes, *, exclude=tuple()) -> SubstanceComponent:
        text = srsly.msgpack_loads(data)["lexicon"]
        if text:
            self._set(text, f"<{self.name} bytes>")
        return self

    def to_disk(self, path, *, exclude=tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.lexicon_text is None:
            self.initialize()
        (path / "substances.toml").write_text(self.lexicon_text, encoding="utf-8")

    def from_disk(self, path, *, exclude=tuple()) -> SubstanceComponent:
        file = Path(path) / "substances.toml"
        self._set(file.read_text(encoding="utf-8"), str(file))
        return self


# ---------------------------------------------------------------------------- signals


@Language.factory("pwatch_signals")
def make_signals(nlp: Language, name: str) -> SignalComponent:
    return SignalComponent(name)


class SignalComponent:
    def __init__(self, name: str):
        self.name = name
        self.matcher: SignalMatcher | None = None

    def initialize(self, get_examples=None, *, nlp: Language | None = None, signals_path: str | None = None) -> None:
        self.matcher = SignalMatcher.load(signals_path or DEFAULT_SIGNALS)

    def ready_matcher(self) -> SignalMatcher:
        """The matcher, built on first use when the pipeline was loaded without `initialize`."""
        if self.matcher is None:
            self.initialize()
        if self.matcher is None:
            raise RuntimeError(f"{type(self).__name__}: initialize() built no matcher")
        return self.matcher

    def __call__(self, doc: Doc) -> Doc:
        doc._.pw_signals = self.ready_matcher().find(_norm(doc))
        return doc

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        return srsly.msgpack_dumps({"signals": self.ready_matcher().text})

    def from_bytes(self, data: bytes, *, exclude=tuple()) -> SignalComponent:
        self.matcher = SignalMatcher.from_text(srsly.msgpack_loads(data)["signals"], f"<{self.name} bytes>")
        return self

    def to_disk(self, path, *, exclude=tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "signals.toml").write_text(self.ready_matcher().text, encoding="utf-8")

    def from_disk(self, path, *, exclude=tuple()) -> SignalComponent:
        file = Path(path) / "signals.toml"
        self.matcher = SignalMatcher.from_text(file.read_text(encoding="utf-8"), str(file))
        return self


# ---------------------------------------------------------------------------- scorer

SCORER_DEFAULTS = {
    "threshold": 0.5,
    "text_weight": 0.5,
    "signal_saturation": 4,
    "refusal_factor": 0.35,
    "context_penalty": 0.3,
    "ungated_cap": 0.2,
}


@Language.factory("pwatch_scorer", default_config=SCORER_DEFAULTS)
def make_scorer(
    nlp: Language,
    name: str,
    threshold: float,
    text_weight: float,
    signal_saturation: int,
    refusal_factor: float,
    context_penalty: float,
    ungated_cap: float,
) -> Scorer:
    errors = []
    for key, value in (
        ("threshold", threshold),
        ("text_weight", text_weight),
        ("refusal_factor", refusal_factor),
        ("context_penalty", context_penalty),
        ("ungated_cap", ungated_cap),
    ):
        if not 0.0 <= value <= 1.0:
            errors.append({"loc": [key], "msg": f"must be between 0 and 1, got {value}"})
    if signal_saturation < 1:
        errors.append({"loc": ["signal_saturation"], "msg": f"must be at least 1, got {signal_saturation}"})
    if errors:
        raise ConfigValidationError(
            config={"components": {name: {"factory": "pwatch_scorer"}}},
            errors=errors,
            title=f"Invalid config for component '{name}'",
        )
    return Scorer(threshold, text_weight, signal_saturation, refusal_factor, context_penalty, ungated_cap)


def _page_kinds(page) -> set[str]:
    """The trade kinds the page itself shows. A schema.org Offer restates the page's price and
    controls, so it counts only on a page that shows neither: three page kinds out of the four
    that saturate the evidence would flag any page naming a substance (a news item or a refusal
    posted on a shop template) whatever its text says."""
    if page is None:
        return set()
    kinds = {PAGE_KINDS[k] for k in page.present() if k in PAGE_KINDS}
    if kinds & {"price", "offer_control"}:
        kinds.discard("structured_offer")
    return kinds


# Signals saying the page's product is no substance: a harm-reduction aid (test strips, naloxone),
# or a book, poster or analyser about the substances. Either lowers its reading like a refusal.
NOT_SOLD_KINDS = ("harm_reduction", "not_a_substance")


def _without_listed_aids(text: str, sigs: list[SignalHit]) -> list[SignalHit]:
    """The signals without harm-reduction or not-a-substance words inside an aside: naloxone, test
    strips or a book in a related-products list do not make the page's own product one."""
    spans = aside_spans(text, sigs)
    if not spans:
        return sigs
    return [s for s in sigs if s.kind not in NOT_SOLD_KINDS or not any(a <= s.start < b for a, b in spans)]


def report_title(sigs: list[SignalHit], title_len: int) -> bool:
    """The title reads as a report about the trade or a declined request, not as an offer: news,
    regulation, research or moderation wording ("Customs Notice 24-11", "scam alert", 监测报告) or
    a refusal ("inquiry declined by the supplier"), and no trade wording of its own. Such a page
    quotes adverts, requests, prices and contacts in its body; a seller's title names a product, a
    price or an offer instead."""
    kinds = {s.kind for s in sigs if s.start < title_len}
    if "report" in kinds:  # "Scam alert: ... took $4,800": a page that names its genre, whatever it quotes
        return True
    if "context" in kinds and not kinds.intersection(TRADE_KINDS):
        return True
    # "request declined by the supplier": a seller's or supplier's name is no offer next to a refusal
    return bool(kinds & {"refusal", "legal_only"}) and not kinds.intersection(TRADE_KINDS).difference({"offer"})


class Scorer:
    """Blends the context classifier with trade signals behind a substance gate.

    The gate opens for a monitored substance, or a watched one with a red-flag signal or a
    monitored co-listing (README, "What is flagged"); a name only in an aside (related products,
    search tags, "did you mean"), a prohibited-items list, a refusal or legal-only statement, or
    named as the relative or yardstick of another ("may contain fentanyl") opens no gate
    (`nlp.offered.could_be_offered`). Closed gate: the score is capped below
    any sensible threshold. Score = text_weight × P(offer) + (1 − text_weight) × trade evidence
    (distinct trade-signal kinds / signal_saturation), minus context_penalty × news/regulation/
    research wording; a refusal ("we do not sell ...") that leaves nothing listed outside it
    (`nlp.offered.refuses`), a harm-reduction product (test strips, naloxone) or a product that is
    no substance (a book, poster or analyser about them) multiplies the
    score of its reading by refusal_factor, and a legal-only statement (in-clinic use only, not
    sold online, not a shop) or a title that reads as a report (`report_title`) the score of the
    whole text. A sale restricted to licensed buyers or
    to prescriptions (`restricted_sale`) lowers nothing: it is still an offer (README, "What is
    flagged": a veterinary xylazine sale is flagged). Trade wording quoted inside
    news or regulation wording (a report quoting an advert) is not evidence
    (`nlp.offered.unquoted_evidence`).
    """

    def __init__(
        self,
        threshold: float,
        text_weight: float,
        signal_saturation: int,
        refusal_factor: float,
        context_penalty: float,
        ungated_cap: float,
    ):
        self.threshold = threshold
        self.context_penalty = context_penalty
        self.text_weight = text_weight
        self.signal_saturation = signal_saturation
        self.refusal_factor = refusal_factor
        self.ungated_cap = ungated_cap

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        subs = ext.pw_substances or []
        # an advert quoted by a news report or a notice is no evidence that this page offers
        sigs = unquoted_evidence(_norm(doc).original, ext.pw_signals or [])
        text = _norm(doc).original
        sigs = _without_listed_aids(text, sigs)
        tiers = {m.tier for m in could_be_offered(text, subs, sigs)}
        red = any(s.red_flag for s in sigs)
        if subs and not tiers:
            gate = NOT_OFFERED_GATE
        elif "monitored" in tiers:
            gate = "monitored substance"
        elif "watched" in tiers and red:
            gate = "watched substance with red flags"
        elif "watched" in tiers:
            gate = "watched substance without red flags"
        else:
            gate = "no monitored substance"
        page = ext.pw_page
        page_kinds = _page_kinds(page)
        listed = listed_outside_refusals(text, subs, sigs)  # what a refusal on the page leaves offered
        if ext.pw_windows is not None:
            # A long text is judged mention by mention (title + the words around the mention): the
            # shipping terms in a footer are no offer, and reference prose around other mentions
            # cancels none. The best window decides, as an offer anywhere on a page counts.
            score = max(
                (
                    self._judge(
                        [s for s in sigs if a <= s.start < b or t0 <= s.start < t1],
                        p,
                        page_kinds,
                        refuses(sigs, listed, ((a, b), (t0, t1))),
                    )
                    for (t0, t1), (a, b), p in ext.pw_windows
                ),
                default=0.0,
            )
        else:
            score = self._judge(
                sigs, doc.cats.get(OFFER_LABEL, 0.5), page_kinds, refuses(sigs, listed, ((0, len(text)),))
            )
        if any(s.kind == "legal_only" for s in sigs):
            score *= self.refusal_factor  # not sold online, in-clinic only, not a shop: the whole page
        if report_title(sigs, ext.pw_title_len or 0):
            score *= self.refusal_factor  # a report, notice, alert or declined request, by its title
        if gate not in ("monitored substance", "watched substance with red flags"):
            score = min(score, self.ungated_cap)
        ext.pw_score = round(float(score), 4)
        ext.pw_flagged = ext.pw_score >= self.threshold
        ext.pw_gate = gate
        # which mentions the listing offers (not those in a refusal, an aside or reference prose)
        ext.pw_offered = offered_mentions(
            text,
            subs,
            sigs,
            ext.pw_windows,
            lambda window_sigs, p, refused: self._judge(window_sigs, p, set(), refused),
            self.threshold,
        )
        return doc

    def _judge(self, sigs, p_offer: float, page_kinds: set[str], refused: bool) -> float:
        """Score of one reading (a whole doc, or one mention window of a long one); `refused`: a
        refusal in it leaves nothing listed (`nlp.offered.refuses`)."""
        kinds = {s.kind for s in sigs if s.kind in TRADE_KINDS} | page_kinds
        evidence = min(1.0, len(kinds) / self.signal_saturation)
        score = self.text_weight * p_offer + (1 - self.text_weight) * evidence
        context = sum(1 for s in sigs if s.kind in CONTEXT_KINDS)
        score = max(0.0, score - self.context_penalty * min(1.0, context / 3))
        if refused or any(s.kind in NOT_SOLD_KINDS for s in sigs):
            score *= self.refusal_factor
        return score
