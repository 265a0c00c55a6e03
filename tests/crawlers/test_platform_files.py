"""Platform files: validation errors name the file and the key; a new layout needs only a file.

The new-layout test generates a small shop of its own (not one of the fixture platforms: microdata
`Product`/`Offer`, text in several paragraphs, contacts inside brackets, a date inside a sentence),
serves it from a real HTTP server in the test, writes a platform file for it, crawls it with
`pwatch crawl` and checks that every listing is captured exactly and every removal recognised.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from precursor_watch.crawlers.platform_file import PACKAGED_DIR, PlatformFileError, load, platform_names
from tests.crawlers.conftest import ROOT, crawl_env

GOOD = (PACKAGED_DIR / "chemdir.toml").read_text(encoding="utf-8")


def test_every_packaged_platform_file_validates():
    names = platform_names()
    assert {"chemdir", "tradehub", "boardlist", "huaxue", "mercado"} <= set(names)
    for name in names:
        assert load(PACKAGED_DIR / f"{name}.toml").name == name


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("[urls]\nlisting = '/product/([A-Za-z0-9]+)\\.html'", "[urls]\nlisting = '/product/[A-Z'"), "urls.listing"),
        (("[urls]\nlisting = '/product/([A-Za-z0-9]+)\\.html'", "[urls]\nlisting = '/product/x'"), "urls.listing"),
        (('languages = ["en"]', "languages = []"), "site.languages"),
        (('encoding = "utf-8"', 'encoding = "utf-99"'), "site.encoding"),
        (("concurrency = 16", "concurrency = 0"), "politeness.concurrency"),
        (('reason = "not_found"', 'reason = "vanished"'), "removal.reason"),
        (
            ('[extraction.fields.price]\ncss = "span.price::text"\n', "[extraction.fields.price]\n"),
            "extraction.fields.price",
        ),
        (('required = ["title"', 'required = ["titel"'), "extraction"),
        (("[robots]\nobey = true", "[robots]\nobey = true\ncrawl_delay = 3"), "robots.crawl_delay"),
        (('path = "/search"', 'path = "search"'), "discovery.search.path"),
        (('path = "/search"', 'path = "/search?q="'), "discovery.search.path"),
        (('query = "q"', 'query = ""'), "discovery.search.query"),
        (('query = "q"', 'query = "q"\nencoding = "utf-99"'), "discovery.search.encoding"),
        (('query = "q"', 'query = "q"\nparams = { q = "x" }'), "discovery.search"),
        (('total = "div.search::attr(data-total)"', 'total = "div.search[["'), "discovery.search.html.total.css"),
        (
            ('pages = "div.search::attr(data-pages)"', 'pages = { css = "p", regex = "(" }'),
            "discovery.search.html.pages.regex",
        ),
        (('pages = "div.search::attr(data-pages)"', 'pages = { xpath = "//p[" }'), "discovery.search.html.pages.xpath"),
        (('pages = "div.search::attr(data-pages)"', "pages = {}"), "discovery.search.html.pages"),
        (('pages = "div.search::attr(data-pages)"', 'links = "a::attr("'), "discovery.search.html.links"),
        (('pages = "div.search::attr(data-pages)"', 'next_page = "a.next"'), "discovery.search.html.next_page"),
        (
            ("[discovery.search.html]", '[discovery.search.json]\ncursor = "next"\n\n[discovery.search.html]'),
            "discovery.search",
        ),
        (('seller_page = "/supplier/{key}.html"', 'seller_page = "/supplier/{key}"'), "urls.seller_page"),
        (('seller_page = "/supplier/{key}.html"', 'seller_page = "/supplier/{id}.html"'), "urls.seller_page"),
        (('seller_page = "/supplier/{key}.html"', 'seller_page = "supplier/{key}.html"'), "urls.seller_page"),
        (('seller_page = "/supplier/{key}.html"', 'store_page = "/supplier/{key}.html"'), "urls"),
    ],
)
def test_a_bad_platform_file_is_an_error_naming_the_file_and_the_key(tmp_path, change, key):
    old, new = change
    assert old in GOOD
    path = tmp_path / "chemdir.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PlatformFileError) as err:
        load(path)
    assert str(path) in str(err.value)
    assert f"key {key}" in str(err.value)


JSON_SEARCH = """
[discovery.search]
path = "/api/find"
query = "term"

