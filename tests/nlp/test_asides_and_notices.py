"""Page shapes the second development set showed (nlp/data/dev_genres2.jsonl), each as an offer
and a look-alike that is not one, with its reasons, in the languages where the shape occurs. The
texts are written here; none is taken from the development or evaluation sets.

- a shop page selling an ordinary chemical whose search-tag row ("customers also searched for",
  大家还搜了, "también buscaron"), search suggestion ("did you mean: xylazine?") or inline
  "related:" names a monitored substance offers nothing: a name only in an aside opens no gate;
- a returns policy that reships a damaged parcel, and a FAQ question "is my order discreet?",
  are no red flags: a watched reagent sold with them stays a plain watched offer;
- a customs notice whose tables sit under "the following substances require an import or export
  licence" or "are subject to voluntary monitoring" lists them, it does not offer them, and
  "fentanyl precursors" names fentanyl as the relative of what is listed;
- a supplier's reply "we cannot supply" (无法供货, "no podemos surtir") refuses;
- a longer Chinese systematic name (N-去乙基异托尼秦, 1-苄氧羰基-4-哌啶酮) wins over the monitored
  name inside it.
"""

from __future__ import annotations

import pytest

from precursor_watch.nlp.components import NOT_OFFERED_GATE
from tests.nlp.pages import NAMED_GATES, judge, messages

PIPERIDONE, XYL, PROPIONYL = "41661-47-6", "7361-61-7", "79-03-8"
ASIDE = "related-products or see-also list (names in it are mentioned, not offered)"
PROHIBITED = "prohibited-items list of a policy page (names in it are mentioned, not offered)"
RELATION = "a name given as the relative of another (mentioned, not offered)"
REFUSAL = "refusal or legal-only statement"
ASIDE_GATE = NOT_OFFERED_GATE

# Shop furniture (no substance), so that a page is long and judged window by window.
FURNITURE = {
    "en": (
        "\n\nSHIPPING POLICY\nOrders placed before 2 pm are dispatched the same working day. Every parcel has a "
        "tracking number that is e-mailed to you once the carrier has scanned it. Delivery takes 4-8 working days "
        "in North America and 6-14 days elsewhere. Duties and taxes are paid by the buyer.\n\n"
        "ABOUT US\nWe are a family business supplying laboratories, schools and workshops since 2009. Our team "
        "answers messages on working days and keeps the documentation of every batch on file.\n\n"
        "Customer Service | My Account | Order Status | Privacy | Terms\n"
    ),
    "zh": (
        "\n\n物流说明\n1. 工作日16点前付款当天发货，节假日顺延。\n2. 每个包裹提供物流单号，可在快递公司网站查询。\n"
        "3. 国内一般2-4天送达，偏远地区5-7天。\n4. 危险品按相关规定申报运输。\n\n"
        "关于我们\n本店成立于2009年，为实验室、学校和工厂提供化学试剂，每批产品均附检测报告。客服工作日在线回复。\n"
        "服务条款 ｜ 隐私政策 ｜ 订单查询 ｜ 会员中心 ｜ 帮助中心 ｜ 网站地图 ｜ 投诉建议 ｜ 企业采购\n"
    ),
    "es": (
        "\n\nPOLÍTICA DE ENVÍOS\nLos pedidos pagados antes de las 2 pm salen el mismo día hábil. Cada paquete lleva "
        "número de guía que te mandamos por correo en cuanto la paquetería lo escanea. La entrega tarda de 3 a 7 "
        "días hábiles en la República. Los impuestos locales corren por cuenta del comprador.\n\n"
        "QUIÉNES SOMOS\nSomos una empresa familiar que surte a laboratorios, escuelas y talleres desde 2009. "
        "Respondemos mensajes en días hábiles y guardamos la documentación de cada lote.\n\n"
        "Atención a clientes | Mi cuenta | Estado del pedido | Privacidad | Términos\n"
    ),
}




