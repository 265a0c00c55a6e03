"""Shared machinery of the platform spiders: discovery, revisits, routing, evidence, errors.

One class serves every platform: `crawlers.spiderloader` makes a subclass named after each
platform file. Spiders never extract fields themselves: they hand the fetched bytes to the page
object the platform file gives (`crawlers.pages.declared`) and turn its typed result into a
`ListingItem` / `GoneItem` with WARC evidence.

Layout drift: a whole listing page without a required field of its platform file is counted per
field (`pwatch/drift/<field>`) and kept as a quarantined sighting (kind `layout_drift`), never a
removal; health turns the counts into the crawl's drift share.

Crawl errors (a page given up on after retries) are counted in `pwatch/errors/<kind>` and never
become `GoneItem`s; only a page that itself says "removed" (or a removal redirect, or the
platform's closure notice) does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Response

from precursor_watch.contract import (
    Evidence,
    GoneItem,
    ListingItem,
    QuarantinedItem,
    UnchangedItem,
    content_hash,
    sanitize_listing,
)
from precursor_watch.crawlers.args import CrawlArgs, pwatch_settings, read_revisit_entries
from precursor_watch.crawlers.discovery import searching
from precursor_watch.crawlers.discovery.conditional import NOT_MODIFIED, conditional_headers
from precursor_watch.crawlers.discovery.report import DiscoveryReport
from precursor_watch.crawlers.discovery.search import site_search
from precursor_watch.crawlers.journal import Journal
from precursor_watch.crawlers.middlewares import capture_of, fault_kind, origin_of
from precursor_watch.crawlers.pages import adapter_for
from precursor_watch.crawlers.pages.base import Incomplete, Listing, Page, Removed, is_platform_closed, sitemap_locs
from precursor_watch.crawlers.pages.declared import Drifted
from precursor_watch.crawlers.platform_file import load_platform
from precursor_watch.crawlers.refusals import (
    OffsiteRequest,
    PlatformClosed,
    RobotsForbidden,
    RobotsUnavailable,
    TooManyRedirects,
)
from precursor_watch.crawlers.warc import EvidenceWriter

logger = logging.getLogger(__name__)

LISTING_PRIORITY = 10  # listings before further index pages: keeps the queue short


def page_of(response: Response) -> Page:
    hops = response.meta.get("pwatch_hops", [])
    return Page(
        url=response.url,
        status=response.status,
        headers={k.decode("latin-1").lower(): v[0].decode("latin-1") for k, v in response.headers.items() if v},
        body=response.body,
        requested_url=response.meta.get("redirect_urls", [response.url])[0],
        redirect_chain=tuple((h.url, h.status, dict(h.headers).get("Location", "")) for h in hops),
    )


def page_url_of(request: scrapy.Request) -> str:
    return request.cb_kwargs.get("page_url", request.url)


class _UnusableField(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class PlatformSpider(scrapy.Spider):
    """The spider of every platform; `crawlers.spiderloader` makes one subclass per platform file."""

    # Set by from_crawler, which has the crawler settings they need.
    evidence: EvidenceWriter
    journal: Journal

    def __init__(self, **kwargs: Any):
        # Not passing kwargs to Spider.__init__: it would set them as attributes unvalidated.
        super().__init__()
        self.args = CrawlArgs.from_spider_kwargs(self.name, kwargs)
        self.pages = adapter_for(self.name, pwatch_settings().platform_files_dir)
        self.site = self.pages.SITE
        self.site_search = site_search(self.pages.pf, self.site)  # None: the file declares no search
        self.origin = origin_of(self.args.base_url)
        self.allowed_domains = [self.origin[1]]
        self.scheduled: set[str] = set()
        self.error_urls: list[str] = []
        self.health: dict[str, Any] | None = None
        self.stores_in_db = False
        self.platform_closed = False
        self.closure_recorded = False  # a closure page has been yielded as a gone item
        self.max_page_bytes = 0
        self.discovery = DiscoveryReport(self.args.discovery)
        self.known_urls: set[str] = set()  # the revisit list: each fetched once, conditionally

    @classmethod
    def update_settings(cls, settings) -> None:
        """The platform file's politeness and robots policy, over the project defaults."""
        super().update_settings(settings)
        pf = load_platform(cls.name, pwatch_settings().platform_files_dir)
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", pf.politeness.concurrency, priority="spider")
        settings.set("AUTOTHROTTLE_TARGET_CONCURRENCY", float(pf.politeness.concurrency), priority="spider")
        settings.set("DOWNLOAD_DELAY", pf.politeness.delay, priority="spider")
        settings.set("ROBOTSTXT_OBEY", pf.robots.obey, priority="spider")

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        a = spider.args
        spider.evidence = EvidenceWriter(
            a.data_dir, a.platform, a.date, crawler.settings.getint("PWATCH_WARC_ROLLOVER")
        )
        spider.journal = Journal(a.job_path)
        spider.journal.open()
        if spider.journal.resumed:
            logger.info("resuming %s %s: %d pages already stored", a.platform, a.date, len(spider.journal))
        spider.max_page_bytes = crawler.settings.getint("PWATCH_PAGE_MAXSIZE", 0)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        if spider.max_page_bytes:
            crawler.signals.connect(spider._bytes_received, signal=signals.bytes_received)
        return spider

    # --- requests -------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return urljoin(self.args.base_url + "/", path.lstrip("/"))

    def fetch_url(self, url: str) -> str:
        """The URL actually fetched for a page URL (mercado reads listings from its JSON API)."""
        return self.pages.fetch_url(url) if self.pages.fetch_url else url

    async def start(self) -> AsyncIterator[scrapy.Request]:
        revisits = read_revisit_entries(self.args.revisit) if self.args.revisit is not None else []
        self.known_urls = {entry.url for entry in revisits}
        classified = map(self.site.classify, self.known_urls)
        self.discovery.revisited = {key for kind, key in classified if kind == "listing" and key}
        if self.args.searches:
            for request in searching.plan_requests(self):
                yield request
        if self.args.walks_catalogue:
            # Fetched even when robots.txt announces a closure: its closure page is the evidence
            # (a gone item) that lets a platform closed before its first crawl be counted closed.
            yield scrapy.Request(
                self.url(self.site.first_index),
                callback=self.parse_index,
                errback=self.on_error,
                meta={"pwatch_known": True},
            )
            for sitemap in self.pages.pf.discovery.sitemaps:
                yield scrapy.Request(self.url(sitemap), callback=self.parse_sitemap, errback=self.on_error)
        for url, last_seen, etag in revisits:
            searching.reached(self, url)
            for request in self.requests_for(url, revisit=True, last_seen=last_seen, etag=etag):
                yield request

    def requests_for(
        self,
        url: str,
        revisit: bool = False,
        last_seen: dt.date | None = None,
        found_by: str | None = None,
        etag: str | None = None,
    ) -> Iterable[scrapy.Request]:
        """The request for a listing (or, from the revisit list, account/store) URL, once per crawl.

        `last_seen` (a tracked listing's last live sighting) and `etag` (of its last live answer)
        make a search-mode revisit conditional; `found_by` ("search", "seller") marks a link search discovery found.
        """
        # Most listing URLs arrive twice (index page and sitemap); one already scheduled passed the
        # origin and kind checks below when it was, so the repeat is dropped before them.
        if url in self.scheduled:
            return
        if origin_of(url) != self.origin:
            self.crawler.stats.inc_value("pwatch/skipped/foreign_link")
            return
        kind, _key = self.site.classify(url)
        if kind == "other" or (kind != "listing" and not revisit):
            return  # we follow only listing links; account and store pages come from the revisit list
        self.scheduled.add(url)
        if self.journal.is_done(url):
            self.crawler.stats.inc_value("pwatch/resume/skipped")
            return
        callback = self.parse_listing if kind == "listing" else self.parse_account
        meta: dict[str, Any] = {"pwatch_known": True} if revisit else {}
        headers = conditional_headers(last_seen, etag) if self.args.searches and kind == "listing" else {}
        if headers:
            meta["pwatch_conditional"] = True
        if found_by:
            meta["pwatch_found_by"] = found_by  # the shard that ran the query fetches it
        # dont_filter: many removed listings redirect to the same category page, which the
        # dupefilter would otherwise swallow; `self.scheduled` does the deduplication instead.
        yield scrapy.Request(
            self.fetch_url(url),
            callback=callback,
            errback=self.on_error,
            cb_kwargs={"page_url": url, "kind": kind},
            meta=meta or None,
            headers=headers or None,
            dont_filter=True,
            priority=LISTING_PRIORITY,
        )

    # --- discovery ------------------------------------------------------------------------
    def parse_index(self, response: Response):
        page = page_of(response)
        if is_platform_closed(page):
            yield from self._platform_closed(response)
            return
        if response.status == 404:
            self._attempted()
            return  # beyond the last index page
        if response.status != 200:
            yield from self._give_up_or_retry(response, f"http_{response.status}")
            return
        self._attempted()
        self._check_markup(response)
        index = self.pages.IndexPage(page)
        for link in index.links():
            yield from self.requests_for(link)
        nxt = index.next_url()
        if nxt and origin_of(nxt) == self.origin:
            yield scrapy.Request(nxt, callback=self.parse_index, errback=self.on_error)

    def parse_sitemap(self, response: Response):
        if is_platform_closed(page_of(response)):
            yield from self._platform_closed(response)
            return
        if response.status != 200:
            yield from self._give_up_or_retry(response, f"http_{response.status}")
            return
        self._attempted()
        children, urls = sitemap_locs(response.body)
        for child in children:
            if origin_of(child) == self.origin:
                yield scrapy.Request(child, callback=self.parse_sitemap, errback=self.on_error)
        for url in urls:
            yield from self.requests_for(url)

    # --- pages with items -----------------------------------------------------------------
    def _check_markup(self, response: Response) -> None:
        # A complete HTML document ends with </html>; parsers recover from broken markup, but the
        # health stats should show how much of it the platform served.
        if b"html" in (response.headers.get(b"Content-Type") or b"") and b"</html>" not in response.body[-256:]:
            self.crawler.stats.inc_value("pwatch/faults/malformed_html")

    def parse_search(self, response: Response, query, page_no: int):
        yield from searching.parse_results(self, response, page_of(response), query, page_no)

    def parse_listing(self, response: Response, page_url: str, kind: str):
        if response.status == NOT_MODIFIED and response.meta.get("pwatch_conditional"):
            self._attempted()
            yield self._unchanged_item(response, page_url)
            return
        page = page_of(response)
        if response.status == 200:
            self._check_markup(response)
        try:
            result = self.pages.ListingPage(page).result()
        except Exception as exc:  # a page the parser cannot take: live all the same, never a removal
            self._attempted()
            yield self._quarantined(response, page_url, "extraction", None, f"{type(exc).__name__}: {exc}")
            return
        if isinstance(result, Incomplete):
            yield from self._incomplete(response, result)
            return
        self._attempted()
        if isinstance(result, Listing):
            result = self._required(result)
        if isinstance(result, Drifted):
            yield self._drifted(response, page_url, result)
        elif isinstance(result, Listing):
            yield self._listing_or_quarantined(response, page_url, result)
        elif isinstance(result, Removed):
            if result.reason == "platform_closed":
                self.platform_closed = True
            yield self._gone_item(response, page_url, result.reason, result.listing_key)

    def parse_account(self, response: Response, page_url: str, kind: str):
        page = page_of(response)
        if is_platform_closed(page):
            self._attempted()
            self.platform_closed = True
            yield self._gone_item(response, page_url, "platform_closed", None)
            return
        if response.status in (404, 410) and not response.meta.get("pwatch_hops"):
            # A known account or store page that no longer exists at all.
            self._attempted()
            yield self._gone_item(response, page_url, "account_closed" if kind == "seller" else "store_closed", None)
            return
        if response.status != 200:
            yield from self._give_up_or_retry(response, f"http_{response.status}")
            return
        self._attempted()
        account = self.pages.AccountPage(page)
        if account.account_closed() and kind == "seller":
            yield self._gone_item(response, page_url, "account_closed", None)
        elif account.store_closed() and kind in ("store", "seller"):
            yield self._gone_item(response, page_url, "store_closed", None)
        elif self.args.searches:
            yield from searching.seller_listings(self, response)

    def _required(self, listing: Listing) -> Listing | Drifted:
        """A listing from a Python page object, checked against the file's required fields too."""
        missing = tuple(n for n in self.pages.pf.extraction.required if getattr(listing, n) in (None, "", []))
        return Drifted(missing, listing.listing_key) if missing else listing

    def _drifted(self, response: Response, page_url: str, result: Drifted) -> QuarantinedItem:
        self.crawler.stats.inc_value("pwatch/drift_pages")
        for name in result.fields:
            self.crawler.stats.inc_value(f"pwatch/drift/{name}")
        file = self.pages.pf.path or f"{self.name}.toml"
        message = f"required fields empty: {', '.join(result.fields)} (layout drift? check platform file {file})"
        return self._quarantined(
            response, page_url, "layout_drift", ",".join(result.fields), message, result.listing_key
        )

    # --- items ----------------------------------------------------------------------------
    def _evidence(self, response: Response, cite_final: bool = False) -> Evidence:
        """Archive every redirect hop and the final answer; return the record to cite.

        A removal redirect cites its first hop (the answer at the listing URL says it is gone).
        A live listing cites the final answer (`cite_final`): the page that shows it, never a
        hop's empty body.
        """
        first: Evidence | None = None
        for hop in response.meta.get("pwatch_hops", []):
            written = self.evidence.write(hop)
            first = first or written
        final = self.evidence.write(capture_of(response))
        return final if cite_final or first is None else first

    def _listing_or_quarantined(
        self, response: Response, page_url: str, data: Listing
    ) -> ListingItem | QuarantinedItem:
        """The listing's item, sanitised; a QuarantinedItem naming the field when one is unusable."""
        try:
            return self._listing_item(response, page_url, data)
        except _UnusableField as exc:
            return self._quarantined(response, page_url, "invalid_field", exc.field, str(exc), data.listing_key)

    def _quarantined(
        self,
        response: Response,
        page_url: str,
        kind: str,
        field: str | None,
        message: str,
        listing_key: str | None = None,
    ) -> QuarantinedItem:
        logger.warning(
            "live listing page quarantined (%s%s): %s: %s",
            kind,
            f", field {field}" if field else "",
            page_url,
            message[:200].encode("utf-8", "backslashreplace").decode("utf-8"),
        )
        if listing_key is None or type(listing_key) is not str:
            listing_key = self.site.classify(page_url)[1]
        return QuarantinedItem(
            platform=self.name,
            url=page_url,
            listing_key=listing_key,
            kind=kind,
            field=field,
            message=message.encode("utf-8", "backslashreplace").decode("utf-8"),
            http_status=response.status,
            fetched_at=dt.datetime.now(dt.UTC),
            crawl_date=self.args.date,
            evidence=self._evidence(response, cite_final=True),
        )

    def _listing_item(self, response: Response, page_url: str, data: Listing) -> ListingItem:
        item = sanitize_listing(
            ListingItem(
                platform=self.name,
                listing_key=data.listing_key,
                url=page_url,
                title=data.title,
                text=data.text,
                price=data.price,
                currency=data.currency,
                seller_key=data.seller_key,
                seller_name=data.seller_name,
                store_key=data.store_key,
                contacts=list(data.contacts),
                lang=data.lang,
                posted_at=data.posted_at,
            )
        )
        for name in ("listing_key", "title", "text"):
            if type(getattr(item, name)) is not str:
                raise _UnusableField(name, f"field {name} must be text, got {type(getattr(item, name)).__name__}")
        for name in ("price", "currency", "seller_key", "seller_name", "store_key", "lang", "posted_at"):
            if getattr(item, name) is not None and type(getattr(item, name)) is not str:
                raise _UnusableField(
                    name, f"field {name} must be text or absent, got {type(getattr(item, name)).__name__}"
                )
        evidence = self._evidence(response, cite_final=True)
        return ListingItem(
            platform=self.name,
            listing_key=item.listing_key,
            url=page_url,
            title=item.title,
            text=item.text,
            price=item.price,
            currency=item.currency,
            seller_key=item.seller_key,
            seller_name=item.seller_name,
            store_key=item.store_key,
            contacts=[c for c in item.contacts if type(c) is str],
            lang=item.lang,
            posted_at=item.posted_at,
            fetched_at=dt.datetime.now(dt.UTC),
            crawl_date=self.args.date,
            http_status=response.status,
            content_sha256=content_hash(item.title, item.text),
            evidence=evidence,
            offer_signals=_offer_signals(data.offer_signals),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
        )

    def _gone_item(self, response: Response, page_url: str, reason: str, listing_key: str | None) -> GoneItem:
        hops = response.meta.get("pwatch_hops", [])
        return GoneItem(
            platform=self.name,
            url=page_url,
            listing_key=listing_key,
            http_status=hops[0].status if hops else response.status,
            reason=reason,
            fetched_at=dt.datetime.now(dt.UTC),
            crawl_date=self.args.date,
            evidence=self._evidence(response),
        )

    def _unchanged_item(self, response: Response, page_url: str) -> UnchangedItem:
        """A 304 to a conditional revisit: live and unchanged; its WARC record is the evidence."""
        return UnchangedItem(
            platform=self.name,
            url=page_url,
            listing_key=self.site.classify(page_url)[1],
            http_status=response.status,
            fetched_at=dt.datetime.now(dt.UTC),
            crawl_date=self.args.date,
            evidence=self.evidence.write(capture_of(response)),
        )

    def _gone_from_hops(self, request: scrapy.Request, page_url: str, listing_key: str | None) -> GoneItem:
        hops = request.meta["pwatch_hops"]
        evidence = [self.evidence.write(h) for h in hops][0]
        return GoneItem(
            platform=self.name,
            url=page_url,
            listing_key=listing_key,
            http_status=hops[0].status,
            reason="redirected",
            fetched_at=dt.datetime.now(dt.UTC),
            crawl_date=self.args.date,
            evidence=evidence,
        )

    def _platform_closed(self, response: Response):
        """Discovery hit the closure notice: every revisited URL will say so too. The first one is
        recorded as a gone page, so a platform closed before its first crawl is counted closed."""
        self._attempted()
        first = not self.closure_recorded  # robots.txt may have told of the closure before any page
        self.closure_recorded = True
        if first:
            logger.warning("%s announces it is closed (%s)", self.name, response.url)
        self.platform_closed = True
        self.crawler.stats.set_value("pwatch/platform_closed", 1)
        if first:
            yield self._gone_item(response, response.url, "platform_closed", None)

    # --- failures -------------------------------------------------------------------------
    def _attempted(self) -> None:
        self.crawler.stats.inc_value("pwatch/pages_attempted")

    def _error(self, url: str, kind: str) -> None:
        self._attempted()
        self.crawler.stats.inc_value(f"pwatch/errors/{kind}")
        if len(self.error_urls) < 1000:
            self.error_urls.append(url)
        logger.warning("crawl error (%s), not a removal: %s", kind, url)

    def _incomplete(self, response: Response, result: Incomplete):
        if "download_stopped" in response.flags:
            self._error(response.url, "oversized")
            return
        if response.status >= 500 or response.status == 429:
            # Retries already exhausted in the retry middleware.
            self._error(response.url, f"http_{response.status}")
            return
        yield from self._give_up_or_retry(response, "incomplete_page")

    def _give_up_or_retry(self, response: Response, kind: str):
        if response.status >= 500 or response.status == 429:
            self._error(response.url, f"http_{response.status}")
            return
        self.crawler.stats.inc_value(f"pwatch/faults/{kind}")
        if response.request is None:  # only a response built by hand has no request
            return
        retry = get_retry_request(response.request, spider=self, reason=kind)
        if retry is not None:
            yield retry
        else:
            self._error(response.url, kind)

    def on_error(self, failure):
        request = failure.request
        url = page_url_of(request)
        exc = failure.value
        if isinstance(exc, IgnoreRequest):
            if isinstance(exc, RobotsForbidden):
                hops = request.meta.get("pwatch_hops", [])
                if hops and request.callback == self.parse_listing:
                    # A removal redirect to a page robots.txt forbids: decide from the 3xx alone.
                    kind, _ = self.site.classify(request.url)
                    if kind == "other":
                        self._attempted()
                        key = self.site.classify(page_url_of(request))[1]
                        yield self._gone_from_hops(request, page_url_of(request), key)
                        return
                self.crawler.stats.inc_value("pwatch/blocked/robots")
                return
            if isinstance(exc, PlatformClosed):
                self.platform_closed = True
                self.crawler.stats.inc_value("pwatch/blocked/platform_closed")
                return
            if isinstance(exc, RobotsUnavailable):
                self._error(url, "unreachable")
                return
            if isinstance(exc, OffsiteRequest):
                self._error(url, "offsite_redirect")
                return
            if isinstance(exc, TooManyRedirects):
                self._error(url, "redirect_loop")
                return
            self._error(url, "ignored")
            return
        self._error(url, fault_kind(exc))

    # --- signals --------------------------------------------------------------------------
    def _bytes_received(self, data: bytes, request: scrapy.Request, spider) -> None:
        # Keyed by the request object: a retry copies the meta but must count afresh.
        owner, got = request.meta.get("pwatch_bytes", (None, 0))
        got = (got if owner == id(request) else 0) + len(data)
        request.meta["pwatch_bytes"] = (id(request), got)
        if got > self.max_page_bytes:
            self.crawler.stats.inc_value("pwatch/faults/oversized")
            logger.error("response cut at %d bytes (limit %d): %s", got, self.max_page_bytes, request.url)
            raise StopDownload(fail=False)

    def _closed(self, spider, reason: str) -> None:
        if spider is not self:
            return
        self.evidence.close()
        self.journal.close(finished=reason == "finished")


def _header(response: Response, name: bytes) -> str | None:
    """A response header as text (visible ASCII only; storage checks it again), or None."""
    raw = response.headers.get(name)
    if not raw:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def _offer_signals(value) -> dict[str, bool] | None:
    """The page object's offer signals, kept only when they are what they claim (names to booleans)."""
    if not isinstance(value, dict) or not all(type(k) is str and type(v) is bool for k, v in value.items()):
        return None
    return dict(value)
