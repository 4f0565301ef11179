"""The admin's session list, compiled: SessionList (admin).

It reads what the schema's `sessions` field reads, through the same functions
(`schema.sessions.sessions_page`, then the category and count loaders, batched as the
list's read-ahead batches them), and builds each row as a dictionary instead of
resolving its twenty-odd fields one by one: a page of 50 is over a thousand fields.

Declined, and so executed field by field: a viewer who is not an admin (the schema
refuses them, and a session's status is the admin's only for admins), variables the
schema would not coerce as read here, and anything the resolvers refuse (a bad cursor,
a negative `first`): the schema then answers with its error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sessiongraph import models
from sessiongraph.models.windows import DateWindow
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import BadInput, NotAllowed, NotAuthenticated, NotFound
from sessiongraph.resolvers.loaders.sessions import CategoryById, CourseCountBySession, LearnerCountBySession
from sessiongraph.schema.compiled import DECLINED, CompiledOperation
from sessiongraph.schema.relay import to_global_id
from sessiongraph.schema.scalars import InvalidScalar, parse_datetime, serialize_datetime
from sessiongraph.schema.sessions import SessionFilter, sessions_page

# The largest and smallest GraphQL Int.
INT_RANGE = range(-(2**31), 2**31)
FILTER_FIELDS = {"search", "categoryId", "status", "from", "to"}


def _optional(value: Any, kind: type) -> bool:
    return value is None or type(value) is kind


def _filter(given: Any) -> SessionFilter | None:
    """The SessionFilter input as the schema coerces it; raises ValueError where it would refuse
    or where this reading is not sure to agree with it."""
    if given is None:
        return None
    if not isinstance(given, dict) or not given.keys() <= FILTER_FIELDS:
        raise ValueError("not a filter read here")
    search, category_id, status = given.get("search"), given.get("categoryId"), given.get("status")
    if not (_optional(search, str) and _optional(category_id, str) and _optional(status, str)):
        raise ValueError("not a filter read here")
    if status is not None and status not in models.SessionStatus.__members__:
        raise ValueError("not a status")
    try:
        starts_from = parse_datetime(given["from"]) if given.get("from") is not None else None
        to = parse_datetime(given["to"]) if given.get("to") is not None else None
    except InvalidScalar as error:
        raise ValueError("not a date and time") from error
    return SessionFilter(search=search, category_id=category_id,
                         status=models.SessionStatus[status] if status is not None else None,
                         from_=starts_from, to=to)


def _variables(variables: Mapping[str, Any]) -> tuple[SessionFilter | None, int | None, str | None] | None:
    if not variables.keys() <= {"filter", "first", "after"}:
        return None
    first = variables.get("first", 25)  # the document's default
    after = variables.get("after")
    if not (first is None or (type(first) is int and first in INT_RANGE)) or not _optional(after, str):
        return None
    try:
        return _filter(variables.get("filter")), first, after
    except ValueError:
        return None


def _window(window: DateWindow) -> dict[str, Any]:
    return {"start": serialize_datetime(window.start) if window.start is not None else None,
            "end": serialize_datetime(window.end) if window.end is not None else None}


def _session_row(session: models.Session, category: models.SessionCategory | None, course_count: int,
                 learner_count: int, now: datetime) -> dict[str, Any]:
    """clients/admin/fragments/session_row.graphql (with windows.graphql), as an admin sees it."""
    return {
        "id": to_global_id("Session", session.id),
        "name": session.name,
        "status": session.status(now).name,
        "visibility": models.SessionVisibility(session.visibility).name,
        "category": {"id": to_global_id("SessionCategory", category.id), "name": category.name}
        if category is not None else None,
        "displayWindow": _window(session.display_window),
        "accessWindow": _window(session.access_window),
        "coachAccessWindow": _window(session.coach_access_window),
        "durationDays": session.duration_days,
        "courseCount": course_count,
        "learnerCount": learner_count,
    }


async def session_list(ctx: Context, variables: Mapping[str, Any]) -> Any:
    """clients/admin/session_list.graphql."""
    coerced = _variables(variables)
    if coerced is None or not ctx.actor.is_admin:
        return DECLINED
    try:
        page = await sessions_page(ctx, *coerced)
    except (BadInput, NotAllowed, NotAuthenticated, NotFound):
        return DECLINED
    if page is None:
        return DECLINED  # a category ID that names none: the schema's empty list
    sessions = page.items
    total, categories, course_counts, learner_counts = await asyncio.gather(
        page.total_count(),
        CategoryById(ctx).load_many([s.category_id for s in sessions if s.category_id is not None]),
        CourseCountBySession(ctx).load_many([s.id for s in sessions]),
        LearnerCountBySession(ctx).load_many([s.id for s in sessions]))
    category_of = {c.id: c for c in categories if c is not None}
    now = ctx.now
    edges = [{"cursor": cursor,
              "node": _session_row(s, category_of.get(s.category_id), courses, learners, now)}
             for s, cursor, courses, learners in zip(sessions, page.cursors, course_counts, learner_counts,
                                                      strict=True)]
    return {"sessions": {
        "totalCount": total,
        "edges": edges,
        "pageInfo": {"hasNextPage": page.has_next_page, "endCursor": page.cursors[-1] if page.cursors else None},
    }}


COMPILED = (
    CompiledOperation("admin", "SessionList", "103f0c070696be09d4240cdb764ae4d70dd051fa8bb5dc88f2a6d1a22cb4ab62",
                      session_list),
)
