"""The huaxue spider: all behaviour is shared; extraction is in `crawlers.pages.huaxue`."""

from precursor_watch.crawlers.spiders.base import PlatformSpider


class HuaxueSpider(PlatformSpider):
    name = "huaxue"