# -- a monitored name only in a search-tag row or a search suggestion ---------------------------
SEARCH_TAGS = {
    "en": (
        "Piperidine 99%, 1 L",
        "Home > Reagents > Heterocycles\nPiperidine, 99%\nCAS 110-89-4 · 1 L $48 · 2.5 L $105\n[ ADD TO CART ]\n\n"
        "CUSTOMERS ALSO SEARCHED FOR\n4-piperidone monohydrate hydrochloride (40064-34-4) · 4-piperidone · "
        "piperidine price · piperidine 2.5 L",
    ),
    "zh": (
        "哌啶 99% 1升",
        "首页 > 化学试剂 > 杂环化合物\n哌啶，99%\nCAS 110-89-4 · 1升 ￥330 · 2.5升 ￥720\n【加入购物车】\n\n"
        "大家还搜了\n4-哌啶酮盐酸盐一水合物（40064-34-4）· 4-哌啶酮 · 哌啶价格 · 哌啶2.5升",
    ),
    "es": (
        "Piperidina 99%, 1 L",
        "Inicio > Reactivos > Heterociclos\nPiperidina, 99%\nCAS 110-89-4 · 1 L $950 MXN · 2.5 L $2,100 MXN\n"
        "[ AGREGAR AL CARRITO ]\n\nOTROS CLIENTES TAMBIÉN BUSCARON\n4-piperidona clorhidrato monohidrato "
        "(40064-34-4) · 4-piperidona · precio piperidina · piperidina 2.5 L",
    ),
}
SEARCH_TAGS_OFFER = {
    "en": (
        "4-Piperidone monohydrate hydrochloride 99%",
        "Home > Reagents > Heterocycles\n4-Piperidone monohydrate hydrochloride, 99%\nCAS 40064-34-4 · 100 g $90 · "
        "1 kg $640 · in stock\n[ ADD TO CART ]\n\nCUSTOMERS ALSO SEARCHED FOR\npiperidine 99% · piperidine price",
    ),
    "zh": (
        "4-哌啶酮盐酸盐一水合物 99%",
        "首页 > 化学试剂 > 杂环化合物\n4-哌啶酮盐酸盐一水合物，99%\n"
        "CAS 40064-34-4 · 100克 ￥600 · 1公斤 ￥4200 · 现货\n【加入购物车】\n\n大家还搜了\n哌啶 99% · 哌啶价格",
    ),
    "es": (
        "4-Piperidona clorhidrato monohidrato 99%",
        "Inicio > Reactivos > Heterociclos\n4-Piperidona clorhidrato monohidrato, 99%\nCAS 40064-34-4 · 100 g "
        "$1,700 MXN · 1 kg $12,000 MXN · en existencia\n[ AGREGAR AL CARRITO ]\n\nOTROS CLIENTES TAMBIÉN BUSCARON\n"
        "piperidina 99% · precio piperidina",
    ),
}


@pytest.mark.parametrize("lang", sorted(SEARCH_TAGS))
@pytest.mark.parametrize("long", [False, True])
def test_ordinary_shop_naming_a_precursor_only_in_its_search_tags_is_not_flagged(detector, lang, long):
    title, page = SEARCH_TAGS[lang]
    det = judge(detector, page + (FURNITURE[lang] if long else ""), title, lang)
    assert not det.flagged and det.gate == ASIDE_GATE, (det.score, det.gate, messages(det))
    assert ASIDE in messages(det) and det.substance_ids == (), messages(det)


@pytest.mark.parametrize("lang", sorted(SEARCH_TAGS_OFFER))
@pytest.mark.parametrize("long", [False, True])
def test_precursor_shop_with_search_tags_is_flagged_for_its_product(detector, lang, long):
    title, page = SEARCH_TAGS_OFFER[lang]
    det = judge(detector, page + (FURNITURE[lang] if long else ""), title, lang)
    assert det.flagged and det.gate == "monitored substance", (det.score, messages(det))
    assert det.substance_ids == (PIPERIDONE,) and ASIDE in messages(det), messages(det)


