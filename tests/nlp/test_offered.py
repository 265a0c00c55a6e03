"""Which mentions a listing offers (`nlp.offered`): refusal sentences, asides, reference prose and
long-page windows decide; every case with the real matchers on the real lexicon files."""

from __future__ import annotations

import pytest

from precursor_watch.nlp.lexicon import load_lexicon
from precursor_watch.nlp.matching import SubstanceMatcher
from precursor_watch.nlp.normalize import normalize
from precursor_watch.nlp.offered import aside_spans, offered_mentions
from precursor_watch.nlp.signals import SignalMatcher

FENT, CARF, NPP, BOCPIP = "437-38-7", "59708-52-0", "39742-60-4", "79099-07-3"


@pytest.fixture(scope="module")
def matchers():
    return SubstanceMatcher(load_lexicon()), SignalMatcher.load()


def offered(matchers, text, windows=None, score=lambda sigs, p: p):
    subs_m, sig_m = matchers
    nt = normalize(text)
    subs, sigs = subs_m.find(nt), sig_m.find(nt)
    return {m.substance_id for m in offered_mentions(text, subs, sigs, windows, score, 0.5)}, sigs


def test_a_refusal_sentence_names_what_is_not_sold(matchers):
    ids, _ = offered(matchers, "NPP 99% in stock, USD 120/kg. We do not sell fentanyl. Telegram @fake_x")
    assert ids == {NPP}


@pytest.mark.parametrize(
    "text",
    [
        "Carfentanil | CAS 59708-52-0 | 99% | Add to cart\nYou may also like: fentanyl, NPP",
        "Carfentanil 99% in stock, USD 120/g\nRelated products:\nfentanyl\nNPP\n\nShipping worldwide",
        "卡芬太尼 | CAS 59708-52-0 | 99% | 加入购物车\n相关产品：芬太尼，NPP",
        "Carfentanilo | CAS 59708-52-0 | 99% | Añadir al carrito\nProductos relacionados: fentanilo, NPP",
    ],
)
def test_a_related_products_list_is_mentioned_not_offered(matchers, text):
    ids, sigs = offered(matchers, text)
    assert ids == {CARF}, (ids, [s.kind for s in sigs])
    assert any(s.kind == "aside" for s in sigs)


def test_an_aside_heading_covers_the_lines_below_it_up_to_a_blank_line():
    from precursor_watch.nlp.signals import SignalHit

    text = "Buy X\nSee also\nA\nB\n\nFooter"
    start = text.index("See also")
    [(a, b)] = aside_spans(text, [SignalHit("aside", start, start + 8, "See also")])
    assert text[a:b] == "See also\nA\nB"


def test_a_name_in_reference_prose_is_not_an_item(matchers):
    text = (
        "1-Boc-4-piperidone | CAS 79099-07-3 | 99% | USD 120/kg\n"
        "Reference works discuss it together with related compounds such as fentanyl, which are controlled in "
        "the same tables."
    )
    ids, _ = offered(matchers, text)
    assert ids == {BOCPIP}


def test_a_page_that_only_names_one_substance_still_names_it(matchers):
    """Nothing offered on its own words: the set is what the page is about (never empty)."""
    ids, _ = offered(matchers, "Fentanyl is a synthetic opioid. It is controlled in many countries.")
    assert ids == {FENT}


def test_on_a_long_page_a_body_mention_counts_only_in_a_window_that_reads_as_an_offer(matchers):
    title = "Buy carfentanil"
    body = "carfentanil 99% USD 120/g add to cart\n" + "x" * 700 + "\nfentanyl | CAS 437-38-7 | 99%\n"
    text = f"{title}\n{body}"
    tl = len(title)
    f_at = text.index("fentanyl |")
    offer_w = ((0, tl), (tl, tl + 300), 0.9)
    prose_w = ((0, tl), (f_at - 300, len(text)), 0.1)
    ids, _ = offered(matchers, text, [offer_w, prose_w], score=lambda sigs, p: p)
    assert ids == {CARF}
    ids, _ = offered(matchers, text, [offer_w, ((0, tl), (f_at - 300, len(text)), 0.9)], score=lambda sigs, p: p)
    assert ids == {CARF, FENT}
