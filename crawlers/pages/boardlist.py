"""boardlist: classifieds board. A removed ad answers 200 "This ad is no longer available";
the whole board can close (503 with `X-Platform-Status: closed`, handled in the base page)."""

from __future__ import annotations

import re

from precursor_watch.crawlers.pages.base import HtmlAccountPage, HtmlIndexPage, HtmlListingPage, SiteScheme

NAME = "boardlist"
SITE = SiteScheme(
    listing=re.compile(r"/ad/([A-Za-z0-9]+)"),
    seller=re.compile(r"/user/([a-z0-9-]+)"),
    store=re.compile(r"/user/([a-z0-9-]+)"),  # the store is the user page
    first_index="/board?page=1",
)


class ListingPage(HtmlListingPage):
    site = SITE
    removed_reason = "soft_removed"  # HTTP 200 page saying the ad is no longer available

    def removal_marker(self) -> str | None:
        marker = super().removal_marker()
        if marker is None and "no longer available" in self.html[:20000] and not self.sel.css("h1.title"):
            return "removed"  # the notice without its marker element (e.g. a malformed page)
        return marker


class IndexPage(HtmlIndexPage):
    pass


class AccountPage(HtmlAccountPage):
    pass
