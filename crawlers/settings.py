"""Scrapy settings of the Precursor Watch crawlers: one flat module, polite defaults.

Everything a crawl needs from the outside (platform base URL, logical date, data dir, revisit
list, output file, database) is a typed spider argument (`crawlers.args.CrawlArgs`), not a
setting, so `scrapy crawl NAME -a ...` and `pwatch crawl` behave the same.
Our own settings are prefixed `PWATCH_`.
"""

BOT_NAME = "pwatch"
SPIDER_MODULES = ["precursor_watch.crawlers.spiders"]
# One spider per platform file (crawlers/platforms/NAME.toml), none written per platform.
SPIDER_LOADER_CLASS = "precursor_watch.crawlers.spiderloader.PlatformSpiderLoader"
NEWSPIDER_MODULE = "precursor_watch.crawlers.spiders"

# Identify ourselves honestly; robots.txt is read for this agent.
USER_AGENT = "PrecursorWatchBot/0.1 (+https://example.invalid/precursor-watch; research crawler)"
ROBOTSTXT_OBEY = True

# Politeness: a cap per domain (each platform is one domain) and AutoThrottle, which lowers the
# rate when the platform slows down. The target concurrency is high because the fixture platforms
# run on loopback; against real sites lower it (e.g. 1-2).
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 16.0

# Timeouts and size limits. A body growing past PWATCH_PAGE_MAXSIZE is cut there (the download
# stops, the cut page is kept, marked WARC-Truncated, logged and counted as an `oversized` fault);
# if the cut page lacks its data it is a crawl error, never retried. DOWNLOAD_MAXSIZE is Scrapy's
# hard backstop (the download is cancelled outright).
DOWNLOAD_TIMEOUT = 10
PWATCH_SLOW_SECONDS = 1.0  # a response slower than this is counted as a `slow` fault
PWATCH_PAGE_MAXSIZE = 1024 * 1024
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
# A body shorter than its Content-Length is an error (retried), never a page to parse.
DOWNLOAD_FAIL_ON_DATALOSS = True

# Retries: transient failures are retried with exponential backoff; 429/503 honour Retry-After
# (capped). Our middleware replaces Scrapy's RetryMiddleware (same place in the chain).
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
PWATCH_BACKOFF_BASE = 0.05  # seconds before the first retry; doubled on each further retry
PWATCH_BACKOFF_MAX = 5.0  # cap of the exponential backoff
PWATCH_RETRY_AFTER_MAX = 30.0  # longest Retry-After we honour; longer values are capped

# Redirects: few hops, so loops end quickly; off-origin targets are dropped before any fetch.
REDIRECT_ENABLED = True
REDIRECT_MAX_TIMES = 5
METAREFRESH_ENABLED = False

# We keep the exact bytes as evidence, so ask for them uncompressed and keep no cookies.
COMPRESSION_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening sockets of our own

# Spiders see every status (404/410 are removal styles, a 503 may announce a platform closure);
# the base spider turns the others into counted crawl errors after the retries.
HTTPERROR_ALLOW_ALL = True

DOWNLOADER_MIDDLEWARES = {
    # Before robots.txt (100): requests for another origin never leave, redirects included.
    "precursor_watch.crawlers.middlewares.OriginGuardMiddleware": 60,
    # An unreadable robots.txt (5xx, network) means "disallow all" instead of Scrapy's "allow all".
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "precursor_watch.crawlers.middlewares.StrictRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "precursor_watch.crawlers.middlewares.BackoffRetryMiddleware": 550,
    # Scrapy's redirects; "too many" arrives at the spider as a typed refusal.
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "precursor_watch.crawlers.middlewares.TypedRedirectMiddleware": 600,
    # Just after the redirect middleware (600) on the way back: keeps each 3xx hop as evidence.
    "precursor_watch.crawlers.middlewares.RedirectCaptureMiddleware": 650,
    # Closest to the downloader: sees every raw response and exception once per attempt.
    "precursor_watch.crawlers.middlewares.FaultCounterMiddleware": 950,
}

# `pwatch crawl --shard I/N`: keeps a shard's requests to the pages it owns (inactive otherwise).
SPIDER_MIDDLEWARES = {
    "precursor_watch.crawlers.sharding.ShardMiddleware": 950,
}

# Items of one response go through the pipelines one after another: they are synchronous, and
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output (100 by default).
CONCURRENT_ITEMS = 1
# Scrapy re-parses a callback's source on every call to warn about `return value` in generators
# (its cache is keyed by the bound method, a new object per request): off, we have no such return.
WARN_ON_GENERATOR_RETURN_VALUE = False

ITEM_PIPELINES = {
    "precursor_watch.crawlers.pipelines.EvidenceCheckPipeline": 100,
    "precursor_watch.crawlers.pipelines.JsonlPipeline": 500,
    "precursor_watch.crawlers.pipelines.StoragePipeline": 600,
    "precursor_watch.crawlers.pipelines.JournalPipeline": 900,
}

EXTENSIONS = {
    "precursor_watch.crawlers.health.HealthStats": 500,
}

# Items per database transaction in the storage pipeline. Each transaction has a fixed cost
# (~20 statements and a WAL commit): bench/storage.py measures a first day at both sizes, and
# 1,000 ingested 15-25% more observations/s than 500 (BENCHMARKS.md). A killed crawl re-fetches
# at most one batch (the journal marks stored batches).
PWATCH_DB_BATCH = 1000
# Failed-fetch rate or quarantine share above which a crawl run is unhealthy (setting crawl_error_threshold).
PWATCH_ERROR_THRESHOLD = 0.2
# Bytes after which the WARC writer starts a new file.
PWATCH_WARC_ROLLOVER = 100 * 1024 * 1024

# Scrapy's own JOBDIR is deliberately unset: its disk queue writes its head (info.json) only on
# close and requests.seen is buffered, so after SIGKILL they disagree and requests are
# lost. Resume after any interruption (SIGKILL included) uses our own journal in the crawl's job
# dir instead (`crawlers.journal`).
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
