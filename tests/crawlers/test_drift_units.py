"""Layout drift, piece by piece: the page object, the health numbers, the crawl's verdict.

A whole page whose required fields came out empty is `Drifted` (named fields), a cut page stays
`Incomplete`, a removal page stays `Removed`; health counts drift per field; `pwatch crawl`'s
verdict names the platform file and the fields. The stored run: tests/storage/test_crawl_drift.py;
the crawl-level test against the fixture world's `drift=` fault: test_drift.py.
"""

from __future__ import annotations

from pathlib import Path

from precursor_watch.crawlers.health import compute_health
from precursor_watch.crawlers.pages import adapter_for
from precursor_watch.crawlers.pages.base import Incomplete, Listing, Page, Removed
from precursor_watch.crawlers.pages.declared import Drifted
from precursor_watch.crawlers.platform_file import PACKAGED_DIR

BODY = (
    b'<!DOCTYPE html><html lang="en"><body><h1 class="title">Acetone 99%</h1>'
    b'<div class="description">Bulk offer</div><span class="price" data-currency="USD">12.00</span>'
    b'<a class="seller" href="/supplier/acme-1.html">Acme</a></body></html>'
)
URL = "http://127.0.0.11:8470/product/CD7.html"


def _files(tmp_path: Path, old: str, new: str) -> Path:
    text = (PACKAGED_DIR / "chemdir.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "chemdir.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_a_whole_page_without_required_fields_is_drift_naming_them(tmp_path):
    page = Page(URL, 200, {"content-type": "text/html; charset=utf-8"}, BODY, URL)
    assert isinstance(adapter_for("chemdir").ListingPage(page).result(), Listing)
    # The site renamed its title and price classes: the file's rules find nothing there.
    drifted = BODY.replace(b'class="title"', b'class="headline"').replace(b'class="price"', b'class="cost"')
    result = adapter_for("chemdir").ListingPage(Page(URL, 200, page.headers, drifted, URL)).result()
    assert result == Drifted(("title", "price"), "CD7")
    # The same markup cut short is a transient fault, retried, never drift.
    cut = Page(URL, 200, page.headers, drifted[:120], URL)
    assert isinstance(adapter_for("chemdir").ListingPage(cut).result(), Incomplete)
    # A removal page is still a removal, whatever the layout.
    gone = b'<html><body><div class="removed" data-reason="removed">Gone</div></body></html>'
    assert adapter_for("chemdir").ListingPage(Page(URL, 404, page.headers, gone, URL)).result() == Removed(
        "not_found", "CD7"
    )


def test_a_corrected_platform_file_reads_the_new_layout(tmp_path):
    drifted = BODY.replace(b'class="title"', b'class="headline"')
    files = _files(
        tmp_path, '[extraction.fields.title]\ncss = "h1.title"', '[extraction.fields.title]\ncss = "h1.headline"'
    )
    result = adapter_for("chemdir", files).ListingPage(Page(URL, 200, {}, drifted, URL)).result()
    assert isinstance(result, Listing) and result.title == "Acetone 99%"


def test_health_counts_drift_per_field_and_the_verdict_names_file_and_fields():
    from precursor_watch.commands.crawl import drift_reason

    stats = {
        "pwatch/pages_attempted": 50,
        "pwatch/items/listing": 10,
        "pwatch/quarantine/layout_drift": 30,
        "pwatch/drift_pages": 30,
        "pwatch/drift/title": 30,
        "pwatch/drift/price": 12,
    }
    health = compute_health(stats, [], "finished")
    assert health["drift"] == {"price": 12, "title": 30}
    assert health["drift_pages"] == 30 and health["drift_share"] == 0.75
    reason = drift_reason(health, 0.2, "crawlers/platforms/chemdir.toml")
    assert reason is not None
    assert "crawlers/platforms/chemdir.toml" in reason and "title (30 pages)" in reason and "price (12 pages)" in reason
    healthy = compute_health({"pwatch/pages_attempted": 50, "pwatch/items/listing": 40}, [], "finished")
    assert healthy["drift_share"] == 0.0 and drift_reason(healthy, 0.2, "x.toml") is None
