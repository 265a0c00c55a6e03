"""Downloader middlewares: keep requests on the platform's origin, retry politely, count faults.

Stats keys written here (read by `crawlers.health.HealthStats`):
- `pwatch/faults/<kind>`: every failed attempt (a retried 503 counts once per attempt);
- `pwatch/blocked/offsite`, `pwatch/blocked/robots_unavailable`: requests refused before any fetch;
- `pwatch/backoff/seconds`: total time spent waiting before retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler
from twisted.internet import defer
from twisted.internet import error as tx
from twisted.web.client import ResponseFailed, ResponseNeverReceived
from twisted.web.http import _DataLoss

from precursor_watch.crawlers.refusals import (
    OffsiteRequest,
    PlatformClosed,
    RobotsForbidden,
    RobotsUnavailable,
    TooManyRedirects,
)
from precursor_watch.crawlers.warc import Capture

logger = logging.getLogger(__name__)


def origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme, (parts.hostname or "").lower(), port


class OriginGuardMiddleware:
    """Drops any request (redirect targets and retries included) outside the spider's origin.

    Scrapy's OffsiteMiddleware compares host names only and lets `dont_filter` requests (every
    retry) through; this guard is exact (scheme, host, port) and has no exceptions, so an
    off-site redirect target is never fetched.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self._logged = 0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        allowed = getattr(spider, "origin", None)
        if allowed is None or origin_of(request.url) == allowed:
            return None
        self.stats.inc_value("pwatch/blocked/offsite")
        if self._logged < 20:
            self._logged += 1
            via = request.meta.get("redirect_urls", [])
            logger.warning("blocked off-site request %s (redirected from %s)", request.url, via[-1] if via else "-")
        raise OffsiteRequest(f"off-site request to {request.url}")


def is_closure(response: Response) -> bool:
    """503 with `X-Platform-Status: closed`: the platform announces it has closed for good."""
    return response.status == 503 and (response.headers.get(b"X-Platform-Status") or b"").strip().lower() == b"closed"


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt that cannot be read because the server fails (5xx, 429, network) means "disallow all".

    Scrapy's default treats an unreadable robots.txt as "allow all", which under a faulty platform
    would fetch disallowed paths. A 4xx robots.txt (none published) still means "allow all".
    Refusals are typed (`crawlers.refusals`), and the spider turns them into health stats:
    `RobotsUnavailable` is a crawl error; `PlatformClosed` is not (a closed platform's known URLs,
    `meta["pwatch_known"]`, are still fetched once each to record the closure).
    """

    _DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

    def __init__(self, crawler):
        super().__init__(crawler)
        self._unavailable: set[str] = set()
        self._closed: set[str] = set()

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if is_closure(response):
            logger.warning("%s announces a platform closure on robots.txt", netloc)
            self._closed.add(netloc)
            response = response.replace(body=self._DISALLOW_ALL)
        elif response.status >= 500 or response.status == 429:
            logger.error("robots.txt of %s unavailable (HTTP %s): crawling nothing there", netloc, response.status)
            self._unavailable.add(netloc)
            response = response.replace(body=self._DISALLOW_ALL)
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        super()._robots_error(exc, netloc)
        logger.error("robots.txt of %s unavailable (%s): crawling nothing there", netloc, exc)
        self._unavailable.add(netloc)
        self._parsers[netloc] = build_from_crawler(self._parserimpl, self.crawler, self._DISALLOW_ALL)

    def process_request_2(self, rp, request: Request) -> None:
        netloc = urlsplit(request.url).netloc
        if netloc in self._closed:
            if request.meta.get("pwatch_known"):
                return
            raise PlatformClosed("platform closed")
        if netloc in self._unavailable:
            raise RobotsUnavailable("robots.txt unavailable")
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:  # Scrapy's only refusal here: the URL is disallowed
            raise RobotsForbidden(str(exc)) from None


class TypedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, with "max redirections reached" raised as our `TooManyRedirects`."""

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest as exc:
            raise TooManyRedirects(str(exc)) from None


def capture_of(response: Response, request: Request | None = None) -> Capture:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, values in response.headers.items() for v in values]
    asked = request if request is not None else getattr(response, "request", None)
    sent = (
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, values in asked.headers.items() for v in values)
        if asked is not None
        else ()
    )
    return Capture(
        url=response.url,
        status=response.status,
        headers=headers,
        body=response.body,
        fetched_at=dt.datetime.now(dt.UTC),
        truncated="download_stopped" in response.flags,
        request_method=asked.method if asked is not None else "GET",
        request_headers=sent,
    )


