"""tradehub: B2B store site with schema.org Product/Offer JSON-LD. A removed item answers 410.

Title, description, SKU and price come from the JSON-LD (the platform's own structured data);
the HTML markup is the fallback when the JSON-LD is missing or unreadable.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any

from precursor_watch.crawlers.pages.base import HtmlAccountPage, HtmlIndexPage, HtmlListingPage, SiteScheme

NAME = "tradehub"
SITE = SiteScheme(
    listing=re.compile(r"/item/([A-Za-z0-9]+)"),
    seller=re.compile(r"/seller/([a-z0-9-]+)"),
    store=re.compile(r"/store/([a-z0-9-]+)"),
    first_index="/catalog/1",
)


class ListingPage(HtmlListingPage):
    site = SITE
    removed_reason = "gone"  # HTTP 410

    @cached_property
    def product(self) -> dict[str, Any]:
        for block in self.sel.css('script[type="application/ld+json"]::text').getall():
            try:
                data = json.loads(block)
            except ValueError:
                continue
            for node in data if isinstance(data, list) else [data]:
                if isinstance(node, dict) and node.get("@type") == "Product":
                    return node
        return {}

    def _offer(self) -> dict[str, Any]:
        offers = self.product.get("offers") or {}
        if isinstance(offers, list):
            offers = offers[0] if offers else {}
        return offers if isinstance(offers, dict) else {}

    def title(self) -> str | None:
        return self.product.get("name") or super().title()

    def text(self) -> str | None:
        value = self.product.get("description")
        return value if isinstance(value, str) else super().text()

    def price(self) -> str | None:
        value = self._offer().get("price")
        return str(value) if value is not None else super().price()

    def currency(self) -> str | None:
        return self._offer().get("priceCurrency") or super().currency()


class IndexPage(HtmlIndexPage):
    pass


class AccountPage(HtmlAccountPage):
    pass
