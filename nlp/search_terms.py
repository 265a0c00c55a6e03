"""The search query plan from the lexicon: what a search-mode crawl types into a site search.

For each monitored or watched substance, in each of the platform's languages: every name and
synonym, every abbreviation, and (once per platform) every CAS RN of the substance and its salts,
with the forms sellers write to dodge an exact CAS search: the first block alone ("79099"), the
first block fused to "CAS" ("CAS79099") and the digits undelimited ("79099073"). Chinese listings
name chemicals in English as often as in Chinese, so a Chinese platform is also searched with the
English names.
Each query carries narrower queries (the query plus a qualifier a seller writes next to an offer)
that the crawler runs instead when the site caps the query's results. Deterministic: the same
lexicon gives the same plan in the same order, so shards split it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from precursor_watch.nlp.lexicon import Lexicon

SEARCHED_TIERS = ("monitored", "watched")
# Languages whose platforms are also searched in another language's names.
ALSO_SEARCHED: dict[str, tuple[str, ...]] = {"zh": ("en",)}
# A first CAS block shorter than this (aniline's "62") matches prices and phone numbers, not offers.
MIN_BLOCK_DIGITS = 4

# Words an offer carries beside a substance name; "CAS" is written in every language.
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "en": ("CAS", "purity", "price", "supplier"),
    "es": ("CAS", "pureza", "precio", "proveedor"),
    "zh": ("CAS", "纯度", "价格", "供应"),
}


@dataclass(frozen=True)
class PlannedQuery:
    q: str
    lang: str
    substance: str
    how: str  # name | abbreviation | cas | cas_block | cas_fused | cas_undelimited
    refine: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "q": self.q,
            "lang": self.lang,
            "substance": self.substance,
            "how": self.how,
            "refine": list(self.refine),
        }


def query_plan(lexicon: Lexicon, langs: tuple[str, ...]) -> list[PlannedQuery]:
    """Queries for a platform whose listings are written in `langs` (first = its main language)."""
    plan: dict[tuple[str, str], PlannedQuery] = {}

    def add(q: str, lang: str, substance: str, how: str) -> None:
        key = (lang, q.casefold())
        if key not in plan:
            refine = tuple(f"{q} {w}" for w in QUALIFIERS.get(lang, ()) if w.casefold() not in q.casefold())
            plan[key] = PlannedQuery(q, lang, substance, how, refine)

    extra_langs = list(dict.fromkeys(x for lang in langs for x in ALSO_SEARCHED.get(lang, ()) if x not in langs))
    for sub in sorted(lexicon.substances.values(), key=lambda s: s.id):
        if sub.tier not in SEARCHED_TIERS:
            continue
        for lang in langs:
            for name in sub.names.get(lang, ()):
                add(name, lang, sub.id, "name")
            for abbr in sub.abbreviations:
                add(abbr.text, lang, sub.id, "abbreviation")
        for lang in extra_langs:  # names only: abbreviations are the same in every language
            for name in sub.names.get(lang, ()):
                add(name, lang, sub.id, "name")
        cas_forms = [form for cas in [sub.id, *(s.cas for s in sub.salts)] if _is_cas(cas) for form in _cas_forms(cas)]
        for q, how in cas_forms:
            add(q, langs[0], sub.id, how)
    return list(plan.values())


def _cas_forms(cas: str) -> list[tuple[str, str]]:
    """A CAS RN as written, then the forms that hide it from an exact search."""
    block = cas.split("-")[0]
    forms = [(cas, "cas"), (cas.replace("-", ""), "cas_undelimited")]
    if len(block) >= MIN_BLOCK_DIGITS:
        forms += [(block, "cas_block"), (f"CAS{block}", "cas_fused")]
    return forms


def _is_cas(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 3 and all(p.isdigit() for p in parts)
