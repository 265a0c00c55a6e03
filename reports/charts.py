"""Inline SVG charts (no scripts, no external fonts or images), embedded straight into the page.

Each chart takes already-computed numbers; labels are escaped like any other text, and every
bar carries its value in `data-value` so tests and screen readers can read it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from precursor_watch.reports.html import Html
from precursor_watch.reports.safe import escape_html

_BAR = "#3a6ea5"
_ALT = "#d08a2c"
_FONT = 'font-family="sans-serif" font-size="11"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None = no data (drawn as "n/a")
    extra: float | None = None  # optional second value drawn as a whisker (e.g. p90)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _svg(width: int, height: int, title: str, body: str) -> Html:
    t = escape_html(title)
    return Html(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title>{body}</svg>'
    )


def column_chart(title: str, bars: Sequence[Bar], height: int = 180) -> Html:
    """Vertical bars, one per label (e.g. flags per day)."""
    col, gap, top, bottom, left = 28, 8, 18, 70, 50
    width = max(160, left + len(bars) * (col + gap) + gap)
    peak = max([b.value or 0 for b in bars] + [1])
    inner = height - top - bottom
    parts = []
    for i, bar in enumerate(bars):
        x = left + gap + i * (col + gap)
        h = 0 if not bar.value else max(1, round(inner * bar.value / peak))
        y = top + inner - h
        parts.append(
            f'<rect class="bar" x="{x}" y="{y}" width="{col}" height="{h}" fill="{_BAR}" '
            f'data-label="{escape_html(bar.label)}" data-value="{_fmt(bar.value)}"/>'
            f'<text x="{x + col / 2}" y="{y - 4}" text-anchor="middle" {_FONT}>{_fmt(bar.value)}</text>'
            f'<text x="{x + col / 2}" y="{height - bottom + 12}" text-anchor="end" {_FONT} '
            f'transform="rotate(-45 {x + col / 2} {height - bottom + 12})">{escape_html(bar.label)}</text>'
        )
    parts.append(f'<line x1="0" y1="{top + inner}" x2="{width}" y2="{top + inner}" stroke="#999"/>')
    return _svg(width, height, title, "".join(parts))


def bar_chart(title: str, bars: Sequence[Bar], unit: str = "", width: int = 420) -> Html:
    """Horizontal bars (funnel stages, per-platform values); `extra` is drawn as a whisker."""
    row, label_w, right = 22, 150, 70
    height = max(1, len(bars)) * row + 10
    peak = max([max(b.value or 0, b.extra or 0) for b in bars] + [1])
    inner = width - label_w - right
    parts = []
    for i, bar in enumerate(bars):
        y = 5 + i * row
        w = 0 if not bar.value else max(1, round(inner * bar.value / peak))
        text = _fmt(bar.value) + (f" {unit}" if unit and bar.value is not None else "")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {_FONT}>{escape_html(bar.label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" fill="{_BAR}" '
            f'data-label="{escape_html(bar.label)}" data-value="{_fmt(bar.value)}"/>'
        )
        if bar.extra is not None:
            xe = label_w + round(inner * bar.extra / peak)
            parts.append(
                f'<line class="whisker" x1="{label_w + w}" y1="{y + row / 2}" x2="{xe}" y2="{y + row / 2}" '
                f'stroke="{_ALT}" stroke-width="2" data-value="{_fmt(bar.extra)}"/>'
                f'<line x1="{xe}" y1="{y + 5}" x2="{xe}" y2="{y + row - 5}" stroke="{_ALT}" stroke-width="2"/>'
            )
            text += f" (p90 {_fmt(bar.extra)})"
        end = label_w + max(w, 0 if bar.extra is None else round(inner * bar.extra / peak))
        parts.append(f'<text x="{end + 4}" y="{y + 14}" {_FONT}>{escape_html(text)}</text>')
    return _svg(width + 60, height, title, "".join(parts))
