"""Platform files: one reviewed TOML file per marketplace says everything the crawler needs.

`crawlers/platforms/NAME.toml` (or a directory named by the setting `platform_files_dir`) holds a
platform's URL scheme (with the seller and store page templates), discovery (index pages, sitemaps
and its site search), field extraction (schema.org first, then CSS/XPath selectors with
strip/regex/join), removal markers, politeness, robots policy and the fields a listing page must
yield. `crawlers/platforms/README.md` documents every key. A file that does not validate is a
`PlatformFileError` naming the file and the key; nothing is crawled with it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

PACKAGED_DIR = Path(__file__).resolve().parent / "platforms"
LISTING_FIELDS = (
    "listing_key",
    "title",
    "text",
    "price",
    "currency",
    "seller_key",
    "seller_name",
    "store_key",
    "contacts",
    "lang",
    "posted_at",
)
SCHEMA_SYNTAXES = ("json-ld", "microdata", "opengraph")


class PlatformFileError(ValueError):
    """A platform file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _codec(value: str | None) -> str | None:
    if value is None:
        return value
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    return value


class Site(_Strict):
    base_url: str | None = Field(
        default=None, description="origin of a real marketplace; fixture platforms use the address rule"
    )
    hosts: list[str] = Field(
        default_factory=list, description="host names the platform serves (check --url refuses others)"
    )
    languages: list[str] = Field(min_length=1)
    encoding: str = "utf-8"

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s]+", value):
            raise ValueError(f"must be an origin like https://example.com (no path), got {value!r}")
        return value

    _known_charset = field_validator("encoding")(_codec)


class Urls(_Strict):
    """Regular expressions over URL paths (group 1 is the key), and the templates that build a
    seller's and a store's page from a key (for seller expansion in search discovery)."""

    listing: str
    seller: str
    store: str
    seller_page: str | None = Field(default=None, description='e.g. "/supplier/{key}.html"')
    store_page: str | None = Field(default=None, description="default: seller_page, when store = seller")
    _check = field_validator("listing", "seller", "store")(_regex)

    @field_validator("listing", "seller", "store")
    @classmethod
    def _one_group(cls, value: str) -> str:
        if re.compile(value).groups < 1:
            raise ValueError("needs a group that captures the key, e.g. /item/([A-Za-z0-9]+)")
        return value

    @field_validator("seller_page", "store_page")
    @classmethod
    def _template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if not value.startswith("/") or value.count("{key}") != 1 or value.replace("{key}", "").count("{"):
            raise ValueError(f'a path with {{key}} once where the key goes, e.g. "/seller/{{key}}", got {value!r}')
        kind = "seller" if info.field_name == "seller_page" else "store"
        pattern = info.data.get(kind)
        if pattern is not None and not template_fits(value, pattern):
            raise ValueError(f"{value!r} does not build a URL that urls.{kind} ({pattern}) recognises")
        return value

    @model_validator(mode="after")
    def _both_templates(self) -> Urls:
        if self.seller_page is None and self.store_page is not None:
            raise ValueError("store_page without seller_page: give seller_page too")
        if self.seller_page is not None and self.store_page is None and self.store != self.seller:
            raise ValueError("store_page is missing: urls.store differs from urls.seller")
        return self

    def account_templates(self) -> tuple[str, str] | None:
        """(seller page, store page) templates, or None when the file gives none."""
        if self.seller_page is None:
            return None
        return self.seller_page, self.store_page or self.seller_page


SAMPLE_KEYS = ("a1", "abc", "A1B2", "ab-1", "a_1", "1", "12345", "0123456789abcdef01234567")


def template_fits(template: str, pattern: str) -> bool:
    """Whether `template` with a key that group 1 of `pattern` accepts is a URL `pattern` matches
    with that key. True when no sample key fits the group (nothing to check it with)."""
    group = _group_source(pattern)
    samples = [k for k in SAMPLE_KEYS if group is not None and re.fullmatch(group, k)]
    if not samples:
        return True
    for key in samples:
        match = re.fullmatch(pattern, template.replace("{key}", key))
        if match is not None and match.group(1) == key:
            return True
    return False


def _group_source(pattern: str) -> str | None:
    """The text of the first capturing group of a regular expression, or None."""
    depth, start, in_class, escaped = 0, None, False, False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            if start is None and not pattern.startswith("(?", i):
                start, depth = i + 1, 0
            depth += 1
        elif ch == ")" and start is not None:
            depth -= 1
            if depth == 0:
                return pattern[start:i]
    return None


def _css(value: str | None) -> str | None:
    if value:
        from parsel.csstranslator import HTMLTranslator

        try:
            HTMLTranslator().css_to_xpath(value)
        except Exception as exc:  # cssselect's SelectorError and ExpressionError
            raise ValueError(f"not a CSS selector: {exc}") from None
    return value


