"""Typed signals in the crawler: each reason for not fetching a request is its own
`IgnoreRequest` subclass raised by the middleware that decides it, the spider tells them apart by
type (a plain IgnoreRequest whose message merely reads like one of ours is not taken for it), and
download faults are named by the class of the exception, not by its name or message.

Real Scrapy middlewares, a real robots.txt parser and a real spider on a Scrapy test crawler;
the whole path over HTTP is covered by test_hostile.py and test_platform_state.py.
"""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                               DownloadFailedError, DownloadTimeoutError, IgnoreRequest, ResponseDataLossError)
from scrapy.http import HtmlResponse
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.test import get_crawler
from twisted.internet import defer
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived
from twisted.web.http import _DataLoss

from precursor_watch.crawlers import settings as crawl_settings
from precursor_watch.crawlers.middlewares import (OriginGuardMiddleware, StrictRobotsTxtMiddleware, TypedRedirectMiddleware,
                                                  fault_kind)
from precursor_watch.crawlers.refusals import (CrawlRefusal, OffsiteRequest, PlatformClosed, RobotsForbidden,
                                               RobotsUnavailable, TooManyRedirects)
from precursor_watch.crawlers.spiderloader import spider_class

ChemdirSpider = spider_class("chemdir")

BASE = "http://127.0.0.1:8765"
SETTINGS = {name: getattr(crawl_settings, name) for name in dir(crawl_settings) if name.isupper()}


def _crawler(spider=None):
    crawler = get_crawler(ChemdirSpider, SETTINGS)
    crawler.spider = spider
    return crawler


class _OnOrigin:
    origin = ("http", "127.0.0.1", 8765)


@pytest.mark.parametrize("cls", [OffsiteRequest, PlatformClosed, RobotsForbidden, RobotsUnavailable, TooManyRedirects])
def test_every_refusal_is_an_ignore_request_of_our_own(cls):
    assert issubclass(cls, CrawlRefusal) and issubclass(cls, IgnoreRequest)


def test_origin_guard_raises_offsite_request():
    guard = OriginGuardMiddleware(_crawler(_OnOrigin()))
    assert guard.process_request(Request(f"{BASE}/product/1.html")) is None
    with pytest.raises(OffsiteRequest):
        guard.process_request(Request("http://127.0.0.1:9999/product/1.html"))  # same host, other port
    assert guard.stats.get_value("pwatch/blocked/offsite") == 1


def test_strict_robots_raises_a_typed_refusal_for_each_reason():
    crawler = _crawler(_OnOrigin())
    robots = StrictRobotsTxtMiddleware(crawler)
    parser = ProtegoRobotParser.from_crawler(crawler, b"User-agent: *\nDisallow: /compare\n")
    robots.process_request_2(parser, Request(f"{BASE}/product/1.html"))  # allowed: no exception
    with pytest.raises(RobotsForbidden):
        robots.process_request_2(parser, Request(f"{BASE}/compare?a=1"))
    robots._unavailable.add("127.0.0.1:8765")
    with pytest.raises(RobotsUnavailable):
        robots.process_request_2(parser, Request(f"{BASE}/product/1.html"))
    robots._closed.add("127.0.0.1:8765")
    with pytest.raises(PlatformClosed):
        robots.process_request_2(parser, Request(f"{BASE}/product/1.html"))
    assert robots.process_request_2(parser, Request(f"{BASE}/product/1.html", meta={"pwatch_known": True})) is None


def test_redirect_middleware_raises_too_many_redirects_at_the_limit():
    crawler = _crawler(_OnOrigin())
    redirects = TypedRedirectMiddleware.from_crawler(crawler)
    request = Request(f"{BASE}/product/1.html")
    for hop in range(crawl_settings.REDIRECT_MAX_TIMES):
        response = HtmlResponse(request.url, status=302, headers={"Location": f"{BASE}/hop/{hop}"}, request=request)
        request = redirects.process_response(request, response)
        assert isinstance(request, Request) and request.url == f"{BASE}/hop/{hop}"
    response = HtmlResponse(request.url, status=302, headers={"Location": f"{BASE}/again"}, request=request)
    with pytest.raises(TooManyRedirects):
        redirects.process_response(request, response)


