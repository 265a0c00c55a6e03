"""The huaxue spider: all behaviour is shared; extraction is in `crawlers.pages.huaxue`."""

from crawlers.spiders.base import PlatformSpider


class HuaxueSpider(PlatformSpider):
    name = "huaxue"
