"""One spider per platform, all on `crawlers.spiders.base.PlatformSpider`."""
