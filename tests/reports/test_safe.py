"""Escaping, CSV neutralisation, link and file-name guards, on hostile strings."""

import csv
import html.parser
import io

import pytest

from precursor_watch.reports.html import Html, link, page, table, tag
from precursor_watch.reports.safe import csv_text, neutralise_cell, safe_href, safe_name, visible_controls

HOSTILE = [
    '<script>alert("x")</script>',
    '<img src=x onerror="fetch(\'http://198.51.100.7/\')">',
    '<a href="javascript:alert(1)">click</a>',
    '"><svg onload=alert(1)>',
    "=HYPERLINK(\"http://198.51.100.7\",\"x\")",
    "\u202eexe.fdp",
    "</textarea></style></title><iframe src=//198.51.100.7>",
]


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, name, attrs):
        self.tags.append(name)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_becomes_one_text_node(hostile):
    doc = _Collector()
    doc.feed(str(tag("td", hostile)))
    assert doc.tags == ["td"] and doc.attrs == []
    assert "".join(doc.text) == visible_controls(hostile)


def test_attribute_values_cannot_break_out():
    doc = _Collector()
    doc.feed(str(tag("span", "x", title='" onmouseover="alert(1)')))
    assert doc.attrs == [("title", '" onmouseover="alert(1)')]


def test_bidi_override_is_made_visible():
    assert visible_controls("abc\u202edef\u2066") == "abc[U+202E]def[U+2066]"
    assert visible_controls("line\nnext\ttab") == "line\nnext\ttab"


@pytest.mark.parametrize(
    "url,ok",
    [
        ("http://127.0.0.11:8470/product/CD1.html", True),
        ("https://example.invalid/x?y=1", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//198.51.100.7/x", False),
        ("/relative", False),
        ("http://a\u202e/x", False),
        (None, False),
    ],
)
def test_only_absolute_http_urls_become_links(url, ok):
    assert (safe_href(url) is not None) == ok
    rendered = link(url, "label")
    assert rendered.startswith("<a ") == ok
    assert "javascript:" not in rendered.lower() or not rendered.startswith("<a ")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "=cmd|' /C calc'!A0"])
def test_formula_cells_are_neutralised(cell):
    out = neutralise_cell(cell)
    assert out.startswith("'")
    assert out[1:] == visible_controls(cell)


def test_plain_cells_and_numbers_are_kept():
    assert neutralise_cell("acetone 99%") == "acetone 99%"
    assert neutralise_cell(-5) == -5
    assert neutralise_cell(None) == ""


def test_csv_round_trip_keeps_neutralised_text():
    text = csv_text(["title", "score"], [["=HYPERLINK(\"x\")", 0.9], ["multi\nline, \"quoted\"", 0.1]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'=HYPERLINK(\"x\")", "0.9"]
    assert rows[2] == ["multi\nline, \"quoted\"", "0.1"]


def test_csv_rejects_ragged_rows():
    with pytest.raises(ValueError, match="2 cells"):
        csv_text(["a"], [["x", "y"]])


@pytest.mark.parametrize("name", ["2026-11-05", "flags.csv", "chemdir", "notice-12.json"])
def test_safe_names_pass(name):
    assert safe_name(name) == name


@pytest.mark.parametrize("name", ["../etc", "a/b", "<script>", "", ".hidden", "x" * 101, "a b"])
def test_unsafe_names_raise(name):
    with pytest.raises(ValueError, match="unsafe file name"):
        safe_name(name)


def test_page_is_self_contained():
    doc = page("t <x>", table(["a"], [["<b>"]]))
    assert "<script" not in doc
    assert "t &lt;x&gt;" in doc
    assert "default-src &#x27;none&#x27;" in doc
    assert "http://" not in doc.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert isinstance(tag("p", "x"), Html)


def test_snippet_highlights_recorded_offsets_and_falls_back_to_search():
    from precursor_watch.reports.queries import highlight_spans, parse_matches, snippet

    text = "Offer: 4-ANPP 99%, 1 kg foil bag"
    hits = parse_matches([
        {"id": "21409-26-7", "matched": "4-ANPP", "field": "text", "start": 7, "end": 13},
        {"id": "21409-26-7", "matched": "ANPP", "field": "title", "start": 0, "end": 4},  # title offsets: searched in text
        {"id": "x", "matched": "1 kg", "field": "text", "start": 0, "end": 4},  # stale offsets: searched
    ])
    spans = highlight_spans(text, hits)
    assert [text[s:e] for s, e in spans] == ["4-ANPP", "1 kg"]
    assert [p for p, hit in snippet(text, spans) if hit] == ["4-ANPP", "1 kg"]


def test_control_status_falls_back_to_the_lexicon_data():
    from precursor_watch.reports.queries import controls_in_force, parse_matches

    import datetime as dt

    (m,) = parse_matches(["39742-60-4"])  # NPP, no control entries stored with the hit
    in_2016 = {c.jurisdiction for c in controls_in_force(m, dt.date(2016, 1, 1))}
    in_2026 = {c.jurisdiction for c in controls_in_force(m, dt.date(2026, 1, 1))}
    assert "UN" not in in_2016 and {"UN", "US", "CN", "MX", "EU"} <= in_2026
