"""Which mentions a listing offers (`nlp.offered`): refusal sentences, asides, reference prose and
long-page windows decide; every case with the real matchers on the real lexicon files."""

from __future__ import annotations

import pytest

from precursor_watch.nlp.lexicon import load_lexicon
from precursor_watch.nlp.matching import SubstanceMatcher
from precursor_watch.nlp.normalize import normalize
from precursor_watch.nlp.offered import aside_spans, excluded, offered_mentions
from precursor_watch.nlp.signals import SignalMatcher

FENT, CARF, NPP, BOCPIP = "437-38-7", "59708-52-0", "39742-60-4", "79099-07-3"


@pytest.fixture(scope="module")
def matchers():
    return SubstanceMatcher(load_lexicon()), SignalMatcher.load()


def offered(matchers, text, windows=None, score=lambda sigs, p, refused=False: p):
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
    ids, _ = offered(matchers, text, [offer_w, prose_w], score=lambda sigs, p, refused=False: p)
    assert ids == {CARF}
    ids, _ = offered(matchers, text, [offer_w, ((0, tl), (f_at - 300, len(text)), 0.9)], score=lambda sigs, p, refused=False: p)
    assert ids == {CARF, FENT}


# -- refusals: what they cover, and when they lower a reading ----------------------------------
def test_a_refusal_opening_its_line_covers_the_question_above_it(matchers):
    """A chat: the buyer asks for one substance, the seller refuses it and offers another by its
    first CAS block; the refused one is mentioned, not offered."""
    text = (
        "[10:01] Buyer: hi, do you have 4-ANPP?\n"
        "[10:02] Seller: sorry friend, that's banned, we can not do it\n"
        "[10:02] Seller: 79099 powder ready in USA warehouse, 1kg 450usd, 5kg 2000usd\n"
    )
    ids, sigs = offered(matchers, text)
    assert ids == {BOCPIP}
    assert any(s.kind == "refusal" for s in sigs)
    # the same question with no refusal below it is no refusal of anything
    ids, _ = offered(matchers, text.replace("sorry friend, that's banned, we can not do it", "let me check"))
    assert "21409-26-7" in ids


def refusal_reading(matchers, text):
    from precursor_watch.nlp.offered import listed_outside_refusals, refuses

    subs_m, sig_m = matchers
    nt = normalize(text)
    subs, sigs = subs_m.find(nt), sig_m.find(nt)
    return refuses(sigs, listed_outside_refusals(text, subs, sigs), ((0, len(text)),))


def test_a_refusal_lowers_the_reading_only_when_nothing_is_listed_outside_it(matchers):
    # a compliance line that names nothing, above a catalogue card with its price: still a listing
    card = (
        "We do not sell controlled substances to private persons.\n\n"
        "RC-2210 Metonitazene\nCAS: 14680-51-4\nPurity: 99%\n1 g, 5 g - USD 310\nIn stock\n"
    )
    assert not refusal_reading(matchers, card)
    # the refusal names the only substance: nothing is listed
    assert refusal_reading(matchers, "We do not sell NPP (39742-60-4). Inquiries for it will be refused.")
    # a reply that refuses the item asked for and offers an ordinary one with its own CAS RN and price:
    # the price belongs to the other product, so the refusal still lowers the reading
    reply = (
        "Re: inquiry NPP\nHello,\nabout your inquiry for NPP (CAS 39742-60-4).\n"
        "It is a controlled precursor, we do not sell it to anyone.\n"
        "We can offer 4-hydroxypiperidine (CAS 5382-16-1), 98%, 100 g USD 95.\n"
    )
    assert refusal_reading(matchers, reply)


@pytest.mark.parametrize(
    "text",
    [
        "Discontinued / no longer offered: isotonitazene, metonitazene - removed from our catalogue.",
        "已下架（不再供应）：异托尼秦、美托尼秦。",
        "Descontinuados (ya no se ofrecen): isotonitaceno, metonitaceno.",
    ],
)
def test_a_discontinued_line_names_what_is_not_sold(matchers, text):
    rows = "Anisole | 100-66-3 | 99% | USD 40 | in stock\n"
    ids, sigs = offered(matchers, rows + text)
    assert ids == set() and any(s.kind == "refusal" for s in sigs)


@pytest.mark.parametrize(
    "text,kept",
    [
        (
            "1-Boc-4-AP | CAS 125541-22-2 | 99% | USD 700/kg\nRegulatory: US List I (as carbamate of 4-AP)",
            "125541-22-2",
        ),
        ("1-Boc-4-AP | CAS 125541-22-2 | 99% | USD 700/kg\n管制：美国List I（作为4-AP的氨基甲酸酯）", "125541-22-2"),
        ("Norfentanyl 99%, USD 90/g, in stock. A metabolite of fentanyl.", "1609-66-1"),
    ],
)
def test_a_name_given_as_the_relative_of_another_is_not_offered(matchers, text, kept):
    ids, sigs = offered(matchers, text)
    assert ids == {kept} and any(s.kind == "relation" for s in sigs)


def test_a_legal_only_statement_covers_what_it_names(matchers):
    text = "Xylazine 100 mg/ml, 50 ml vial\nXylazine is dispensed only by our veterinarians, in clinic."
    ids, sigs = offered(matchers, text)
    assert any(s.kind == "legal_only" for s in sigs)
    assert ids == {"7361-61-7"}  # the product line itself is still what the page is about


def test_a_sale_restricted_to_licensed_buyers_covers_nothing(matchers):
    # a veterinary wholesaler selling xylazine to licensed practices still offers it
    text = "Xylazine HCl injection 100 mg/ml, 50 ml vial, for licensed veterinarians only, USD 38 per vial"
    ids, sigs = offered(matchers, text)
    assert any(s.kind == "restricted_sale" for s in sigs)
    assert not any(s.kind in ("legal_only", "refusal") for s in sigs)
    assert ids == {"7361-61-7"}


@pytest.mark.parametrize(
    "text",
    [
        "Marketplace rules\nThe following may not be listed on this site.\n\n1. NPP (39742-60-4)\n2. 4-ANPP "
        "(21409-26-7)\n\nNPP in stock, USD 120/kg, MOQ 1 kg",
        "Reglas del sitio\nNo se permite publicar:\n\n1. NPP (39742-60-4)\n2. 4-ANPP (21409-26-7)\n\n"
        "NPP en existencia, precio USD 120/kg, pedido mínimo 1 kg",
        "平台规则\n禁止发布下列物品：\n\n一、NPP（39742-60-4）\n二、4-ANPP（21409-26-7）\n\nNPP现货，价格USD 120/kg，1公斤起订",
    ],
)
def test_a_prohibited_items_statement_covers_the_list_under_it(matchers, text):
    # the list under the statement (across one blank line) is not offered; the paragraph after it is
    ids, sigs = offered(matchers, text)
    assert any(s.kind == "prohibited" for s in sigs)
    assert ids == {NPP}
    nt = normalize(text)
    subs = matchers[0].find(nt)
    gone = excluded(text, subs, sigs)
    assert {subs[i].substance_id for i in gone} == {NPP, "21409-26-7"}
    assert max(subs[i].start for i in gone) < text.rindex("NPP")
