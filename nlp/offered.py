"""Which substance mentions a listing offers, as opposed to merely mentions.

A page names substances it does not sell: a supplier's "we do not sell X" line, a related-products
or see-also list, encyclopedic prose copied next to a shop's "Buy Y". The substances a listing
offers (`Detection.substance_ids`) are those of its *offered* mentions:

- a mention covered by a refusal ("we do not sell ...": its sentence, or its line when the line
  offers nothing else; in a chat or a FAQ, also the question just above an answer that opens
  with the refusal) or by a legal-only statement (in-clinic use, not sold online) is not offered;
  a sale restricted to licensed buyers or to prescriptions (`restricted_sale`) covers nothing;
- a mention inside an aside (a "related products" / "see also" / "you may also like" list: the
  rest of its line, or the lines under a heading-only line up to a blank line) is not offered,
  nor one in the list under a prohibited-items statement of a policy page ("The following may not
  be listed:", "No se permite publicar:", "禁止发布下列物品");
- a name given as the relative of another ("carbamate of 4-AP", "metabolite of fentanyl",
  "4-AP的衍生物") is not offered: the listing names it to describe what it sells;
- a mention inside reference prose (a sentence or a paragraph without trade or specification
  wording or a CAS RN on its line) is not offered: products are listed on rows, cards and chat
  lines;
- on a long text judged mention by mention (`nlp.focus`), a mention in the title is offered, and
  a body mention only when a window holding it reads as an offer on its own words: the window's
  P(offer) and the trade signals inside it, without the page evidence and the title's signals
  (which vouch for the page's main product, not for every name in its prose);
- if that leaves nothing, the mentions of the page's best window, then every mention not refused
  or aside (a page of prose is still about what it names). A page whose every mention is refused
  or aside offers nothing: its set is empty.

The same set is computed whether or not the listing is flagged: for an unflagged listing it is
what the listing would offer.

A refusal lowers a reading's score (`refuses`) only when the reading lists nothing outside the
refusals: "that's banned" answering a buyer's question about one substance does not cancel the
"79099 powder in USA warehouse, 1kg 480usd" two lines below, and a compliance line ("we do not
deal in controlled chemicals") does not cancel the price list under it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from precursor_watch.nlp.matching import SubstanceMatch
from precursor_watch.nlp.signals import CONTEXT_KINDS, SignalHit

BLOCK_REACH = 300  # characters of a mention's paragraph read for listing wording (a product card)
LISTED_KINDS = 2  # kinds of listing wording that make a paragraph a listing ("Re: inquiry for X" is one)
RELATION_GAP = 2  # characters between a relation phrase and the name it governs ("of '4-AP'")
ASIDE_REACH = 400  # characters an aside heading covers below itself
HEADING_TAIL = 3  # a line with at most this many characters after the aside phrase is a heading
PROHIBITED_REACH = 1_500  # characters a prohibited-items statement covers below itself (its list)
PRODUCT_LINE_CHARS = 160  # a product row, card line or chat line; reference prose runs longer
_SENTENCE_END = re.compile(r"[.!?。！？;；]\s|\n")
_SENTENCE_STOP = (".", "。", "!", "！")
_LISTING_KINDS = frozenset(
    {
        "price",
        "offer",
        "stock",
        "moq",
        "sample",
        "spec",
        "payment",
        "customs_stealth",
        "destination_stock",
        "encrypted_messenger",
    }
)

# A quotation on one line: typographic pairs, or straight quotes that are not apostrophes.
_QUOTED = re.compile(
    r'"[^"\n]{3,400}"|“[^”\n]{3,400}”|‘[^’\n]{3,400}’|«[^»\n]{3,400}»|「[^」\n]{3,400}」|『[^』\n]{3,400}』'
    r"|(?<![A-Za-z])'[^'\n]{3,400}'(?![A-Za-z])"
)
_TRADE_EVIDENCE = _LISTING_KINDS | {"shipping", "messenger"}

# (title span, mention span, P(offer)) of one window, as `doc._.pw_windows` holds them
Window = tuple[tuple[int, int], tuple[int, int], float]


def unquoted_evidence(text: str, signals: Sequence[SignalHit]) -> list[SignalHit]:
    """The signals without the trade wording quoted inside news or regulation wording: a report
    or a notice that quotes an advert ("'X for sale, ship to USA'") shows the advert, it does not
    make one. Only when context wording stands outside the quotes; a forwarded seller message
    in quotes, with no such frame, keeps its evidence."""
    spans = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    if not spans:
        return list(signals)

    def inside(hit: SignalHit) -> bool:
        return any(a <= hit.start < b for a, b in spans)

    if not any(s.kind in CONTEXT_KINDS and not inside(s) for s in signals):
        return list(signals)
    return [s for s in signals if not (s.kind in _TRADE_EVIDENCE and inside(s))]


def _line(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _sentence(text: str, pos: int) -> tuple[int, int]:
    """The sentence (or line) around `pos`: refusals are sentence-sized."""
    a, b = _line(text, pos)
    start = a
    for stop in _SENTENCE_END.finditer(text, a, pos):
        start = stop.end()
    end = _SENTENCE_END.search(text, pos, b)
    return start, b if end is None else end.start() + 1


def aside_spans(text: str, signals: Sequence[SignalHit]) -> list[tuple[int, int]]:
    """Character spans of the asides: from the aside phrase to the end of its line, or, when the
    phrase is a heading (nothing after it on the line), over the following lines up to a blank
    line, at most `ASIDE_REACH` characters."""
    spans = []
    for hit in signals:
        if hit.kind != "aside":
            continue
        _, line_end = _line(text, hit.start)
        end = line_end
        if len(text[hit.end : line_end].strip(" :：-—|>")) <= HEADING_TAIL:
            blank = text.find("\n\n", hit.end)
            end = min(len(text), hit.end + ASIDE_REACH, blank if blank >= 0 else len(text))
        spans.append((hit.start, end))
    return spans


def prohibited_spans(text: str, signals: Sequence[SignalHit]) -> list[tuple[int, int]]:
    """Character spans of the prohibited-items lists of a policy page ("The following may not be
    listed:", "No se permite publicar:", "禁止发布下列物品："): from the statement to the end of its
    paragraph and of the paragraph that follows it (the list, often set off by a blank line), at
    most `PROHIBITED_REACH` characters."""
    spans = []
    for hit in signals:
        if hit.kind != "prohibited":
            continue
        limit = min(len(text), hit.end + PROHIBITED_REACH)
        end = text.find("\n\n", hit.end, limit)
        if end >= 0:
            nxt = end
            while nxt < limit and text[nxt] in "\r\n \t":
                nxt += 1
            after = text.find("\n\n", nxt, limit)
            end = limit if after < 0 else after
        spans.append((hit.start, limit if end < 0 else end))
    return spans


_QUESTION_END = ("?", "？", "吗", "嗎")


def _question_above(text: str, line_start: int) -> int | None:
    """Start of the line just above `line_start` (blank lines skipped) when it is a question."""
    lo = max(0, line_start - 2_000)
    prev = text[lo:line_start].rstrip(" \t\r\n")
    if not prev.endswith(_QUESTION_END):
        return None
    return lo + prev.rfind("\n") + 1


def refusal_spans(text: str, signals: Sequence[SignalHit]) -> list[tuple[int, int]]:
    """What each refusal or legal-only statement covers: its sentence, or its whole line when
    nothing else on the line is trade wording ("Q: Can I order X? A: No, we do not sell it"
    refuses X; "X in stock, USD 120/kg. We do not sell Y." refuses only Y). A refusal that opens
    its line answers the question on the line above ("Buyer: do you have X?" / "Seller: sorry,
    that's banned"): that question is covered too."""
    spans = []
    for hit in signals:
        if hit.kind not in ("refusal", "legal_only"):
            continue
        a, b = _sentence(text, hit.start)
        la, lb = _line(text, hit.start)
        if not any(la <= s.start < lb and not a <= s.start < b and s.kind in _LISTING_KINDS for s in signals):
            a, b = la, lb
        if a == la and la > 0:
            above = _question_above(text, la)
            if above is not None:
                a = above
        spans.append((a, b))
    return spans


def _related(m: SubstanceMatch, relations: Sequence[SignalHit]) -> bool:
    """The name is governed by a relation phrase: "carbamate of <name>", "<name>的衍生物"."""
    return any(0 <= m.start - h.end <= RELATION_GAP or 0 <= h.start - m.end <= 1 for h in relations)


def could_be_offered(text: str, subs: Sequence[SubstanceMatch], signals: Sequence[SignalHit]) -> list[SubstanceMatch]:
    """The mentions outside every aside, prohibited-items list, refusal and legal-only statement,
    and not named as the relative or yardstick of another (`excluded`): the names a page could be
    offering. A page that names a monitored substance only in a related-products list, a search
    tag row, a "did you mean" suggestion, a note that searches for it "return no selling leads" or
    a warning that other pills "may contain" it offers nothing, whatever it sells beside it."""
    gone = excluded(text, subs, signals)
    return [m for i, m in enumerate(subs) if i not in gone]


def excluded(
    text: str, subs: Sequence[SubstanceMatch], signals: Sequence[SignalHit], relations: bool = True
) -> set[int]:
    """Indexes of the mentions that are not offered: inside a refusal or legal-only statement
    (`refusal_spans`), an aside or a prohibited-items list (`prohibited_spans`), or (`relations`)
    named as the relative of another substance.
    A related name still opens a mention window (`nlp.focus`): the words around it are a view of
    the page, whatever it offers."""
    asides = aside_spans(text, signals) + prohibited_spans(text, signals)
    refusals = refusal_spans(text, signals)
    related = [s for s in signals if s.kind == "relation"] if relations else []
    out = set()
    for i, m in enumerate(subs):
        if (
            any(a <= m.start < b for a, b in asides)
            or any(a <= m.start < b for a, b in refusals)
            or (related and _related(m, related))
        ):
            out.add(i)
    return out


def _block(text: str, pos: int) -> tuple[int, int]:
    """The paragraph around `pos` (lines up to a blank line), at most `BLOCK_REACH` characters on
    each side: a product card (name, CAS, purity, price lines) or a run of chat turns."""
    lo, hi = max(0, pos - BLOCK_REACH), min(len(text), pos + BLOCK_REACH)
    a = text.rfind("\n\n", lo, pos)
    b = text.find("\n\n", pos, hi)
    return (lo if a < 0 else a + 2), (hi if b < 0 else b)


_CAS_SHAPE = re.compile(r"(?<![\d-])\d{2,7}-\d{2}-\d(?![\d-])")


def _foreign_cas_lines(
    text: str, a: int, b: int, m: SubstanceMatch, subs: Sequence[SubstanceMatch]
) -> list[tuple[int, int]]:
    """The lines of text[a:b] other than the mention's own that carry a CAS RN of another
    product: a neighbouring row or a counter-offer ("we can offer the isomer ... CAS 98977-36-7")."""
    own = [(o.start, o.end) for o in subs if o.substance_id == m.substance_id]
    la, lb = _line(text, m.start)
    out = []
    for c in _CAS_SHAPE.finditer(text, a, b):
        if la <= c.start() < lb or any(x <= c.start() < y for x, y in own):
            continue
        out.append(_line(text, c.start()))
    return out


def listed_outside_refusals(text: str, subs: Sequence[SubstanceMatch], signals: Sequence[SignalHit]) -> list[int]:
    """Start offsets of the mentions no refusal reaches whose paragraph (`_block`) carries at least
    `LISTED_KINDS` kinds of listing wording (price, stock, specification, offer ...) outside every
    refusal and off the lines of other products (another CAS RN): what a listing still offers
    next to what it refuses. Empty when the text has no refusal (nothing to check)."""
    if not any(s.kind == "refusal" for s in signals):
        return []
    gone = excluded(text, subs, signals)
    refusals = refusal_spans(text, signals)
    wording = [
        (s.start, s.kind)
        for s in signals
        if s.kind in _LISTING_KINDS and not any(a <= s.start < b for a, b in refusals)
    ]
    out = []
    for i, m in enumerate(subs):
        if i in gone:
            continue
        a, b = _block(text, m.start)
        others = _foreign_cas_lines(text, a, b, m, subs)
        kinds = {kind for w, kind in wording if a <= w < b and not any(x <= w < y for x, y in others)}
        if len(kinds) >= LISTED_KINDS:
            out.append(m.start)
    return out


def refuses(signals: Sequence[SignalHit], listed: Sequence[int], spans: Sequence[tuple[int, int]]) -> bool:
    """A reading (the `spans` of a text: the whole text, or a window and the title) is lowered by
    a refusal in it unless it lists a substance outside the refusals (`listed_outside_refusals`)."""
    if not any(s.kind == "refusal" and any(a <= s.start < b for a, b in spans) for s in signals):
        return False
    return not any(a <= p < b for p in listed for a, b in spans)


def on_product_line(text: str, m: SubstanceMatch, subs: Sequence[SubstanceMatch], signals: Sequence[SignalHit]) -> bool:
    """The mention stands on a line that lists a product: one with trade or specification wording
    or a CAS RN of its own, or a short line that is not a sentence. A name inside reference prose
    (a sentence, a paragraph) is a mention, not an item."""
    a, b = _line(text, m.start)
    if any(a <= s.start < b and s.kind in _LISTING_KINDS for s in signals):
        return True
    if any(a <= o.start < b and o.how == "cas" for o in subs):
        return True
    return b - a <= PRODUCT_LINE_CHARS and not text[a:b].rstrip().endswith(_SENTENCE_STOP)


def offered_mentions(
    text: str,
    subs: Sequence[SubstanceMatch],
    signals: Sequence[SignalHit],
    windows: Sequence[Window] | None,
    own_score: Callable[[Sequence[SignalHit], float, bool], float],
    threshold: float,
) -> list[SubstanceMatch]:
    """The offered mentions (module docstring). `windows` is None for a text read whole;
    `own_score(signals, p_offer, refused)` scores one window on its own words (no page evidence)."""
    gone = excluded(text, subs, signals)
    kept = [m for i, m in enumerate(subs) if i not in gone]
    listed = [m for m in kept if on_product_line(text, m, subs, signals)]
    if not windows:
        return listed or kept
    title_end = windows[0][0][1]
    picked = [m for m in kept if m.end <= title_end]
    best: tuple[float, tuple[int, int]] | None = None
    listed_free = listed_outside_refusals(text, subs, signals)
    for (_t0, _t1), (a, b), p in windows:
        score = own_score([s for s in signals if a <= s.start < b], p, refuses(signals, listed_free, ((a, b),)))
        if best is None or score > best[0]:
            best = (score, (a, b))
        if score >= threshold:
            picked += [m for m in listed if a <= m.start < b and m not in picked]
    if not picked and best is not None:
        a, b = best[1]
        picked = [m for m in kept if a <= m.start < b]
    return picked or kept
