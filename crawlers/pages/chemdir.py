"""chemdir: B2B chemical directory. Spec table on listing pages; a removed listing answers 404."""

from __future__ import annotations

import re

from precursor_watch.crawlers.pages.base import HtmlAccountPage, HtmlIndexPage, HtmlListingPage, SiteScheme

NAME = "chemdir"
SITE = SiteScheme(
    listing=re.compile(r"/product/([A-Za-z0-9]+)\.html"),
    seller=re.compile(r"/supplier/([a-z0-9-]+)\.html"),
    store=re.compile(r"/supplier/([a-z0-9-]+)\.html"),  # the store is the supplier page
    first_index="/products?page=1",
)


class ListingPage(HtmlListingPage):
    site = SITE
    removed_reason = "not_found"  # HTTP 404 with a removal notice

    def spec(self) -> dict[str, str]:
        """The spec table (CAS / Purity / MOQ / Packaging / Price) as shown."""
        rows = {}
        for row in self.sel.css("table.spec tr"):
            cells = [(c.xpath("string()").get() or "").strip() for c in row.css("th, td")]
            if len(cells) >= 2:
                rows[cells[0]] = cells[1]
        return rows


class IndexPage(HtmlIndexPage):
    pass


class AccountPage(HtmlAccountPage):
    pass
