"""The search query plan (nlp/search_terms.py) against the site-search semantics of the fixture
platforms: listings that hide a CAS RN the way sellers do (first block only, fused to "CAS",
digits undelimited) or name a product in English on a Chinese platform are found by some query."""

from __future__ import annotations

import pytest

from precursor_watch.fixtures.search import SEMANTICS
from precursor_watch.nlp.lexicon import load_lexicon
from precursor_watch.nlp.search_terms import MIN_BLOCK_DIGITS, query_plan

LANGS = {"chemdir": ("en",), "tradehub": ("en", "es"), "boardlist": ("en", "es"), "huaxue": ("zh",), "mercado": ("es",)}

# (title, text) of offers written to dodge an exact search; fake contacts only
HIDDEN = [
    ("Re: quotation", "Hi customer, code 79099 is in stock, 99.5%, price on request. Telegram @fake_store_01"),
    ("Seller reply", "item 1609 we have, 99%, 1kg, safe delivery. E-mail: trade@example.invalid"),
    ("Hot item", "CAS125541 powder, US warehouse, contact @fake_bulk_02"),
    ("Stock", "product 79099073 ready, 5kg, WA +1-555-0101"),
]


def _found(platform: str, title: str, text: str) -> list[str]:
    sem = SEMANTICS[platform]
    return [q.q for q in query_plan(load_lexicon(), LANGS[platform]) if sem.matcher(q.q)(title, text)]


@pytest.mark.parametrize("platform", sorted(LANGS))
@pytest.mark.parametrize("title,text", HIDDEN)
def test_hidden_cas_forms_are_searched(platform, title, text):
    assert _found(platform, title, text), f"{platform}: no query finds {text!r}"


def test_english_names_are_searched_on_a_chinese_platform():
    found = _found("huaxue", "新货到：N-Phenethyl-4-piperidone", "✅≥99%\n✅USDT\n📩电报：@fake_supply_03")
    assert found, "an English product name on a Chinese platform is not searched"
    plan = query_plan(load_lexicon(), ("zh",))
    assert {q.lang for q in plan} == {"zh", "en"}
    assert all(q.how == "name" for q in plan if q.lang == "en")


def test_short_first_blocks_are_not_searched_alone():
    """Aniline's CAS RN 62-53-3: "62" alone would match every price; its full and undelimited
    forms are searched."""
    plan = {q.q: q.how for q in query_plan(load_lexicon(), ("en",))}
    assert plan.get("62-53-3") == "cas" and plan.get("62533") == "cas_undelimited"
    assert all(len(q) >= MIN_BLOCK_DIGITS for q, how in plan.items() if how == "cas_block")
    assert "62" not in plan and "CAS62" not in plan


def test_the_plan_is_deterministic():
    lexicon = load_lexicon()
    assert query_plan(lexicon, ("en", "es")) == query_plan(lexicon, ("en", "es"))
