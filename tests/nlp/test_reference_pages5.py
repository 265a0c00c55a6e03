"""Page shapes of the fifth development pass: a shop selling other drugs whose only monitored name
is a warning ("counterfeit pills may contain fentanyl") or a comparison's yardstick ("weaker than
oxycodone and fentanyl"), and reports, notices and alerts whose title says what they are while
their body quotes adverts. Each is written here (none is taken from the development or
evaluation sets), with an offer of the same shape that must still be flagged.
"""

from __future__ import annotations

import pytest

from tests.nlp.pages import judge, messages

FENTANYL, ISO, NPP = "437-38-7", "14188-81-9", "39742-60-4"
RELATION = "a name given as the relative of another (mentioned, not offered)"
CONTEXT = "trade signal: context"
REPORT = "the page calls itself a report, notice or alert (news, regulation, research wording)"

PHARMACY = {
    "en": (
        "Oxycodone 30mg – Buy Online Without Prescription | MedsDirect24",
        "MedsDirect24 Online Pharmacy\nHome › Pain Relief › Oxycodone 30mg\n"
        "OXYCODONE 30MG – 60 pills $330 | 120 pills $590 [Select quantity] [ADD TO CART]\n"
        "Shipping: discreet worldwide delivery, tracking in 24 h. Payment: Bitcoin, USDT.\n"
        "Warning: never buy pills from street dealers, counterfeit pills may contain fentanyl. "
        "Our pills are pharma grade.\nContact: Telegram @medsdirect_fake",
    ),
    "es": (
        "Oxicodona 30 mg – Comprar sin receta | FarmaExpress",
        "FarmaExpress Farmacia en línea\nInicio › Dolor › Oxicodona 30 mg\n"
        "OXICODONA 30 MG – 60 pastillas $330 USD | 120 pastillas $590 USD [Agregar al carrito]\n"
        "Envío discreto a todo México. Pago: Bitcoin, USDT.\n"
        "Aviso: no compre pastillas en la calle, las pastillas falsas pueden contener fentanilo.\n"
        "Contacto: Telegram @farmaexpress_fake",
    ),
    "zh": (
        "盐酸曲马多片 100mg 免处方 网上购买 - 康健网上药房",
        "康健网上药房\n首页 › 镇痛 › 曲马多\n盐酸曲马多片 100mg × 60片 ¥ 580 【加入购物车】\n"
        "配送：国际挂号，隐蔽包装。付款：USDT。\n【常见问题】\n问：和羟考酮比哪个强？\n"
        "答：曲马多为中等强度镇痛药，强度明显低于羟考酮和芬太尼。\n联系：Telegram @kangjian_fake",
    ),
}
OFFER_BESIDE = {
    "en": "FENTANYL PATCHES 100mcg/h – box of 5 $250 [ADD TO CART]\n",
    "es": "PARCHES DE FENTANILO 100 mcg/h – caja de 5 $250 USD [Agregar al carrito]\n",
    "zh": "芬太尼透皮贴 100微克/小时 × 5贴 ¥ 1,800 【加入购物车】\n",
}


@pytest.mark.parametrize("lang", sorted(PHARMACY))
def test_a_shop_whose_only_monitored_name_is_a_warning_or_a_yardstick_is_not_flagged(detector, lang):
    title, text = PHARMACY[lang]
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert FENTANYL not in det.substance_ids and det.gate != "monitored substance", (det.gate, messages(det))
    assert RELATION in messages(det)


@pytest.mark.parametrize("lang", sorted(PHARMACY))
def test_the_same_shop_selling_fentanyl_patches_is_flagged(detector, lang):
    title, text = PHARMACY[lang]
    head, _, rest = text.partition("\n")
    det = judge(detector, f"{head}\n{OFFER_BESIDE[lang]}{rest}", title, lang)
    assert det.flagged and FENTANYL in det.substance_ids, (det.score, messages(det))


@pytest.mark.parametrize(
    ("lang", "title", "text"),
    [
        (
            "en",
            "Isotonitazene (ISO) powder 99% – buy online",
            "Isotonitazene powder, 99%, 1 g $120, 10 g $900. Ships from our EU stock. Isotonitazene is "
            "reported to be many times more potent than fentanyl. Contact Telegram @iso_fake",
        ),
        (
            "es",
            "Isotonitaceno en polvo 99% – venta",
            "Isotonitaceno en polvo, 99%, 1 g $120 USD, 10 g $900 USD. Envío desde stock en México. "
            "Se dice que es más potente que el fentanilo. Contacto Telegram @iso_fake",
        ),
    ],
)
def test_an_offer_compared_with_fentanyl_offers_its_product_not_the_yardstick(detector, lang, title, text):
    det = judge(detector, text, title, lang)
    assert det.flagged and ISO in det.substance_ids and FENTANYL not in det.substance_ids, messages(det)


