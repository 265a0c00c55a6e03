"""Page shapes the real-page development set showed (nlp/data/dev_genres.jsonl), each as an
offer and a look-alike that is not one, with its reasons. The texts are written here; none is
taken from the development or evaluation sets.

- a refusal lowers a page only when it leaves nothing listed: a chat that refuses one substance
  and offers another, or a compliance line above a price list, is an offer; a reply that refuses
  and offers an ordinary isomer is not;
- "discontinued" lines name what a catalogue does not sell;
- legal-only statements (in-clinic use, not sold online, no suppliers shown) lower the whole page;
  a sale restricted to licensed buyers or prescriptions does not: a veterinary supplier's xylazine
  offer is flagged (README, "What is flagged"), while xylazine test strips, news and refusals are not;
- a moderation notice quoting a removed advert is no offer, nor a marketplace policy whose
  prohibited-items list names monitored substances with their CAS RNs;
- a name given as the relative of another ("carbamate of 4-AP") is mentioned, not offered;
- consent banners and terms of sale refuse nothing;
- a page naming its product only in its title is judged on the top of the page.
"""

from __future__ import annotations

import pytest

from precursor_watch.nlp.components import NOT_OFFERED_GATE
from tests.nlp.pages import NAMED_GATES, judge, messages

BOCPIP, ANPP, BOC4AP, FOURAP, XYL = "79099-07-3", "21409-26-7", "125541-22-2", "23056-29-3", "7361-61-7"
REFUSAL = "refusal or legal-only statement"
LEGAL = "legal-only statement (in-clinic use, not sold online, not a shop)"
RESTRICTED = "sale restricted to licensed buyers or prescription (still an offer)"
XYLAZINE = "monitored substance Xylazine [7361-61-7"

# Long-page furniture (no price, stock or substance), so a page is judged window by window.
FURNITURE = (
    "\n\nShipping and returns. Orders are processed within two working days. Delivery times are estimates and "
    "depend on the courier and the destination. Unopened items can be returned within fourteen days; the "
    "customer pays return shipping unless the item was damaged. Refunds go to the original payment method.\n\n"
    "About us. We are a small team of chemists, logistics staff and customer-service staff. We answer messages "
    "on working days and keep our documentation up to date for every batch we handle.\n\n"
    "Privacy. We store the name, address and order details of our customers to process orders and keep "
    "invoices for the period required by tax law. Data are shared with couriers only as far as needed.\n\n"
    "Help centre: how do I create an account · how do I reset my password · how do I contact support\n"
)




def not_offered(det) -> list[str]:
    return [m for m in messages(det) if m.endswith("mentioned, not offered")]


# -- a refusal and an offer in one chat ---------------------------------------------------------
def test_chat_refusing_one_substance_and_offering_another_is_flagged_for_the_other(detector):
    chat = (
        "[10:01] Buyer: hello, do you have 4-ANPP?\n"
        "[10:03] Seller: sorry friend, that's banned, we can not do it\n"
        "[10:03] Seller: CAS79099 powder is best seller now\n"
        "[10:05] Buyer: price?\n"
        "[10:06] Seller: 79099 ready in USA warehouse, 1kg 450usd, 5kg 2000usd\n"
        "[10:06] Seller: pay USDT, add my telegram @fake_chat_seller"
    )
    det = judge(detector, chat, "WhatsApp chat export")
    assert det.flagged and det.substance_ids == (BOCPIP,), (det.score, det.substance_ids)
    assert REFUSAL in messages(det)
    assert any(ANPP in m for m in not_offered(det)), not_offered(det)


def test_reply_refusing_the_item_and_offering_an_ordinary_isomer_is_not_flagged(detector):
    reply = (
        "Hello,\nthanks for your message asking about 79099 / 1-Boc-4-piperidone. This item is a controlled "
        "precursor; we do not sell it and we will not ship it to any country.\n"
        "We can offer the unscheduled 1-Boc-3-piperidone (CAS 98977-36-7), 98%, 100 g USD 95, with an end-user "
        "statement.\nRegards, sales team, sales@example.com"
    )
    det = judge(detector, reply, "Re: inquiry 79099")
    assert not det.flagged and det.gate == "monitored substance", (det.score, det.substance_ids)
    assert REFUSAL in messages(det)


