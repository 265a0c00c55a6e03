"""Reusable column types and the one rule for turning logical dates into timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import mapped_column

UTC = dt.UTC


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on the way in and out, on SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite stores text; keep it naive-UTC there so string order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def logical_ts(day: dt.date) -> dt.datetime:
    """Timestamp of data that happened on logical (world) date `day`: its 00:00 UTC.

    Data never carries wall-clock time, so rerunning a date reproduces the database exactly.
    """
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


# Portable auto-increment primary key: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigID = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(BigID, primary_key=True, autoincrement=True)]
str40 = Annotated[str, mapped_column(String(40))]
str200 = Annotated[str, mapped_column(String(200))]
sha256 = Annotated[str, mapped_column(String(64))]
text = Annotated[str, mapped_column(Text)]
json = Annotated[Any, mapped_column(JSON)]
utcts = Annotated[dt.datetime, mapped_column(UTCDateTime())]