[discovery.search.json]
{body}
"""


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('cursor = "meta..next"', "discovery.search.json.cursor"),
        ('cursor_param = "after"', "discovery.search.json.cursor"),  # the cursor key is required
        ('cursor = "next"\ntotal = "meta total"', "discovery.search.json.total"),
        ('cursor = "next"\ncapped = ""', "discovery.search.json.capped"),
        ('cursor = "next"\ncursor_param = "term"', "discovery.search"),
        ('cursor = "next"\nlinks = "items.url"', "discovery.search.json.links"),
    ],
)
def test_a_bad_json_search_is_an_error_naming_the_key(tmp_path, body, key):
    start = GOOD.index("[discovery.search]")
    end = GOOD.index("[removal]")
    path = tmp_path / "chemdir.toml"
    path.write_text(GOOD[:start] + JSON_SEARCH.format(body=body) + "\n" + GOOD[end:], encoding="utf-8")
    with pytest.raises(PlatformFileError) as err:
        load(path)
    assert str(path) in str(err.value)
    assert f"key {key}:" in str(err.value)


def test_a_search_table_reads_as_declared(tmp_path):
    """Defaults: results in HTML linked by rel="next", the query in the site's charset; a json
    table instead; a file without the table has no search (search discovery walks the catalogue)."""
    chemdir = load(PACKAGED_DIR / "chemdir.toml").discovery.search
    assert chemdir is not None and chemdir.format == "html" and chemdir.encoding is None
    path = tmp_path / "chemdir.toml"
    start, end = GOOD.index("[discovery.search]"), GOOD.index("[removal]")
    path.write_text(GOOD[:start] + JSON_SEARCH.format(body='cursor = "page.after"') + GOOD[end:], encoding="utf-8")
    search = load(path).discovery.search
    assert search is not None and search.format == "json" and search.json_ is not None
    assert (search.json_.cursor, search.json_.cursor_param, search.query) == ("page.after", "cursor", "term")
    path.write_text(GOOD[:start] + '[discovery.search]\npath = "/s"\n' + GOOD[end:], encoding="utf-8")
    search = load(path).discovery.search
    assert search is not None and search.html is not None and search.html.next.startswith('a[rel="next"]')
    path.write_text(GOOD[:start] + GOOD[end:], encoding="utf-8")
    assert load(path).discovery.search is None


def test_a_file_that_is_not_toml_or_misnamed_is_an_error_naming_the_file(tmp_path):
    broken = tmp_path / "chemdir.toml"
    broken.write_text(GOOD + "\n[urls\n", encoding="utf-8")
    with pytest.raises(PlatformFileError, match="not valid TOML"):
        load(broken)
    other = tmp_path / "other.toml"
    other.write_text(GOOD, encoding="utf-8")
    with pytest.raises(PlatformFileError, match=r"other\.toml: key name"):
        load(other)


# --- a layout of our own ---------------------------------------------------------------------
SHOP_FILE = """
# kiosk: a shop layout generated by the test (microdata Product/Offer, paragraphs, bracketed contacts)
name = "kiosk"

[site]
base_url = "{base}"
hosts = ["127.0.0.1"]
languages = ["en"]

[urls]
listing = '/p/([A-Z0-9]+)/'
seller = '/v/([a-z0-9-]+)'
store = '/v/([a-z0-9-]+)'
seller_page = "/v/{{key}}"

[discovery]
index = "/browse?p=1"
links = "div.grid a.card::attr(href)"
next = "a.nx::attr(href)"
sitemaps = ["/sm.xml"]

[discovery.search]
path = "/api/find"
query = "term"
params = {{ lang = "en" }}

[discovery.search.json]
cursor = "paging.after"
cursor_param = "after"
total = "paging.found"

[removal]
reason = "soft_removed"
marker = ""
texts = ["is no longer available"]

[politeness]
concurrency = 4
delay = 0.0

[extraction]
schema_org = ["microdata", "opengraph"]
required = ["title", "text", "price", "seller_key"]
add_to_cart = "form.buy"

[extraction.fields.listing_key]
source = "url"

[extraction.fields.title]
schema = ["Product.name", "og:title"]

[extraction.fields.text]
xpath = "//section[@id='about']/p"
all = true
join = "\\n"

[extraction.fields.price]
schema = ["Product.offers.price"]

[extraction.fields.currency]
schema = ["Product.offers.priceCurrency"]

[extraction.fields.seller_key]
css = "div.vendor a::attr(href)"
link = "seller"

[extraction.fields.seller_name]
css = "div.vendor a"
strip = true

