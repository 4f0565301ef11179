"""Cursor pagination by keyset: a page costs one statement however deep it is.

The cursor is the sort key of the last row seen, so rows inserted or deleted
elsewhere in the list do not shift the page the way offsets would. `totalCount` is
one more statement, run only when the client selects it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Select, SQLColumnExpression, func, literal, select, tuple_

from sessiongraph.infrastructure.storable import MAX_INTEGER, storable_text
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import BadInput

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    total_count: Callable[[], Awaitable[int]]

    def map(self, convert: Callable[[T], Any]) -> Page[Any]:
        return Page([convert(item) for item in self.items], self.cursors, self.has_next_page,
                    self.has_previous_page, self.total_count)


def page_size(ctx: Context, first: int | None) -> int:
    if first is None:
        return ctx.settings.default_page_size
    if first < 0:
        raise BadInput("`first` must not be negative")
    return min(first, ctx.settings.max_page_size)


def encode_cursor(values: Sequence[Any]) -> str:
    tagged = []
    for value in values:
        if isinstance(value, datetime):
            tagged.append(["dt", value.isoformat()])
        elif isinstance(value, date):
            tagged.append(["d", value.isoformat()])
        else:
            tagged.append(["v", value])
    return base64.urlsafe_b64encode(json.dumps(tagged, separators=(",", ":")).encode()).decode()


def _storable(value: Any) -> bool:
    """What encode_cursor writes for a sort key other than a date: text or an integer, as the
    columns hold them (a forged cursor must not reach SQL with a list or a 20-digit number)."""
    if isinstance(value, str):
        return storable_text(value)
    return type(value) is int and -MAX_INTEGER - 1 <= value <= MAX_INTEGER


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        tagged = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        values: list[Any] = []
        for tag, value in tagged:
            if tag == "dt":
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError("encode_cursor writes aware datetimes only")
                values.append(moment.astimezone(UTC))
            elif tag == "d":
                values.append(date.fromisoformat(value))
            elif _storable(value):
                values.append(value)
            else:
                raise ValueError("a cursor value SQL cannot take")
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as error:
        raise BadInput("`after` is not a cursor this list handed out") from error
    if len(values) != width:
        raise BadInput("`after` is not a cursor this list handed out")
    return values


def past_cursor(order_by: Sequence[SQLColumnExpression[Any]], values: Sequence[Any],
                descending: bool = False) -> ColumnElement[bool]:
    """The rows after the one whose `order_by` values a cursor holds, in that order (or bound
    parameters that will hold them)."""
    row_key = tuple_(*order_by)
    seen = tuple_(*(v if isinstance(v, BindParameter)
                    else literal(v, type_=column.type)  # type: ignore[attr-defined]  # ORM attributes proxy .type
                    for v, column in zip(values, order_by, strict=True)))
    return row_key < seen if descending else row_key > seen


@dataclass(frozen=True, slots=True)
class Related:
    """Related rows read in a list's statement: `join` adds them to the query (after the list's
    own columns), `take` puts them in the request's loaders and gives back the list's rows."""

    join: Callable[[Select], Select]
    take: Callable[[Context, list[Any]], list[Any]]


async def paginate(
    ctx: Context,
    query: Select,
    order_by: Sequence[SQLColumnExpression[Any]],
    sort_key: Callable[[Any], Sequence[Any]],
    first: int | None,
    after: str | None,
    descending: bool = False,
    related: Related | None = None,
) -> Page[Any]:
    """One page of `query`, ordered by `order_by` (which must end in a unique column).

    `sort_key(row)` gives the values of `order_by` for a row; they become its cursor.
    `related` reads the rows' related rows in the page's statement (not in its count).
    """
    limit = page_size(ctx, first)
    page_query = query
    if after is not None:
        page_query = page_query.where(past_cursor(order_by, decode_cursor(after, len(order_by)), descending))
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    page_query = page_query.order_by(*ordering).limit(limit + 1)
    if related is not None:
        page_query = related.join(page_query)

    async with ctx.read() as db:
        result = await db.execute(page_query)
        rows = list(result.scalars().all()) if _single_entity(page_query) else list(result.all())

    has_next = len(rows) > limit
    rows = rows[:limit]
    if related is not None:
        rows = related.take(ctx, rows)

    async def total_count() -> int:
        count_query = select(func.count()).select_from(query.order_by(None).subquery())
        async with ctx.read() as db:
            return (await db.execute(count_query)).scalar_one()

    return Page(
        items=rows,
        cursors=[encode_cursor(sort_key(row)) for row in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
        total_count=total_count,
    )


def _single_entity(query: Select) -> bool:
    return len(query.column_descriptions) == 1


def first_page(rows: list[T], limit: int, sort_key: Callable[[T], Sequence[Any]],
               total_count: Callable[[], Awaitable[int]]) -> Page[T]:
    """The first page of a connection from rows fetched elsewhere (a loader's batch for every
    parent of a list): `rows` holds the first `limit + 1` in order, the extra one telling
    whether there is a next page. Its cursors continue with `paginate` like any other."""
    return page_of(rows, limit, sort_key, total_count, has_previous_page=False)


def page_of(rows: list[T], limit: int, sort_key: Callable[[T], Sequence[Any]],
            total_count: Callable[[], Awaitable[int]], *, has_previous_page: bool) -> Page[T]:
    """A page of a connection from rows fetched elsewhere: the first `limit + 1` after the
    cursor given, if any (`has_previous_page`), the extra one telling whether there is a next page."""
    items = rows[:limit]
    return Page(items=items, cursors=[encode_cursor(sort_key(row)) for row in items],
                has_next_page=len(rows) > limit, has_previous_page=has_previous_page, total_count=total_count)
