"""huaxue: Chinese B2B site served in GB18030 (sometimes mis-declared as UTF-8).

A removed listing answers 302 to its category page (reason `redirected`); when its account or
shop closed, 302 to the member or shop page, which shows the closure. The shared base handles
both once Scrapy has followed the redirect (`Page.redirect_chain`).
"""

from __future__ import annotations

import re

from precursor_watch.crawlers.pages.base import HtmlAccountPage, HtmlIndexPage, HtmlListingPage, SiteScheme

NAME = "huaxue"
SITE = SiteScheme(
    listing=re.compile(r"/goods/([A-Za-z0-9]+)\.html"),
    seller=re.compile(r"/member/([a-z0-9-]+)\.html"),
    store=re.compile(r"/shop/([a-z0-9-]+)\.html"),
    first_index="/list/1.html",
)
CATEGORY = re.compile(r"/category/[^/]+\.html")


class ListingPage(HtmlListingPage):
    site = SITE
    removed_reason = "redirected"


class IndexPage(HtmlIndexPage):
    pass


class AccountPage(HtmlAccountPage):
    pass
