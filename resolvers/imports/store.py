"""Batched reads and writes: whatever the number of rows, a statement or two, never one per row.

The rows a statement reads or writes reach the database as one table-valued parameter (`Given`):
on PostgreSQL one array per column, unnested; on SQLite one JSON array of rows, through json_each.
Either way the statement is the same SQLAlchemy Core expression, it is compiled with a handful of
bind parameters however many rows there are, and the rows cross in one round trip (a VALUES list
of 5,000 rows compiled 10,000 bind parameters, in Python, for every chunk).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Integer,
    SQLColumnExpression,
    String,
    Table,
    bindparam,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.type_api import TypeEngine
from sqlmodel import col

from sessiongraph.models import Enrollment, SessionCourse, User
from sessiongraph.models.events import EventType
from sessiongraph.resolvers.audit import audit_inserted
from sessiongraph.resolvers.events import enrollment_data
from sessiongraph.resolvers.outbox import NewEvent, record_events

T = TypeVar("T")

# Bound parameters per statement stay far below SQLite's 32,766 and asyncpg's 32,767.
CHUNK = 5_000


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Given:
    """Rows given to one statement as a table named `name` with these typed columns.

    `table` goes into the statement like any table; `parameters(rows)` are what to execute it with.
    The values are bound by their column types (a datetime is stored as its column stores it).
    """

    def __init__(self, db: AsyncSession, name: str, columns: Mapping[str, TypeEngine[Any]]) -> None:
        self._dialect = db.get_bind().dialect
        self._name = name
        self._types = dict(columns)
        typed = [column(key, type_) for key, type_ in self._types.items()]
        if self._dialect.name == "postgresql":
            arrays = [bindparam(f"{name}_{key}", type_=ARRAY(type_)) for key, type_ in self._types.items()]
            self.table: FromClause = func.unnest(*arrays).table_valued(*typed).render_derived(name=name)
        else:
            rows = func.json_each(bindparam(name, type_=String)).table_valued("value")
            self.table = select(*(func.json_extract(rows.c.value, f"$[{i}]", type_=c.type).label(c.name)
                                  for i, c in enumerate(typed))).subquery(name)

    def parameters(self, rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
        """The rows, each a sequence of values in the columns' order."""
        if self._dialect.name == "postgresql":
            by_column = list(zip(*rows, strict=True)) or [() for _ in self._types]
            return {f"{self._name}_{key}": list(values) for key, values in zip(self._types, by_column, strict=True)}
        processors = [type_.dialect_impl(self._dialect).bind_processor(self._dialect) for type_ in self._types.values()]
        return {self._name: json.dumps([[value if process is None else process(value)
                                          for process, value in zip(processors, row, strict=True)] for row in rows])}


async def lookup(db: AsyncSession, key: SQLColumnExpression[Any], value: SQLColumnExpression[Any],
                 wanted: Iterable[Any]) -> dict:
    """{key: value} for the rows whose `key` is among `wanted`."""
    # An expression SQLAlchemy cannot type (lower(code)) names text.
    key_type = cast(ColumnElement[Any], key).type
    given = Given(db, "wanted", {"key": String() if isinstance(key_type, NullType) else key_type})
    query = select(key, value).where(key.in_(select(given.table.c.key)))
    keys = {w for w in wanted if w is not None}
    if not keys:
        return {}
    return dict((await db.execute(query, given.parameters((k,) for k in keys))).all())


async def user_ids_by_email(db: AsyncSession, emails: Iterable[str]) -> dict[str, int]:
    return await lookup(db, col(User.email), col(User.id), emails)


async def session_course_pairs(db: AsyncSession, session_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(session ID, course ID) for every course of those sessions."""
    given = Given(db, "wanted", {"id": Integer()})
    query = (select(col(SessionCourse.session_id), col(SessionCourse.course_id))
             .where(col(SessionCourse.session_id).in_(select(given.table.c.id))))
    wanted = set(session_ids)
    if not wanted:  # as before: no statement for nothing
        return set()
    return set((await db.execute(query, given.parameters((i,) for i in wanted))).all())


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
    """Inserts the rows that are not there yet (by a primary key or any unique column), in one
    statement; the `returning` columns of those inserted. The rows all have the same keys."""
    rows = list(rows)
    if not rows:
        return []
    names = list(rows[0])
    given = Given(db, "given", {name: table.c[name].type for name in names})
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    # SQLite reads "SELECT … FROM t ON CONFLICT" as a join's ON without the WHERE (its documented ambiguity).
    source = select(*(given.table.c[name] for name in names)).where(true())
    statement = insert(table).from_select(names, source).on_conflict_do_nothing().returning(*returning)
    values = ([row[name] for name in names] for row in rows) if len(names) == 1 else map(itemgetter(*names), rows)
    inserted = [tuple(row) for row in await db.execute(statement, given.parameters(values))]
    # The audit log lists the rows given, as for an executemany INSERT, which the parameters no longer show.
    audit_inserted(db, table, rows)
    return inserted


async def enroll_new(db: AsyncSession, rows: Iterable[dict[str, Any]], now: datetime) -> Counter:
    """Inserts the enrollments not there yet, each with its `enrollment.created` event (so call it as the
    transaction's last write); counts them per session."""
    table: Table = Enrollment.__table__  # type: ignore[attr-defined]
    made = await inserted_rows(db, table, rows, table.c.session_id, table.c.user_id, table.c.class_id)
    await record_events(db, [NewEvent(EventType.ENROLLMENT_CREATED, enrollment_data(*row)) for row in made], now=now)
    return Counter(row[0] for row in made)
