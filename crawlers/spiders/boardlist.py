"""The boardlist spider: all behaviour is shared; extraction is in `crawlers.pages.boardlist`."""

from precursor_watch.crawlers.spiders.base import PlatformSpider


class BoardlistSpider(PlatformSpider):
    name = "boardlist"