def _xpath(value: str | None) -> str | None:
    if value:
        from parsel import Selector

        try:
            Selector(text="<html></html>").xpath(value)
        except ValueError as exc:
            raise ValueError(f"not an XPath expression: {exc}") from None
    return value


def _key_path(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[\w@$-]+(\.[\w@$-]+)*", value):
        raise ValueError(f'a key or dotted key path into the JSON answer (e.g. "meta.next"), got {value!r}')
    return value


class SearchNumber(_Strict):
    """A number a result page shows: the first match of `css` or `xpath` (an element's whole text,
    or the `::text` / `::attr()` string), cut by `regex` (group 1, or the whole match); its digits."""

    css: str | None = None
    xpath: str | None = None
    regex: str | None = None
    _css_ok = field_validator("css")(_css)
    _xpath_ok = field_validator("xpath")(_xpath)
    _regex_ok = field_validator("regex")(_regex)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"css": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_selector(self) -> SearchNumber:
        if bool(self.css) == bool(self.xpath):
            raise ValueError("give css or xpath (one of them)")
        return self


class HtmlResults(_Strict):
    """Result pages in HTML, one after the other by a next-page link."""

    links: str | None = Field(default=None, description="CSS of the result links; default every link to a listing page")
    next: str = Field(
        default='a[rel="next"]::attr(href), link[rel="next"]::attr(href)', description="CSS of the next page's link"
    )
    total: SearchNumber | None = Field(default=None, description="how many listings matched in all")
    pages: SearchNumber | None = Field(default=None, description="how many result pages the site serves")
    _checks = field_validator("links", "next")(_css)


class JsonResults(_Strict):
    """A JSON search API paged by a cursor. Result links are every listing URL in the answer."""

    cursor: str = Field(description="key of the next page's cursor (null, empty or absent at the end)")
    cursor_param: str = Field(default="cursor", min_length=1, description="query parameter the cursor goes in")
    total: str | None = Field(default=None, description="key of the number of matches in all")
    capped: str | None = Field(default=None, description="key of a flag: the site will not show every match")
    _checks = field_validator("cursor", "total", "capped")(_key_path)


class Search(_Strict):
    """The platform's site search: `<path>?<query>=<the query>&<params>`, its results read by
    `html` or `json` (exactly one; neither means `html` with its defaults)."""

    path: str = Field(description="path of the search (first result page)")
    query: str = Field(default="q", min_length=1, description="query parameter that carries the query")
    params: dict[str, str] = Field(default_factory=dict, description="fixed parameters sent with every query")
    encoding: str | None = Field(default=None, description="charset the query is percent-encoded in (default site's)")
    html: HtmlResults | None = None
    json_: JsonResults | None = Field(default=None, alias="json")
    _known_charset = field_validator("encoding")(_codec)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in "?#"):
            raise ValueError(f'a path like "/search" (no query, no fragment), got {value!r}')
        return value

    @model_validator(mode="before")
    @classmethod
    def _html_by_default(cls, value: object) -> object:
        if isinstance(value, dict) and "html" not in value and "json" not in value:
            return {**value, "html": {}}
        return value

    @model_validator(mode="after")
    def _one_format(self) -> Search:
        if self.html is not None and self.json_ is not None:
            raise ValueError("give html or json, not both: the results come in one format")
        if self.query in self.params:
            raise ValueError(f"params: {self.query!r} is the query parameter")
        if self.json_ is not None and self.json_.cursor_param in (self.query, *self.params):
            raise ValueError(f"json.cursor_param {self.json_.cursor_param!r} is already a parameter of the search")
        return self

    @property
    def format(self) -> str:
        return "json" if self.json_ is not None else "html"


class Discovery(_Strict):
    index: str = Field(description="path of index page 1")
    links: str = Field(default="a::attr(href)", description="CSS selector of the links on an index page")
    next: str = Field(
        default='a[rel="next"]::attr(href), link[rel="next"]::attr(href)', description="CSS of the next page"
    )
    sitemaps: list[str] = Field(default_factory=lambda: ["/sitemap.xml"])
    search: Search | None = Field(
        default=None, description="site search; without it search discovery walks the catalogue"
    )