# -- compliance wording next to a listing -------------------------------------------------------
def test_compliance_line_above_a_catalogue_card_does_not_cancel_the_card(detector):
    page = (
        "Research chemicals price list\n"
        "For laboratory use only. We do not supply any usage instructions.\n\n"
        "RC-4107 Butonitazene\nCAS: 95810-54-1\nPurity: 99%\n1 g, 5 g, 25 g - USD 312\nIn stock\n\n"
        "Anisole\nCAS: 100-66-3\nPurity: 99%\n100 g - USD 40\nIn stock" + FURNITURE
    )
    det = judge(detector, page, "Research chemicals price list")
    assert det.flagged and det.substance_ids == ("95810-54-1",), (det.score, det.substance_ids)


def test_catalogue_whose_controlled_items_are_discontinued_is_not_flagged(detector):
    page = (
        "New arrivals\n\n"
        "Anisole\nCAS: 100-66-3\nPurity: 99%\n100 g - USD 40\nIn stock\n\n"
        "2-Methylbenzimidazole\nCAS: 615-15-6\nPurity: 98%\n25 g - USD 60\nIn stock\n\n"
        "Discontinued / no longer offered: isotonitazene, protonitazene - these items are now controlled and "
        "were removed from our catalogue.\n\nPayment by bank transfer. Questions: Telegram @fake_rc_desk" + FURNITURE
    )
    det = judge(detector, page, "Building blocks - new arrivals")
    assert not det.flagged and det.gate in NAMED_GATES, (det.score, det.substance_ids)
    assert REFUSAL in messages(det) and len(not_offered(det)) == 2


# -- legal-only pages ---------------------------------------------------------------------------
def test_veterinary_page_for_in_clinic_use_only_is_not_flagged(detector):
    page = (
        "Xylazine - sedative for horses and cattle\nThis product is not available for online purchase.\n"
        "Details: xylazine products are dispensed only in-clinic by our veterinarians. Please book a visit.\n"
        "Payment by card or bank transfer. Orders ship within 48 h." + FURNITURE
    )
    det = judge(detector, page, "Xylazine - in-clinic use only")
    assert not det.flagged and det.gate == "monitored substance", det.score
    assert LEGAL in messages(det)


def test_bulk_xylazine_powder_with_a_cart_is_flagged(detector):
    page = (
        "Xylazine hydrochloride bulk powder, veterinary grade\nFor veterinary use only.\n"
        "CAS 23076-35-9, 99%, white powder\n1 kg: USD 95 | 25 kg: ask\nQuantity: [ 1 ] [Add to cart]\n"
        "MOQ 1 kg, export available" + FURNITURE
    )
    det = judge(detector, page, "Xylazine HCl raw powder (veterinary)")
    assert det.flagged and det.substance_ids == (XYL,), (det.score, det.offer_probability)
    assert LEGAL not in messages(det)


VET_RX = {
    "en": (
        "Xylazine HCl injection 100 mg/mL - 50 mL vial",
        "VetSupply Professional | Sedatives | Practice account | Order history\n"
        "Xylazine hydrochloride injection 100 mg/mL, 50 mL multi-dose vial\n"
        "Prescription-only veterinary medicine. Available to licensed veterinarians only; a valid veterinary "
        "prescription is required.\nPrice per vial: USD 38.50 | In stock\nQuantity: [ 1 ] [Add to cart]\n"
        "Ships to registered practices within 48 h.",
    ),
    "es": (
        "Xilazina inyectable 100 mg/mL - frasco de 50 mL",
        "Farmacia veterinaria | Sedantes | Cuenta de clínica\n"
        "Xilazina (clorhidrato) solución inyectable 100 mg/mL, frasco de 50 mL\n"
        "Medicamento veterinario de prescripción. Disponible solo para médicos veterinarios con cédula.\n"
        "Precio por frasco: MXN 690 | En existencia\n[Agregar al carrito]\nEnvío a clínicas registradas en 48 h.",
    ),
    "zh": (
        "盐酸赛拉嗪注射液 50毫升/瓶",
        "兽用商城 > 镇静麻醉 > 商品详情\n盐酸赛拉嗪注射液 100mg/ml，50毫升/瓶\n"
        "兽用处方药，仅限持证兽医购买，凭兽医处方供应。\n价格：¥85/瓶 现货\n【加入购物车】\n48小时内发往注册诊所。",
    ),
}


@pytest.mark.parametrize("lang", sorted(VET_RX))
def test_veterinary_supplier_selling_xylazine_to_licensed_buyers_is_flagged(detector, lang):
    title, page = VET_RX[lang]
    det = judge(detector, page, title, lang)
    assert det.flagged and det.substance_ids == (XYL,), (det.score, det.substance_ids)
    assert any(m.startswith(XYLAZINE) and not m.endswith("not offered") for m in messages(det)), messages(det)
    assert RESTRICTED in messages(det) and LEGAL not in messages(det) and REFUSAL not in messages(det)


