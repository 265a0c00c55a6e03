"""The chemdir spider: all behaviour is shared; extraction is in `crawlers.pages.chemdir`."""

from precursor_watch.crawlers.spiders.base import PlatformSpider


class ChemdirSpider(PlatformSpider):
    name = "chemdir"
