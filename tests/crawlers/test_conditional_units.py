"""Conditional revisit headers and the revisit file's ETag field; hostile validators are dropped."""

from __future__ import annotations

import datetime as dt

import pytest

from precursor_watch.crawlers.args import SpiderArgumentError, read_revisit_entries
from precursor_watch.crawlers.discovery.conditional import conditional_headers, is_entity_tag


def test_headers_carry_the_etag_beside_the_date():
    headers = conditional_headers(dt.date(2026, 11, 3), '"abc123"')
    assert headers == {"If-Modified-Since": "Tue, 03 Nov 2026 23:59:59 GMT", "If-None-Match": '"abc123"'}
    assert conditional_headers(dt.date(2026, 11, 3), None) == {"If-Modified-Since": "Tue, 03 Nov 2026 23:59:59 GMT"}
    assert conditional_headers(None, '"abc123"') == {}  # a removed listing is asked unconditionally
    assert "If-None-Match" not in conditional_headers(dt.date(2026, 11, 3), 'bare"\r\nX-Evil: 1')


@pytest.mark.parametrize("value", ['"x"', 'W/"x"', '""', '"a-b_c.9"'])
def test_entity_tags(value):
    assert is_entity_tag(value)


@pytest.mark.parametrize("value", ["x", '"x', '"a"b"', '"tab\tin"', '"nl\n"', 'w/"x"', '"é"'])
def test_not_entity_tags(value):
    assert not is_entity_tag(value)


def test_revisit_file_with_etags(tmp_path):
    path = tmp_path / "revisit.txt"
    path.write_text(
        'http://a.test/item/1\t2026-11-02\t"e1"\nhttp://a.test/item/2\t2026-11-02\nhttp://a.test/item/3\n',
        encoding="utf-8",
    )
    entries = read_revisit_entries(path)
    assert [(e.url, e.last_seen, e.etag) for e in entries] == [
        ("http://a.test/item/1", dt.date(2026, 11, 2), '"e1"'),
        ("http://a.test/item/2", dt.date(2026, 11, 2), None),
        ("http://a.test/item/3", None, None),
    ]
    path.write_text('http://a.test/item/1\t2026-11-02\t"e1"\nhttp://a.test/item/2\t2026-11-02\tnot-an-etag\n')
    with pytest.raises(SpiderArgumentError, match=r"revisit.txt:2: not an ETag after the date: 'not-an-etag'"):
        read_revisit_entries(path)
