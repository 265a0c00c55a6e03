"""Substance matching under every obfuscation and form; offsets always slice the original text."""

from __future__ import annotations

import pytest

from precursor_watch.nlp.lexicon import load_lexicon
from precursor_watch.nlp.matching import SubstanceMatcher
from precursor_watch.nlp.normalize import normalize

NPP, ANPP, FOURAP, BOC4AP = "39742-60-4", "21409-26-7", "23056-29-3", "125541-22-2"
NORF, PIP, BOCPIP, FENT, XYL = "1609-66-1", "41661-47-6", "79099-07-3", "437-38-7", "7361-61-7"


@pytest.fixture(scope="module")
def matcher():
    return SubstanceMatcher(load_lexicon())


def find(matcher, text):
    hits = matcher.find(normalize(text))
    for h in hits:  # every match slices the original text to the matched words
        assert text[h.start : h.end] == h.matched
    return hits


def ids(matcher, text):
    return {h.substance_id for h in find(matcher, text)}


CASES = [
    # (form, text, expected id, expected matched text)
    ("name", "Offering 1-Boc-4-piperidone 99%", BOCPIP, "1-Boc-4-piperidone"),
    (
        "synonym",
        "tert-butyl 4-anilinopiperidine-1-carboxylate in stock",
        BOC4AP,
        "tert-butyl 4-anilinopiperidine-1-carboxylate",
    ),
    ("abbreviation", "ANPP white powder", ANPP, "ANPP"),
    ("chinese", "现货供应去甲芬太尼，纯度99%", NORF, "去甲芬太尼"),
    ("spanish", "Vendemos N-fenetil-4-piperidona", NPP, "N-fenetil-4-piperidona"),
    ("salt_hcl_monohydrate", "4,4-piperidinediol HCl CAS 40064-34-4", PIP, "40064-34-4"),
    ("salt_citrate", "CAS 990-73-8 available", FENT, "990-73-8"),
    ("hydrochloride_name", "xylazine hydrochloride 1kg", XYL, "xylazine hydrochloride"),
    ("cas_only", "125541-22-2 good price", BOC4AP, "125541-22-2"),
    ("first_block_after_cas", "CAS79099 powder is best", BOCPIP, "79099"),
    ("first_block_alone", "79099 now in USA warehouse", BOCPIP, "79099"),
    ("cas_spaced", "CAS 79099 07 3 in stock", BOCPIP, "79099 07 3"),
    ("cas_spaced_hyphens", "CAS 1609 - 66 - 1", NORF, "1609 - 66 - 1"),
    ("cas_dotted", "cas no. 79099.07.3", BOCPIP, "79099.07.3"),
    ("cas_undelimited", "cas 79099073 powder", BOCPIP, "79099073"),
    ("cas_letter_o", "CAS 79O99-07-3", BOCPIP, "79O99-07-3"),
    ("cas_fullwidth", "ＣＡＳ：７９０９９－０７－３", BOCPIP, "７９０９９－０７－３"),
    ("name_spaced", "N P P 99% powder", NPP, "N P P"),
    ("name_spaced_words", "1 boc 4 piperidone 1kg", BOCPIP, "1 boc 4 piperidone"),
    ("abbr_spaced", "4 - A P 99% powder", FOURAP, "4 - A P"),
    ("name_dotted", "N.P.P 99% powder", NPP, "N.P.P"),
    ("name_fullwidth", "ｆｅｎｔａｎｙｌ ｐｏｗｄｅｒ", FENT, "ｆｅｎｔａｎｙｌ"),
    ("homoglyph_cyrillic", "fеntаnyl powder", FENT, "fеntаnyl"),  # Cyrillic е and а
    ("homoglyph_greek", "ΝΡΡ 99%", NPP, "ΝΡΡ"),  # Greek capital Nu and Rho
    ("leetspeak", "fent@nyl for sale", FENT, "fent@nyl"),
    ("leetspeak_digits", "1-b0c-4-piperid0ne", BOCPIP, "1-b0c-4-piperid0ne"),
    ("zero_width", "fen\u200btan\u200dyl powder", FENT, "fen\u200btan\u200dyl"),
    ("zero_width_cas", "CAS 79099-\u200b07-3", BOCPIP, "79099-\u200b07-3"),
    ("bidi_control", "fen\u202etanyl powder", FENT, "fen\u202etanyl"),
    ("misspelling", "xylazin 99%", XYL, "xylazin"),
    ("misspelling_transposed", "fentanly powder", FENT, "fentanly"),
    ("misspelling_in_long_name", "N-Fenethyl-4-piperidone 99%", NPP, "N-Fenethyl-4-piperidone"),
    ("chinese_spaced", "芬 太 尼 现货", FENT, "芬 太 尼"),
]