SUGGESTION = {
    "en": (
        "Xylitol sweetener 1 kg",
        "Sweeteners | Baking | Sale\nXylitol (birch), 1 kg pouch — $13.50\n[ Add to bag ]\n"
        "Did you mean: xylazine?  0 products found",
    ),
    "zh": (
        "木糖醇 1公斤装",
        "代糖 ｜ 烘焙 ｜ 特价\n木糖醇（玉米芯来源）1公斤袋装 —— ￥65\n【加入购物车】\n您是不是要找：赛拉嗪",
    ),
    "es": (
        "Xilitol endulzante 1 kg",
        "Endulzantes | Repostería | Ofertas\nXilitol de abedul, bolsa de 1 kg — $260 MXN\n[ Agregar a la bolsa ]\n"
        "¿Quisiste decir: xilazina?  0 productos encontrados",
    ),
}
SUGGESTION_OFFER = {
    "en": (
        "Xylazine HCl powder 1 kg",
        "Vet raw materials\nXylazine hydrochloride powder, 99%, 1 kg bag — $180, in stock\n[ Add to cart ]\n"
        "Did you mean: xylitol?",
    ),
    "zh": (
        "盐酸赛拉嗪原粉 1公斤",
        "兽药原料\n盐酸赛拉嗪原粉 99%，1公斤/袋 —— ￥1200 现货\n【加入购物车】\n您是不是要找：木糖醇？",
    ),
    "es": (
        "Xilazina clorhidrato en polvo 1 kg",
        "Materias primas veterinarias\nXilazina clorhidrato en polvo 99%, bolsa de 1 kg — $3,400 MXN, en existencia\n"
        "[ Agregar al carrito ]\n¿Quisiste decir: xilitol?",
    ),
}


@pytest.mark.parametrize("lang", sorted(SUGGESTION))
def test_did_you_mean_suggestion_naming_xylazine_is_no_offer(detector, lang):
    title, page = SUGGESTION[lang]
    det = judge(detector, page, title, lang)
    assert not det.flagged and det.gate == ASIDE_GATE, (det.score, det.gate, messages(det))
    assert ASIDE in messages(det), messages(det)


@pytest.mark.parametrize("lang", sorted(SUGGESTION_OFFER))
def test_xylazine_offer_with_a_did_you_mean_line_is_flagged(detector, lang):
    title, page = SUGGESTION_OFFER[lang]
    det = judge(detector, page, title, lang)
    assert det.flagged and det.substance_ids == (XYL,), (det.score, messages(det))
    assert ASIDE in messages(det), messages(det)


def test_inline_related_in_a_title_is_an_aside(detector):
    title = "Piperidine 99% 1 L — related: 4-piperidone hydrochloride"
    det = judge(detector, "Piperidine, 99%\nCAS 110-89-4 · 1 L $48\n[ ADD TO CART ]" + FURNITURE["en"], title, "en")
    assert not det.flagged and det.gate == ASIDE_GATE and ASIDE in messages(det), (det.score, messages(det))


# -- returns-policy reships and FAQ questions are no red flags ---------------------------------
WATCHED_SHOP = {
    "en": (
        "Propionyl chloride 98%, 500 mL",
        "Propionyl chloride, 98%\nCAS 79-03-8 · 100 mL $36 · 500 mL $92\n[ Add to quote ]\n"
        "Sales to registered business accounts only.\n\nRETURNS\nIf a product arrives damaged, send a photo "
        "within 48 hours and we will reship or refund.\n\nFAQ\nQ: Is my order discreet?  A: Parcels carry a "
        "hazard label as the law requires.",
        "free reship if seized by customs, stealth packing",
    ),
    "zh": (
        "丙酰氯 98% 500毫升",
        "丙酰氯，98%\nCAS 79-03-8 · 100毫升 ￥260 · 500毫升 ￥650\n【加入询价单】\n仅限企业客户购买。\n\n"
        "售后\n如包裹在运输途中丢失或损坏，请在48小时内联系客服，核实后免费补发。\n\n"
        "常见问题\n问：包装隐蔽吗？ 答：按危险品规定张贴标签。",
        "海关被扣免费补发，包过海关",
    ),
    "es": (
        "Cloruro de propionilo 98%, 500 mL",
        "Cloruro de propionilo, 98%\nCAS 79-03-8 · 100 mL $700 MXN · 500 mL $1,800 MXN\n[ Cotizar ]\n"
        "Solo vendemos a empresas registradas.\n\nDEVOLUCIONES\nSi el producto llega dañado, manda foto en 48 horas "
        "y hacemos reenvío o reembolso.\n\nPREGUNTAS\n¿El envío es discreto? Lleva la etiqueta de peligro que "
        "exige la ley.",
        "pasa aduana sin broncas, empaque discreto",
    ),
}


