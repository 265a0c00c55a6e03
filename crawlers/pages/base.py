"""Page objects: everything the crawlers know about a platform's pages, one method per field.

Spiders only fetch and route; a page object turns one fetched page into a typed result:

- `Listing`: the fields of a live listing;
- `Removed`: the page says the listing (or account, store, platform) is gone, with the reason;
- `Incomplete`: the page is cut or lacks its required parts (a transient fault: retry, never a
  removal).

Page objects are built from a `Page` (URL, status, headers, bytes): no Scrapy import, so unit
tests and benchmarks can feed them bytes directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from precursor_watch.crawlers.encoding import decode_body


@dataclass(frozen=True)
class Page:
    url: str  # URL whose answer this is (after any redirects: the final URL)
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    requested_url: str = ""  # the URL first asked for (before redirects)
    redirect_chain: tuple[tuple[str, int, str], ...] = ()  # (url, status, location) hops

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Listing:
    listing_key: str
    title: str
    text: str
    price: str | None
    currency: str | None
    seller_key: str | None
    seller_name: str | None
    store_key: str | None
    contacts: list[str] = field(default_factory=list)
    lang: str | None = None
    posted_at: str | None = None
    offer_signals: dict[str, bool] | None = None  # see HtmlListingPage.offer_signals


@dataclass(frozen=True)
class Removed:
    reason: str  # one of contract.GONE_REASONS
    listing_key: str | None = None


@dataclass(frozen=True)
class Incomplete:
    why: str


# Marker classes of removal pages (fixtures/README.md, "Removal styles"); the mapping from the
# page's own reason to our GONE_REASONS lives in each platform's page object.
CLOSURE_HEADER = "x-platform-status"


def is_platform_closed(page: Page) -> bool:
    """Whole-platform closure: 503 with `X-Platform-Status: closed` (not a transient 503)."""
    return page.status == 503 and page.headers.get(CLOSURE_HEADER, "").strip().lower() == "closed"


@dataclass(frozen=True)
class SiteScheme:
    """A platform's URL scheme (fixtures/README.md, "URL scheme"): builds and classifies URLs."""

    listing: re.Pattern[str]
    seller: re.Pattern[str]
    store: re.Pattern[str]
    first_index: str  # path of index page 1
    sitemap: str = "/sitemap.xml"

    def classify(self, url: str) -> tuple[str, str | None]:
        """("listing"|"seller"|"store"|"other", key)."""
        path = urlsplit(url).path
        for kind, pattern in (("listing", self.listing), ("seller", self.seller), ("store", self.store)):
            match = pattern.fullmatch(path)
            if match:
                return kind, match.group(1)
        return "other", None


class HtmlPage:
    """Shared HTML plumbing: correct decoding (GB18030, mis-declared charsets) and a selector."""

    def __init__(self, page: Page):
        self.page = page

    @cached_property
    def html(self) -> str:
        return decode_body(self.page.body, self.page.content_type)[0]

    @cached_property
    def sel(self) -> Selector:
        return Selector(text=self.html, type="html")

    def absolute(self, href: str | None) -> str | None:
        return urljoin(self.page.url, href) if href else None


def path_key(url: str | None, pattern: re.Pattern[str]) -> str | None:
    """The key captured by `pattern` (group 1) from a URL's path, or None."""
    if not url:
        return None
    match = pattern.fullmatch(urlsplit(url).path)
    return match.group(1) if match else None


