"""Page objects driven by a platform file (`crawlers.platform_file.PlatformFile`).

The listing page reads each field from the file's rule: schema.org data first (JSON-LD, microdata,
OpenGraph through `extruct`, on the document parsel already parsed), then the CSS or XPath
selector, then strip / regex / join. Removal follows the file's markers, in the order the
hand-written page objects used: platform closure, redirect away, removal notice or text, bare 4xx.

A 200 page that lacks a required field is `Drifted` (the layout changed), not `Incomplete`
(cut short): the spider counts it per field and the crawl's health shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

from precursor_watch.crawlers.pages.base import (
    HtmlIndexPage,
    HtmlPage,
    Incomplete,
    Listing,
    Removed,
    SiteScheme,
    path_key,
)
from precursor_watch.crawlers.platform_file import FieldRule, PlatformFile


@dataclass(frozen=True)
class Drifted:
    """A whole page without some required fields: the platform's markup no longer matches the file."""

    fields: tuple[str, ...]
    listing_key: str | None


def scheme_of(pf: PlatformFile) -> SiteScheme:
    return SiteScheme(
        listing=re.compile(pf.urls.listing),
        seller=re.compile(pf.urls.seller),
        store=re.compile(pf.urls.store),
        first_index=pf.discovery.index,
        sitemap=pf.discovery.sitemaps[0] if pf.discovery.sitemaps else "",
    )


def _scalar(value: Any) -> str | None:
    """A schema.org property's text: strings as given, numbers as text, anything else absent."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


def _jsonld_nodes(doc: Any, url: str) -> list[dict[str, Any]]:
    from extruct.jsonld import JsonLdExtractor

    items = JsonLdExtractor().extract_items(doc)
    return [n for item in items for n in (item if isinstance(item, list) else [item]) if isinstance(n, dict)]


def _microdata_nodes(doc: Any, url: str) -> list[dict[str, Any]]:
    from extruct.w3cmicrodata import MicrodataExtractor

    return [_microdata(item) for item in MicrodataExtractor().extract_items(doc, url)]


def _opengraph_nodes(doc: Any, url: str) -> list[dict[str, Any]]:
    from extruct.opengraph import OpenGraphExtractor

    og: dict[str, Any] = {"@type": "og"}
    for item in OpenGraphExtractor().extract_items(doc):
        og.update(dict(item.get("properties", [])))
    return [og]


SCHEMA_ORDER = ("json-ld", "microdata", "opengraph")
_EXTRACT = {"json-ld": _jsonld_nodes, "microdata": _microdata_nodes, "opengraph": _opengraph_nodes}


def _microdata(item: Any) -> Any:
    """extruct's microdata item ({type, properties}) as a JSON-LD-like node, nested items too."""
    if isinstance(item, list):
        return [_microdata(i) for i in item]
    if not isinstance(item, dict) or "properties" not in item:
        return item
    kind = item.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    props = {k: _microdata(v) for k, v in item["properties"].items()}
    return {"@type": kind.rstrip("/").rsplit("/", 1)[-1] if isinstance(kind, str) else kind, **props}


# A platform file's selectors are run on every page. Through parsel each run rebuilt the namespace
# map, looked the compiled query up and wrapped every match (and its "string()") in a Selector:
# about 50 us of a chemdir page's 9 fields. Here each selector is compiled once and evaluated on
# the document parsel parsed, with parsel's semantics (HTML translation of CSS, the `re:`
# namespace, plain strings, errors as ValueError). Queries using EXSLT `set:` stay with parsel.
_TRANSLATOR = HTMLTranslator()
_NAMESPACES = {"re": "http://exslt.org/regular-expressions"}
_STRING = etree.XPath("string()", smart_strings=False)


@lru_cache(maxsize=1024)
def _compiled(css: str | None, xpath: str | None) -> tuple[str, etree.XPath | None]:
    query = _TRANSLATOR.css_to_xpath(css) if css else (xpath or "")
    if "set:" in query:
        return query, None
    try:
        return query, etree.XPath(query, namespaces=_NAMESPACES, smart_strings=False)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc} in {query}") from None


def _matches(sel: Selector, css: str | None, xpath: str | None = None) -> list[Any]:
    """What `sel.css(css)` (or `sel.xpath(xpath)`) matches, as lxml gives it: strings, elements."""
    query, evaluate = _compiled(css, xpath)
    if evaluate is None:
        return [n.root for n in sel.xpath(query)]
    try:
        result = evaluate(sel.root)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc} in {query}") from None
    return result if isinstance(result, list) else [result]


def _text(node: Any) -> str:
    """A match as a field value: a string as is, an element's whole text, anything else empty."""
    if isinstance(node, str):
        return node
    return _STRING(node) if isinstance(node, etree._Element) else ""


