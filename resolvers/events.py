"""Schedule events: what changed on whose schedule, recorded in the change's transaction.

Two kinds of channel: one per user (`schedule:user:<id>`, read by `scheduleChanged`
for the user and their guardians) and one per live session (`live-session:<id>`,
read by `joinAvailability`). A change goes to the live session's channel and to the
channel of everyone whose schedule holds it, through the outbox (resolvers/outbox.py):
the mutation records it, the relay publishes it after the commit.

The `*_data` functions are each event's webhook `data`: the global IDs of what it
concerns and its main fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import CompoundSelect, FromClause, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.infrastructure.storable import global_id
from sessiongraph.models import AbsenceRequest, Booking, Enrollment, Instructor, LiveSession
from sessiongraph.models.events import EventType
from sessiongraph.models.schedule import BookingStatus
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.outbox import NewEvent, live_session_channel, record_events, user_channel

__all__ = ["USER_RIGHTS_CHANNEL", "ScheduleEventKind", "live_session_channel", "people_on", "people_on_each",
           "record_schedule_change",
           "record_schedule_changes", "schedule_change", "user_channel"]


class ScheduleEventKind(StrEnum):
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"
    UPDATED = "UPDATED"
    ABSENCE_REVIEWED = "ABSENCE_REVIEWED"
    # A waiting learner was booked on a freed seat.
    PROMOTED = "PROMOTED"


# A user was deactivated or demoted: this process's sockets of theirs check their sign-in again at once
# (sessiongraph/server/connection_rights.py), rather than at their next operation.
USER_RIGHTS_CHANNEL = "user-rights"


def people_on_each(live_sessions: FromClause) -> CompoundSelect:
    """(live_session_id, user_id) of everyone whose schedule holds each of `live_sessions` (a selectable
    of their `id`, `session_id` and `instructor_id`): its booked learners, the learners of its
    administrative session, and its instructor. One rule for a change's events and the reminders."""
    ls = live_sessions.c
    return union(
        select(ls.id.label("live_session_id"), col(Booking.learner_id).label("user_id")).select_from(live_sessions)
        .join(Booking, col(Booking.live_session_id) == ls.id).where(col(Booking.status) == BookingStatus.BOOKED.value),
        select(ls.id, col(Instructor.user_id)).select_from(live_sessions)
        .join(Instructor, col(Instructor.id) == ls.instructor_id),
        select(ls.id, col(Enrollment.user_id)).select_from(live_sessions)
        .join(Enrollment, col(Enrollment.session_id) == ls.session_id),
    )


async def people_on(db: AsyncSession, live_session: LiveSession) -> set[int]:
    """Everyone whose schedule holds the live session (`people_on_each`), as it is in this transaction."""
    one = (select(col(LiveSession.id), col(LiveSession.session_id), col(LiveSession.instructor_id))
           .where(col(LiveSession.id) == live_session.id).subquery())
    people = people_on_each(one).subquery()
    return set((await db.scalars(select(people.c.user_id))).all())


async def instructor_user_id(db: AsyncSession, instructor_id: int) -> int:
    """Read in the change's own transaction: a loader would take a second pooled connection while this one
    holds the write lock, and concurrent writers waiting for that lock can leave none free."""
    return (await db.execute(select(col(Instructor.user_id)).where(col(Instructor.id) == instructor_id))).scalar_one()


async def instructor_user_ids(db: AsyncSession, instructor_ids: Iterable[int]) -> dict[int, int]:
    """instructor_user_id for several instructors, in one statement."""
    rows = await db.execute(select(col(Instructor.id), col(Instructor.user_id))
                            .where(col(Instructor.id).in_(set(instructor_ids))))
    return {instructor_id: user_id for instructor_id, user_id in rows if instructor_id is not None}


def schedule_change(type: EventType, kind: ScheduleEventKind, live_session: LiveSession, user_ids: Iterable[int],
                    data: dict[str, Any]) -> NewEvent:
    """A change `scheduleChanged` reports to `user_ids` (and webhooks as `type`)."""
    return NewEvent(type, data, live_session.id, kind.value, frozenset(user_ids))


async def record_schedule_change(db: AsyncSession, ctx: Context, type: EventType, kind: ScheduleEventKind,
                                 live_session: LiveSession, user_ids: Iterable[int], data: dict[str, Any]) -> int:
    """Records one schedule change, as the transaction's last write."""
    return (await record_schedule_changes(db, ctx, [schedule_change(type, kind, live_session, user_ids, data)]))[0]


async def record_schedule_changes(db: AsyncSession, ctx: Context, changes: Sequence[NewEvent]) -> list[int]:
    """Records the changes of one transaction (a cancellation and the promotions its freed seat made),
    in order, together, as its last write."""
    return await record_events(db, changes, now=ctx.now)


def _id(type_name: str, db_id: int | None) -> str | None:
    return global_id(type_name, db_id) if db_id is not None else None


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def live_session_data(live_session: LiveSession) -> dict[str, Any]:
    return {"liveSessionId": _id("LiveSession", live_session.id),
            "courseId": _id("Course", live_session.course_id),
            "instructorId": _id("Instructor", live_session.instructor_id),
            "sessionId": _id("Session", live_session.session_id),
            "code": live_session.code, "startsAt": _instant(live_session.starts_at),
            "endsAt": _instant(live_session.ends_at), "cancelledAt": _instant(live_session.cancelled_at),
            "cancellationReason": live_session.cancellation_reason}


def booking_data(booking: Booking, live_session: LiveSession) -> dict[str, Any]:
    return {**live_session_data(live_session), "bookingId": _id("Booking", booking.id),
            "userId": _id("User", booking.learner_id), "status": booking.status}


def absence_request_data(request: AbsenceRequest, booking: Booking, live_session: LiveSession) -> dict[str, Any]:
    return {**booking_data(booking, live_session), "absenceRequestId": _id("AbsenceRequest", request.id),
            "absenceStatus": request.status, "reason": request.reason,
            "reviewedById": _id("User", request.reviewed_by_id),
            "reviewComment": request.review_comment}


def promotion_data(entry_id: int, booking: Booking, live_session: LiveSession) -> dict[str, Any]:
    return {**booking_data(booking, live_session), "waitlistEntryId": _id("WaitlistEntry", entry_id)}


def rescheduled_data(moved: Booking, new_live_session: LiveSession, booking: Booking,
                     live_session: LiveSession) -> dict[str, Any]:
    return {**booking_data(moved, new_live_session), "previousBookingId": _id("Booking", booking.id),
            "previousLiveSessionId": _id("LiveSession", live_session.id)}


def enrollment_data(session_id: int, user_id: int, class_id: int | None) -> dict[str, Any]:
    return {"sessionId": _id("Session", session_id), "userId": _id("User", user_id),
            "classId": _id("UserClass", class_id)}
