"""Page shapes the fourth real-page development set showed (nlp/data/dev_genres4.jsonl): shop pages
whose product is no substance (a book, a poster, an analyser, a reagent test kit) though their
titles name one, a supplier's reply declining an inquiry that quotes the buyer's request, sentence
refusals worded "we are unable to supply" / "tampoco vendemos" / 停止供应, a price-comparison page
for a medicine that cannot be sold online, a look-alike page's "注意区分" line, and scam alerts and
monitoring reports quoting adverts. Each is written here (none is taken from the development or
evaluation sets), in three languages where the rule is worded per language, with an offer of the
same shape that must still be flagged.
"""

from __future__ import annotations

import pytest

from tests.nlp.pages import assert_sells_nothing, judge, messages

FENTANYL, BOCPIP, XYL, NPP = "437-38-7", "79099-07-3", "7361-61-7", "39742-60-4"
LEGAL = "legal-only statement (in-clinic use, not sold online, not a shop)"
REFUSAL = "refusal or legal-only statement"
NOT_A_SUBSTANCE = "the product is no substance (a book, poster or analyser about them)"


# -- shop pages whose product is a book, a poster or an analyser about the substances ------------
NOT_SUBSTANCES = {
    "en-book": (
        "Fentanyl, Inc.: How the Drug Crisis Began (Paperback) – Books",
        "Books › Current Affairs\nFentanyl, Inc. — Paperback, 320 pages, ISBN 978-0-00-000000-0\n"
        "$18.99  Free shipping on orders over $25. [Add to cart] [Buy now]\n"
        "About this book: how fentanyl, carfentanil and the precursor NPP reached the street, told by the "
        "reporters who followed the trade.\nCustomer reviews ★★★★★ (214)",
    ),
    "en-poster": (
        "Fentanyl Awareness Classroom Poster 18x24 – Laminated",
        "Prints › Posters › Educational\nFentanyl awareness classroom poster, 18x24, laminated.\n"
        "$16.50 [Add to cart] Ships in 2 days.\nText on the poster: one pill can kill. Fentanyl is 50 times "
        "stronger than heroin; xylazine is now found with it.",
    ),
    "es-book": (
        "Fentanilo: la droga que cambió el narco (Tapa blanda) – Libros",
        "Libros › Periodismo\nFentanilo: la droga que cambió el narco — tapa blanda, 288 páginas.\n"
        "$ 389 MXN · Envío gratis · [Comprar ahora] [Agregar al carrito]\n"
        "Sinopsis: cómo el fentanilo y sus precursores como la NPP llegaron de Asia a México.",
    ),
    "es-analyser": (
        "Espectrómetro Raman portátil para identificar narcóticos – 12.000 sustancias",
        "Equipo de laboratorio › Análisis\nEspectrómetro Raman portátil, biblioteca espectral de 12.000 "
        "sustancias: fentanilo, carfentanilo, xilacina, NPP.\nPrecio: $ 385,000 MXN + IVA · [Cotizar] "
        "[Agregar al carrito]\nEnvío a todo México.",
    ),
    "zh-book": (
        "《芬太尼危机》平装 图书详情",
        "图书 › 社科 › 纪实\n《芬太尼危机》 平装，320页。\n¥ 58.00 包邮 [加入购物车] [立即购买]\n"
        "内容简介：记者追踪芬太尼和卡芬太尼如何流入街头。",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_SUBSTANCES))
def test_a_book_poster_or_analyser_about_the_substances_is_not_flagged(detector, case):
    title, text = NOT_SUBSTANCES[case]
    assert_sells_nothing(detector, title, text, case[:2], NOT_A_SUBSTANCE)


def test_a_shop_whose_related_products_list_a_poster_still_flags_its_powder(detector):
    text = (
        "Fentanyl HCl powder 99%, 1 g USD 120, 5 g USD 480. [Add to cart]\nStealth shipping to USA and Mexico, "
        "pay BTC.\nRelated products: Fentanyl awareness classroom poster 18x24 · Fentanyl, Inc. (Paperback)"
    )
    det = judge(detector, text, "Buy fentanyl powder online")
    assert det.flagged and FENTANYL in det.substance_ids, (det.score, messages(det))


TEST_KITS = {
    "en": ("Fentanyl and xylazine reagent test kit – 10 tests", "Reagent test kit for fentanyl and xylazine, 10 tests. $24.99 [Add to cart]"),
    "es": ("Kit de prueba reactiva para fentanilo y xilacina – 10 pruebas", "Kit de prueba para fentanilo y xilacina, 10 pruebas. $ 399 MXN [Agregar al carrito]"),
    "zh": ("芬太尼 赛拉嗪 检测试剂盒 10人份", "芬太尼、赛拉嗪检测试剂盒，10人份。¥ 128 [加入购物车]"),
}  # fmt: skip


@pytest.mark.parametrize("lang", sorted(TEST_KITS))
def test_a_reagent_test_kit_naming_the_substances_is_not_flagged(detector, lang):
    title, text = TEST_KITS[lang]
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert "trade signal: harm_reduction" in messages(det), messages(det)


