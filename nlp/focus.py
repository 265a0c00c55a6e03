"""What the offer classifier reads of a long text: the title and windows around the substance
mentions, so pages of filler (navigation, terms, encyclopedic prose, footers) cannot drown an
offer or invent one.

The bag-of-words classifier sums over its doc. On a 3 kB web-shop page, the listing's own words
("Buy X", price tiers, add to cart) are a few percent of the tokens; the rest is prose copied from
reference sites. Judging the words near the mentions is what an analyst does, and it is what the
classifier is trained on too (`nlp.train` builds the same view of its examples).
"""

from __future__ import annotations

from collections.abc import Iterable

FOCUS_MIN_CHARS = 1_200  # shorter texts are read whole: they are one listing
FOCUS_RADIUS = 300  # characters of context on each side of a mention
MAX_SPANS = 12  # mentions beyond these add no new evidence, only cost


def focus_spans(n: int, title_len: int, mentions: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged character spans of a text of `n` characters: the title (`title_len` characters
    at the start, 0 = none) and `FOCUS_RADIUS` around each mention. All of them: the signals that
    count are those inside (cheap to test); what the classifier reads is capped (`focus_text`)."""
    raw = [(0, title_len)] if title_len > 0 else []
    for start, end in mentions:
        raw.append((max(0, start - FOCUS_RADIUS), min(n, end + FOCUS_RADIUS)))
    raw.sort()
    merged: list[tuple[int, int]] = []
    for a, b in raw:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _spread(items: list, k: int) -> list:
    """At most `k` items, evenly spaced, the first and the last among them."""
    if len(items) <= k:
        return items
    return [items[round(j * (len(items) - 1) / (k - 1))] for j in range(k)]


def mention_spans(n: int, title_len: int, mentions: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """One listing-sized span per mention (`FOCUS_RADIUS` around it), mentions inside the previous
    span skipped, at most `MAX_SPANS` spread over the page (reference prose names its subject again
    and again; an offer at the end of the page must be read as surely as one at its start)."""
    picked: list[tuple[int, int]] = []
    covered = -1
    in_title = False
    for start, end in sorted(mentions):
        if start < title_len:
            in_title = True
            continue
        if start < covered:
            continue
        picked.append((max(title_len, start - FOCUS_RADIUS), min(n, end + FOCUS_RADIUS)))
        covered = end + FOCUS_RADIUS // 2
    if not picked and in_title:
        # named only in the title (the body writes it in a form no matcher reads): the title and
        # the top of the page, where a product page states its offer
        picked.append((title_len, min(n, title_len + 2 * FOCUS_RADIUS)))
    return _spread(picked, MAX_SPANS)


def window_text(text: str, span: tuple[int, int], title_len: int) -> str:
    """What the classifier reads of one mention: the title, then the span around it."""
    a, b = span
    return f"{text[:title_len]}\n{text[a:b]}" if title_len > 0 else text[a:b]


def mention_windows(text: str, title_len: int, mentions: Iterable[tuple[int, int]]) -> list[str]:
    """The classifier's view of each mention (`mention_spans`, `window_text`)."""
    return [window_text(text, span, title_len) for span in mention_spans(len(text), title_len, mentions)]


def focus_text(text: str, spans: list[tuple[int, int]], title_len: int) -> str:
    """The title once more (it weighs double: it names what the page is about), then the spans
    (at most `MAX_SPANS`, spread over the page)."""
    parts = [text[:title_len]] if title_len > 0 else []
    parts += [text[a:b] for a, b in _spread(spans, MAX_SPANS)]
    return "\n".join(parts)