[extraction.fields.store_key]
css = "div.vendor a::attr(href)"
link = "store"

[extraction.fields.contacts]
css = "span.reach::text"
all = true
regex = '^\\s*\\[(.+)\\]\\s*$'

[extraction.fields.lang]
xpath = "/html/@lang"

[extraction.fields.posted_at]
css = "p.meta::text"
regex = '(\\d{{4}}-\\d{{2}}-\\d{{2}})'
"""


def shop_listings() -> dict[str, dict]:
    """The shop's truth: 45 listings, every 7th removed (404), every 11th soft-removed."""
    out = {}
    for i in range(45):
        key = f"K{i:03d}"
        status = "live" if i % 7 and i % 11 else ("not_found" if i % 7 == 0 else "soft_removed")
        out[key] = {
            "key": key,
            "status": status,
            "title": f"Item {i} <reagent> & co",
            "paras": [f"Paragraph one of {i}.", f"Second part, lot {i * 3}."],
            "price": f"{10 + i}.50",
            "currency": ["USD", "EUR"][i % 2],
            "account": f"vendor-{i % 5}",
            "seller_name": f"Vendor {i % 5}",
            "contacts": [f"telegram:@fake_kiosk{i}", f"email:fake{i}@example.invalid"],
            "posted": f"2026-10-{1 + i % 28:02d}",
        }
    return out


def _listing_html(r: dict) -> str:
    e = html.escape
    contacts = "".join(f'<span class="reach"> [{e(c)}] </span>' for c in r["contacts"])
    paras = "".join(f"<p>{e(p)}</p>" for p in r["paras"])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta property="og:title" content="{e(r["title"])}"><title>{e(r["title"])}</title></head><body>
