"""Page shapes the third real-page development set showed (nlp/data/dev_genres3.jsonl): reference
pages that look commercial, a platform's rejection notice and a court record quoting adverts,
compliance pages listing what a supplier does not supply, "not to be confused with" disclaimers on
look-alike pages, and related-products lists naming naloxone. Each is written here (none is taken
from the development or evaluation sets), in three languages where the rule is worded per
language, with an offer of the same shape that must still be flagged.
"""

from __future__ import annotations

import pytest

from precursor_watch.nlp.detection import DetectInput, OfferSignals
from tests.nlp.pages import assert_sells_nothing, judge, messages

FENTANYL, ANPP, PIPERIDONE, XYL, BOCPIP = "437-38-7", "21409-26-7", "41661-47-6", "7361-61-7", "79099-07-3"
LEGAL = "legal-only statement (in-clinic use, not sold online, not a shop)"
REFUSAL = "refusal or legal-only statement"
RESTRICTED = "sale restricted to licensed buyers or prescription (still an offer)"


# -- price guides: a price next to a medicine, on a page that says it sells nothing -------------
PRICE_GUIDES = {
    "en": (
        "Fentanyl patch price guide",
        "Drug prices · Coupons · Pharmacy finder\nFentanyl transdermal patch 25 mcg/h, box of 5.\n"
        "Typical cash price: USD 95; with our coupon USD 61. [Get coupon] [Compare pharmacies]\n"
        "Prices are estimates and are not an offer to sell. We are not a pharmacy.",
    ),
    "es": (
        "Fentanilo parches: compara precios",
        "Precios de medicamentos · Cupones · Farmacias\nFentanilo parche transdérmico 25 mcg/h, caja de 5.\n"
        "Precio orientativo: 1.450 MXN; con cupón 990 MXN. [Obtener cupón] [Buscar farmacia]\n"
        "Los precios son orientativos y no constituyen una oferta de venta. No somos una farmacia.",
    ),
    "zh": (
        "芬太尼透皮贴参考价格",
        "药品比价 · 优惠券 · 附近药店\n芬太尼透皮贴 25微克/小时，每盒5贴。\n参考价格：¥ 420；用优惠券 ¥ 350。[领取优惠券] [查找药店]\n"
        "本站不是药店，不销售任何药品。价格仅供参考，不构成要约。",
    ),
}


@pytest.mark.parametrize("lang", sorted(PRICE_GUIDES))
def test_price_guide_for_a_medicine_is_not_flagged(detector, lang):
    assert_sells_nothing(detector, *PRICE_GUIDES[lang], lang, LEGAL)


def test_rogue_pharmacy_with_the_same_price_line_is_flagged(detector):
    text = (
        "Online pharmacy · No prescription needed\nFentanyl transdermal patch 25 mcg/h, box of 5.\n"
        "Price: USD 95 per box, 3 boxes USD 250. [Add to cart]\nDiscreet worldwide shipping, pay with BTC."
    )
    det = judge(detector, text, "Buy fentanyl patches without prescription")
    assert det.flagged and det.substance_ids == (FENTANYL,), (det.score, messages(det))
    assert LEGAL not in messages(det)


# -- a platform's rejection notice quoting the listing ------------------------------------------
REJECTIONS = {
    "en": (
        "Your listing was not approved",
        "Dear seller,\nwe reviewed the following listing and could not approve it:\n"
        "  Title: ANPP 99% powder, stock in Mexico\n  Price: USD 900 / kg, ship to USA, pay USDT\n"
        "Reason: controlled precursors may not be listed. A policy strike has been added to your account.",
    ),
    "es": (
        "Tu publicación fue rechazada",
        "Hola:\nrevisamos tu publicación y no pudimos aprobarla:\n"
        "  Título: ANPP 99 % polvo, existencia en México\n  Precio: 900 USD / kg, envío a EE. UU., pago en USDT\n"
        "Motivo: no se permite publicar precursores controlados.",
    ),
    "zh": (
        "【平台通知】商品审核未通过",
        "尊敬的卖家：\n您发布的以下商品未通过审核，已被下架：\n  标题：ANPP 99% 粉末 墨西哥现货\n  价格：US$ 900/公斤，发美国，USDT付款\n"
        "驳回原因：平台禁止发布管制前体。",
    ),
}


@pytest.mark.parametrize("lang", sorted(REJECTIONS))
def test_platform_rejection_notice_quoting_the_listing_is_not_flagged(detector, lang):
    assert_sells_nothing(detector, *REJECTIONS[lang], lang, LEGAL)


def test_seller_whose_old_listing_was_removed_and_who_offers_again_is_flagged(detector):
    text = (
        "My last post got removed by the mods, so here again: ANPP 99% powder in stock, 1kg USD 900, "
        "ship to USA and Mexico, pay USDT. Contact telegram @fake_anpp_seller"
    )
    det = judge(detector, text, "ANPP in stock again")
    assert det.flagged and det.substance_ids == (ANPP,), (det.score, messages(det))