class FieldRule(_Strict):
    """How one listing field is read: schema.org paths first, then the selector, then post-processing."""

    schema_: list[str] = Field(default_factory=list, alias="schema", description='e.g. ["Product.offers.price"]')
    css: str | None = None
    xpath: str | None = None
    source: Literal["page", "url"] = "page"  # "url": the key from the requested URL (listing pattern)
    link: Literal["seller", "store", "listing"] | None = None  # value is an href: keep its key
    all: bool = False  # every match, as a list (or joined with `join`)
    join: str | None = None
    strip: bool = False
    regex: str | None = None  # keep group 1 (or the whole match) of the first match
    _check = field_validator("regex")(_regex)

    @model_validator(mode="after")
    def _one_selector(self) -> FieldRule:
        if self.css and self.xpath:
            raise ValueError("give css or xpath, not both")
        if self.source == "page" and not (self.css or self.xpath or self.schema_):
            raise ValueError("needs schema, css or xpath (or source = 'url')")
        for path in self.schema_:
            if not re.fullmatch(r"(Product|Offer|og)(\.[A-Za-z:@_]+)*|og:[a-z_:]+", path):
                raise ValueError(f"schema path {path!r}: use Product.<prop>[.<prop>], Offer.<prop> or og:<prop>")
        return self


class Extraction(_Strict):
    schema_org: list[Literal["json-ld", "microdata", "opengraph"]] = Field(default_factory=list)
    required: list[str] = Field(default_factory=lambda: ["title", "text", "price"])
    fields: dict[str, FieldRule]
    add_to_cart: str | None = Field(default=None, description="CSS of an add-to-cart control (offer signal)")
    inquiry: str | None = Field(default=None, description="CSS of an inquiry control (offer signal)")

    @model_validator(mode="after")
    def _known_fields(self) -> Extraction:
        for name in list(self.fields) + self.required:
            if name not in LISTING_FIELDS:
                raise ValueError(f"unknown listing field {name!r}; known: {', '.join(LISTING_FIELDS)}")
        if "listing_key" not in self.fields:
            raise ValueError("fields.listing_key is missing")
        return self


class Notice(_Strict):
    """A removal notice in the page: the element's value is its reason (`account_closed` and
    `store_closed` are kept; anything else means `reason`)."""

    css: str
    reason: Literal["not_found", "gone", "soft_removed", "redirected"]


def _bare_statuses() -> dict[str, Literal["not_found", "gone"]]:
    return {"404": "not_found", "410": "gone"}


class Removal(_Strict):
    status: dict[str, Literal["not_found", "gone"]] = Field(default_factory=_bare_statuses)
    marker: str | None = Field(
        default="div.removed::attr(data-reason)", description="CSS of the removal notice's reason"
    )
    reason: Literal["not_found", "gone", "soft_removed", "redirected"] = "not_found"
    notices: list[Notice] = Field(default_factory=list, description="more notices, each with its own reason")
    texts: list[str] = Field(default_factory=list, description='"no longer available" texts (without a title)')
    redirect_reason: Literal["redirected"] | None = "redirected"
    account_closed: str = "div.account-closed"
    store_closed: str = "div.store-closed"
    closure_status: int = 503
    closure_header: str = "x-platform-status: closed"

    @field_validator("status")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if not code.isdigit() or not 400 <= int(code) < 500:
                raise ValueError(f"status {code!r}: removal statuses are 4xx codes")
        return value


class Politeness(_Strict):
    concurrency: int = Field(default=16, ge=1, le=64)
    delay: float = Field(default=0.0, ge=0.0, le=60.0)


class Robots(_Strict):
    obey: bool = True


class PlatformFile(_Strict):
    name: str
    page_object: str | None = Field(default=None, description="Python module for what a file cannot say (README)")
    site: Site
    urls: Urls
    discovery: Discovery
    extraction: Extraction
    removal: Removal = Removal()
    politeness: Politeness = Politeness()
    robots: Robots = Robots()
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", value):
            raise ValueError("lower-case letters, digits and _ (2-32 characters)")
        return value

    @field_validator("page_object")
    @classmethod
    def _module(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("precursor_watch.crawlers.pages."):
            raise ValueError("must be a module under precursor_watch.crawlers.pages")
        return value


def load(path: Path) -> PlatformFile:
    """The validated platform file at `path`; `PlatformFileError` names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlatformFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlatformFileError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlatformFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        pf = PlatformFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlatformFileError(f"{path}: key {key}: {first['msg']}{more}") from None
    if pf.name != path.stem:
        raise PlatformFileError(f"{path}: key name: {pf.name!r} differs from the file name {path.stem!r}")
    return pf.model_copy(update={"path": path})


def files_dir(directory: Path | str | None = None) -> Path:
    return Path(directory) if directory else PACKAGED_DIR


def platform_names(directory: Path | str | None = None) -> list[str]:
    return sorted(p.stem for p in files_dir(directory).glob("*.toml"))


def load_platform(name: str, directory: Path | str | None = None) -> PlatformFile:
    path = files_dir(directory) / f"{name}.toml"
    if not path.is_file():
        raise PlatformFileError(f"{path}: no platform file for {name!r}")
    return load(path)