def _typed(node: dict[str, Any], type_name: str) -> bool:
    kind = node.get("@type")
    return kind == type_name or (isinstance(kind, list) and type_name in kind)


class DeclaredListingPage(HtmlPage):
    """A listing page read by the rules of one platform file."""

    pf: PlatformFile
    site: SiteScheme

    # --- schema.org -------------------------------------------------------------------------
    @cached_property
    def structured(self) -> list[dict[str, Any]]:
        """schema.org nodes of the page (JSON-LD first, then microdata), plus one `og` node; read
        from the document parsel already parsed. A syntax whose data cannot be read adds nothing
        (the selectors are the fallback)."""
        nodes: list[dict[str, Any]] = []
        for syntax in SCHEMA_ORDER:
            if syntax in self.pf.extraction.schema_org:
                try:
                    nodes.extend(_EXTRACT[syntax](self.sel.root, self.page.url))
                except (ValueError, TypeError, AttributeError, KeyError):
                    continue
        return [self._graph(n) for n in nodes]

    @staticmethod
    def _graph(node: dict[str, Any]) -> dict[str, Any]:
        # microdata types are URLs (https://schema.org/Product); keep the last part
        kind = node.get("@type")
        if isinstance(kind, str):
            node = {**node, "@type": kind.rstrip("/").rsplit("/", 1)[-1]}
        return node

    def schema_value(self, path: str) -> str | None:
        if path.startswith("og:"):
            return next((_scalar(n.get(path)) for n in self.structured if n.get("@type") == "og"), None)
        type_name, *props = path.split(".")
        for node in self.structured:
            if not _typed(node, type_name):
                continue
            value: Any = node
            for prop in props:
                if isinstance(value, list):
                    value = value[0] if value else None
                value = value.get(prop) if isinstance(value, dict) else None
            if _scalar(value) is not None:
                return _scalar(value)
        return None

    # --- fields ---------------------------------------------------------------------------
    def field(self, name: str) -> Any:
        rule = self.pf.extraction.fields.get(name)
        if rule is None:
            return [] if name == "contacts" else None
        if rule.source == "url":
            return path_key(self.page.requested_url or self.page.url, self.site.listing)
        for path in rule.schema_:
            value = self.schema_value(path)
            if value:
                return value
        if not (rule.css or rule.xpath):
            return None
        return _post(rule, self._select(rule), self)

    def _select(self, rule: FieldRule) -> list[str]:
        nodes = _matches(self.sel, rule.css, rule.xpath)
        if not rule.all:
            nodes = nodes[:1]
        return [_text(n) for n in nodes]

    def offer_signals(self, listing: Listing | None = None) -> dict[str, bool]:
        """What the page shows around the listing text (`nlp.detection.OfferSignals`)."""
        ex = self.pf.extraction
        price = listing.price if listing else self.field("price")
        seller = listing.seller_name if listing else self.field("seller_name")
        return {
            "price": price is not None,
            "add_to_cart": bool(ex.add_to_cart and _matches(self.sel, ex.add_to_cart)),
            "inquiry": bool(ex.inquiry and _matches(self.sel, ex.inquiry)),
            "seller": bool(seller),
            "schema_offer": self.has_schema_offer(),
        }

    def has_schema_offer(self) -> bool:
        if "json-ld" not in self.pf.extraction.schema_org:
            return _jsonld_offer(self)
        return any(_typed(n, "Offer") or (_typed(n, "Product") and n.get("offers")) for n in self.structured)

    # --- removal --------------------------------------------------------------------------
    def removed(self, key: str | None) -> Removed | None:
        rm = self.pf.removal
        if self.page.redirect_chain and rm.redirect_reason:
            kind, _ = self.site.classify(self.page.url)
            if kind == "seller" and _matches(self.sel, rm.account_closed):
                return Removed("account_closed", key)
            if kind in ("seller", "store") and _matches(self.sel, rm.store_closed):
                return Removed("store_closed", key)
            if kind != "listing":
                return Removed(rm.redirect_reason, key)
        for css, reason in [(rm.marker, rm.reason)] + [(n.css, n.reason) for n in rm.notices]:
            marker = self._first(css) if css else None
            if marker is not None:
                marker = marker.strip().lower()
                return Removed(marker if marker in ("account_closed", "store_closed") else reason, key)
        if rm.texts and not self._has_title() and any(t in self.html[:20000] for t in rm.texts):
            return Removed(rm.reason, key)
        bare = rm.status.get(str(self.page.status))
        return Removed(bare, key) if bare else None

    def _first(self, css: str) -> str | None:
        """`sel.css(css).get()`: parsel is asked only when the first match is not a string."""
        nodes = _matches(self.sel, css)
        if not nodes:
            return None
        return nodes[0] if isinstance(nodes[0], str) else self.sel.css(css).get()

    def _has_title(self) -> bool:
        rule = self.pf.extraction.fields.get("title")
        return bool(rule and (rule.css or rule.xpath) and self._select(rule))

    def closed(self) -> bool:
        name, _, value = self.pf.removal.closure_header.partition(":")
        got = self.page.headers.get(name.strip().lower(), "").strip().lower()
        return self.page.status == self.pf.removal.closure_status and got == value.strip().lower()

    # --- result ---------------------------------------------------------------------------
    def listing(self, key: str) -> Listing:
        values = {name: self.field(name) for name in ("title", "text", "price", "currency", "seller_key")}
        values |= {name: self.field(name) for name in ("seller_name", "store_key", "contacts", "lang", "posted_at")}
        contacts = values.pop("contacts")
        listing = Listing(listing_key=key, contacts=contacts if isinstance(contacts, list) else [], **values)
        listing.offer_signals = self.offer_signals(listing)
        return listing

    def result(self) -> Listing | Removed | Incomplete | Drifted:
        key = self.field("listing_key")
        if self.closed():
            return Removed("platform_closed", key)
        gone = self.removed(key)
        if gone is not None:
            return gone
        if self.page.status != 200:
            return Incomplete(f"unexpected HTTP {self.page.status} without a removal notice")
        listing = self.listing(key) if key else None
        missing = tuple(
            name for name in self.pf.extraction.required if listing is None or getattr(listing, name) in (None, "", [])
        )
        if (listing is None or missing) and not _whole(self.page.body):
            return Incomplete("listing page cut short (no </body>) and lacks required fields")
        if listing is None or missing:
            return Drifted(missing or ("listing_key",), key)
        return listing


