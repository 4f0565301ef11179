"""Batched reads and writes: one query per chunk of distinct names, never one per row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import SQLColumnExpression, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.models import Enrollment, SessionCourse, User
from sessiongraph.models.events import EventType
from sessiongraph.resolvers.events import enrollment_data
from sessiongraph.resolvers.outbox import NewEvent, record_events

T = TypeVar("T")

# Bound parameters per statement stay far below SQLite's 32,766 and asyncpg's 32,767.
CHUNK = 5_000


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def lookup(db: AsyncSession, key: SQLColumnExpression[Any], value: SQLColumnExpression[Any],
                 wanted: Iterable[Any]) -> dict:
    """{key: value} for the rows whose `key` is among `wanted`."""
    found: dict = {}
    for chunk in chunked({w for w in wanted if w is not None}):
        found.update((await db.execute(select(key, value).where(key.in_(chunk)))).all())
    return found


async def user_ids_by_email(db: AsyncSession, emails: Iterable[str]) -> dict[str, int]:
    return await lookup(db, col(User.email), col(User.id), emails)


async def session_course_pairs(db: AsyncSession, session_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(session ID, course ID) for every course of those sessions."""
    pairs: set[tuple[int, int]] = set()
    for chunk in chunked(set(session_ids)):
        query = (select(col(SessionCourse.session_id), col(SessionCourse.course_id))
                 .where(col(SessionCourse.session_id).in_(chunk)))
        pairs.update((await db.execute(query)).all())
    return pairs


async def insert_new(db: AsyncSession, table: Table, rows: Iterable[dict[str, Any]],
                     counted_by: str) -> Counter:
    """Inserts the rows that are not there yet (by primary key) and counts those inserted
    per value of the column `counted_by`.

    ON CONFLICT DO NOTHING rather than a check first: a row another request added
    meanwhile is "already there", not a failure.
    """
    return Counter(row[0] for row in await inserted_rows(db, table, rows, table.c[counted_by]))


async def inserted_rows(db: AsyncSession, table: Table, rows: Iterable[dict[str, Any]],
                        *returning: SQLColumnExpression[Any]) -> list[tuple[Any, ...]]:
    """Inserts the rows that are not there yet (by primary key); the `returning` columns of those inserted."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # A chunk a statement: SQLAlchemy's default page of 1,000 rows made five round trips of it.
    statement = (insert(table).on_conflict_do_nothing().returning(*returning)
                 .execution_options(insertmanyvalues_page_size=CHUNK))
    inserted: list[tuple[Any, ...]] = []
    for chunk in chunked(rows):
        inserted.extend(tuple(row) for row in await db.execute(statement, chunk))
    return inserted


async def enroll_new(db: AsyncSession, rows: Iterable[dict[str, Any]], now: datetime) -> Counter:
    """Inserts the enrollments not there yet, each with its `enrollment.created` event (so call it as the
    transaction's last write); counts them per session."""
    table: Table = Enrollment.__table__  # type: ignore[attr-defined]
    made = await inserted_rows(db, table, rows, table.c.session_id, table.c.user_id, table.c.class_id)
    await record_events(db, [NewEvent(EventType.ENROLLMENT_CREATED, enrollment_data(*row)) for row in made], now=now)
    return Counter(row[0] for row in made)
