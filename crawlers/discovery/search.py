"""Each platform's site search behind one interface (fixtures/README.md, "Site search").

A `SearchEngine` builds the URL of a query's first result page and reads a result page into a
`ResultPage`: the listing links on it, the next page's URL, and whether the site capped the
results (more matches than it will ever page through). Links are read generically: every URL or
path in the page (HTML attribute, JSON-LD or JSON value) that the platform's URL scheme classifies
as a listing on the platform's own origin; the spider still refuses anything off the origin.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from precursor_watch.crawlers.pages.base import Page, SiteScheme

_HREF = re.compile(r"""(?:href|src|content)\s*=\s*["']([^"'<>\s]+)["']""")
_JSON_URL = re.compile(r"""["'](?:https?://[^"'\s<>]+|/[^"'\s<>]*)["']""")
_NEXT = re.compile(r"""<(?:a|link)\b[^>]*\brel=["']next["'][^>]*>""", re.I)


@dataclass(frozen=True)
class ResultPage:
    links: tuple[str, ...]  # absolute listing URLs, in result order
    next_url: str | None  # the next result page; None at the end of the results (or the cap)
    capped: bool  # the site says it will not show every match of this query
    total: int | None = None  # matches the site reports, when it does

    def capped_after(self, results_so_far: int) -> bool:
        """Capped, or (on the last page) fewer results shown in all than the site says matched."""
        return self.capped or (self.next_url is None and self.total is not None and results_so_far < self.total)


class SearchEngine:
    """The default: HTML result pages with `rel="next"` links; subclasses change what differs."""

    search_path = "/search"
    query_param = "q"

    def first_url(self, base_url: str, query: str) -> str:
        return f"{base_url}{self.search_path}?{urlencode({self.query_param: query})}"

    def parse(self, page: Page, site: SiteScheme) -> ResultPage:
        """`div.search` says `data-total` (all matches) and `data-pages` (pages it will serve);
        more matches than those pages hold is a capped query."""
        body = page.body.decode(_charset(page), errors="replace")
        links = listing_links(page.url, body, site)
        total, pages = _int_attr(body, "data-total"), _int_attr(body, "data-pages")
        size = max(len(links), 1)
        return ResultPage(
            links=tuple(links),
            next_url=_html_next(page.url, body),
            capped=total is not None and pages is not None and total > pages * size and page_no_of(page.url) < pages,
            total=total,
        )


class TradehubSearch(SearchEngine):
    """Results as a JSON-LD `ItemList` in the HTML; next page by `rel="next"`."""


class BoardlistSearch(SearchEngine):
    """Free-text search (ad text included); HTML result list."""


class HuaxueSearch(SearchEngine):
    """`/search.html?kw=` with the query percent-encoded in GB18030; pages are GB18030 HTML."""

    search_path = "/search.html"

    def first_url(self, base_url: str, query: str) -> str:
        return f"{base_url}{self.search_path}?kw={quote(query.encode('gb18030'))}"


class MercadoSearch(SearchEngine):
    """JSON API `/api/buscar?q=&cursor=`: results and a `next_cursor` (null at the end)."""

    search_path = "/api/buscar"

    def parse(self, page: Page, site: SiteScheme) -> ResultPage:
        try:
            data = json.loads(page.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return ResultPage((), None, False)
        body = page.body.decode("utf-8")
        links = tuple(listing_links(page.url, body, site))
        cursor = _first(data, ("next_cursor", "cursor_next", "next"))
        next_url = None
        if isinstance(cursor, str) and cursor:
            if cursor.startswith(("/", "http")):
                next_url = urljoin(page.url, cursor)
            else:
                parts = urlsplit(page.url)
                q = _query_value(parts.query, "q")
                next_url = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({'q': q, 'cursor': cursor})}"
        capped = bool(_first(data, ("capped", "truncated")))
        total = _first(data, ("total", "count"))
        return ResultPage(links, next_url, capped, total if type(total) is int else None)


ENGINES: dict[str, SearchEngine] = {
    "chemdir": SearchEngine(),
    "tradehub": TradehubSearch(),
    "boardlist": BoardlistSearch(),
    "huaxue": HuaxueSearch(),
    "mercado": MercadoSearch(),
}

# Seller and store page paths (fixtures/README.md, "URL scheme"), for seller expansion.
ACCOUNT_PATHS: dict[str, tuple[str, str]] = {
    "chemdir": ("/supplier/{}.html", "/supplier/{}.html"),
    "tradehub": ("/seller/{}", "/store/{}"),
    "boardlist": ("/user/{}", "/user/{}"),
    "huaxue": ("/member/{}.html", "/shop/{}.html"),
    "mercado": ("/vendedor/{}", "/vendedor/{}"),
}


def account_urls(platform: str, base_url: str, accounts: list[str], stores: list[str]) -> list[str]:
    """Seller and store page URLs of the given keys (a store that is the seller page once)."""
    seller, store = ACCOUNT_PATHS[platform]
    urls = [base_url + seller.format(quote(k)) for k in accounts] + [base_url + store.format(quote(k)) for k in stores]
    return list(dict.fromkeys(urls))


def listing_links(page_url: str, body: str, site: SiteScheme) -> list[str]:
    """Listing URLs on the page's origin found anywhere in `body`, first occurrence order."""
    origin = urlsplit(page_url)[:2]
    found: dict[str, None] = {}
    candidates = [m.group(1) for m in _HREF.finditer(body)] + [m.group()[1:-1] for m in _JSON_URL.finditer(body)]
    for raw in candidates:
        url = urljoin(page_url, raw.replace("\\/", "/"))
        parts = urlsplit(url)
        if parts[:2] != origin:
            continue
        kind, _ = site.classify(url)
        if kind == "listing":
            found[f"{parts.scheme}://{parts.netloc}{parts.path}"] = None
    return list(found)


def page_no_of(url: str) -> int:
    from urllib.parse import parse_qs

    values = parse_qs(urlsplit(url).query).get("page")
    return int(values[0]) if values and values[0].isdigit() else 1


def _charset(page: Page) -> str:
    match = re.search(r"charset=([\w-]+)", page.headers.get("content-type", ""), re.I)
    name = match.group(1).lower() if match else "utf-8"
    return "gb18030" if name in ("gbk", "gb2312", "gb18030") else name if name in ("utf-8", "latin-1") else "utf-8"


def _html_next(page_url: str, body: str) -> str | None:
    tag = _NEXT.search(body)
    if tag is None:
        return None
    href = re.search(r"""href=["']([^"']+)["']""", tag.group())
    return urljoin(page_url, href.group(1).replace("&amp;", "&")) if href else None


def _int_attr(body: str, name: str) -> int | None:
    match = re.search(rf"""{name}=["']?(\d+)""", body)
    return int(match.group(1)) if match else None


def _first(data: Any, names: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        for name in names:
            if name in data:
                return data[name]
    return None


def _query_value(query: str, name: str) -> str:
    from urllib.parse import parse_qs

    values = parse_qs(query).get(name)
    return values[0] if values else ""