# -- a supplier's reply declining an inquiry, quoting the buyer's request -------------------------
DECLINED = {
    "en": (
        "RE: Inquiry – 1-Boc-4-piperidone 50 kg CIF Manzanillo",
        "Dear Sir/Madam,\nThank you for your inquiry.\nWe regret to inform you that we are unable to quote or "
        "supply this product, a controlled precursor.\n\n-----Original Message-----\nWe need 1-boc-4-piperidone "
        "79099-07-3, 50 kg monthly, CIF Manzanillo. Neutral packing, declare as resin additive, pay USDT.",
    ),
    "es": (
        "Re: Cotización 1-boc-4-piperidona 50 kg",
        "Estimado cliente:\nGracias por su interés. Lamentamos informarle que no podemos atender su solicitud.\n\n"
        "Mensaje del comprador: necesito cotización de 1-boc-4-piperidona CAS 79099-07-3, 50 kg, entrega en "
        "Monterrey, mándenlo como otro producto para pasar aduana, pago en USDT.",
    ),
    "zh": (
        "回复：询价 1-Boc-4-哌啶酮 50公斤",
        "您好：\n感谢您的询价。很抱歉，我们无法报价。\n\n买家原文：求购1-Boc-4-哌啶酮 CAS 79099-07-3，50公斤，"
        "发墨西哥，换名申报包清关，USDT付款。",
    ),
}


@pytest.mark.parametrize("lang", sorted(DECLINED))
def test_a_reply_declining_an_inquiry_that_quotes_it_is_not_flagged(detector, lang):
    title, text = DECLINED[lang]
    assert_sells_nothing(detector, title, text, lang, LEGAL)


def test_a_reply_that_quotes_a_price_for_the_inquiry_is_flagged(detector):
    text = (
        "Dear Sir,\nThank you for your inquiry. We can supply 1-boc-4-piperidone 79099-07-3, 99%, "
        "50 kg at USD 110/kg CIF Manzanillo, neutral packing, 100% pass customs. Payment USDT or T/T.\n"
        "-----Original Message-----\nWe need 1-boc-4-piperidone 50 kg monthly."
    )
    det = judge(detector, text, "RE: Inquiry – 1-Boc-4-piperidone 50 kg")
    assert det.flagged and det.substance_ids == (BOCPIP,), (det.score, messages(det))


@pytest.mark.parametrize(
    "lang, sentence",
    [
        ("en", "We are unable to supply NPP 39742-60-4 to any destination."),
        ("en", "We also do not supply NPP 39742-60-4."),
        ("es", "Tampoco vendemos NPP 39742-60-4."),
        ("es", "Nuestra empresa dejó de exportar NPP 39742-60-4."),
        ("zh", "本公司已停止供应NPP 39742-60-4。"),
    ],
)
def test_sentence_refusals_are_read_as_refusals(detector, lang, sentence):
    det = judge(detector, sentence, None, lang)
    assert not det.flagged and REFUSAL in messages(det), (det.score, messages(det))


# -- a price comparison for a medicine no website may sell; a look-alike's "注意区分" line ---------
def test_a_price_comparison_for_a_medicine_that_cannot_be_sold_online_is_not_flagged(detector):
    text = (
        "药品比价 › 镇痛药 › 芬太尼透皮贴剂\n药品分类：麻醉药品 · 网络不可售\n提示：本品仅可凭处方在定点医疗机构取药，"
        "任何网络平台均不得销售。\n各地中标价：4.2mg ¥ 96.5；8.4mg ¥ 178.0\n本页价格仅供参考。"
    )
    assert_sells_nothing(detector, "芬太尼透皮贴剂 价格对比", text, "zh", LEGAL)


def test_a_look_alike_page_that_tells_itself_apart_from_the_monitored_isomer_is_not_flagged(detector):
    text = (
        "1-Boc-3-哌啶酮 98977-36-7 98%\n规格 5 g ¥ 65 [加入购物车]；25 g ¥ 210 [加入购物车]\n"
        "注意区分：本品为3-位异构体，不是1-Boc-4-哌啶酮（CAS 79099-07-3），后者本店已停止销售。"
    )
    det = judge(detector, text, "1-Boc-3-哌啶酮 98% 研途试剂", "zh")
    assert not det.flagged and REFUSAL in messages(det), (det.score, messages(det))


def test_the_monitored_isomer_sold_on_the_same_template_is_flagged(detector):
    text = "1-Boc-4-哌啶酮 79099-07-3 98%\n规格 5 g ¥ 65 [加入购物车]；25 g ¥ 210 [加入购物车]\n现货，当天发货，可发墨西哥。"
    det = judge(detector, text, "1-Boc-4-哌啶酮 98% 研途试剂", "zh")
    assert det.flagged and det.substance_ids == (BOCPIP,), (det.score, messages(det))


# -- a scam alert quoting an advert ---------------------------------------------------------------
def test_a_scam_alert_carries_report_wording(detector):
    text = (
        "Scam alert: GreenLeafChem took my money. They advertise lines like: 'NPP 39742-60-4 99%, 1kg $900, "
        "pass customs, Telegram @greenleaf_fake'. I ordered benzocaine, not that, and never got it. Avoid them."
    )
    det = judge(detector, text, "SCAM ALERT: GreenLeafChem – Scam Reports", "en")
    assert "the page calls itself a report, notice or alert (news, regulation, research wording)" in messages(det)
    assert not det.flagged, (det.score, messages(det))
