"""The trained detector: flags, reasons anchored in the original text, controls, model_version."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from precursor_watch.nlp.detection import DetectInput
from precursor_watch.nlp.detector import Detector, ModelError, guess_lang
from precursor_watch.nlp.train import train
from precursor_watch.training_data import heldout_examples, read_labelled, EVAL_HANDWRITTEN


def one(detector, text, title=None, lang=None, date=None):
    return next(detector.detect([DetectInput("x", text, title, lang, date)]))


OFFERS = [
    ("en", "CAS79099 powder is best. 79099 now in USA warehouse, pay btc. Wickr: fake_wickr_jenny"),
    ("en", "1-boc-4-piperidone 99% purity, 25 kg drum, price USD 95/kg, MOQ 1 kg, Telegram @fake_chem_01"),
    ("en", "fent@nyl citrate for sale, stealth shipping to Mexico, pay USDT, whatsapp +1-555-0100"),
    ("zh", "现货供应N-苯乙基-4-哌啶酮，纯度99%，25公斤/桶，双清包税到墨西哥，联系微信"),
    ("es", "Vendemos 4-piperidona clorhidrato monohidratado (CAS 40064-34-4), pureza 99%, envío discreto a México, pago en BTC, Telegram @fake_mx_01"),
    # a watched pre-precursor with red flags (disguised as another product, encrypted messenger)
    ("en", "Propionyl chloride 200 L, shipped as cosmetic raw material, door to door to Mexico, Wickr fake_w_02"),
]
NOT_FLAGGED = [
    ("en", "Zaporizhzhia NPP: the nuclear power plant lost external power; engineers repaired the line."),
    ("en", "4-AP (4-aminopyridine, CAS 504-24-5) 98%, 25 kg drum, price USD 40/kg, MOQ 1 kg, whatsapp +1-555-0101"),
    ("en", "We do not sell controlled precursors such as NPP, ANPP or 4-piperidone. Orders will be refused."),
    ("en", "Police seized 40 kg of 1-boc-4-piperidone at the port, according to prosecutors."),
    ("en", "CAS 1609-66-5 impurity standard, 99% purity, price USD 50/g, MOQ 1 g, whatsapp +1-555-0102"),
    ("es", "Las autoridades aseguraron fentanilo en Sinaloa, informó la fiscalía."),
    # harm reduction sells a product that names fentanyl
    ("en", "Fentanyl test strips, 50 per box, USD 45, fast shipping, questions: nobody@example.invalid"),
    # a watched pre-precursor in ordinary trade (no red flags)
    ("en", "Aniline 99.5%, 200 kg drum, price USD 2/kg, MOQ 1 ton, T/T, e-mail nobody@example.invalid"),
]


@pytest.mark.parametrize("lang,text", OFFERS)
def test_offers_are_flagged_with_reasons(detector, lang, text):
    det = one(detector, text, lang=lang)
    assert det.flagged, det.to_json()
    assert det.score >= 0.5 and det.substance_ids


@pytest.mark.parametrize("lang,text", NOT_FLAGGED)
def test_non_offers_and_look_alikes_are_not_flagged(detector, lang, text):
    det = one(detector, text, lang=lang)
    assert not det.flagged, det.to_json()


def _check_reasons(rec_text, rec_title, det):
    anchored = [r for r in det.reasons if r.field in ("text", "title")]
    for r in anchored:
        source = rec_text if r.field == "text" else rec_title
        assert source[r.start:r.end] == r.matched, (r, det.id)
    for s in det.substances:
        source = rec_text if s.field == "text" else rec_title
        assert source[s.start:s.end] == s.matched
    if det.flagged:
        assert any(r.message.startswith(("monitored substance", "watched substance")) for r in anchored), det.id


def test_every_flag_has_a_reason_slicing_the_original_text(detector):
    records = heldout_examples(seed=7, size=300) + read_labelled(EVAL_HANDWRITTEN)
    inputs = [DetectInput(str(i), r["text"], r.get("title"), r["lang"]) for i, r in enumerate(records)]
    dets = list(detector.detect(inputs))
    assert sum(d.flagged for d in dets) > 50
    for rec, det in zip(records, dets):
        _check_reasons(rec["text"], rec.get("title"), det)


def test_title_and_text_offsets_refer_to_their_own_field(detector):
    det = one(detector, "also 4-piperidone HCl, pay BTC, Telegram @fake_a1", title="ＡＮＰＰ hot sale")
    by_field = {(s.field, s.matched) for s in det.substances}
    assert ("title", "ＡＮＰＰ") in by_field and ("text", "4-piperidone") in by_field
    _check_reasons("also 4-piperidone HCl, pay BTC, Telegram @fake_a1", "ＡＮＰＰ hot sale", det)


def test_each_result_carries_the_model_version(detector, model_dir):
    dets = list(detector.detect(DetectInput(str(i), t, lang=lg) for i, (lg, t) in enumerate(OFFERS + NOT_FLAGGED)))
    manifest = json.loads((model_dir / "detector.json").read_text())
    assert {d.model_version for d in dets} == {manifest["model_version"]} == {detector.model_version}
    assert [d.id for d in dets] == [str(i) for i in range(len(dets))]  # order kept across languages
    assert all(json.loads(d.to_json())["model_version"] == detector.model_version for d in dets)


def test_controls_in_force_at_the_listing_date(detector):
    text = "4-piperidone HCl monohydrate 40064-34-4, 99%, price USD 30/kg, ship to Mexico, Telegram @fake_b2"
    early = one(detector, text, lang="en", date=dt.date(2023, 6, 1))
    late = one(detector, text, lang="en", date=dt.date(2025, 12, 1))
    assert {(c.substance_id, c.jurisdiction) for c in early.controls} == {("41661-47-6", "US")}
    assert {c.jurisdiction for c in late.controls} == {"UN", "US", "EU"}
    assert all(c.effective <= dt.date(2025, 12, 1) for c in late.controls)


def test_language_is_guessed_when_missing():
    assert guess_lang("现货供应芬太尼，欢迎咨询") == "zh"
    assert guess_lang("Vendemos fentanilo con envío a México y pago en efectivo") == "es"
    assert guess_lang("We sell the best chemicals with fast shipping") == "en"


def test_training_is_reproducible(tmp_path):
    examples = heldout_examples(seed=3, size=120)  # any labelled data will do for this check
    a = Detector.load(train(examples, tmp_path / "a", seed=5))
    b = Detector.load(train(examples, tmp_path / "b", seed=5))
    assert a.model_version == b.model_version
    inputs = [DetectInput(str(i), t, lang=lg) for i, (lg, t) in enumerate(OFFERS + NOT_FLAGGED)]
    assert [d.score for d in a.detect(inputs)] == [d.score for d in b.detect(inputs)]


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not a detector model"):
        Detector.load(tmp_path)
