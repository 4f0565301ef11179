from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.models import AbsenceRequest, BookableSlot, Enrollment, LiveSession, Session, SessionCourse
from sessiongraph.resolvers.loaders.base import Loader, OneBy, many_per_key, pairs_in


class SlotById(OneBy[int, BookableSlot | None], key=BookableSlot.id):
    pass


class OpenSlotsByCourse(Loader[tuple[int, datetime, datetime, datetime, int | None], list[BookableSlot]]):
    """Key: (course ID, from, to, now, instructor ID or None); the course's slots starting in
    [from, to) and after now, full ones included, but not those whose live session was
    cancelled; ascending. One statement per distinct (from, to, now, instructor) asked for,
    which in practice is one for a whole list of courses."""

    async def batch_load(self, db, keys):
        by_range: dict[tuple, list[int]] = defaultdict(list)
        for course_id, *rest in keys:
            by_range[tuple(rest)].append(course_id)
        found: dict[tuple, list[BookableSlot]] = {}
        for (starts_from, starts_before, now, instructor_id), course_ids in by_range.items():
            query = (select(BookableSlot)
                     .outerjoin(LiveSession, LiveSession.id == BookableSlot.live_session_id)
                     .where(BookableSlot.course_id.in_(course_ids),
                            BookableSlot.starts_at >= starts_from, BookableSlot.starts_at < starts_before,
                            BookableSlot.starts_at > now, LiveSession.cancelled_at.is_(None))
                     .order_by(BookableSlot.starts_at, BookableSlot.id))
            if instructor_id is not None:
                query = query.where(BookableSlot.instructor_id == instructor_id)
            rows = list((await db.scalars(query)).all())
            for course_id, slots in zip(course_ids, many_per_key(course_ids, rows, lambda s: s.course_id),
                                        strict=True):
                found[(course_id, starts_from, starts_before, now, instructor_id)] = slots
        return [found[key] for key in keys]


class AbsenceRequestById(OneBy[int, AbsenceRequest | None], key=AbsenceRequest.id):
    pass


class AbsenceRequestByBooking(OneBy[int, AbsenceRequest | None], key=AbsenceRequest.booking_id):
    pass


class CourseSessionsOfLearner(Loader[tuple[int, int], list[tuple[Session, datetime | None]]]):
    """Key: (learner ID, course ID); the administrative sessions holding the course that the
    learner is enrolled in, each with the learner's first access (for duration sessions)."""

    async def batch_load(self, db, keys):
        return await course_sessions_of(db, keys)


async def course_sessions_of(db: AsyncSession,
                             keys: Sequence[tuple[int, int]]) -> list[list[tuple[Session, datetime | None]]]:
    """CourseSessionsOfLearner's answer read on a given session: a promotion asks inside the
    transaction that holds the slot's lock, on that transaction's own connection."""
    query = (select(col(Enrollment.user_id), col(SessionCourse.course_id), Session, col(Enrollment.first_access_at))
             .select_from(Enrollment)
             .join(SessionCourse, col(SessionCourse.session_id) == Enrollment.session_id)
             .join(Session, col(Session.id) == Enrollment.session_id)
             .where(pairs_in(Enrollment.user_id, SessionCourse.course_id, keys)))
    rows = (await db.execute(query)).all()
    grouped = many_per_key(keys, rows, lambda r: (r[0], r[1]))
    return [[(row[2], row[3]) for row in group] for group in grouped]
