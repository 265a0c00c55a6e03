"""The staging table takes rows that stop early at one of its row lengths, NULL after the end, in
one batch with rows of other lengths; a row of any other length is refused before anything is
written. On SQLite and PostgreSQL (whose stage is filled by COPY)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from precursor_watch.storage.staging import COLUMNS, ROW_LENGTHS, STAGE, clear_stage, fill_stage, open_stage


def _row(seq: int, length: int) -> tuple:
    values = {
        "seq": seq,
        "listing_key": f"K{seq}",
        "url": f"http://chemdir.test/l/{seq}",
        "content_sha256": "0" * 64,
        "fresh": 1,
        "snap": 0,
        "obs": 1,
        "etag": f'"e{seq}"',
        "last_modified": "Sun, 01 Nov 2026 00:00:00 GMT",
        "title": f"title {seq}",
    }
    return tuple(values.get(name) for name in COLUMNS[:length])


def test_rows_of_each_length_are_staged_with_nulls_after_their_end(any_session):
    open_stage(any_session)
    rows = [_row(seq, ROW_LENGTHS[seq % 3]) for seq in range(9)]
    fill_stage(any_session, rows)
    got = any_session.execute(select(STAGE).order_by(STAGE.c.seq)).all()
    assert len(got) == 9
    for row, stored in zip(rows, got, strict=True):
        stored = tuple(stored)
        assert stored[: len(row)] == row
        assert set(stored[len(row) :]) <= {None}, f"row {row[0]}: values after its end"
    assert [r.etag for r in got[:3]] == [None, '"e1"', '"e2"']
    assert [r.title for r in got[:3]] == [None, None, "title 2"]
    clear_stage(any_session)


def test_a_row_of_another_length_is_refused_and_nothing_is_staged(any_session):
    open_stage(any_session)
    with pytest.raises(ValueError, match="a staged row has one of"):
        fill_stage(any_session, [_row(0, ROW_LENGTHS[0]), _row(1, ROW_LENGTHS[0] + 1)])
    assert any_session.execute(select(STAGE)).all() == []
