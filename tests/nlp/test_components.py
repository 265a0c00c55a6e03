"""The spaCy components: blank pipeline + add_pipe, config validation, serialization round trips."""

from __future__ import annotations

import pytest
import spacy
from thinc.api import ConfigValidationError

import precursor_watch.nlp.components  # noqa: F401  (registers the factories)
from precursor_watch.nlp.signals import SignalMatcher, SignalsError
from precursor_watch.nlp.train import build_pipeline

RULE_PIPES = ("pwatch_normalizer", "pwatch_substances", "pwatch_signals", "pwatch_scorer")
TEXTS = [
    "CAS79099 powder in USA warehouse, stealth shipping, Wickr: fake_wickr_01",
    "ｆｅｎｔａｎｙｌ　ｃｉｔｒａｔｅ, price USD 90/kg",
    "Ukraine NPP (nuclear power plant) was shelled",
]


def rule_pipeline(lang="en"):
    nlp = spacy.blank(lang)
    for name in RULE_PIPES:
        nlp.add_pipe(name)
    nlp.initialize()
    return nlp


def snapshot(doc):
    return (
        [(m.substance_id, m.start, m.end, m.how, m.detail) for m in doc._.pw_substances],
        [(s.kind, s.start, s.end) for s in doc._.pw_signals],
        doc._.pw_score,
        doc._.pw_flagged,
        doc.cats,
    )


def test_blank_pipeline_with_add_pipe_finds_substances_and_signals():
    doc = rule_pipeline()(TEXTS[0])
    assert [m.substance_id for m in doc._.pw_substances] == ["79099-07-3"]
    kinds = {s.kind for s in doc._.pw_signals}
    assert {"customs_stealth", "encrypted_messenger", "destination_stock"} <= kinds
    assert doc._.pw_gate == "monitored substance"


def test_chinese_blank_pipeline():
    doc = rule_pipeline("zh")("出售 N-苯乙基-4-哌啶酮，纯度99%，包清关，微信联系")
    assert [m.substance_id for m in doc._.pw_substances] == ["39742-60-4"]
    assert any(s.kind == "customs_stealth" for s in doc._.pw_signals)


@pytest.mark.parametrize(
    "config,loc",
    [
        ({"threshold": "high"}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"signal_saturation": 0}, "signal_saturation"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_bad_scorer_config_raises_config_validation_error(config, loc):
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValidationError) as err:
        nlp.add_pipe("pwatch_scorer", config=config)
    assert loc in str(err.value)


def test_bad_substances_config_raises():
    with pytest.raises(ConfigValidationError, match="fuzzy"):
        spacy.blank("en").add_pipe("pwatch_substances", config={"fuzzy": "sometimes"})


def test_signals_file_errors_name_the_file_and_kind():
    with pytest.raises(SignalsError, match=r"s.toml: kinds.price: pattern #1 .*"):
        SignalMatcher.from_text('version = "1"\n[kinds.price]\npatterns = ["(unclosed"]\n', "s.toml")
    with pytest.raises(SignalsError, match=r"s.toml: kinds.gossip: unknown signal kind"):
        SignalMatcher.from_text('version = "1"\n[kinds.gossip]\npatterns = ["x"]\n', "s.toml")


def test_to_disk_then_spacy_load_gives_identical_outputs(tmp_path, model_dir):
    nlp = spacy.load(model_dir / "en")
    nlp.to_disk(tmp_path / "copy")
    again = spacy.load(tmp_path / "copy")
    assert (
        again.pipe_names
        == nlp.pipe_names
        == ["pwatch_normalizer", "pwatch_substances", "pwatch_signals", "textcat", "pwatch_scorer"]
    )
    for text in TEXTS:
        assert snapshot(nlp(text)) == snapshot(again(text))
    assert again.meta["pwatch_model_version"] == nlp.meta["pwatch_model_version"]
    assert (tmp_path / "copy" / "pwatch_substances" / "substances.toml").is_file()


def test_bytes_round_trip(model_dir):
    nlp = spacy.load(model_dir / "es")
    clone = build_pipeline("es")
    clone.from_bytes(nlp.to_bytes())
    for text in TEXTS:
        assert snapshot(nlp(text)) == snapshot(clone(text))


def test_config_cfg_describes_the_pipeline(model_dir):
    cfg = spacy.load(model_dir / "zh").config
    assert cfg["nlp"]["pipeline"][-1] == "pwatch_scorer"
    assert cfg["nlp"]["tokenizer"]["segmenter"] == "char"
    assert cfg["components"]["textcat"]["model"]["@architectures"] == "spacy.TextCatBOW.v3"


def test_spacy_load_in_a_fresh_interpreter_finds_the_factories(model_dir):
    """The factories are spaCy entry points (pyproject.toml), so no import of ours is needed."""
    import subprocess
    import sys

    code = (
        "import spacy, sys; nlp = spacy.load(sys.argv[1]); doc = nlp('CAS 79099-07-3, 99% powder');"
        "print([m.substance_id for m in doc._.pw_substances])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_dir / "en")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['79099-07-3']"


def test_the_chinese_classifier_reads_character_pairs_and_that_is_part_of_the_model_version(monkeypatch):
    from precursor_watch.nlp import train

    ngram = {lang: train.load_config(lang=lang)["components"]["textcat"]["model"]["ngram_size"] for lang in train.LANGS}
    assert ngram == {"en": 1, "es": 1, "zh": train.ZH_NGRAM_SIZE} and train.ZH_NGRAM_SIZE == 2
    # a model trained with other per-language settings is stale: its data fingerprint differs
    before = train.data_fingerprint()
    monkeypatch.setattr(train, "LANG_SETTINGS", train.LANG_SETTINGS.replace("ngram_size 2", "ngram_size 1"))
    assert train.data_fingerprint() != before
