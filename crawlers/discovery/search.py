"""A platform's site search, read from its platform file (`[discovery.search]`): no Python per site.

`SiteSearch` builds the URL of a query's first result page (path, query parameter, fixed
parameters, the charset the query is percent-encoded in) and reads a result page into a
`ResultPage`: the listing links on it, the next page's URL, and whether the site capped the
results (more matches than it will ever page through). One reader per result format:

- `html`: result pages linked one to the next (`next`, default `rel="next"`); the links are those
  the `links` selector picks, or every link to a listing page; `total` (matches in all) and
  `pages` (pages the site serves) are numbers read from the page when the file says where;
- `json`: an API paged by a cursor (`cursor` names the key; the next page is this URL with the
  cursor parameter set, or the cursor itself when it is a path or URL); `total` and `capped` keys.

Links are kept when the platform's URL scheme classifies them as a listing on the page's own
origin; the spider still refuses anything off the origin. `account_urls` builds the seller and
store pages of flagged accounts from the file's `[urls]` templates (seller expansion).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

from precursor_watch.crawlers.pages.base import HtmlPage, Page, SiteScheme
from precursor_watch.crawlers.platform_file import HtmlResults, JsonResults, PlatformFile, Search, SearchNumber, Urls

_HREF = re.compile(r"""(?:href|src|content)\s*=\s*["']([^"'<>\s]+)["']""")
_JSON_URL = re.compile(r"""["'](?:https?://[^"'\s<>]+|/[^"'\s<>]*)["']""")


@dataclass(frozen=True)
class ResultPage:
    links: tuple[str, ...]  # absolute listing URLs, in result order
    next_url: str | None  # the next result page; None at the end of the results (or the cap)
    capped: bool  # the site says it will not show every match of this query
    total: int | None = None  # matches the site reports, when it does

    def capped_after(self, results_so_far: int) -> bool:
        """Capped, or (on the last page) fewer results shown in all than the site says matched."""
        return self.capped or (self.next_url is None and self.total is not None and results_so_far < self.total)


class SiteSearch:
    """The site search a platform file declares."""

    def __init__(self, spec: Search, site: SiteScheme, encoding: str):
        self.spec, self.site, self.encoding = spec, site, encoding

    def first_url(self, base_url: str, query: str) -> str:
        """Like the site's own search form: the query in the declared charset (characters it
        cannot encode as `&#NNNN;`, as browsers send them), then the fixed parameters."""
        pairs = [(self.spec.query, query), *self.spec.params.items()]
        return f"{base_url}{self.spec.path}?{urlencode(pairs, encoding=self.encoding, errors='xmlcharrefreplace')}"

    def parse(self, page: Page) -> ResultPage:
        if self.spec.json_ is not None:
            return read_json(self.spec.json_, page, self.site)
        return read_html(self.spec.html or HtmlResults(), page, self.site)

    def describe(self) -> str:
        """One line for `pwatch platforms list|check`."""
        params = "".join(f"&{k}={v}" for k, v in self.spec.params.items())
        return f"GET {self.spec.path}?{self.spec.query}=QUERY{params} ({self.spec.format}, query in {self.encoding})"


def site_search(pf: PlatformFile, site: SiteScheme) -> SiteSearch | None:
    """The platform's site search, or None when its file declares none."""
    spec = pf.discovery.search
    if spec is None:
        return None
    return SiteSearch(spec, site, spec.encoding or pf.site.encoding)


# ---- html ------------------------------------------------------------------------------------
def read_html(spec: HtmlResults, page: Page, site: SiteScheme) -> ResultPage:
    """`pages` known: more matches than those pages hold (at this page's size) is a capped query,
    seen on the first page; otherwise the last page shows it (`ResultPage.capped_after`)."""
    doc = HtmlPage(page)
    if spec.links:
        links = listing_urls(page.url, doc.sel.css(spec.links).getall(), site)
    else:
        links = listing_links(page.url, doc.html, site)
    next_url = doc.absolute(doc.sel.css(spec.next).get())
    total, pages = _number(doc, spec.total), _number(doc, spec.pages)
    capped = total is not None and pages is not None and next_url is not None and total > pages * max(len(links), 1)
    return ResultPage(tuple(links), next_url, capped, total)