REPORTS = {
    "en": (
        "Customs Notice 24-11: Controlled Precursors – Import and Export Permit Requirements",
        "Home › Notices › Customs Notices\nThis notice informs importers and exporters of the permit "
        'requirements.\nAn advert of the kind we intercept: "NPP CAS 39742-60-4 99% 1kg $480, safe '
        'delivery to Mexico, pass customs, Telegram @seller_fake".\nShipments without a permit will be '
        "detained.",
    ),
    "es": (
        "Boletín: anuncios de precursores en redes sociales (informe de monitoreo)",
        'Inicio › Publicaciones\nEntre enero y marzo encontramos anuncios como este: "NPP CAS '
        '39742-60-4 99% 1 kg $480 USD, envío seguro a México, pasa aduana, Telegram @vendedor_fake".\n'
        "Las plataformas retiraron la mayoría.",
    ),
    "zh": (
        "社交平台芬太尼前体广告监测报告（2024 年第一季度）",
        "首页 › 研究成果\n一季度我们发现此类广告：“NPP CAS 39742-60-4 99% 1kg $480，墨西哥双清包税，"
        "Telegram @seller_fake”。\n多数已被平台删除。",
    ),
}


@pytest.mark.parametrize("lang", sorted(REPORTS))
def test_a_report_titled_as_a_report_quoting_an_advert_is_not_flagged(detector, lang):
    title, text = REPORTS[lang]
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert any(r.field == "title" and r.message in (CONTEXT, REPORT) for r in det.reasons), messages(det)


@pytest.mark.parametrize("lang", sorted(REPORTS))
def test_the_quoted_advert_under_a_seller_title_is_flagged(detector, lang):
    _, text = REPORTS[lang]
    det = judge(detector, text, "NPP 99% 1kg in stock", lang)
    assert det.flagged and NPP in det.substance_ids, (det.score, messages(det))


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "丁托尼秦 Butonitazene 分析标准品 / 研究用散装 CAS 95810-54-1",
            "丁托尼秦 分析标准品 99%，1g ¥ 1,200，现货，顺丰发货。联系微信 fake_wx_bt01",
        ),
        (
            "ChemFake 研化 · 苯并咪唑类研究化合物目录",
            "美托尼秦 Metonitazene CAS 14680-51-4 ｜ 纯度 ≥99.5% ｜ 1 g ¥ 980 ｜ 5 g ¥ 3,900 ｜ 现货 ｜ 加入购物车",
        ),
    ],
)
def test_for_research_use_and_research_compounds_in_a_chinese_title_are_seller_wording(detector, title, text):
    """研究用 (for research use) and 研究化合物 (research compounds) are how sellers word a catalogue."""
    det = judge(detector, text, title, "zh")
    assert det.flagged, (det.score, messages(det))
    assert not any(r.field == "title" and r.message == CONTEXT for r in det.reasons)