@pytest.mark.parametrize("lang", sorted(WATCHED_SHOP))
def test_returns_reship_and_faq_question_are_no_red_flags_for_a_watched_reagent(detector, lang):
    title, page, _ = WATCHED_SHOP[lang]
    det = judge(detector, page, title, lang)
    assert not det.flagged and det.gate == "watched substance without red flags", (det.score, messages(det))
    assert not any("(red flag)" in m for m in messages(det)) and PROPIONYL in det.substance_ids, messages(det)


@pytest.mark.parametrize("lang", sorted(WATCHED_SHOP))
def test_watched_reagent_with_a_seizure_reship_promise_is_flagged(detector, lang):
    title, page, promise = WATCHED_SHOP[lang]
    det = judge(detector, page + "\n" + promise, title, lang)
    assert det.flagged and det.gate == "watched substance with red flags", (det.score, messages(det))
    assert any("customs_stealth (red flag)" in m for m in messages(det)) and det.substance_ids == (PROPIONYL,)


# -- customs notices: licence and monitoring lists ----------------------------------------------
NOTICE = {
    "en": (
        "Customs notice: fentanyl precursors and watched chemicals",
        "CUSTOMS NOTICE No. 4\n1. These precursors require a prior import or export authorisation:\n\n"
        "Substance | CAS RN\n4-Anilinopiperidine | 23056-29-3\n4-Piperidone hydrochloride | 41979-39-9\n\n"
        "2. The following chemicals are subject to national monitoring; report suspicious orders: "
        "propionyl chloride (79-03-8), aniline (62-53-3).\n"
        "3. Parcels declared as samples without a CAS RN will be held.",
    ),
    "zh": (
        "海关公告：芬太尼前体及监测化学品",
        "海关公告第4号\n一、以下化学品进出口须取得许可证：\n\n物质 | CAS号\n4-苯胺基哌啶 | 23056-29-3\n"
        "4-哌啶酮盐酸盐 | 41979-39-9\n\n二、下列前体化学品纳入监测范围，可疑订单应报告：丙酰氯（79-03-8）、"
        "苯胺（62-53-3）。\n三、未申报CAS号的化学品包裹将被扣留。",
    ),
    "es": (
        "Aviso aduanal: precursores de fentanilo y sustancias vigiladas",
        "AVISO ADUANAL No. 4\n1. Los siguientes precursores requieren autorización previa de exportación:\n\n"
        "Sustancia | CAS\n4-Anilinopiperidina | 23056-29-3\n4-Piperidona clorhidrato | 41979-39-9\n\n"
        "2. Las siguientes sustancias químicas quedan sujetas a monitoreo; reporte pedidos sospechosos: "
        "cloruro de propionilo (79-03-8), anilina (62-53-3).\n"
        "3. Los paquetes declarados como muestras sin número CAS serán retenidos.",
    ),
}
NOTICE_OFFER = {
    "en": (
        "Fentanyl precursor stock list",
        "Stock list, ships in 48 h:\n4-Anilinopiperidine | 23056-29-3 | 1 kg $900\n4-Piperidone hydrochloride | "
        "41979-39-9 | 1 kg $400\nPayment BTC or USDT.",
    ),
    "zh": (
        "芬太尼前体现货清单",
        "现货清单，48小时发货：\n4-苯胺基哌啶 | 23056-29-3 | 1公斤 ￥6000\n4-哌啶酮盐酸盐 | 41979-39-9 | 1公斤 ￥2800\n"
        "支持USDT付款。",
    ),
    "es": (
        "Lista de existencias: precursores de fentanilo",
        "Existencias, salen en 48 h:\n4-Anilinopiperidina | 23056-29-3 | 1 kg $16,000 MXN\n4-Piperidona "
        "clorhidrato | 41979-39-9 | 1 kg $7,000 MXN\nPago en USDT.",
    ),
}


