"""mercado: Spanish marketplace; HTML shells filled by a JSON API, which is what we read.

A listing's URL (the truth's and the item's) is the shell `/articulo/<key>`; its data comes from
`/api/articulos/<key>`, which answers 404 JSON `{"error": "not_found", "reason": R}` once the
listing is removed (the shell keeps answering 200, so it proves nothing).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any
from urllib.parse import urljoin, urlsplit

from precursor_watch.crawlers.pages.base import (
    Incomplete,
    Listing,
    Page,
    Removed,
    SiteScheme,
    is_platform_closed,
    listing_from_fields,
    load_json,
)

NAME = "mercado"
SITE = SiteScheme(
    listing=re.compile(r"/articulo/([A-Za-z0-9]+)"),
    seller=re.compile(r"/vendedor/([a-z0-9-]+)"),
    store=re.compile(r"/vendedor/([a-z0-9-]+)"),  # the store is the seller page
    first_index="/api/listado?pagina=1",
)
API_LISTING = re.compile(r"/api/articulos/([A-Za-z0-9]+)")


def api_url(url: str) -> str:
    """The JSON API URL behind a shell URL (listing or seller); other URLs unchanged."""
    parts = urlsplit(url)
    kind, key = SITE.classify(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if kind == "listing":
        return f"{base}/api/articulos/{key}"
    if kind in ("seller", "store"):
        return f"{base}/api/vendedores/{key}"
    return url


class ListingPage:
    """`/api/articulos/<key>` JSON."""

    def __init__(self, page: Page):
        self.page = page

    @cached_property
    def data(self) -> Any:
        return load_json(self.page)

    def _d(self) -> dict[str, Any]:
        return self.data if isinstance(self.data, dict) else {}

    def listing_key(self) -> str | None:
        match = API_LISTING.fullmatch(urlsplit(self.page.requested_url or self.page.url).path)
        return match.group(1) if match else self._d().get("key")

    def title(self) -> str | None:
        return self._d().get("title")

    def text(self) -> str | None:
        return self._d().get("text")

    def price(self) -> str | None:
        value = self._d().get("price")
        return None if value is None else str(value)

    def currency(self) -> str | None:
        return self._d().get("currency")

    def _party(self, name: str) -> dict[str, Any]:
        value = self._d().get(name)
        return value if isinstance(value, dict) else {}

    def seller_key(self) -> str | None:
        return self._party("seller").get("key")

    def seller_name(self) -> str | None:
        return self._party("seller").get("name")

    def store_key(self) -> str | None:
        return self._party("store").get("key")

    def contacts(self) -> list[str]:
        return [c for c in self._d().get("contacts") or [] if isinstance(c, str)]

    def lang(self) -> str | None:
        return self._d().get("lang")

    def posted_at(self) -> str | None:
        return self._d().get("posted_on")

    def offer_signals(self) -> dict[str, bool]:
        """The API answer has no controls; what it shows is a price and a seller."""
        return {
            "price": self.price() is not None,
            "add_to_cart": False,
            "inquiry": False,
            "seller": bool(self.seller_name()),
            "schema_offer": False,
        }

    def result(self) -> Listing | Removed | Incomplete:
        if is_platform_closed(self.page):
            return Removed("platform_closed", self.listing_key())
        data = self._d()
        if self.page.status == 404 and data.get("error") == "not_found":
            reason = str(data.get("reason") or "removed")
            return Removed(reason if reason in ("account_closed", "store_closed") else "not_found", self.listing_key())
        if self.page.status != 200:
            return Incomplete(f"unexpected HTTP {self.page.status} from the listing API")
        if self.data is None:
            return Incomplete("listing API answer is not complete JSON")
        key = self.listing_key()
        if key is None or self.title() is None or self.text() is None or self.price() is None:
            return Incomplete("listing API answer lacks key, title, text or price")
        return listing_from_fields(self, key)


class IndexPage:
    """`/api/listado?pagina=k` JSON: items with their shell URL, and the next API page."""

    def __init__(self, page: Page):
        self.page = page
        self.data = load_json(page)

    def links(self) -> list[str]:
        items = self.data.get("items", []) if isinstance(self.data, dict) else []
        return [urljoin(self.page.url, i["url"]) for i in items if isinstance(i, dict) and i.get("url")]

    def next_url(self) -> str | None:
        nxt = self.data.get("next") if isinstance(self.data, dict) else None
        return urljoin(self.page.url, nxt) if nxt else None


class AccountPage:
    """`/api/vendedores/<acct>` JSON; on mercado the store is the seller."""

    def __init__(self, page: Page):
        self.page = page
        self.data = load_json(page)

    def account_closed(self) -> bool:
        return isinstance(self.data, dict) and self.data.get("status") == "closed"

    def store_closed(self) -> bool:
        return self.account_closed()


fetch_url = api_url  # the spider fetches the JSON API behind each shell URL
