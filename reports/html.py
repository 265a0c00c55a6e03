"""A tiny explicit HTML builder: every value is escaped unless it is `Html` we built ourselves.

No template language: listing text never reaches template logic. Tag and attribute names are
literals in our code; attribute values and text always go through `escape_html`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from precursor_watch.reports.safe import escape_html, safe_href


class Html(str):
    """Markup produced by this module (or the SVG charts); never built from unescaped input."""


def render(value: Any) -> Html:
    """`Html` passes through; anything else becomes escaped text."""
    if isinstance(value, Html):
        return value
    return Html(escape_html(value))


def join(parts: Iterable[Any], sep: str = "") -> Html:
    return Html(sep.join(render(p) for p in parts))


def tag(name: str, *children: Any, **attrs: Any) -> Html:
    """`<name attrs>children</name>`; attribute `class_` is written `class`; None values dropped."""
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape_html(value)}"'
        for key, value in attrs.items()
        if value is not None and value is not False
    )
    return Html(f"<{name}{rendered}>{join(children)}</{name}>")


def link(url: Any, label: Any = None) -> Html:
    """A link only for absolute http(s) URLs; anything else is shown as plain text."""
    label = url if label is None else label
    href = safe_href(url)
    if href is None:
        return tag("span", label, class_="unsafe-url", title="not a web link")
    return tag("a", label, href=href, rel="noopener noreferrer nofollow", referrerpolicy="no-referrer")


def table(headers: list[Any], rows: Iterable[list[Any]], **attrs: Any) -> Html:
    head = tag("thead", tag("tr", *(tag("th", h) for h in headers)))
    body = tag("tbody", *(tag("tr", *(tag("td", cell) for cell in row)) for row in rows))
    return tag("table", head, body, **attrs)


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f0f0f0}td.num,th.num{text-align:right}
.stats{display:flex;flex-wrap:wrap;gap:.6em;padding:0;list-style:none}
.stats li{border:1px solid #ccc;border-radius:4px;padding:.4em .8em;min-width:7em}
.stats .value{display:block;font-size:1.6em;font-weight:600}
mark{background:#ffe27a}.snippet{max-width:40em;white-space:pre-wrap;word-break:break-word}
.hash{font-family:monospace;font-size:11px;word-break:break-all}
.unsafe-url{font-family:monospace;color:#8a1c1c}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-weight:600}
.muted{color:#666}
"""

# No script, style or image may load from anywhere: the page is one self-contained file.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def page(title: str, *body: Any) -> str:
    """A complete, self-contained HTML document (inline CSS, no scripts, no external requests)."""
    head = Html(
        '<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape_html(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
    )
    return (
        "<!DOCTYPE html>\n"
        + tag("html", tag("head", head, tag("title", title), tag("style", Html(CSS))), tag("body", *body), lang="en")
        + "\n"
    )
