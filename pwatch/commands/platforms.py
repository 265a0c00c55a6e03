"""`pwatch platforms list|check FILE [--url URL] [--search QUERY]`: the platform files, and the
tool for writing one.

`list` validates every file and says how each platform is read and searched. `check` validates a
file (an error names the file and the key); with `--url` it fetches that page once and prints the
page kind the file recognises, the fields it extracts and the required fields it misses; with
`--search` it runs one query through the site search the file declares and prints the result
links, total, next page and cap it reads from the first result page: what an analyst runs while
writing the selectors of a new platform.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from precursor_watch.errors import InputError, ServiceError
from precursor_watch.settings import Settings

FETCH_TIMEOUT = 20.0
MAX_BYTES = 8 * 1024 * 1024


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("platforms", help="list the platform files, or check one against a live page")
    sub = parser.add_subparsers(dest="platforms_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", parents=[common], help="the platform files and whether each one validates")
    listing.set_defaults(handler=run_list)
    check = sub.add_parser("check", parents=[common], help="validate a platform file; with --url, try it on a page")
    check.add_argument("file", help="platform file (NAME.toml)")
    check.add_argument("--url", help="a page of the platform: print its kind, the fields extracted, what is missing")
    check.add_argument(
        "--search",
        metavar="QUERY",
        help="run QUERY through the file's [discovery.search] on the origin of --url (or site.base_url): "
        "print the result links, total, next page and cap of the first result page",
    )
    check.set_defaults(handler=run_check)


def run_list(args, settings: Settings) -> int:
    from precursor_watch.crawlers.platform_file import PlatformFileError, files_dir, load, platform_names

    directory = files_dir(settings.platform_files_dir)
    print(f"platform files in {directory}:")
    bad = 0
    for name in platform_names(settings.platform_files_dir):
        try:
            pf = load(directory / f"{name}.toml")
        except PlatformFileError as exc:
            bad += 1
            print(f"  {name}: INVALID: {exc}")
            continue
        how = f"page object {pf.page_object}" if pf.page_object else "file-driven"
        print(
            f"  {name}: {how}; languages {', '.join(pf.site.languages)}; required {', '.join(pf.extraction.required)}"
        )
        print(f"    {search_line(pf)}")
    return 1 if bad else 0


def search_line(pf) -> str:
    """How search discovery finds the platform's listings, from its file."""
    from precursor_watch.crawlers.discovery.search import site_search
    from precursor_watch.crawlers.pages.declared import scheme_of

    engine = site_search(pf, scheme_of(pf))
    if engine is None:
        return "site search: none declared (search discovery walks the whole catalogue)"
    templates = pf.urls.account_templates()
    if templates is None:
        sellers = "no seller expansion (no urls.seller_page)"
    elif templates[0] == templates[1]:
        sellers = f"seller and store pages {templates[0]}"
    else:
        sellers = f"seller pages {templates[0]}, store pages {templates[1]}"
    return f"site search: {engine.describe()}; {sellers}"


def run_check(args, settings: Settings) -> int:
    from precursor_watch.crawlers.platform_file import PlatformFileError, load

    try:
        pf = load(Path(args.file))
    except PlatformFileError as exc:
        raise InputError(str(exc)) from None
    print(f"{args.file}: valid platform file for {pf.name}")
    print(search_line(pf))
    status = check_url(pf, args.url) if args.url else 0
    if args.search is not None:
        status = max(status, check_search(pf, args.search, args.url))
    return status


