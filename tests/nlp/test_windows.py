"""Texts longer than one spaCy doc should take: judged in overlapping windows, offsets exact."""

from __future__ import annotations

import pytest
from spacy.language import Language

from precursor_watch.nlp import detector as D
from precursor_watch.nlp.detection import DetectInput, DetectionError
from precursor_watch.nlp.detector import Detector, windows

FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed eiusmod tempor incididunt ut labore.\n"
OFFER = "4-ANPP powder 99% purity, MOQ 1 kg, price USD 120 per kg, free samples, Wickr: fake_wickr_1"
NEWS = "Customs officials said a seizure of 4-ANPP was reported at the port this week, the ministry said."


def filler(n: int) -> str:
    return (FILLER * (n // len(FILLER) + 1))[:n]


def test_windows_own_every_short_span_exactly_once():
    for n in (D.WINDOW_CHARS + 1, 123_457, 1_000_001):
        spans = windows(n)
        assert spans[0][0] == 0 and spans[-1][1] == n and spans[0][2] == 0 and spans[-1][3] == n
        for (s, e, lo, hi), (s2, _e2, lo2, _hi2) in zip(spans, spans[1:]):
            assert hi == lo2 and s2 - s == D.WINDOW_CHARS - D.WINDOW_OVERLAP and e - s == D.WINDOW_CHARS
            # a match starting just before the ownership cut still fits in its window
            assert hi + D.WINDOW_OVERLAP // 2 <= e and lo - s >= D.WINDOW_OVERLAP // 2 or lo == 0


def test_short_texts_take_one_doc():
    assert windows(D.WINDOW_CHARS) == [(0, D.WINDOW_CHARS, 0, D.WINDOW_CHARS)]


def test_a_substance_at_the_very_end_of_a_1_2m_text_is_found_with_exact_offsets(detector):
    title = "Lab supplies, page 7"
    text = filler(1_200_000 - len(OFFER) - 1) + "\n" + OFFER
    assert len(title) + 1 + len(text) > 1_000_000  # one doc of it makes spaCy raise E088
    [det] = detector.detect([DetectInput("big", text, title, "en")])
    assert det.flagged and det.score >= 0.5
    assert [s.id for s in det.substances] == ["21409-26-7"]
    hit = det.substances[0]
    assert hit.field == "text" and text[hit.start:hit.end] == hit.matched == "4-ANPP"
    assert hit.start == len(text) - len(OFFER)
    for r in det.reasons:
        assert (title if r.field == "title" else text)[r.start:r.end] == r.matched


def test_padding_neither_makes_nor_hides_an_offer(detector):
    """The best window decides (an offer anywhere counts); repeated template lines sway nothing."""
    pad = filler(600_000)
    cut = pad.index("\n", 300_000) + 1
    offer_mid = pad[:cut] + OFFER + "\n" + pad[cut:]
    news_mid = pad[:cut] + NEWS + "\n" + pad[cut:]
    short_offer, short_news, big_offer, big_news = detector.detect(
        [DetectInput(str(i), t, None, "en") for i, t in enumerate((OFFER, NEWS, offer_mid, news_mid))])
    assert (short_offer.flagged, short_news.flagged) == (True, False)
    assert (big_offer.flagged, big_news.flagged) == (True, False)
    assert big_offer.substance_ids == short_offer.substance_ids == ("21409-26-7",)


@pytest.mark.parametrize("edge", ["window start", "window end", "ownership cut"])
def test_a_match_straddling_a_window_boundary_is_found_exactly_once(detector, edge):
    n = 300_000
    start, end, _lo, hi = windows(n)[3]
    at = {"window start": start, "window end": end, "ownership cut": hi}[edge]
    planted = " CAS 79099-07-3 with free samples "  # a CAS RN and a trade signal across `at`
    pos = at - 12
    text = filler(pos) + planted + filler(n - pos - len(planted))
    assert len(text) == n and pos < at < pos + len(planted)
    [det] = detector.detect([DetectInput("x", text, None, "en")])
    cas = [s for s in det.substances if s.how == "cas"]
    assert [(s.id, s.start, s.end) for s in cas] == [("79099-07-3", pos + 5, pos + 15)]
    assert text[cas[0].start:cas[0].end] == "79099-07-3"
    samples = [g for g in det.signals if g.kind == "sample"]
    assert len(samples) == 1 and text[samples[0].start:samples[0].end] == samples[0].matched


@Language.component("pwatch_test_tripwire")
def tripwire(doc):
    if "TRIPWIRE" in doc.text:
        raise ValueError("tripwire <b>touched</b>")
    return doc


@pytest.fixture(scope="module")
def tripped(model_dir) -> Detector:
    det = Detector.load(model_dir)
    for nlp in det.pipelines.values():
        nlp.add_pipe("pwatch_test_tripwire", first=True)
    return det


def test_detect_each_isolates_the_record_that_raises(tripped):
    records = [DetectInput("a", OFFER, None, "en"), DetectInput("b", "TRIPWIRE " + OFFER, None, "en"),
               DetectInput("c", NEWS, None, "en")]
    with pytest.raises(ValueError):
        list(tripped.detect(records))
    a, b, c = tripped.detect_each(records)
    assert isinstance(b, DetectionError) and b.id == "b" and b.reason == "ValueError: tripwire <b>touched</b>"
    assert (a.id, a.flagged, c.id, c.flagged) == ("a", True, "c", False)