@pytest.mark.parametrize("lang", sorted(NOTICE))
def test_customs_notice_listing_licensed_and_monitored_chemicals_is_not_flagged(detector, lang):
    title, page = NOTICE[lang]
    det = judge(detector, page, title, lang)
    assert not det.flagged and det.substance_ids == (), (det.score, det.gate, messages(det))
    # both lists (licence and monitoring) are covered: every name is mentioned, not offered
    named = [m for m in messages(det) if " substance " in m and "matched by" in m]
    assert PROHIBITED in messages(det) and len(named) >= 8, messages(det)
    assert all(m.endswith("mentioned, not offered") for m in named), messages(det)


@pytest.mark.parametrize("lang", sorted(NOTICE_OFFER))
def test_stock_list_of_the_same_chemicals_is_flagged(detector, lang):
    title, page = NOTICE_OFFER[lang]
    det = judge(detector, page, title, lang)
    assert det.flagged and set(det.substance_ids) == {"23056-29-3", "41661-47-6"}, (det.score, messages(det))
    assert PROHIBITED not in messages(det), messages(det)


def test_fentanyl_in_fentanyl_precursor_is_the_relative(detector):
    det = judge(detector, NOTICE_OFFER["en"][1], NOTICE_OFFER["en"][0], "en")
    assert RELATION in messages(det) and "437-38-7" not in det.substance_ids, messages(det)


# -- "we cannot supply" -------------------------------------------------------------------------
CANNOT_SUPPLY = {
    "zh": (
        "回复：4-哌啶酮询价 —— 我们无法供货",
        "尊敬的客户：\n感谢您对4-哌啶酮盐酸盐（41979-39-9）的询价。它是受管制的芬太尼前体，我们不向任何客户销售受管制前体。\n"
        "我们很乐意报价常规产品，例如哌啶（110-89-4）。\n此致\n销售部",
    ),
    "es": (
        "Re: cotización de 4-piperidona — no podemos surtirla",
        "Estimado cliente:\nGracias por pedir precio de 4-piperidona clorhidrato (41979-39-9). Es un precursor "
        "controlado y no podemos surtir precursores controlados a ningún cliente.\nCon gusto le cotizamos "
        "productos comunes, como piperidina (110-89-4).\nSaludos\nVentas",
    ),
    "en": (
        "Re: 4-piperidone inquiry — we cannot supply",
        "Dear customer,\nThank you for asking about 4-piperidone hydrochloride (41979-39-9). It is a controlled "
        "precursor and we cannot supply controlled precursors to any customer.\nWe are happy to quote ordinary "
        "products such as piperidine (110-89-4).\nRegards\nSales",
    ),
}


@pytest.mark.parametrize("lang", sorted(CANNOT_SUPPLY))
def test_reply_that_cannot_supply_is_a_refusal(detector, lang):
    title, page = CANNOT_SUPPLY[lang]
    det = judge(detector, page, title, lang)
    assert not det.flagged and det.gate in NAMED_GATES, (det.score, messages(det))
    assert REFUSAL in messages(det), messages(det)


