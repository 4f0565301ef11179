"""Courses: creating them, and the list learners search for booking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from sessiongraph.models import Course
from sessiongraph.models.courses import offsets_text
from sessiongraph.resolvers.accounts import like_pattern
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, Problems, UserErrors
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import require_admin, require_signed_in
from sessiongraph.resolvers.validation import (
    CANCELLATION_NOTICE_MINUTES,
    CREDIT_COST,
    JOIN_LEAD_MINUTES,
    reminder_offsets,
    required_text,
)


@audited("createCourse", subject=Course)
async def create_course(ctx: Context, *, code: str, title: str, bookable: bool | None = None,
                        credit_cost: int | None = None, absence_requests_enabled: bool | None = None,
                        join_lead_minutes: int | None = None,
                        cancellation_notice_minutes: int | None = None,
                        reminder_offsets_minutes: list[int] | None = None) -> Course:
    require_admin(ctx)
    problems = Problems()
    code = required_text(code, problems, 64, "code")
    title = required_text(title, problems, 300, "title")
    CREDIT_COST.check(credit_cost, problems, "creditCost")
    JOIN_LEAD_MINUTES.check(join_lead_minutes, problems, "joinLeadMinutes")
    CANCELLATION_NOTICE_MINUTES.check(cancellation_notice_minutes, problems, "cancellationNoticeMinutes")
    reminder_offsets(reminder_offsets_minutes, problems, "reminderOffsetsMinutes")
    problems.raise_if_any()
    async with ctx.database.write() as db:
        if await db.scalar(select(col(Course.id)).where(func.lower(Course.code) == code.lower())) is not None:
            raise UserErrors.one(ErrorCode.DUPLICATE, f"A course with the code {code!r} exists.", "code")
        course = Course(code=code, title=title, bookable=bool(bookable))
        if credit_cost is not None:
            course.credit_cost = credit_cost
        if absence_requests_enabled is not None:
            course.absence_requests_enabled = absence_requests_enabled
        if join_lead_minutes is not None:
            course.join_lead_minutes = join_lead_minutes
        if cancellation_notice_minutes is not None:
            course.cancellation_notice_minutes = cancellation_notice_minutes
        if reminder_offsets_minutes is not None:
            course.reminder_offsets = offsets_text(reminder_offsets_minutes)
        db.add(course)
        await db.flush()
    return course


async def list_courses(ctx: Context, *, search: str | None, bookable: bool | None,
                       first: int | None, after: str | None) -> Page[Course]:
    require_signed_in(ctx)
    query = select(Course)
    if search:
        pattern = like_pattern(search)
        # ILIKE, not lower() LIKE: PostgreSQL serves it from the columns' trigram indexes.
        query = query.where(col(Course.title).ilike(pattern, escape="\\")
                            | col(Course.code).ilike(pattern, escape="\\"))
    if bookable is not None:
        query = query.where(col(Course.bookable) == bookable)
    return await paginate(ctx, query, [col(Course.title), col(Course.id)], lambda c: (c.title, c.id), first, after)