def _number(doc: HtmlPage, rule: SearchNumber | None) -> int | None:
    if rule is None:
        return None
    nodes = doc.sel.css(rule.css) if rule.css else doc.sel.xpath(rule.xpath or "")
    for node in nodes:
        text = node.root if isinstance(node.root, str) else node.xpath("string()").get() or ""
        if rule.regex is not None:
            match = re.search(rule.regex, text)
            if match is None:
                continue
            text = match.group(1) if match.re.groups else match.group(0)
        digits = re.sub(r"\D", "", text)
        if digits:
            return int(digits)
    return None


# ---- json ------------------------------------------------------------------------------------
def read_json(spec: JsonResults, page: Page, site: SiteScheme) -> ResultPage:
    try:
        body = page.body.decode("utf-8")
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return ResultPage((), None, False)
    links = tuple(listing_links(page.url, body, site))
    cursor = _dig(data, spec.cursor)
    if isinstance(cursor, int) and not isinstance(cursor, bool):
        cursor = str(cursor)
    next_url = with_cursor(page.url, cursor, spec.cursor_param) if isinstance(cursor, str) and cursor else None
    capped = bool(_dig(data, spec.capped)) if spec.capped else False
    total = _dig(data, spec.total) if spec.total else None
    return ResultPage(links, next_url, capped, total if type(total) is int else None)


def with_cursor(page_url: str, cursor: str, param: str) -> str:
    """The next page: a cursor that is a path or URL as is, else this URL with `param` set to it
    (the other parameters kept byte for byte, so the query keeps its encoding)."""
    if cursor.startswith(("/", "http://", "https://")):
        return urljoin(page_url, cursor)
    parts = urlsplit(page_url)
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.partition("=")[0]) != param]
    query = "&".join([*kept, f"{quote(param, safe='')}={quote(cursor, safe='')}"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _dig(data: Any, path: str | None) -> Any:
    """The value at a dotted key path (`meta.next`; a number indexes a list), or None."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


# ---- links and accounts ------------------------------------------------------------------------
def listing_urls(page_url: str, hrefs: Iterable[str], site: SiteScheme) -> list[str]:
    """The hrefs that are listing URLs on the page's origin, absolute, without query or fragment,
    each once, in order."""
    origin = urlsplit(page_url)[:2]
    found: dict[str, None] = {}
    for raw in hrefs:
        url = urljoin(page_url, raw.strip().replace("\\/", "/"))
        parts = urlsplit(url)
        if parts[:2] != origin:
            continue
        kind, _ = site.classify(url)
        if kind == "listing":
            found[f"{parts.scheme}://{parts.netloc}{parts.path}"] = None
    return list(found)


def listing_links(page_url: str, body: str, site: SiteScheme) -> list[str]:
    """Listing URLs on the page's origin found anywhere in `body` (HTML attributes, JSON-LD or JSON
    values), first occurrence order."""
    candidates = [m.group(1) for m in _HREF.finditer(body)] + [m.group()[1:-1] for m in _JSON_URL.finditer(body)]
    return listing_urls(page_url, candidates, site)


def account_urls(urls: Urls, base_url: str, accounts: list[str], stores: list[str]) -> list[str]:
    """Seller and store page URLs of the given keys, by the file's `urls.seller_page` and
    `urls.store_page` (a store that is the seller page once); none without templates."""
    templates = urls.account_templates()
    if templates is None:
        return []
    seller, store = templates
    pages = [seller.replace("{key}", quote(k)) for k in accounts] + [store.replace("{key}", quote(k)) for k in stores]
    return list(dict.fromkeys(base_url + p for p in pages))
