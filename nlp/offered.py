"""Which substance mentions a listing offers, as opposed to merely mentions.

A page names substances it does not sell: a supplier's "we do not sell X" line, a related-products
or see-also list, encyclopedic prose copied next to a shop's "Buy Y". The substances a listing
offers (`Detection.substance_ids`) are those of its *offered* mentions:

- a mention covered by a refusal ("we do not sell ...": its sentence, or its line when the line
  offers nothing else) is not offered;
- a mention inside an aside (a "related products" / "see also" / "you may also like" list: the
  rest of its line, or the lines under a heading-only line up to a blank line) is not offered;
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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from precursor_watch.nlp.matching import SubstanceMatch
from precursor_watch.nlp.signals import SignalHit

ASIDE_REACH = 400  # characters an aside heading covers below itself
HEADING_TAIL = 3  # a line with at most this many characters after the aside phrase is a heading
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

    if not any(s.kind == "context" and not inside(s) for s in signals):
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


def refusal_spans(text: str, signals: Sequence[SignalHit]) -> list[tuple[int, int]]:
    """What each refusal covers: its sentence, or its whole line when nothing else on the line
    is trade wording ("Q: Can I order X? A: No, we do not sell it" refuses X; "X in stock, USD
    120/kg. We do not sell Y." refuses only Y)."""
    spans = []
    for hit in signals:
        if hit.kind != "refusal":
            continue
        a, b = _sentence(text, hit.start)
        la, lb = _line(text, hit.start)
        if not any(la <= s.start < lb and not a <= s.start < b and s.kind in _LISTING_KINDS for s in signals):
            a, b = la, lb
        spans.append((a, b))
    return spans


def excluded(text: str, subs: Sequence[SubstanceMatch], signals: Sequence[SignalHit]) -> set[int]:
    """Indexes of the mentions that are not offered: inside a refusal (`refusal_spans`) or an aside."""
    asides = aside_spans(text, signals)
    refusals = refusal_spans(text, signals)
    out = set()
    for i, m in enumerate(subs):
        if any(a <= m.start < b for a, b in asides) or any(a <= m.start < b for a, b in refusals):
            out.add(i)
    return out


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
    own_score: Callable[[Sequence[SignalHit], float], float],
    threshold: float,
) -> list[SubstanceMatch]:
    """The offered mentions (module docstring). `windows` is None for a text read whole;
    `own_score(signals, p_offer)` scores one window on its own words (no page evidence)."""
    gone = excluded(text, subs, signals)
    kept = [m for i, m in enumerate(subs) if i not in gone]
    listed = [m for m in kept if on_product_line(text, m, subs, signals)]
    if not windows:
        return listed or kept
    title_end = windows[0][0][1]
    picked = [m for m in kept if m.end <= title_end]
    best: tuple[float, tuple[int, int]] | None = None
    for (_t0, _t1), (a, b), p in windows:
        score = own_score([s for s in signals if a <= s.start < b], p)
        if best is None or score > best[0]:
            best = (score, (a, b))
        if score >= threshold:
            picked += [m for m in listed if a <= m.start < b and m not in picked]
    if not picked and best is not None:
        a, b = best[1]
        picked = [m for m in kept if a <= m.start < b]
    return picked or kept