<main itemscope itemtype="https://schema.org/Product"><h2 itemprop="name">{e(r["title"])}</h2>
<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
<meta itemprop="price" content="{r["price"]}"><meta itemprop="priceCurrency" content="{r["currency"]}">
<b>{r["price"]} {r["currency"]}</b></div>
<section id="about">{paras}</section>
<div class="vendor">Sold by <a href="/v/{r["account"]}"> {e(r["seller_name"])} </a></div>
<div class="contact">{contacts}</div><p class="meta">Listed on {r["posted"]} in Reagents.</p>
<form class="buy"><button>Buy</button></form></main></body></html>"""


def _route(path: str, shop: dict[str, dict], base: str) -> tuple[int, str, str]:
    live = [k for k, r in shop.items() if r["status"] == "live"]
    linked = sorted(shop)[:-1]  # the last listing only in the sitemap
    if path.startswith("/api/find?"):
        return _find(path, shop)
    if path == "/robots.txt":
        return 200, "text/plain", "User-agent: *\nDisallow: /cart\n"
    if path.startswith("/browse?p="):
        page = int(path.split("=")[1])
        keys = linked[(page - 1) * 10 : page * 10]
        if not keys:
            return 404, "text/html", "<html><body>none</body></html>"
        cards = "".join(f'<a class="card" href="/p/{k}/">{k}</a><a href="/cart?add={k}">+</a>' for k in keys)
        return (
            200,
            "text/html",
            f'<html><body><div class="grid">{cards}</div><a class="nx" href="/browse?p={page + 1}">more</a></body></html>',
        )
    if path == "/sm.xml":
        locs = "".join(f"<url><loc>{base}/p/{k}/</loc></url>" for k in sorted(shop)[-1:])
        return (
            200,
            "application/xml",
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>',
        )
    if path.startswith("/p/") and path[3:-1] in shop:
        r = shop[path[3:-1]]
        if r["status"] == "not_found":
            return 404, "text/html", "<html><body><h1>Not here</h1></body></html>"
        if r["status"] == "soft_removed":
            return 200, "text/html", "<html><body><p>This item is no longer available.</p></body></html>"
        return 200, "text/html", _listing_html(r)
    if path.startswith("/v/"):
        return 200, "text/html", f"<html><body><h1>{path[3:]}</h1></body></html>"
    assert live
    return 404, "text/html", "<html><body>unknown</body></html>"


def _find(path: str, shop: dict[str, dict]) -> tuple[int, str, str]:
    """The shop's search API: live listings whose title holds the term, 10 per answer, paged by an
    `after` cursor (the last key shown); `lang=en` is required."""
    from urllib.parse import parse_qs, urlsplit

    q = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    if q.get("lang") != "en":
        return 400, "application/json", json.dumps({"error": "lang"})
    hits = [k for k, r in sorted(shop.items()) if r["status"] == "live" and q["term"].lower() in r["title"].lower()]
    after = q.get("after")
    start = hits.index(after) + 1 if after in hits else 0
    page = hits[start : start + 10]
    more = start + 10 < len(hits)
    answer = {
        "data": {"hits": [{"link": f"/p/{k}/", "cart": f"/cart?add={k}"} for k in page]},
        "paging": {"after": page[-1] if more else None, "found": len(hits)},
    }
    return 200, "application/json", json.dumps(answer)


@pytest.fixture
def shop_server():
    shop = shop_listings()
    state = {"base": "", "paths": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            state["paths"].append(self.path)
            status, ctype, body = _route(self.path, shop, state["base"])
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield shop, state
    server.shutdown()
    server.server_close()


def test_a_new_layout_is_crawled_and_captured_completely_from_a_platform_file_alone(shop_server, tmp_path):
    shop, state = shop_server
    base = state["base"]
    files = tmp_path / "platforms"
    files.mkdir()
    (files / "kiosk.toml").write_text(SHOP_FILE.format(base=base), encoding="utf-8")
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "precursor_watch",
            "platforms",
            "check",
            str(files / "kiosk.toml"),
            "--url",
            f"{base}/p/K001/",
        ],
        env=crawl_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "page kind: listing (key K001)" in check.stdout and "missing required fields: none" in check.stdout
    broken = tmp_path / "broken" / "kiosk.toml"
    broken.parent.mkdir()
    broken.write_text(
        SHOP_FILE.format(base=base).replace('schema = ["Product.name", "og:title"]', 'css = "h1.gone"'),
        encoding="utf-8",
    )
    check = subprocess.run(
        [sys.executable, "-m", "precursor_watch", "platforms", "check", str(broken), "--url", f"{base}/p/K001/"],
        env=crawl_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert check.returncode == 1 and "required fields empty: title" in check.stdout, check.stdout + check.stderr
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "precursor_watch",
            "platforms",
            "check",
            str(files / "kiosk.toml"),
            "--search",
            "item",
        ],
        env=crawl_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    matching = sorted(k for k, r in shop.items() if r["status"] == "live" and "item" in r["title"].lower())
    assert check.returncode == 0, check.stdout + check.stderr
    assert "site search: GET /api/find?term=QUERY&lang=en (json, query in utf-8)" in check.stdout
    assert f"search 'item': {base}/api/find?term=item&lang=en: HTTP 200" in check.stdout
    assert f"result links: 10: {base}/p/{matching[0]}/," in check.stdout
    assert f"total: {len(matching)}; next page: {base}/api/find?term=item&lang=en&after={matching[9]};" in check.stdout

    revisit = tmp_path / "revisit.txt"
    revisit.write_text("".join(f"{base}/p/{k}/\n" for k in shop), encoding="utf-8")
    out = tmp_path / "items.jsonl"
    env = crawl_env() | {"PWATCH_PLATFORM_FILES_DIR": str(files)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "precursor_watch",
            "crawl",
            "--site",
            "kiosk",
            "--date",
            "2026-11-20",
            "--no-db",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--revisit",
            str(revisit),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    listings = {i["listing_key"]: i for i in items if i["type"] == "listing"}
    gone = {i["url"]: i["reason"] for i in items if i["type"] == "gone"}
    live = {k: r for k, r in shop.items() if r["status"] == "live"}
    assert set(listings) == set(live)
    for key, r in live.items():
        got = listings[key]
        assert got["url"] == f"{base}/p/{key}/"
        assert (got["title"], got["text"]) == (r["title"], "\n".join(r["paras"]))
        assert (got["price"], got["currency"]) == (r["price"], r["currency"])
        assert (got["seller_key"], got["seller_name"], got["store_key"]) == (
            r["account"],
            r["seller_name"],
            r["account"],
        )
        assert (got["contacts"], got["lang"], got["posted_at"]) == (r["contacts"], "en", r["posted"])
        assert got["offer_signals"]["add_to_cart"] is True
    assert gone == {f"{base}/p/{k}/": r["status"] for k, r in shop.items() if r["status"] != "live"}
    assert not any(p.startswith("/cart") for p in state["paths"]), "robots.txt forbids /cart"
    health = json.loads((tmp_path / "data" / "jobs" / "kiosk" / "2026-11-20" / "health.json").read_text())
    assert health["drift_pages"] == 0 and health["errors"] == {}
