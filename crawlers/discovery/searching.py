"""The spider's side of search discovery: result pages in, listing requests and counts out.

Called from `crawlers.spiders.base.PlatformSpider` (which stays the only place that builds items):
- `plan_requests`: the first result page of each query in the plan (this shard's share);
- `parse_results`: a result page's listing links become listing requests (each URL once per
  crawl; a URL on the revisit list is left to its revisit), the next page is followed, and a
  capped query is replaced by its narrower queries (the health says which);
- `seller_listings`: the other listings on a flagged account's or store's page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from precursor_watch.crawlers.discovery.plan import Query, for_shard, read_plan
from precursor_watch.crawlers.discovery.search import listing_links
from precursor_watch.crawlers.middlewares import origin_of
from precursor_watch.crawlers.pages.base import Page, is_platform_closed

# `spider` below is the calling `crawlers.spiders.base.PlatformSpider` (not imported: it imports
# this module); what is used of it: args, name, site, site_search, origin, scheduled, known_urls,
# discovery, requests_for, parse_search, on_error, _attempted, _give_up_or_retry, _platform_closed.
PlatformSpider = Any

logger = logging.getLogger(__name__)

SEARCH_PRIORITY = 5  # below listings (10): results are fetched as they come, the queue stays short


def plan_requests(spider: PlatformSpider) -> Iterator[scrapy.Request]:
    if spider.args.queries is None:
        logger.warning("%s: search discovery without a query plan: no query run", spider.name)
        return
    if spider.site_search is None:
        logger.warning("%s: the platform file declares no site search ([discovery.search]): no query run", spider.name)
        return
    for query in for_shard(read_plan(spider.args.queries), spider.args.shard_plan):
        spider.discovery.count(query)
        yield search_request(spider, query)


def search_request(spider: PlatformSpider, query: Query, url: str | None = None, page_no: int = 1) -> scrapy.Request:
    return scrapy.Request(
        url or spider.site_search.first_url(spider.args.base_url, query.q),
        callback=spider.parse_search,
        errback=spider.on_error,
        cb_kwargs={"query": query, "page_no": page_no},
        meta={"pwatch_search": True},
        dont_filter=True,  # two queries may share a result URL form; each is its own page
        priority=SEARCH_PRIORITY,
    )


def parse_results(spider: PlatformSpider, response: Response, page: Page, query: Query, page_no: int) -> Iterator[Any]:
    if is_platform_closed(page):
        yield from spider._platform_closed(response)
        return
    count = spider.discovery.count(query)
    if response.status == 404 and page_no > 1:
        spider._attempted()  # beyond the last result page
        return
    if response.status != 200:
        count.failed = True  # counted as a crawl error below: the crawl's health shows it too
        yield from spider._give_up_or_retry(response, f"http_{response.status}")
        return
    spider._attempted()
    result = spider.site_search.parse(page)
    count.pages += 1
    count.results += len(result.links)
    for link in result.links:
        reached(spider, link)
        before = len(spider.scheduled)
        yield from _unless_revisited(spider, link, "search")
        count.new += len(spider.scheduled) - before
    if result.capped_after(count.results) and not count.capped:
        count.capped = True
        yield from _refined(spider, query, count)
    if result.next_url and origin_of(result.next_url) == spider.origin:
        yield search_request(spider, query, result.next_url, page_no + 1)


def _refined(spider: PlatformSpider, query: Query, count) -> Iterator[scrapy.Request]:
    """A capped query's narrower queries (never refined again: the plan bounds the work)."""
    if query.refined_from is not None:
        logger.warning(
            "%s: refined query %r is capped too; its unseen results wait for the sweep", spider.name, query.q
        )
        return
    for narrower in query.refine:
        refined = Query(narrower, query.lang, query.substance, "refined", (), refined_from=query.q)
        if (refined.lang, refined.q) in spider.discovery.queries:
            continue
        count.refined_into.append(narrower)
        spider.discovery.count(refined)
        yield search_request(spider, refined)
    if not query.refine:
        logger.warning("%s: query %r is capped and has no refinement", spider.name, query.q)


def seller_listings(spider: PlatformSpider, response: Response) -> Iterator[scrapy.Request]:
    """A flagged seller's (or store's) other listings: offers cluster by seller."""
    spider.discovery.seller_pages += 1
    body = response.body.decode("utf-8", errors="replace")  # links are ASCII paths in every charset
    for link in listing_links(response.url, body, spider.site):
        reached(spider, link)
        yield from _unless_revisited(spider, link, "seller")


def _unless_revisited(spider: PlatformSpider, url: str, found_by: str) -> Iterable[scrapy.Request]:
    if url in spider.known_urls:
        return ()  # its revisit (conditional, by its shard) answers for it
    return spider.requests_for(url, found_by=found_by)


def reached(spider: PlatformSpider, url: str) -> None:
    """Sweep crawls: note a listing key search, seller expansion or the revisit list reaches."""
    if spider.discovery.mode != "sweep":
        return
    kind, key = spider.site.classify(url)
    if kind == "listing" and key:
        spider.discovery.reached.add(key)