# -- a court record quoting adverts --------------------------------------------------------------
COURT = {
    "en": (
        "Indictment describes precursor adverts",
        "UNITED STATES DISTRICT COURT (summary by our court reporter)\nProsecutors say the company advertised "
        "ANPP on trade sites. One advert read: 'ANPP 99%, USD 900/kg, safe delivery to Mexico'. An undercover "
        "agent paid in cryptocurrency and received 1 kg by courier.",
    ),
    "es": (
        "Acusación describe anuncios de precursores",
        "TRIBUNAL DE DISTRITO (resumen de nuestra redacción)\nLa fiscalía afirma que la empresa anunciaba ANPP en "
        "sitios comerciales. Un anuncio decía: «ANPP 99 %, 900 USD/kg, entrega segura a México». Un agente "
        "encubierto pagó con criptomoneda y recibió 1 kg por paquetería.",
    ),
    "zh": (
        "起诉书披露前体广告",
        "法院文书摘要——由本报记者整理。\n起诉书称，该公司在贸易网站上宣传ANPP。其中一则广告写道：“ANPP 99%，900美元/公斤，"
        "安全送达墨西哥”。卧底警员用加密货币付款，收到1公斤快递。",
    ),
}


@pytest.mark.parametrize("lang", sorted(COURT))
def test_court_record_quoting_adverts_is_not_flagged(detector, lang):
    assert_sells_nothing(detector, *COURT[lang], lang, LEGAL)


# -- a compliance page: "we do not offer ... the following" --------------------------------------
COMPLIANCE = {
    "en": "Export compliance.\nWe do not offer, quote, sell or ship the following substances, in any quantity:\n"
    "  4-Piperidone  CAS 41661-47-6\n  ANPP  CAS 21409-26-7\n  Fentanyl  CAS 437-38-7\n"
    "Inquiries for them are declined and may be reported.",
    "es": "Cumplimiento de exportación.\nNo vendemos, cotizamos ni enviamos las siguientes sustancias:\n"
    "  4-piperidona  CAS 41661-47-6\n  ANPP  CAS 21409-26-7\n  fentanilo  CAS 437-38-7\n"
    "Las solicitudes se rechazan y pueden reportarse.",
    "zh": "出口合规。\n我司不销售、报价以下物质：\n  4-哌啶酮  CAS 41661-47-6\n  ANPP  CAS 21409-26-7\n  芬太尼  CAS 437-38-7\n"
    "相关询价一律拒绝。",
}


@pytest.mark.parametrize("lang", sorted(COMPLIANCE))
def test_compliance_list_of_what_a_supplier_does_not_supply_is_not_flagged(detector, lang):
    det = judge(detector, COMPLIANCE[lang], "Restricted products", lang)
    assert not det.flagged and det.substance_ids == (), (det.score, det.substance_ids, messages(det))
    assert any(m.startswith("prohibited-items list") for m in messages(det)), messages(det)


# -- look-alike pages that say what they are not -------------------------------------------------
LOOKALIKES = {
    "en": (
        "1-Methyl-4-piperidone 1445-73-4, 99%",
        "1-Methyl-4-piperidone, CAS 1445-73-4, 99%, 1 kg USD 60, in stock, ships worldwide.\n"
        "Not to be confused with the controlled 4-piperidone (CAS 41661-47-6).",
    ),
    "es": (
        "1-Metil-4-piperidona 1445-73-4, 99 %",
        "1-Metil-4-piperidona, CAS 1445-73-4, 99 %, 1 kg 1.100 MXN, en existencia, envíos a todo el país.\n"
        "No confundir con la 4-piperidona controlada (CAS 41661-47-6).",
    ),
    "zh": (
        "1-甲基-4-哌啶酮 1445-73-4 99%",
        "1-甲基-4-哌啶酮，CAS 1445-73-4，99%，1公斤 ¥ 420，现货，全国包邮。\n请勿与受管制的 4-哌啶酮（CAS 41661-47-6）混淆。",
    ),
}


@pytest.mark.parametrize("lang", sorted(LOOKALIKES))
def test_look_alike_naming_the_monitored_substance_it_is_not_is_not_flagged(detector, lang):
    title, text = LOOKALIKES[lang]
    det = judge(detector, text, title, lang)
    assert not det.flagged and det.substance_ids == (), (det.score, det.substance_ids, messages(det))
    assert REFUSAL in messages(det), messages(det)