# -- look-alike and non-sale pages of the fifth development set's genres --------------------------
# (language, title, text, a reason the page must carry); written here, none taken from the sets.
NOT_SOLD = {
    "en-search-no-leads": (
        "en",
        "piperidine 110-89-4 – 6 Suppliers | Chem Directory Search",
        "Piperidine CAS 110-89-4, 99%, 200 kg drum. [China] 2024-02-20 | Fake Fine Chem [Not Verified] | "
        "Negotiable | [Inquiry]\n\nNote: searches for 4-piperidone (41661-47-6) and NPP (39742-60-4) return "
        "no selling leads because these products are on the directory's prohibited list.",
        "refusal or legal-only statement",
    ),
    "en-ketal": (
        "en",
        "1,4-Dioxa-8-azaspiro[4.5]decane 177-11-7 – 3 Suppliers",
        "1,4-Dioxa-8-azaspiro[4.5]decane (4-piperidone ethylene ketal) CAS 177-11-7, 99% min, 25 kg drum, "
        "US $28.00 / kg, Negotiable, [Inquiry]. Sample available, sea freight.",
        RELATION,
    ),
    "en-quote-refusal": (
        "en",
        "N-Boc-4-piperidinol 109384-19-2, 98% | Cat. QB-1001",
        "N-Boc-4-piperidinol, CAS 109384-19-2, 98%, 25 g $15, 100 g $45, in stock.\n"
        "Q: Can you supply the ketone instead?\nA: No. We will not quote 79099-07-3 or 4-piperidone salts "
        "to any customer.",
        "refusal or legal-only statement",
    ),
    "en-blog-links": (
        "en",
        "Tramadol 100mg – buy online | PillShop",
        "Tramadol 100 mg, 60 pills $120, 120 pills $210 [Add to cart]. Discreet shipping, Bitcoin.\n\n"
        "From our blog\n• How to spot fake pills: the fentanyl crisis explained\n• Tramadol vs codeine",
        "related-products or see-also list (names in it are mentioned, not offered)",
    ),
    "en-wall-art": (
        "en",
        "Fentanyl Molecule Wall Art Print – Chemistry Poster | ArtShop",
        "Fentanyl molecule wall art print, matte paper, A3. $24.00 [Add to cart]. Shows the structure and "
        "CAS 437-38-7 of fentanyl in a minimalist line style.",
        "the product is no substance (a book, poster or analyser about them)",
    ),
    "en-analyser": (
        "en",
        "Handheld Raman Narcotics Analyzer with Fentanyl and Xylazine Library",
        "Handheld Raman narcotics analyzer, library includes fentanyl, carfentanil and xylazine. "
        "Price: $38,500 [Request a quote] [Add to cart]. Ships to agencies worldwide.",
        "the product is no substance (a book, poster or analyser about them)",
    ),
    "en-rejected-product-listing": (
        "en",
        "[TradeHub] Your product listing has been rejected (Listing PL-1001)",
        "Dear seller,\nYour product listing has been rejected.\nTitle: NPP 39742-60-4 99% powder, 1kg $480, "
        "safe delivery to Mexico, WhatsApp +1-555-0123.\nReason: prohibited item.",
        "legal-only statement (in-clinic use, not sold online, not a shop)",
    ),
    "es-declined-inquiry": (
        "es",
        "Chat del directorio — consulta rechazada por el proveedor",
        "Comprador: ¿tienen NPP 39742-60-4? necesito 20 kg con entrega en México, pago USDT.\n"
        "Proveedor: No. Sin permiso de importación no podemos cotizar.",
        "refusal or legal-only statement",
    ),
    "es-answered-question": (
        "es",
        "Acepromacina 1% inyectable 50 ml — VetMayoreo",
        "Acepromacina 1% inyectable, frasco de 50 ml, $420 MXN [Agregar al carrito]. Envío a todo México.\n"
        "¿Tienen xilacina? — No. Consulte alternativas con su proveedor.",
        "refusal or legal-only statement",
    ),
    "es-price-table": (
        "es",
        "Precios máximos de analgésicos opioides 2024 — MedPrecios",
        "| Medicamento | Presentación | Precio máximo |\n| Fentanilo parche 50 mcg/h | caja de 5 | $1,850 |\n"
        "MedPrecios no vende medicamentos ni recibe pedidos; esta tabla es informativa.",
        "legal-only statement (in-clinic use, not sold online, not a shop)",
    ),
    "es-poster": (
        "es",
        "Cuadro Póster Molécula Fentanilo — Arte Química 50x70",
        "Cuadro póster molécula fentanilo, 50x70, impreso en papel mate. $349 [Comprar ahora]. Incluye "
        "nombre, fórmula C22H28N2O y CAS 437-38-7.",
        "the product is no substance (a book, poster or analyser about them)",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_SOLD))
def test_look_alike_and_non_sale_pages_are_not_flagged(detector, case):
    lang, title, text, reason = NOT_SOLD[case]
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert reason in messages(det), messages(det)


@pytest.mark.parametrize(
    ("lang", "title", "text"),
    [
        ("en", "Fentanyl – Health Encyclopedia", "Fentanyl\nThis article is about the drug.\nCAS 437-38-7. "
         "Sold as patches 25-100 mcg/h; price in pharmacies about $250 per box of 5. Ads: Shop now ›"),
        ("es", "Fentanilo Matrix 50 microgramos/hora parche — Prospecto | Vademécum", "Fentanilo Matrix 50 "
         "microgramos/hora parche transdérmico, caja de 5. Precio de referencia: 45,20 €. Dispensación con "
         "receta. Publicidad ▸ Farmacia online, envío gratis."),
        ("es", "Informe: anuncios de nitacenos en redes sociales", "Encontramos anuncios como: «isotonitaceno "
         "99% 1 g $120 USD, envío a México, Telegram @vendedor_fake»."),
    ],
)  # fmt: skip
def test_a_page_titled_as_an_encyclopedia_leaflet_or_report_is_not_flagged(detector, lang, title, text):
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert any(r.field == "title" and r.message == "trade signal: context" for r in det.reasons), messages(det)


