"""The generic site-search engine on hand-written answers: what a `[discovery.search]` table makes
of a result page (links, next page, total, cap) and of a query (the first URL), per format."""

from __future__ import annotations

import json

import pytest

from precursor_watch.crawlers.discovery.search import account_urls, site_search, with_cursor
from precursor_watch.crawlers.pages.base import Page
from precursor_watch.crawlers.pages.declared import scheme_of
from precursor_watch.crawlers.platform_file import PlatformFile

BASE = "http://shop.example"


def platform(search: dict | None, encoding: str = "utf-8", urls: dict | None = None) -> PlatformFile:
    data = {
        "name": "shop",
        "site": {"languages": ["en"], "encoding": encoding},
        "urls": {"listing": "/p/([A-Z0-9]+)", "seller": "/v/([a-z0-9-]+)", "store": "/s/([a-z0-9-]+)", **(urls or {})},
        "discovery": {"index": "/all?page=1", **({"search": search} if search is not None else {})},
        "extraction": {"fields": {"listing_key": {"source": "url"}}},
    }
    return PlatformFile.model_validate(data)


def engine(search: dict, encoding: str = "utf-8"):
    pf = platform(search, encoding)
    found = site_search(pf, scheme_of(pf))
    assert found is not None
    return found


def page(url: str, body: str, content_type: str = "text/html; charset=utf-8") -> Page:
    return Page(url, 200, {"content-type": content_type}, body.encode("utf-8"), url)


def test_no_table_no_search():
    pf = platform(None)
    assert site_search(pf, scheme_of(pf)) is None


def test_the_first_url_is_what_the_sites_form_sends():
    plain = engine({"path": "/find", "query": "kw", "params": {"type": "product", "sort": "new"}})
    assert plain.first_url(BASE, "fentanyl citrate") == f"{BASE}/find?kw=fentanyl+citrate&type=product&sort=new"
    gb = engine({"path": "/search.html", "query": "kw"}, encoding="gb18030")  # the site's charset by default
    assert gb.first_url(BASE, "哌啶") == f"{BASE}/search.html?kw=%DF%DF%E0%A4"
    latin = engine({"path": "/s", "encoding": "latin-1"}, encoding="gb18030")
    assert latin.first_url(BASE, "anhídrido 哌") == f"{BASE}/s?q=anh%EDdrido+%26%2321708%3B"  # as browsers send it


RESULTS = """<html><body>
<p class="count">Showing 11&ndash;20 of 1,234 results</p><span class="pp">Page 2 of 3</span>
<div class="results"><a class="t" href="/p/A1">a</a> <a href="/cart?add=A1">+</a>
<a class="t" href="/p/A2?ref=search#top">b</a><a class="t" href="http://other.example/p/A3">c</a></div>
<aside><a href="/p/HOT1">hot</a></aside>
<nav><a class="nx" href="/find?q=x&amp;page=3">next</a><a rel="next" href="/wrong">x</a></nav>
</body></html>"""


def test_html_results_read_by_the_declared_selectors():
    search = engine(
        {
            "path": "/find",
            "html": {
                "links": "div.results a.t::attr(href)",
                "next": "nav a.nx::attr(href)",
                "total": {"css": "p.count", "regex": r"([\d,]+) results"},
                "pages": {"xpath": "//span[@class='pp']/text()", "regex": r"of (\d+)"},
            },
        }
    )
    result = search.parse(page(f"{BASE}/find?q=x&page=2", RESULTS))
    assert result.links == (f"{BASE}/p/A1", f"{BASE}/p/A2")  # the origin's listing pages, no query
    assert result.next_url == f"{BASE}/find?q=x&page=3"
    assert result.total == 1234
    assert result.capped  # 1,234 matches, 3 pages of 2 shown: capped, seen before the last page


def test_html_defaults_take_every_listing_link_and_rel_next():
    result = engine({"path": "/find"}).parse(page(f"{BASE}/find?q=x", RESULTS))
    assert result.links == (f"{BASE}/p/A1", f"{BASE}/p/A2", f"{BASE}/p/HOT1")
    assert result.next_url == f"{BASE}/wrong" and result.total is None and not result.capped


def test_the_cap_without_a_page_count_shows_on_the_last_page():
    search = engine({"path": "/find", "html": {"total": "b.n::text"}})
    last = search.parse(page(f"{BASE}/find?q=x&page=9", '<b class="n">95</b><a href="/p/Z9">z</a>'))
    assert last.next_url is None and not last.capped
    assert last.capped_after(90) and not last.capped_after(95)


def json_engine(**keys):
    return engine({"path": "/api/find", "query": "term", "json": {"cursor": "paging.after", **keys}})


def test_json_results_follow_the_cursor_in_its_parameter():
    search = json_engine(cursor_param="after", total="paging.found", capped="paging.truncated")
    answer = {
        "hits": [{"u": "/p/K1"}, {"u": f"{BASE}/p/K2"}, {"u": "/v/seller-1"}],
        "paging": {"after": "c2==", "found": 40},
    }
    url = f"{BASE}/api/find?term=%DF%DF&after=c1&lang=en"
    result = search.parse(page(url, json.dumps(answer), "application/json"))
    assert result.links == (f"{BASE}/p/K1", f"{BASE}/p/K2")
    assert result.next_url == f"{BASE}/api/find?term=%DF%DF&lang=en&after=c2%3D%3D"  # the query's bytes kept
    assert result.total == 40 and not result.capped
    answer["paging"] = {"after": None, "found": 40, "truncated": True}
    last = search.parse(page(url, json.dumps(answer), "application/json"))
    assert last.next_url is None and last.capped


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        ("/api/find?term=x&page=2", f"{BASE}/api/find?term=x&page=2"),  # a path: fetched as is
        (7, f"{BASE}/api/find?term=x&cursor=7"),  # a number
        ("", None),
        (None, None),
    ],
)
def test_a_json_cursor_may_be_a_path_or_a_number(cursor, expected):
    result = json_engine().parse(page(f"{BASE}/api/find?term=x", json.dumps({"paging": {"after": cursor}})))
    assert result.next_url == expected


def test_a_json_answer_that_is_not_json_ends_the_query():
    result = json_engine().parse(page(f"{BASE}/api/find?term=x", "<html>busy</html>"))
    assert result == type(result)((), None, False)


def test_with_cursor_replaces_the_parameter():
    assert with_cursor("http://h/s?q=a+b&cursor=old", "new", "cursor") == "http://h/s?q=a+b&cursor=new"


def test_account_pages_come_from_the_templates():
    pf = platform(None, urls={"seller_page": "/v/{key}", "store_page": "/s/{key}"})
    assert account_urls(pf.urls, BASE, ["a-1", "a-1"], ["s 2"]) == [f"{BASE}/v/a-1", f"{BASE}/s/s%202"]
    assert account_urls(platform(None).urls, BASE, ["a-1"], []) == []  # no template, no seller expansion
