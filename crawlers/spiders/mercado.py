"""The mercado spider: pages are HTML shells, so listings and sellers are read from the JSON API."""

from precursor_watch.crawlers.pages.mercado import api_url
from precursor_watch.crawlers.spiders.base import PlatformSpider


class MercadoSpider(PlatformSpider):
    name = "mercado"

    def fetch_url(self, url: str) -> str:
        return api_url(url)
