"""Our own reasons for not fetching a request: `IgnoreRequest` subclasses.

Scrapy drops a request whose middleware raises `IgnoreRequest` and hands the exception to the
request's errback. The spider's `on_error` tells these reasons apart with `isinstance`, never by
message text, and turns each into a health stat (`pwatch/blocked/*`) or a crawl error
(`pwatch/errors/*`). The two refusals Scrapy itself raises (robots.txt forbids the URL, too many
redirects) are re-raised as `RobotsForbidden` and `TooManyRedirects` by our subclasses of its
middlewares, so every refusal the spider sees has a type.
"""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest


class CrawlRefusal(IgnoreRequest):
    """A request we chose not to fetch (the base of every reason below)."""


class OffsiteRequest(CrawlRefusal):
    """The request (often a redirect target) leaves the platform's origin: a crawl error."""


class PlatformClosed(CrawlRefusal):
    """The platform announced its closure; only its known URLs are still fetched, once each."""


class RobotsUnavailable(CrawlRefusal):
    """robots.txt could not be read (5xx, 429, network): we disallow everything, a crawl error."""


class RobotsForbidden(CrawlRefusal):
    """robots.txt disallows the URL (Scrapy's own refusal, re-raised with a type)."""


class TooManyRedirects(CrawlRefusal):
    """The redirect chain is longer than REDIRECT_MAX_TIMES (Scrapy's refusal, re-raised with a type)."""