class RedirectCaptureMiddleware:
    """Keeps each redirect answer (status, headers, body) in `meta["pwatch_hops"]`.

    Scrapy's RedirectMiddleware replaces a 3xx by a new request and drops the answer; for a
    listing that redirects to its category page, that 302 is the evidence of the removal.
    The new request copies the meta, so the final callback sees every hop.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        if 300 <= response.status < 400 and b"Location" in response.headers:
            request.meta["pwatch_hops"] = [*request.meta.get("pwatch_hops", []), capture_of(response, request)]
        return response


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry policy plus waiting: exponential backoff, and Retry-After honoured.

    A 429/503 with Retry-After pauses the whole origin (every request to it waits), because the
    header speaks for the server, not for one URL. Waiting happens inside the middleware chain, so
    the download slot stays free for other requests meanwhile.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("PWATCH_BACKOFF_BASE", 0.05)
        self.backoff_max = settings.getfloat("PWATCH_BACKOFF_MAX", 5.0)
        self.retry_after_max = settings.getfloat("PWATCH_RETRY_AFTER_MAX", 30.0)
        self._paused_until: dict[tuple[str, str, int], float] = {}

    async def process_request(self, request: Request) -> None:
        until = self._paused_until.get(origin_of(request.url), 0.0)
        wait = until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    # Scrapy 2.13 calls coroutine middleware methods without `spider`; RetryMiddleware's own
    # annotations still describe the older synchronous signature.
    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        if is_closure(response):
            return response  # a platform closure notice is an answer, not a transient failure
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        if retry_after is not None:
            delay = min(retry_after, self.retry_after_max)
            key = origin_of(request.url)
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), time.monotonic() + delay)
        else:
            delay = self._backoff(request)
        await self._wait(delay)
        return retry

    async def process_exception(  # type: ignore[override]  # see process_response
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            await self._wait(self._backoff(request))
        return retry

    def _backoff(self, request: Request) -> float:
        attempt = request.meta.get("retry_times", 0)
        return min(self.backoff_max, self.backoff_base * (2**attempt))

    async def _wait(self, delay: float) -> None:
        if delay > 0:
            # StatsCollector adds any number; its annotation says int
            self.crawler.stats.inc_value("pwatch/backoff/seconds", delay)  # type: ignore[arg-type]
            await asyncio.sleep(delay)


def parse_retry_after(value: bytes | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Download faults by class, Scrapy's own first (its download handlers wrap Twisted's errors in
# them), then the Twisted and built-in classes that can still reach a middleware unwrapped.
# Checked in this order: TCPTimedOutError is a ConnectError but means a timeout.
_TIMEOUT = (DownloadTimeoutError, tx.TimeoutError, tx.TCPTimedOutError, TimeoutError)
_UNREACHABLE = (
    DownloadConnectionRefusedError,
    CannotResolveHostError,
    tx.ConnectError,
    tx.DNSLookupError,
    ConnectionRefusedError,
)
_CONNECTION = (DownloadFailedError, ResponseFailed, ResponseNeverReceived, tx.ConnectionLost, tx.ConnectionDone)


def _data_lost(exception: BaseException) -> bool:
    """A body cut short: Scrapy's ResponseDataLossError, or a Twisted ResponseFailed (possibly
    wrapped in DownloadFailedError) whose reasons include a `_DataLoss`."""
    if isinstance(exception, (ResponseDataLossError, _DataLoss)):
        return True
    failed = exception.__cause__ if isinstance(exception, DownloadFailedError) else exception
    return isinstance(failed, ResponseFailed) and any(r.check(_DataLoss) for r in failed.reasons)


def fault_kind(exception: BaseException) -> str:
    """A short, stable name for a download exception (used in health stats)."""
    if isinstance(exception, DownloadCancelledError):
        # Scrapy raises it itself at the size limit; a Twisted cancellation arrives wrapped, as its cause.
        return "cancelled" if isinstance(exception.__cause__, defer.CancelledError) else "oversized"
    if isinstance(exception, _TIMEOUT):
        return "timeout"
    if _data_lost(exception):
        return "truncated"
    if isinstance(exception, _UNREACHABLE):
        return "unreachable"
    if isinstance(exception, _CONNECTION):
        return "connection"
    if isinstance(exception, IgnoreRequest):
        return "ignored"
    return type(exception).__name__  # unforeseen: named as it is, so the health stats show it


class FaultCounterMiddleware:
    """Counts every raw attempt's outcome, next to the downloader (before retries hide it)."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        self.slow_seconds = crawler.settings.getfloat("PWATCH_SLOW_SECONDS", 1.0)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        self.stats.inc_value("pwatch/responses")
        if request.meta.get("download_latency", 0.0) > self.slow_seconds:
            self.stats.inc_value("pwatch/faults/slow")
        status = response.status
        if status >= 500:
            self.stats.inc_value("pwatch/faults/http_5xx")
        elif status == 429:
            self.stats.inc_value("pwatch/faults/http_429")
        elif status == 408:
            self.stats.inc_value("pwatch/faults/http_408")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        kind = fault_kind(exception)
        self.stats.inc_value(f"pwatch/faults/{kind}")
        if kind == "oversized":
            logger.error("response cut at the size limit and dropped: %s (%s)", request.url, exception)
        return None
