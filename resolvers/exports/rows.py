"""What each export holds: one ordered statement per part, its rows fetched a chunk at a time from
a server-side cursor, so a 50,000-row file never sits in memory whole. The price: a download
holds one database connection while it lasts (for as long as a slow client takes to read it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlmodel import col

from sessiongraph.models import Course, Enrollment, Session, SessionCourseCoach, User
from sessiongraph.models.reports import AttendanceFigures
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.exports.files import Cell
from sessiongraph.resolvers.imports.enrollments import COACH_ROLE
from sessiongraph.resolvers.imports.enrollments import COLUMNS as ENROLLMENT_COLUMNS
from sessiongraph.resolvers.loaders.reports import tracking_rows_query

CHUNK = 1_000
TRACKING_COLUMNS = ("learner", "email", "booked", "attended", "late", "absent", "excused", "attendance_rate",
                    "last_attended_at")

Rows = AsyncIterator[Sequence[Sequence[Cell]]]


async def _streamed(ctx: Context, query: Select) -> AsyncIterator[list[Any]]:
    """The query's rows, CHUNK at a time from a server-side cursor (PostgreSQL's needs a
    transaction; nothing is written in it). Plain rows through the session's connection: the
    ORM's loading of each row cost as much as writing it out."""
    async with ctx.database.write() as db:
        connection = await db.connection()
        result = await connection.stream(query.execution_options(yield_per=CHUNK))
        async for rows in result.partitions():
            yield list(rows)


async def tracking_rows(ctx: Context, session: Session) -> Rows:
    """Per enrolled learner by name, the figures of `Session.tracking`."""
    assert session.id is not None  # a stored row
    yield [TRACKING_COLUMNS]
    async for rows in _streamed(ctx, tracking_rows_query(session.id)):
        yield [_tracking_row(*row) for row in rows]


def _tracking_row(name: str, email: str, booked: int | None, present: int | None, late: int | None,
                  absent: int | None, excused: int | None, last: datetime | None) -> list[Cell]:
    """A learner without a live session to count has no figures row: zeros, as the tracking field."""
    figures = AttendanceFigures(booked or 0, present or 0, late or 0, absent or 0, excused or 0)
    rate = figures.attendance_rate
    return [name, email, figures.booked, figures.attended, figures.late, figures.absent, figures.excused,
            round(rate, 4) if rate is not None else None, last.isoformat() if last else None]


async def enrollment_rows(ctx: Context, session: Session) -> Rows:
    """The enrollments import's own format: the learners by email, then the course coaches."""
    yield [ENROLLMENT_COLUMNS]
    learners = (select(col(User.email)).join(Enrollment, col(Enrollment.user_id) == col(User.id))
                .where(col(Enrollment.session_id) == session.id).order_by(col(User.email)))
    async for rows in _streamed(ctx, learners):
        yield [[session.name, email, "learner"] for (email,) in rows]
    coaches = (select(col(User.email), col(Course.code))
               .join(SessionCourseCoach, col(SessionCourseCoach.user_id) == col(User.id))
               .join(Course, col(Course.id) == col(SessionCourseCoach.course_id))
               .where(col(SessionCourseCoach.session_id) == session.id).order_by(col(User.email), col(Course.code)))
    async for rows in _streamed(ctx, coaches):
        yield [[session.name, email, f"{COACH_ROLE}{code}"] for email, code in rows]


ROWS: dict[str, Callable[[Context, Session], Rows]] = {"tracking": tracking_rows, "enrollments": enrollment_rows}