REPORT_TITLES = {
    "en-scam-alert-with-price": (
        "en",
        "SCAM WARNING: 'Fake Chem Ltd' / @fake_chem_ltd took $4,800 for NPP and vanished",
        "I paid $4,800 in USDT for 1 kg of NPP 39742-60-4 advertised as '99%, pass customs, door to door'. "
        "Nothing arrived and the Telegram account @fake_chem_ltd is gone. Do not pay them.",
    ),
    "zh-exposure-post": (
        "zh",
        "【曝光】冒充化工厂卖“P1/尼秦”的骗子团伙 - 外贸论坛",
        "楼主：对方自称化工厂，报价 NPP（39742-60-4）1公斤 $480，包清关，双清到墨西哥，Telegram @fake_p1_seller。"
        "付款 USDT 后拉黑。大家注意。",
    ),
}


@pytest.mark.parametrize("case", sorted(REPORT_TITLES))
def test_a_page_whose_title_names_its_genre_is_a_report_whatever_prices_it_quotes(detector, case):
    lang, title, text = REPORT_TITLES[case]
    det = judge(detector, text, title, lang)
    assert not det.flagged, (det.score, messages(det))
    assert any(r.field == "title" and r.message == REPORT for r in det.reasons), messages(det)


def test_a_reply_that_does_not_deal_in_the_products_above_is_not_flagged(detector):
    det = judge(
        detector,
        "您好，您询价的 4-AP（23056-29-3）、ANPP（21409-26-7）各 5 公斤，发往墨西哥，USDT 付款。\n"
        "回复：上述物质均属于易制毒化学品管制品种。本公司不生产、不经营上述产品，因此无法报价。",
        "回复：询价 — 4-AP / ANPP",
        "zh",
    )
    assert not det.flagged, (det.score, messages(det))
    assert "refusal or legal-only statement" in messages(det)


def test_a_chinese_pharmacy_selling_fentanyl_patches_without_prescription_is_flagged(detector):
    det = judge(
        detector,
        "环球药房 —— 无需处方 · 全球隐私配送\n首页 › 止痛药 › 芬太尼透皮贴剂\n通用名：芬太尼透皮贴剂\n"
        "规格与价格：25 μg/h 1 盒（5 贴）¥ 880 ｜ 50 μg/h ¥ 1,280\n[加入购物车] [立即购买]\n"
        "✔ 无需处方、无需问诊，下单即发 ✔ 海关扣件免费重发 ✔ USDT、比特币\n"
        "产品说明（摘自公开资料）：芬太尼是一种强效阿片类镇痛药，本品为处方药，受到严格管制。",
        "芬太尼透皮贴剂 无需处方购买 - 环球药房",
        "zh",
    )
    assert det.flagged and FENTANYL in det.substance_ids, (det.score, messages(det))


def test_a_seller_saying_it_will_not_relabel_makes_no_red_flag_of_it(detector):
    """A watched pre-precursor sold plainly is not flagged: "不更改品名" (we do not change the product
    name) and "we do not relabel" promise no disguise."""
    for lang, text in [
        (
            "zh",
            "1-苄基-4-哌啶酮 CAS 3612-20-2，98%，25 g ¥ 260，现货。本公司不提供中性包装、不更改品名、不向个人发货。",
        ),
        (
            "en",
            "1-Benzyl-4-piperidone CAS 3612-20-2, 98%, 25 g $40, in stock. We do not relabel goods or ship to individuals.",
        ),
    ]:
        det = judge(detector, text, "1-Benzyl-4-piperidone 3612-20-2", lang)
        assert not det.flagged and det.gate == "watched substance without red flags", (det.gate, messages(det))


def test_a_vet_platform_that_has_not_introduced_xylazine_is_not_flagged(detector):
    det = judge(
        detector,
        "盐酸美托咪定注射液 10 ml ¥ 128 【加入采购车】 仅向认证诊疗机构销售。\n"
        "问：为什么没有赛拉嗪？ 答：本平台面向伴侣动物诊疗，目前未引入赛拉嗪。",
        "盐酸美托咪定注射液（犬猫用）- 宠医平台",
        "zh",
    )
    assert not det.flagged and "7361-61-7" not in det.substance_ids, (det.score, messages(det))


def test_a_platform_rule_book_titled_as_rules_is_not_flagged(detector):
    det = judge(
        detector,
        "第四条 以下商品禁止发布：4-哌啶酮（41661-47-6）、NPP（39742-60-4）等，以及“P2”“CAS 79099”等代号。\n"
        "第五条 以下商品可以发布，但须满足限售条件：苯胺｜62-53-3｜不得承诺出口“包清关”。",
        "商城化学品类目禁售、限售商品管理规范（2024 年修订版）",
        "zh",
    )
    assert not det.flagged, (det.score, messages(det))
    assert any(r.field == "title" and r.message == CONTEXT for r in det.reasons), messages(det)