@pytest.mark.parametrize("form,text,sid,matched", CASES, ids=[c[0] for c in CASES])
def test_each_form_is_matched(matcher, form, text, sid, matched):
    hits = [h for h in find(matcher, text) if h.substance_id == sid]
    assert hits, f"{form}: {sid} not found in {text!r}"
    assert matched in [h.matched for h in hits]


def test_how_is_reported(matcher):
    how = {h.matched: (h.how, h.detail) for h in find(matcher, "CAS79099 and 40064-34-4, fentanly, ANPP, fent@nyl")}
    assert how["79099"] == ("cas", "first CAS block only")
    assert how["40064-34-4"][0] == "cas" and "salt" in how["40064-34-4"][1]
    assert how["fentanly"][0] == "fuzzy"
    assert how["ANPP"][0] == "abbreviation"
    assert how["fent@nyl"] == ("name", "leetspeak")


@pytest.mark.parametrize(
    "text",
    [
        "norfentanyl impurity standard CAS 1609-66-5",  # wrong check digit (public-list typo)
        "CAS 79099-07-4 white powder",
        "1609-66-5",
    ],
)
def test_a_wrong_check_digit_is_not_that_substance(matcher, text):
    assert not [h for h in find(matcher, text) if h.how == "cas"]


@pytest.mark.parametrize(
    "text",
    [
        "Zaporizhzhia NPP: the nuclear power plant lost external power again",
        "Our NPP (nuclear power plant) project needs valves",
        "4-AP (4-aminopyridine) 98%, CAS 504-24-5, for research",
        "4-AP | 504-24-5 | 480 EUR per kg",
        "4-AP, a potassium channel blocker used in multiple sclerosis",
    ],
)
def test_ambiguous_abbreviations_in_other_meanings_are_not_matched(matcher, text):
    assert ids(matcher, text) & {NPP, FOURAP} == set()


@pytest.mark.parametrize(
    "text,absent",
    [
        ("N-methyl-4-piperidone 99%", PIP),  # a different compound containing the name
        ("1-benzyl-4-piperidone 99%", PIP),  # watched look-alike wins, not the monitored 4-piperidone
        ("4-bromoaniline 98%", "62-53-3"),
        ("piperidine 99% drum", PIP),
        ("an pp bottle", ANPP),  # words that happen to spell an abbreviation
    ],
)
def test_look_alikes_are_not_the_monitored_substance(matcher, text, absent):
    assert absent not in ids(matcher, text)


def test_longest_match_wins_and_watched_is_tiered(matcher):
    hits = find(matcher, "1-benzyl-4-piperidone (3612-20-2)")
    assert {h.substance_id for h in hits} == {"3612-20-2"}
    assert {h.tier for h in hits} == {"watched"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Purity: 98%\nOur NPP (net profit) grew 12% this year.", set()),  # gloss gives another meaning
        ("Pureza: 98%\nNuestra NPP (utilidad neta) creció 12% este año.", set()),
        ("ANPP and NPP (white powder)", {ANPP, NPP}),  # a chemical gloss keeps it
        ("NPP (N-phenethyl-4-piperidone) 99%", {NPP}),
    ],
)
def test_abbreviation_gloss_and_line_context(matcher, text, expected):
    assert ids(matcher, text) == expected


def test_one_sense_per_listing(matcher):
    # the title alone looks like the precursor; the CAS RN on the text line says 4-aminopyridine
    assert FOURAP not in ids(matcher, "WTS 4-AP >99% (HPLC)\nSelling 4-AP - 504-24-5 ~ 98%, 25 kg drum")
    # a CAS-shaped number that is not its own (here with a broken check digit) also names the item
    assert FOURAP not in ids(matcher, "• 79099-07-7 4-AP / glucose 50-99-7")