def test_a_disclaimer_about_other_products_refuses_nothing(detector):
    text = (
        "4-Piperidone HCl monohydrate, CAS 40064-34-4, 99%, 1 kg USD 300, stock in USA warehouse, pay USDT.\n"
        "In our shop 'P-one' means this product only; do not confuse it with other products."
    )
    det = judge(detector, text, "P-one 4-piperidone")
    assert det.flagged and det.substance_ids == (PIPERIDONE,), (det.score, messages(det))
    assert REFUSAL not in messages(det)


# -- Spanish: the proper name xilacina, and a sale "not to private buyers" -----------------------
def test_veterinary_xylazine_sold_not_to_private_buyers_is_flagged_with_the_spanish_name(detector):
    text = (
        "Distribuidora veterinaria · Área profesional\nXilacina 20 mg/ml solución inyectable, frasco de 50 ml.\n"
        "Precio: 18,90 € sin IVA. Disponible. Añadir al carrito.\n"
        "No se vende a particulares: se requiere receta veterinaria."
    )
    det = judge(detector, text, "Xilacina 20 mg/ml 50 ml", "es")
    assert det.flagged and det.substance_ids == (XYL,), (det.score, messages(det))
    assert RESTRICTED in messages(det) and REFUSAL not in messages(det), messages(det)
    assert any(s.id == XYL and s.how in ("name", "synonym") for s in det.substances), det.substances  # not fuzzy


def test_spanish_supplier_reply_refusing_in_the_third_person_is_not_flagged(detector):
    text = (
        "Estimado cliente: en respuesta a su solicitud («ANPP 5 kg, entrega en Culiacán, pago en USDT»), le "
        "informamos que Reactivos del Bajío no vende ANPP ni ningún otro precursor controlado."
    )
    det = judge(detector, text, "RE: cotización ANPP", "es")
    assert not det.flagged, (det.score, messages(det))
    assert REFUSAL in messages(det), messages(det)


# -- relatives, and words that are no signal -----------------------------------------------------
def test_a_substance_named_as_a_relative_is_mentioned_not_offered(detector):
    text = (
        "Etonitazepyne, CAS 2785346-75-8, 99%, 5 g USD 400, stock, ships to USA.\n"
        "It is a benzimidazole compound closely related to etonitazene."
    )
    det = judge(detector, text, "Etonitazepyne powder")
    assert det.flagged and det.substance_ids == ("2785346-75-8",), (det.substance_ids, messages(det))


def test_ghs_signal_word_is_no_encrypted_messenger(detector):
    text = "Xylazine hydrochloride compound summary.\nSafety (GHS)\n  Signal word: Danger\n  Hazard statements: H301"
    det = judge(detector, text, "Xylazine hydrochloride")
    assert not any("encrypted_messenger" in m for m in messages(det)), messages(det)


def test_naloxone_in_a_related_products_list_does_not_lower_the_offer(detector):
    text = (
        "Norfentanyl reference material, CAS 1609-66-1, 98%.\nPrice: 10 mg USD 300, 1 g USD 2,100. In stock. "
        "[Add to cart] Ships worldwide, pay USDT.\n\nRelated products: fentanyl-d5 solution | naloxone HCl | caffeine"
    )
    det = judge(detector, text, "Norfentanyl 1609-66-1")
    # a short text is judged whole: a harm-reduction word counted there would cut the score to a third
    assert det.flagged and "1609-66-1" in det.substance_ids, (det.score, messages(det))


# -- page evidence: a shop template around a text that offers nothing -------------------------
SHOP_PAGE = OfferSignals(price=True, add_to_cart=True, schema_offer=True, seller=True)


def test_news_item_on_a_shop_template_is_not_flagged_by_page_evidence_alone(detector):
    text = "Officials of two countries agreed to share data on isotonitazene parcels shipped to Mexico."
    [det] = detector.detect([DetectInput("t", text, "Talks on isotonitazene control", "en", offer_signals=SHOP_PAGE)])
    assert not det.flagged and det.gate == "monitored substance", (det.score, messages(det))
    assert "page has an add-to-cart control" in messages(det)


def test_terse_card_on_the_same_template_is_still_flagged(detector):
    text = "ANPP CAS 21409-26-7, 99%, 1 kg foil bag, stock."
    [det] = detector.detect([DetectInput("t", text, "ANPP 21409-26-7", "en", offer_signals=SHOP_PAGE)])
    assert det.flagged and det.substance_ids == (ANPP,), (det.score, messages(det))


def test_inquiries_not_accepted_notice_is_a_refusal(detector):
    text = (
        "NOTICE: Inquiries for tert-Butyl 4-oxopiperidine-1-carboxylate (CAS 79099-07-3) are not accepted.\n"
        "It is a controlled substance and we have no licence to trade it. Compliance team: WA +1-555-0108"
    )
    [det] = detector.detect([DetectInput("t", text, "NOTICE", "en", offer_signals=SHOP_PAGE)])
    assert not det.flagged and REFUSAL in messages(det), (det.score, messages(det))