class HtmlListingPage(HtmlPage):
    """A listing page in the shared markup of the HTML platforms (fixtures/README.md, "Page formats").

    Subclasses set the URL patterns and decide removals; any field method can be overridden.
    """

    site: SiteScheme

    # --- one method per field ---------------------------------------------------------------
    def listing_key(self) -> str | None:
        return path_key(self.page.requested_url or self.page.url, self.site.listing)

    def title(self) -> str | None:
        node = self.sel.css("h1.title")
        return node[0].xpath("string()").get() if node else None

    def text(self) -> str | None:
        node = self.sel.css("div.description")
        return node[0].xpath("string()").get() if node else None

    def price(self) -> str | None:
        value = self.sel.css("span.price::text").get()
        return value.strip() if value is not None else None

    def currency(self) -> str | None:
        return self.sel.css("span.price::attr(data-currency)").get()

    def seller_key(self) -> str | None:
        return path_key(self.absolute(self.sel.css("a.seller::attr(href)").get()), self.site.seller)

    def seller_name(self) -> str | None:
        node = self.sel.css("a.seller")
        return node[0].xpath("string()").get() if node else None

    def store_key(self) -> str | None:
        return path_key(self.absolute(self.sel.css("a.store::attr(href)").get()), self.site.store)

    def contacts(self) -> list[str]:
        return self.sel.css("li.contact::attr(data-contact)").getall()

    def lang(self) -> str | None:
        return self.sel.xpath("/html/@lang").get()

    def posted_at(self) -> str | None:
        value = self.sel.css("span.posted::text").get()
        return value.strip() if value else None

    def offer_signals(self) -> dict[str, bool]:
        """What the page shows around the listing text: page evidence of an offer for the detector
        (`nlp.detection.OfferSignals`): a price, an add-to-cart or inquiry control, a seller, a
        schema.org Offer."""
        return {
            "price": self.price() is not None,
            "add_to_cart": bool(self.sel.css(".add-to-cart")),
            "inquiry": bool(self.sel.css(".inquiry")),
            "seller": bool(self.seller_name()),
            "schema_offer": self.has_schema_offer(),
        }

    def has_schema_offer(self) -> bool:
        """A JSON-LD `Offer` (alone, or as the `offers` of a `Product`)."""
        for block in self.sel.css('script[type="application/ld+json"]::text').getall():
            try:
                data = json.loads(block)
            except ValueError:
                continue
            for node in data if isinstance(data, list) else [data]:
                if isinstance(node, dict) and (node.get("@type") == "Offer" or node.get("offers")):
                    return True
        return False

    # --- removal --------------------------------------------------------------------------
    def removal_marker(self) -> str | None:
        """`data-reason` of the page's removal notice (`removed`, `account_closed`, `store_closed`)."""
        return self.sel.css("div.removed::attr(data-reason)").get()

    def removed(self) -> Removed | None:
        """The platform's removal style: a removal notice in the page, or a redirect away."""
        if self.page.redirect_chain:
            kind, _ = self.site.classify(self.page.url)
            if kind == "seller" and HtmlAccountPage(self.page).account_closed():
                return Removed("account_closed", self.listing_key())
            if kind in ("seller", "store") and HtmlAccountPage(self.page).store_closed():
                return Removed("store_closed", self.listing_key())
            if kind != "listing":
                # Sent to a category or home page (or an open seller page): the listing is gone.
                return Removed("redirected", self.listing_key())
        marker = self.removal_marker()
        if marker is None:
            # A bare 404/410 is the platform's own statement too (and never a transient answer).
            bare = {404: "not_found", 410: "gone"}.get(self.page.status)
            return Removed(bare, self.listing_key()) if bare else None
        return Removed(_marker_reason(marker, self.removed_reason), self.listing_key())

    removed_reason = "not_found"  # our reason for a plain removal on this platform

    # --- result ---------------------------------------------------------------------------
    def result(self) -> Listing | Removed | Incomplete:
        if is_platform_closed(self.page):
            return Removed("platform_closed", self.listing_key())
        gone = self.removed()
        if gone is not None:
            return gone
        if self.page.status != 200:
            return Incomplete(f"unexpected HTTP {self.page.status} without a removal notice")
        key = self.listing_key()
        title, text = self.title(), self.text()
        if key is None or title is None or text is None or self.price() is None:
            # A 200 page without its core parts was cut off or is not a listing page.
            return Incomplete("listing page lacks title, description or price")
        return listing_from_fields(self, key)


def _marker_reason(marker: str, plain: str) -> str:
    marker = marker.strip().lower()
    if marker in ("account_closed", "store_closed"):
        return marker
    return plain


class HtmlIndexPage(HtmlPage):
    """An index page: links to listings and a `rel="next"` link."""

    def links(self) -> list[str]:
        return [urljoin(self.page.url, h) for h in self.sel.css("a::attr(href)").getall() if h]

    def next_url(self) -> str | None:
        return self.absolute(self.sel.css('a[rel="next"]::attr(href), link[rel="next"]::attr(href)').get())


class HtmlAccountPage(HtmlPage):
    """A seller or store page: open, or closed (`div.account-closed` / `div.store-closed`)."""

    def account_closed(self) -> bool:
        return bool(self.sel.css("div.account-closed"))

    def store_closed(self) -> bool:
        return bool(self.sel.css("div.store-closed"))


def sitemap_locs(body: bytes) -> tuple[list[str], list[str]]:
    """(child sitemap URLs, page URLs) of a sitemap or sitemap index."""
    sel = Selector(text=decode_body(body, "application/xml")[0], type="xml")
    sel.remove_namespaces()
    return sel.xpath("//sitemap/loc/text()").getall(), sel.xpath("//url/loc/text()").getall()


def load_json(page: Page) -> Any | None:
    try:
        return json.loads(decode_body(page.body, page.content_type)[0])
    except ValueError:
        return None


def listing_from_fields(page, key: str) -> Listing:
    """The extracted listing from a page object's field methods (HTML and JSON page objects alike)."""
    return Listing(
        listing_key=key,
        title=page.title(),
        text=page.text(),
        price=page.price(),
        currency=page.currency(),
        seller_key=page.seller_key(),
        seller_name=page.seller_name(),
        store_key=page.store_key(),
        contacts=page.contacts(),
        lang=page.lang(),
        posted_at=page.posted_at(),
        offer_signals=page.offer_signals(),
    )
