"""Scrapy's spider loader for platform files: one spider per file, no Python per platform.

`scrapy crawl NAME` and `pwatch crawl --site NAME` find the spider of any platform file in the
configured directory (setting `platform_files_dir`, default the packaged `crawlers/platforms`).
"""

from __future__ import annotations

import builtins
from typing import Any

from precursor_watch.crawlers.args import pwatch_settings
from precursor_watch.crawlers.platform_file import platform_names
from precursor_watch.crawlers.spiders.base import PlatformSpider


def spider_class(name: str) -> type[PlatformSpider]:
    """The spider of platform `name` (a `PlatformSpider` subclass carrying the name)."""
    return type(f"{name.title().replace('_', '')}Spider", (PlatformSpider,), {"name": name, "__module__": __name__})


class PlatformSpiderLoader:
    def __init__(self, settings: Any = None):
        self.directory = pwatch_settings().platform_files_dir

    @classmethod
    def from_settings(cls, settings: Any) -> PlatformSpiderLoader:
        return cls(settings)

    def list(self) -> list[str]:
        return platform_names(self.directory)

    def load(self, spider_name: str) -> type[PlatformSpider]:
        if spider_name not in self.list():
            raise KeyError(f"Spider not found: {spider_name} (no platform file {spider_name}.toml)")
        return spider_class(spider_name)

    def find_by_request(self, request: Any) -> builtins.list[str]:
        return []