# -- identification against the fixture world's substance reference -----------------------------
def _reference_forms():
    """Every name, synonym, abbreviation, Chinese and Spanish name and salt name of the monitored
    and watched substances of `fixtures/substances.py`, and their CAS RNs written hyphenated,
    undelimited, spaced and as a first block after a product-code word."""
    from precursor_watch.fixtures import substances as S

    for s in S.MONITORED + S.WATCHED:
        names = [s.en, *s.synonyms, *s.abbrs, *s.zh, *s.es]
        for form in s.forms:
            names += [form.en, form.zh, form.es]
        for n in names:
            yield s.id, f"We supply {n} purity 99% powder"
        for cas in [s.id] + [f.cas for f in s.forms]:
            block = cas.split("-")[0]
            variants = [cas, cas.replace("-", ""), cas.replace("-", " ")]
            if len(block) >= 5 and sum(1 for o in S.MONITORED + S.WATCHED if o.id.split("-")[0] == block) == 1:
                variants += [f"CAS {block}", f"code {block}", f"#{block}", f"编号{block}", f"código {block}"]
            for v in variants:
                yield s.id, f"Offer {v} 99% 1kg"
        if len(s.en) > 8:  # one letter dropped, two swapped: misspellings one edit away
            i = len(s.en) // 2
            for wrong in (s.en[:i] + s.en[i + 1 :], s.en[:i] + s.en[i + 1] + s.en[i] + s.en[i + 2 :]):
                yield s.id, f"sell {wrong} 99%"


def test_every_reference_form_of_a_substance_is_identified(matcher):
    missed = [(sid, text, ids(matcher, text)) for sid, text in _reference_forms() if sid not in ids(matcher, text)]
    assert not missed, missed[:10]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("#79099 ready, 99%", BOCPIP),  # a bare "#" names the item
        ("4-AP 2HCl 99% powder", FOURAP),  # a salt word is chemical context for an ambiguous abbreviation
        ("Boc-4-piperidone in stock", BOCPIP),
        ("1-Boc-4-oxopiperidine 98%", BOCPIP),
        ("1-phenethylpiperidin-4-one bulk", NPP),
        ("现货塞拉嗪", XYL),  # a common variant character of 赛拉嗪
        ("product 1609 99.9%, USD 120/kg", NORF),
        ("货号1609 99.8%以上", NORF),  # 4-digit first blocks count only after a product-code word
        ("artículo 1609 listo", NORF),  # a code followed by a purity is no CAS RN "1609-99-9"
    ],
)
def test_further_written_forms(matcher, text, expected):
    assert expected in ids(matcher, text)


@pytest.mark.parametrize("text", ["order #79099 shipped", "invoice 79099", "tracking no. 79099"])
def test_order_and_invoice_numbers_are_not_product_codes(matcher, text):
    assert ids(matcher, text) == set()


def test_a_watched_chinese_name_inside_a_longer_name_is_not_that_substance(matcher):
    aniline = "62-53-3"
    for longer in ("N-甲基苯胺 99% 现货", "对甲苯胺 98%", "苯胺基乙腈 99%", "2-甲基丙酰氯 99%"):
        assert not ids(matcher, longer) & {aniline, "79-03-8"}, longer
    assert ids(matcher, "供应苯胺 99%，双清到门") == {aniline}
    assert ids(matcher, "出售丙酰氯 99%") == {"79-03-8"}


def test_an_ambiguous_abbreviation_listed_with_other_precursors_keeps_its_meaning(matcher):
    """Next to the CAS RN of another monitored substance, 4-AP is still the precursor; next to the
    CAS RN of an ordinary chemical it is that chemical."""
    text = "agents no longer accept 4-AP (CAS 23056-29-3) nor 1-boc-4-AP (CAS 125541-22-2); we do, 1 kg"
    assert {FOURAP, BOC4AP} <= ids(matcher, text) and any(h.matched == "4-AP" for h in find(matcher, text))
    assert FOURAP not in ids(matcher, "4-AP | 504-24-5 | 99% | 1 kg")


def test_two_leetspeak_characters_in_a_row(matcher):
    assert ids(matcher, "Fen74nyl patches 50 mcg/h") == {FENT}
    assert ids(matcher, "mp3 player 25kg box") == set()