def check_search(pf, query: str, url: str | None) -> int:
    """Run `query` through the file's site search; print what the first result page gives. 1 when
    the search answers anything but 200."""
    from precursor_watch.crawlers.discovery.search import site_search
    from precursor_watch.crawlers.pages.declared import scheme_of

    engine = site_search(pf, scheme_of(pf))
    if engine is None:
        raise InputError(f"--search: {pf.path} declares no site search ([discovery.search])")
    if url:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
    elif pf.site.base_url:
        base = pf.site.base_url
    else:
        raise InputError("--search: give --url (any page of the site) or site.base_url in the file")
    first = engine.first_url(base, query)
    page = _fetch(first)
    print(f"search {query!r}: {first}: HTTP {page.status}")
    if page.status != 200:
        return 1
    result = engine.parse(page)
    shown = ", ".join(result.links[:5]) + (" ..." if len(result.links) > 5 else "")
    print(f"  result links: {len(result.links)}{': ' + shown if shown else ''}")
    print(f"  total: {result.total}; next page: {result.next_url}; capped: {result.capped_after(len(result.links))}")
    return 0


def check_url(pf, url: str) -> int:
    """Fetch `url`, print what the file makes of it; 1 when a listing page misses required fields."""
    from precursor_watch.crawlers.pages.base import Listing
    from precursor_watch.crawlers.pages.declared import Drifted, adapter_of

    host = urlsplit(url).hostname or ""
    if urlsplit(url).scheme not in ("http", "https") or not host:
        raise InputError(f"--url: not an http(s) URL: {url!r}")
    if pf.site.hosts and host not in pf.site.hosts:
        raise InputError(f"--url: host {host!r} is not one of the file's site.hosts ({', '.join(pf.site.hosts)})")
    adapter = adapter_of(pf)
    kind, key = adapter.SITE.classify(url)
    print(f"page kind: {kind}" + (f" (key {key})" if key else ""))
    fetched = adapter.fetch_url(url) if adapter.fetch_url and kind == "listing" else url
    page = _fetch(fetched)
    print(f"fetched {fetched}: HTTP {page.status}" + (f", final URL {page.url}" if page.url != fetched else ""))
    if kind == "listing":
        result = adapter.ListingPage(page).result()
        return _print_listing(pf, result, Listing, Drifted)
    if kind in ("seller", "store"):
        account = adapter.AccountPage(page)
        print(f"account closed: {account.account_closed()}; store closed: {account.store_closed()}")
        return 0
    index = adapter.IndexPage(page)
    links = index.links()
    listings = [u for u in links if adapter.SITE.classify(u)[0] == "listing"]
    print(f"index page: {len(links)} links, {len(listings)} to listing pages; next page: {index.next_url()}")
    return 0


def _print_listing(pf, result, listing_type, drifted_type) -> int:
    if isinstance(result, drifted_type):
        print(f"result: layout drift, required fields empty: {', '.join(result.fields)}")
        return 1
    if not isinstance(result, listing_type):
        print(f"result: {type(result).__name__}: {result}")
        return 0
    print("result: listing")
    for name in ("listing_key", "title", "text", "price", "currency", "seller_key", "seller_name", "store_key"):
        print(f"  {name}: {_short(getattr(result, name))}")
    for name in ("contacts", "lang", "posted_at", "offer_signals"):
        print(f"  {name}: {_short(getattr(result, name))}")
    missing = [n for n in pf.extraction.required if getattr(result, n) in (None, "", [])]
    unread = [n for n in ("currency", "seller_key", "store_key", "lang", "posted_at") if getattr(result, n) is None]
    print(f"missing required fields: {', '.join(missing) or 'none'}")
    print(f"optional fields not found: {', '.join(unread) or 'none'}")
    return 1 if missing else 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _fetch(url: str):
    from precursor_watch.crawlers.pages.base import Page

    request = urllib.request.Request(url, headers={"User-Agent": "pwatch-platform-check"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310 (http(s) checked)
            status, final, headers, body = answer.status, answer.url, answer.headers, answer.read(MAX_BYTES)
    except urllib.error.HTTPError as exc:
        status, final, headers, body = exc.code, url, exc.headers, exc.read(MAX_BYTES)
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"--url: cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    chain = ((url, 302, final),) if final != url else ()
    return Page(final, status, {k.lower(): v for k, v in headers.items()}, body, url, chain)
