"""Small synthetic items for storage unit tests (all contacts obviously fake)."""

from __future__ import annotations

import datetime as dt
import hashlib

from precursor_watch.contract import Evidence, GoneItem, ListingItem


def evidence(tag: str) -> Evidence:
    return Evidence("warc/test.warc.gz", f"<urn:uuid:{tag}>", hashlib.sha256(tag.encode()).hexdigest())


def listing(platform: str, key: str, day: dt.date, *, text: str | None = None, seller: str | None = "acct-1",
            store: str | None = None, contacts: list[str] | None = None, title: str | None = None) -> ListingItem:
    return ListingItem(
        platform=platform,
        listing_key=key,
        url=f"http://{platform}.test/item/{key}",
        title=title or f"Offer {key}",
        text=text if text is not None else f"Listing {key}: 4-ANPP 99% purity, 1 kg foil bag, contact below.",
        price="120.00",
        currency="USD",
        seller_key=seller,
        seller_name=f"Seller {seller}" if seller else None,
        store_key=store,
        contacts=contacts if contacts is not None else [f"telegram:@fake_seller_{key.lower()}"],
        lang="en",
        crawl_date=day,
        evidence=evidence(f"{platform}/{key}/{day}/{text}"),
    )


def gone(platform: str, key: str, day: dt.date, reason: str = "not_found", status: int = 404) -> GoneItem:
    return GoneItem(
        platform=platform,
        url=f"http://{platform}.test/item/{key}",
        listing_key=key,
        http_status=status,
        reason=reason,
        crawl_date=day,
        evidence=evidence(f"gone/{platform}/{key}/{day}"),
    )
