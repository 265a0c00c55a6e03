"""The tradehub spider: all behaviour is shared; extraction is in `crawlers.pages.tradehub`."""

from precursor_watch.crawlers.spiders.base import PlatformSpider


class TradehubSpider(PlatformSpider):
    name = "tradehub"
