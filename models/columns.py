"""Column types shared by every area."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, Index
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every engine.

    PostgreSQL keeps `timestamptz`; SQLite has no zone, so the value is stored as
    naive UTC and made aware again on the way out. A naive value never gets in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def result_processor(self, dialect, coltype):
        # asyncpg reads a timestamptz as an aware datetime in UTC already: no call for each value
        # (some 25 for a month calendar's statement, cProfile). tests/test_platform.py holds every
        # such column a timestamptz.
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def trigram_index(table: str, column: str) -> Index:
    """For `column ILIKE '%…%'`, a search for any part of the text: on PostgreSQL a GIN index of
    the column's trigrams (pg_trgm, which migration 0004 creates), where a B-tree cannot serve
    a pattern with a leading wildcard; on SQLite, whose LIKE never uses an index, a plain one."""
    return Index(f"ix_{table}_{column}_trigrams", column, postgresql_using="gin",
                 postgresql_ops={column: "gin_trgm_ops"})