@pytest.fixture()
def spider(tmp_path):
    crawler = _crawler()
    spider = ChemdirSpider.from_crawler(crawler, date="2026-11-20", data_dir=str(tmp_path), base_url=BASE)
    crawler.spider = spider
    crawler.stats.open_spider()
    yield spider
    spider.evidence.close()
    spider.journal.close(finished=False)


def _fail(spider, exc: Exception, url: str = f"{BASE}/product/CD1.html") -> list:
    failure = Failure(exc)
    failure.request = Request(url, callback=spider.parse_listing, errback=spider.on_error)  # as Scrapy hands it over
    return list(spider.on_error(failure) or [])


@pytest.mark.parametrize("exc, stat", [
    (RobotsForbidden("Forbidden by robots.txt"), "pwatch/blocked/robots"),
    (PlatformClosed("platform closed"), "pwatch/blocked/platform_closed"),
    (RobotsUnavailable("robots.txt unavailable"), "pwatch/errors/unreachable"),
    (OffsiteRequest("off-site request"), "pwatch/errors/offsite_redirect"),
    (TooManyRedirects("max redirections reached"), "pwatch/errors/redirect_loop"),
    # Scrapy's untyped refusal that reads like ours is not taken for ours: it is counted as ignored.
    (IgnoreRequest("platform closed; max redirections; off-site; robots.txt unavailable"), "pwatch/errors/ignored"),
    (DownloadTimeoutError("took too long"), "pwatch/errors/timeout"),
])
def test_the_spider_tells_refusals_apart_by_type(spider, exc, stat):
    stats = spider.crawler.stats
    _fail(spider, exc)
    counted = {k: v for k, v in stats.get_stats().items() if k.startswith(("pwatch/blocked/", "pwatch/errors/"))}
    assert counted == {stat: 1}
    assert spider.platform_closed == isinstance(exc, PlatformClosed)


def _data_loss() -> ResponseFailed:
    return ResponseFailed([Failure(_DataLoss())])


def _wrapped(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause  # how Scrapy's download handlers wrap Twisted's errors
    return outer


@pytest.mark.parametrize("exc, kind", [
    (DownloadTimeoutError("x"), "timeout"),
    (tx.TimeoutError(), "timeout"),
    (tx.TCPTimedOutError(), "timeout"),  # a ConnectError subclass, but a timeout
    (TimeoutError(), "timeout"),
    (ResponseDataLossError(), "truncated"),
    (_data_loss(), "truncated"),
    (_wrapped(DownloadFailedError("lost"), _data_loss()), "truncated"),
    (DownloadConnectionRefusedError("x"), "unreachable"),
    (CannotResolveHostError("x"), "unreachable"),
    (tx.ConnectionRefusedError(), "unreachable"),
    (tx.DNSLookupError(), "unreachable"),
    (DownloadFailedError("x"), "connection"),
    (ResponseNeverReceived([Failure(tx.ConnectionLost())]), "connection"),
    (tx.ConnectionLost(), "connection"),
    (tx.ConnectionDone(), "connection"),
    (DownloadCancelledError("larger than download max size (5)"), "oversized"),
    (_wrapped(DownloadCancelledError("cancelled"), defer.CancelledError()), "cancelled"),
    (PlatformClosed("platform closed"), "ignored"),
    (IgnoreRequest("x"), "ignored"),
    # A message that names other faults decides nothing: the class does.
    (ValueError("Timeout DataLoss max size ConnectionRefusedError"), "ValueError"),
    (DownloadTimeoutError("DataLoss max size"), "timeout"),
])
def test_download_faults_are_named_by_class(exc, kind):
    assert fault_kind(exc) == kind
