"""What the offer classifier reads of a long text: the title and windows around the substance
mentions, so pages of filler (navigation, terms, encyclopedic prose, footers) cannot drown an
offer or invent one.

The bag-of-words classifier sums over its doc. On a 3 kB web-shop page, the listing's own words
("Buy X", price tiers, add to cart) are a few percent of the tokens; the rest is prose copied from
reference sites. Judging the words near the mentions is what an analyst does, and it is what the
classifier is trained on too (`nlp.train` builds the same view of its examples).
"""

from __future__ import annotations

from typing import Iterable

FOCUS_MIN_CHARS = 1_200  # shorter texts are read whole: they are one listing
FOCUS_RADIUS = 300  # characters of context on each side of a mention
MAX_SPANS = 12  # mentions beyond these add no new evidence, only cost


def focus_spans(n: int, title_len: int, mentions: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged character spans of a text of `n` characters: the title (`title_len` characters
    at the start, 0 = none) and `FOCUS_RADIUS` around each mention."""
    raw = [(0, title_len)] if title_len > 0 else []
    for start, end in mentions:
        raw.append((max(0, start - FOCUS_RADIUS), min(n, end + FOCUS_RADIUS)))
    raw.sort()
    merged: list[tuple[int, int]] = []
    for a, b in raw:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        elif len(merged) < MAX_SPANS:
            merged.append((a, b))
    return merged


def focus_text(text: str, spans: list[tuple[int, int]], title_len: int) -> str:
    """The title once more (it weighs double: it names what the page is about), then the spans."""
    parts = [text[:title_len]] if title_len > 0 else []
    parts += [text[a:b] for a, b in spans]
    return "\n".join(parts)