@pytest.mark.parametrize(
    "lang,title,text,reason",
    [
        (
            "en",
            "Fentanyl & xylazine test strips - 10 pack",
            "Harm reduction supplies\nXylazine test strips, 10 strips per pack. A negative result does not mean a "
            "drug is safe.\nPrice: USD 12 | In stock | [Add to cart]",
            "trade signal: harm_reduction",
        ),
        (
            "zh",
            "赛拉嗪检测试纸（10条装）",
            "减害用品\n赛拉嗪检测试纸，每盒10条。阴性结果不代表药物安全。\n价格：¥40 现货 【加入购物车】",
            "trade signal: harm_reduction",
        ),
        (
            "en",
            "Xylazine found in local drug supply",
            "Health officials said on Monday that xylazine, a veterinary sedative, was found in 40% of samples "
            "tested last month. Police reported that online listings advertised it next to fentanyl.",
            "trade signal: context",
        ),
        (
            "es",
            "Re: consulta por xilazina",
            "Comprador: ¿venden xilazina en polvo?\nVendedor: lo siento, no vendemos xilazina, es un medicamento "
            "veterinario controlado.",
            REFUSAL,
        ),
    ],
)
def test_xylazine_look_alikes_are_not_flagged(detector, lang, title, text, reason):
    det = judge(detector, text, title, lang)
    assert not det.flagged and det.gate == "monitored substance", (det.score, messages(det))
    assert any(m.startswith(XYLAZINE) for m in messages(det)) and reason in messages(det), messages(det)


def test_compound_database_page_without_suppliers_is_not_flagged(detector):
    page = (
        "Compound database | Search by CAS | Regulatory lists\n\n4-Piperidone\n\nCAS Number: 41661-47-6\n"
        "Salts: hydrochloride 41979-39-9; hydrochloride monohydrate 40064-34-4\n"
        "Regulatory: UN Table I; US List I (with its salts and carbamates)\n"
        "Suppliers: no suppliers are listed for internationally controlled substances." + FURNITURE
    )
    det = judge(detector, page, "4-Piperidone | CAS 41661-47-6 | compound database")
    assert not det.flagged and det.gate == "monitored substance", det.score
    assert LEGAL in messages(det)


def test_compound_database_page_with_a_supplier_price_is_flagged_for_the_compound_only(detector):
    page = (
        "Compound database | Search by CAS | Regulatory lists\n\n1-Boc-4-AP\n\nCAS Number: 125541-22-2\n"
        "Regulatory: UN Table I; US List I (as carbamate of 4-AP)\n\n"
        "Suppliers (1)\n1. Example Trading Co. - purity 99% - 1 kg - USD 700 - Contact: sales@example.com - "
        "fast delivery to Mexico" + FURNITURE
    )
    det = judge(detector, page, "1-Boc-4-AP | CAS 125541-22-2 | compound database")
    assert det.flagged and det.substance_ids == (BOC4AP,), (det.score, det.substance_ids)
    assert any(FOURAP in m for m in not_offered(det)), not_offered(det)


# -- furniture that refuses nothing -------------------------------------------------------------
def test_consent_banner_and_terms_of_sale_do_not_cancel_an_offer(detector):
    text = (
        "本网站使用本地存储来改善体验。【接受】【拒绝】【设置】\n"
        "出售 N-苯乙基-4-哌啶酮（NPP），39742-60-4，含量99%，现货200公斤，1公斤起订\n"
        "可发美国、墨西哥，双清到门，加V：fake_wx_seller\n"
        "销售条款：对无法核实身份的订单，本公司有权拒绝。"
    )
    det = judge(detector, text, "出售NPP大货", "zh")
    assert det.flagged and det.substance_ids == ("39742-60-4",), det.score
    assert REFUSAL not in messages(det)


def test_a_watched_name_inside_an_ordinary_name_opens_no_gate(detector):
    text = "N-甲基苯胺 | 100-61-8 | 99% | 1 kg | 508元 | 现货\n双清到门，飞机 @fake_cn_seller"
    det = judge(detector, text, "N-甲基苯胺现货", "zh")
    assert not det.flagged and det.gate == "no monitored substance", det.gate
    det = judge(detector, text.replace("N-甲基苯胺", "苯胺"), "苯胺现货", "zh")
    assert det.flagged and det.gate == "watched substance with red flags", det.gate