_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)


def _whole(body: bytes) -> bool:
    """The document reached its end (a cut page is a transient fault, never layout drift)."""
    return _BODY_END.search(body[-8192:]) is not None


def _post(rule: FieldRule, values: list[str], page: DeclaredListingPage) -> Any:
    out: list[str] = []
    for value in values:
        if rule.strip:
            value = value.strip()
        if rule.regex is not None:
            match = re.search(rule.regex, value)
            if match is None:
                continue
            value = match.group(1) if match.re.groups else match.group(0)
        if rule.link is not None:
            pattern = {"seller": page.site.seller, "store": page.site.store, "listing": page.site.listing}[rule.link]
            value = path_key(page.absolute(value), pattern) or ""
        if value:
            out.append(value)
    if rule.all and rule.join is None:
        return out
    if rule.join is not None:
        return rule.join.join(out) or None
    return out[0] if out else None


def _jsonld_offer(page: HtmlPage) -> bool:
    """A JSON-LD Offer, looked for even when the file reads no schema.org (an offer signal)."""
    import json

    for block in page.sel.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(block)
        except ValueError:
            continue
        for node in data if isinstance(data, list) else [data]:
            if isinstance(node, dict) and (node.get("@type") == "Offer" or node.get("offers")):
                return True
    return False


class DeclaredIndexPage(HtmlIndexPage):
    pf: PlatformFile

    def links(self) -> list[str]:
        return [self.absolute(h) or "" for h in self.sel.css(self.pf.discovery.links).getall() if h]

    def next_url(self) -> str | None:
        return self.absolute(self.sel.css(self.pf.discovery.next).get())


class DeclaredAccountPage(HtmlPage):
    pf: PlatformFile

    def account_closed(self) -> bool:
        return bool(self.sel.css(self.pf.removal.account_closed))

    def store_closed(self) -> bool:
        return bool(self.sel.css(self.pf.removal.store_closed))


@dataclass(frozen=True)
class Adapter:
    """What the spider needs of a platform: its file, URL scheme and page-object classes."""

    pf: PlatformFile
    SITE: SiteScheme
    ListingPage: Any
    IndexPage: Any
    AccountPage: Any
    fetch_url: Any = None  # page URL -> URL fetched (a Python page object may define it)

    @property
    def NAME(self) -> str:  # noqa: N802  (the hand-written modules' name)
        return self.pf.name


def adapter_of(pf: PlatformFile) -> Adapter:
    """The page objects for a file: its own classes, or those of the Python module it names."""
    site = scheme_of(pf)
    if pf.page_object:
        import importlib

        module = importlib.import_module(pf.page_object)
        return Adapter(
            pf, site, module.ListingPage, module.IndexPage, module.AccountPage, getattr(module, "fetch_url", None)
        )
    attrs = {"pf": pf, "site": site}
    return Adapter(
        pf,
        site,
        type(f"{pf.name}ListingPage", (DeclaredListingPage,), attrs),
        type(f"{pf.name}IndexPage", (DeclaredIndexPage,), attrs),
        type(f"{pf.name}AccountPage", (DeclaredAccountPage,), attrs),
    )
