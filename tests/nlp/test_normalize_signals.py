"""Normalisation keeps a map back to the original text; signals are found in three languages."""

from __future__ import annotations

import pytest

from precursor_watch.nlp.normalize import compact_term, normalize
from precursor_watch.nlp.signals import SignalMatcher


@pytest.mark.parametrize("text", [
    "plain ascii N-P-P",
    "ｆｕｌｌ－ｗｉｄｔｈ　ＮＰＰ",
    "zero\u200bwidth\u200d fen\u2060tanyl",
    "Cyrillic НРР and Greek ΝΡΡ",
    "ligature ﬁ and İstanbul",
    "中文 芬太尼，现货！",
])
def test_every_norm_character_maps_into_the_original(text):
    nt = normalize(text)
    for i in range(len(nt.norm)):
        j = nt.norm_to_orig(i)
        assert 0 <= j < len(text)
    for i in range(len(nt.compact)):
        k = nt.compact_to_norm(i)
        assert nt.norm[k] == nt.compact[i]


def test_views():
    nt = normalize("Ｎ Ｐ Ｐ, f3nt@nyl")
    assert nt.norm == "n p p, f3nt@nyl"
    assert nt.compact == "nppf3nt@nyl"
    assert "nppfentanyl" in nt.leet
    assert compact_term("1-Boc-4-piperidone") == "1boc4piperidone"
    assert normalize("25kg @fake_handle").leet == []  # digits next to units and handles are not leetspeak


@pytest.fixture(scope="module")
def signals():
    return SignalMatcher.load()


@pytest.mark.parametrize("text,kinds", [
    ("Price USD 95/kg, MOQ 1 kg, in stock, free sample, DHL to Mexico", {"price", "moq", "stock", "sample", "shipping"}),
    ("pass customs, stealth packing, Telegram @fake_x, pay BTC", {"customs_stealth", "encrypted_messenger", "payment"}),
    ("价格优惠，起订1公斤，现货，双清包税，微信联系，比特币付款", {"price", "moq", "stock", "customs_stealth", "messenger", "payment"}),
    ("Precio 20 USD por kg, pedido mínimo 1 kg, envío discreto a México, pago en cripto", {"price", "moq", "shipping", "customs_stealth", "payment"}),
    ("We do not sell controlled precursors.", {"refusal"}),
    ("No vendemos precursores controlados.", {"refusal"}),
    ("本公司不销售易制毒化学品。", {"refusal"}),
    ("Fentanyl test strips and naloxone", {"harm_reduction"}),
    ("Police seized 40 kg, according to prosecutors", {"context"}),
])
def test_signal_kinds_in_three_languages(signals, text, kinds):
    hits = signals.find(normalize(text))
    assert kinds <= {h.kind for h in hits}
    for h in hits:
        assert text[h.start:h.end] == h.matched


def test_skype_handle_is_not_an_encrypted_messenger(signals):
    hits = signals.find(normalize("Skype: @fake_seller_1, e-mail nobody@example.invalid"))
    assert {h.kind for h in hits} == {"messenger"}
    assert not any(h.red_flag for h in hits)


@pytest.mark.parametrize(
    "text,kind",
    [
        ("Sorry dear, that's banned, we can not do it", "refusal"),
        ("亲，这个管控了，做不了哈", "refusal"),
        ("Lo siento amigo, eso está prohibido, no se puede", "refusal"),
        ("Discontinued: these items were removed from our catalogue.", "refusal"),
        ("已下架，不再供应。", "refusal"),
        ("Descontinuado, ya no se ofrece.", "refusal"),
        ("This product is not available for online purchase.", "legal_only"),
        ("本品不支持线上购买，仅限院内使用。", "legal_only"),
        ("Proveedores: no se muestran proveedores de precursores.", "legal_only"),
        ("Licensed veterinarians only.", "restricted_sale"),
        ("Disponible solo para médicos veterinarios con cédula.", "restricted_sale"),
        ("兽用处方药，仅限持证兽医购买，凭兽医处方供应。", "restricted_sale"),
        ("Moderator note: a post in this thread was removed; the account was suspended.", "context"),
        ("Nota de moderación: se eliminó un mensaje; viola la regla 4 y la cuenta fue suspendida.", "context"),
        ("版主提示：本帖中的一条广告已被删除，该账号已被封禁。", "context"),
        ("Según las autoridades, el portal retiró más de 2,000 anuncios.", "context"),
        ("The platform removed 3,000 listings last week.", "context"),
        ("会员通知〔2024〕17号：上述物质列入表一，自2024年12月3日起生效。", "context"),
        ("The following may not be listed on this marketplace:", "prohibited"),
        ("No se permite publicar en este sitio:", "prohibited"),
        ("严禁发布下列物品：", "prohibited"),
        ("本品仅供研究使用。", "offer"),
        ("Regulatory: US List I (as carbamate of 4-AP)", "relation"),
        ("Otros clientes compraron", "aside"),
        ("79099粉现在最好卖", "offer"),
    ],
)
def test_refusal_legal_only_relation_wording(signals, text, kind):
    assert kind in {h.kind for h in signals.find(normalize(text))}


@pytest.mark.parametrize(
    "text",
    [
        "We use site files. [Accept all] [Refuse all] [Settings]",
        "本网站使用本地存储。【接受】【拒绝】【设置】",
        "We reserve the right to refuse any order we cannot verify.",
        "对无法核实身份的订单，本公司有权拒绝。",
        "We cannot accept returns of opened chemicals.",
    ],
)
def test_cookie_buttons_and_terms_of_sale_are_no_refusal(signals, text):
    """A shop's consent banner and its right to refuse unverified orders are on every page, offers
    included: they refuse nothing the page names."""
    assert "refusal" not in {h.kind for h in signals.find(normalize(text))}


def test_research_chemicals_is_a_product_category_not_research_wording(signals):
    # "研究化学品价格表" (research chemicals price list) is a seller's title; "本研究" is research prose
    assert "context" not in {h.kind for h in signals.find(normalize("研究化学品价格表"))}
    assert "context" in {h.kind for h in signals.find(normalize("本研究分析了120份样本。"))}