@pytest.mark.parametrize("lang", sorted(CANNOT_SUPPLY))
def test_reply_quoting_the_precursor_is_flagged(detector, lang):
    title, page = CANNOT_SUPPLY[lang]
    quote = {
        "zh": "4-哌啶酮盐酸盐 41979-39-9 现货，1公斤 ￥2800，支持USDT付款。",
        "es": "4-piperidona clorhidrato 41979-39-9 en existencia, 1 kg $7,000 MXN, pago en USDT.",
        "en": "4-piperidone hydrochloride 41979-39-9 in stock, 1 kg $400, payment in USDT.",
    }[lang]
    det = judge(detector, quote, "Re: 4-piperidone inquiry", lang)
    assert det.flagged and det.substance_ids == (PIPERIDONE,), (det.score, messages(det))
    assert REFUSAL not in messages(det), messages(det)


# -- the statement forms that open a notice's or a policy's list ---------------------------------
LIST_BODY = {
    "en": "4-ANPP (21409-26-7); 4-piperidone (41661-47-6); propionyl chloride (79-03-8)",
    "es": "4-ANPP (21409-26-7); 4-piperidona (41661-47-6); cloruro de propionilo (79-03-8)",
    "zh": "4-ANPP（21409-26-7）；4-哌啶酮（41661-47-6）；丙酰氯（79-03-8）",
}
STATEMENTS = [
    ("en", "The following substances are placed under temporary control for two years:"),
    ("en", "Listings of the following are prohibited on this site:"),
    ("en", "Restricted items (approval required):"),
    ("en", "Sellers of watched chemicals must upload a valid licence before listing:"),
    ("es", "Las siguientes sustancias quedan sujetas a control a partir de su publicación:"),
    ("es", "Está prohibido publicar:"),
    ("es", "Restringidos (requieren aprobación):"),
    ("zh", "下列物质列入临时管制，为期两年："),
    ("zh", "限售化学品（需审核资质）："),
    ("zh", "本平台禁止发布以下商品："),
]
IN_STOCK = {
    "en": "The following substances are in stock, 1 kg $400 each, payment in USDT:",
    "es": "Las siguientes sustancias están en existencia, 1 kg $7,000 MXN cada una, pago en USDT:",
    "zh": "下列产品现货供应，每公斤￥2800，支持USDT付款：",
}


@pytest.mark.parametrize("lang,statement", STATEMENTS)
def test_list_under_a_control_or_policy_statement_is_not_offered(detector, lang, statement):
    det = judge(detector, f"{statement}\n{LIST_BODY[lang]}", None, lang)
    assert not det.flagged and det.substance_ids == (), (det.score, det.gate, messages(det))
    assert PROHIBITED in messages(det) and det.gate == ASIDE_GATE, messages(det)


@pytest.mark.parametrize("lang", sorted(IN_STOCK))
def test_the_same_list_under_a_stock_line_is_flagged(detector, lang):
    det = judge(detector, f"{IN_STOCK[lang]}\n{LIST_BODY[lang]}", None, lang)
    assert det.flagged and {"21409-26-7", PIPERIDONE} <= set(det.substance_ids), (det.score, messages(det))
    assert PROHIBITED not in messages(det), messages(det)


# -- Chinese systematic names that hold a shorter monitored name --------------------------------
@pytest.mark.parametrize(
    "name,cas,inner_name,inner",
    [
        ("N-去乙基异托尼秦", "2732926-24-6", "异托尼秦", "14188-81-9"),  # N-desethyl isotonitazene
        ("1-苄氧羰基-4-哌啶酮", "19099-93-5", "4-哌啶酮", PIPERIDONE),  # 1-Cbz-4-piperidone
    ],
)
def test_longer_chinese_name_wins_over_the_monitored_name_inside_it(detector, name, cas, inner_name, inner):
    det = judge(detector, f"{name} 现货 98%，1克 ￥900", None, "zh")
    assert {s.id for s in det.substances} == {cas}, [(s.id, s.matched) for s in det.substances]
    bare = judge(detector, f"{inner_name} 现货 98%，1克 ￥900", None, "zh")
    assert {s.id for s in bare.substances} == {inner}, [(s.id, s.matched) for s in bare.substances]