# -- named only in the title ---------------------------------------------------------------------
def test_long_page_naming_its_product_only_in_the_title_is_judged_on_its_top(detector):
    page = (
        "Home > Pain relief > Opioid analgesics | Secure checkout\n"
        "The product: patches 50 mcg/h, pack of 10\nNo prescription needed, discreet delivery\n"
        "Price: EUR 480 per box\nAdd to basket\nOrder support: Wickr @fake_pharma_desk" + FURNITURE
    )
    det = judge(detector, page, "Fentanyl patches - order without prescription")
    assert det.flagged and det.substance_ids == ("437-38-7",), det.score
    info = (
        "Drug information | A-Z index | Interactions\nThis article describes the medicine's class, legal status "
        "and history. It is a prescription-only medicine in most countries." + FURNITURE
    )
    det = judge(detector, info, "Fentanyl: drug information")
    assert not det.flagged and det.gate == "monitored substance", det.score


# -- moderation notices ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lang,title,text",
    [
        (
            "en",
            "[Moderation] Post removed",
            'Mod note: a reply in this thread was removed. It advertised "4-ANPP and NPP, cheap, Telegram '
            '@fake_mod_quote". Advertising controlled precursors breaks rule 4; the account was banned.',
        ),
        (
            "es",
            "[Moderación] Anuncio retirado",
            'Aviso de moderación: se eliminó un anuncio de este foro. Ofrecía "fentanilo y NPP, Wickr '
            '@fake_aviso_mod". Eso viola la regla 7 y el usuario fue bloqueado.',
        ),
        (
            "zh",
            "【版务】帖子已删除",
            "版主提示：本帖中的一条广告已被删除，内容为“4-ANPP，NPP，便宜，Telegram @fake_bz_quote”。"
            "发布管制前体广告违反版规第4条，该账号已被封禁。",
        ),
    ],
)
def test_moderation_notice_quoting_a_removed_advert_is_not_flagged(detector, lang, title, text):
    det = judge(detector, text, title, lang)
    assert not det.flagged and det.gate == "monitored substance", (det.score, messages(det))
    assert "trade signal: context" in messages(det), messages(det)


# -- marketplace policies ------------------------------------------------------------------------
POLICY = {
    "en": (
        "Seller handbook: chemicals we do not allow",
        "FakeChemMart Seller Centre | Rules | Fees | Help\n\nChemicals policy\n"
        "These substances must not be listed, in any grade, salt or quantity:\n\n"
        "- Fentanyl 437-38-7 and its analogues, e.g. carfentanil 59708-52-0\n"
        "- 4-ANPP 21409-26-7, norfentanyl 1609-66-1, 1-Boc-4-piperidone 79099-07-3\n"
        "- Protonitazene 95958-84-2\n\n"
        "Listings that break this policy are taken down and the seller account is suspended." + FURNITURE,
    ),
    "es": (
        "Manual del vendedor: químicos no permitidos",
        "FakeQuimMarket Centro de vendedores | Reglas | Tarifas | Ayuda\n\nPolítica de químicos\n"
        "No se permite publicar, en ningún grado, sal o cantidad:\n\n"
        "- Fentanilo 437-38-7 y sus análogos, p. ej. carfentanilo 59708-52-0\n"
        "- 4-ANPP 21409-26-7, norfentanilo 1609-66-1, 1-Boc-4-piperidona 79099-07-3\n"
        "- Protonitaceno 95958-84-2\n\n"
        "Las publicaciones que incumplan esta política se retiran y la cuenta del vendedor se suspende.",
    ),
    "zh": (
        "卖家手册：禁售化学品",
        "示例化工商城卖家中心 | 规则 | 费用 | 帮助\n\n化学品规则\n严禁发布下列物质（任何规格、盐类或数量）：\n\n"
        "一、芬太尼 437-38-7 及其类似物，如卡芬太尼 59708-52-0\n"
        "二、4-ANPP 21409-26-7、去甲芬太尼 1609-66-1、1-Boc-4-哌啶酮 79099-07-3\n"
        "三、丙托尼秦 95958-84-2\n\n违反本规则的商品将被下架，卖家账号将被处罚。",
    ),
}
PROHIBITED = "prohibited-items list of a policy page (names in it are mentioned, not offered)"


@pytest.mark.parametrize("lang", sorted(POLICY))
def test_marketplace_policy_listing_prohibited_cas_numbers_is_not_flagged(detector, lang):
    title, page = POLICY[lang]
    det = judge(detector, page, title, lang)
    # every name stands in the prohibited-items list: no name opens the gate
    assert not det.flagged and det.gate == NOT_OFFERED_GATE, (
        det.score,
        messages(det),
    )
    assert PROHIBITED in messages(det) and len(not_offered(det)) >= 6, messages(det)
