"""Long pages: the classifier reads the title and the text around the substance mentions
(`nlp/focus.py`), so filler prose cannot drown an offer and cannot make one."""

from __future__ import annotations

from precursor_watch.nlp.detection import DetectInput
from precursor_watch.nlp.focus import FOCUS_RADIUS, MAX_SPANS, focus_spans, focus_text, mention_windows
from tests.nlp.test_genres import samples


def test_spans_cover_the_title_and_each_mention_merged():
    spans = focus_spans(10_000, 20, [(1000, 1010), (1100, 1110), (5000, 5005)])
    assert spans == [(0, 20), (1000 - FOCUS_RADIUS, 1110 + FOCUS_RADIUS), (5000 - FOCUS_RADIUS, 5005 + FOCUS_RADIUS)]
    many = focus_spans(10**6, 0, [(k * 10_000, k * 10_000 + 5) for k in range(50)])
    assert len(many) == 50  # every span counts for the signals ...
    view = focus_text("".join(chr(65 + k % 26) * 10_000 for k in range(100)), many, 0)
    assert len(view.split("\n")) == MAX_SPANS  # ... the classifier reads at most MAX_SPANS, spread out
    assert view.split("\n")[-1][0] == chr(65 + 48 % 26)  # the last span (from 489,700) is among them


def test_focus_text_weighs_the_title_twice_and_keeps_only_the_spans():
    text = "Buy X\n" + "a" * 2000 + " X here " + "b" * 2000
    spans = focus_spans(len(text), 5, [(2006, 2009)])
    view = focus_text(text, spans, 5)
    assert view.startswith("Buy X\nBuy X") and " X here " in view and len(view) < 2 * FOCUS_RADIUS + 20


def test_mention_windows_one_per_distant_mention_each_with_the_title():
    text = "Title\n" + "x" * 3000 + "M1" + "y" * 3000 + "M2" + "z" * 10 + "M3"
    mentions = [(3006, 3008), (6008, 6010), (6020, 6022)]
    wins = mention_windows(text, 5, mentions)
    assert len(wins) == 2  # M3 lies inside M2's window
    assert all(w.startswith("Title\n") for w in wins) and "M1" in wins[0] and "M2" in wins[1] and "M3" in wins[1]


def _detect(detector, title, text):
    [det] = detector.detect([DetectInput("long", text, title, "en")])
    return det


def test_reference_prose_around_an_offer_does_not_drown_it(detector):
    [offer] = samples("en.offer_monitored.b2b_card", 1)
    prose = "\n".join(t.text for t in samples("en.research.drug_info", 6))
    assert len(prose) > 5000
    det = _detect(detector, offer.title, offer.text + "\n" + prose)
    assert det.flagged and set(offer.substances) <= set(det.substance_ids), (det.score, det.offer_probability)
    det = _detect(detector, offer.title, prose + "\n" + offer.text)  # the offer after the prose
    assert det.flagged, (det.score, det.offer_probability)


def test_the_same_prose_alone_is_not_an_offer(detector):
    prose = "\n".join(t.text for t in samples("en.research.drug_info", 6))
    det = _detect(detector, "Drug information", prose)
    assert not det.flagged and det.gate == "monitored substance", (det.score, det.offer_probability)


def test_a_page_naming_its_product_only_in_the_title_gets_one_window_under_it():
    from precursor_watch.nlp.focus import mention_spans

    assert mention_spans(5000, 40, [(0, 8)]) == [(40, 40 + 2 * FOCUS_RADIUS)]
    assert mention_spans(5000, 40, []) == []  # no mention at all: no window, no offer
    assert mention_spans(5000, 40, [(0, 8), (2000, 2008)]) == [(2000 - FOCUS_RADIUS, 2008 + FOCUS_RADIUS)]
