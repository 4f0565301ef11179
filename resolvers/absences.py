"""Absence requests: a booked learner tells ahead that they will not attend; admins or
the live session's instructor approve or reject it.

Where an admin enabled them for the course, one request per booking, strictly before
the start. A decision neither frees the seat nor refunds: the learner keeps the
booking (cancelBooking is the way to give a seat back), and the instructor sees the
decision on the booking when recording attendance.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from sessiongraph.models import AbsenceRequest, AbsenceRequestStatus, Booking, BookingStatus, Course, LiveSession
from sessiongraph.models.events import EventType
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, NotAllowed, Problems, UserErrors
from sessiongraph.resolvers.events import (
    ScheduleEventKind,
    absence_request_data,
    instructor_user_id,
    record_schedule_change,
)
from sessiongraph.resolvers.loaders.booking import AbsenceRequestByBooking, AbsenceRequestById
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import BookingById, BookingByLearnerLiveSession, LiveSessionById
from sessiongraph.resolvers.outbox import record_event
from sessiongraph.resolvers.permissions import (
    can_see_booking,
    can_see_live_session,
    may_review_absence,
    require_signed_in,
)
from sessiongraph.resolvers.validation import optional_text, required_text

REASON_MAX_LENGTH = 2000
COMMENT_MAX_LENGTH = 2000


async def can_request_absence(ctx: Context, live_session: LiveSession, learner_id: int | None) -> bool:
    """Whether the Request Absence button shows: for the booked learner themselves (not a
    guardian looking), on a course with absence requests, before the start, and once."""
    if learner_id is None or ctx.actor.user_id != learner_id:
        return False
    if live_session.is_cancelled or ctx.now >= live_session.starts_at:
        return False
    course = await CourseById(ctx).load(live_session.course_id)
    if not course.absence_requests_enabled:
        return False
    booking = await BookingByLearnerLiveSession(ctx).load((learner_id, live_session.id))
    if booking is None or booking.status != BookingStatus.BOOKED.value:
        return False
    return await AbsenceRequestByBooking(ctx).load(booking.id) is None


async def request_absence(ctx: Context, live_session_id: int, reason: str) -> AbsenceRequest:
    user = require_signed_in(ctx)
    live_session = await LiveSessionById(ctx).load(live_session_id)
    if live_session is None or not await can_see_live_session(ctx, live_session):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such live session.", "liveSessionId")
    booking = await BookingByLearnerLiveSession(ctx).load((user.id, live_session.id))
    if booking is None or booking.status != BookingStatus.BOOKED.value:
        raise UserErrors.one(ErrorCode.NOT_BOOKED, "Only a learner booked on the live session can request an "
                                                   "absence from it.", "liveSessionId")
    course = await CourseById(ctx).load(live_session.course_id)
    _check_open(ctx, live_session, course)
    if await AbsenceRequestByBooking(ctx).load(booking.id) is not None:
        raise _already_requested()
    problems = Problems()
    reason = required_text(reason, problems, REASON_MAX_LENGTH, "reason")
    problems.raise_if_any()

    request = AbsenceRequest(booking_id=booking.id, reason=reason, status=AbsenceRequestStatus.PENDING.value,
                             requested_at=ctx.now)
    try:
        async with ctx.database.write() as db:
            db.add(request)
            await db.flush()
            await record_event(db, EventType.ABSENCE_REQUEST_CREATED,
                               absence_request_data(request, booking, live_session), now=ctx.now,
                               live_session_id=live_session.id)
    except IntegrityError:
        raise _already_requested() from None  # a concurrent request for the same booking won
    return request


def _check_open(ctx: Context, live_session: LiveSession, course: Course) -> None:
    if not course.absence_requests_enabled:
        raise UserErrors.one(ErrorCode.ABSENCE_NOT_ENABLED, "This course takes no absence requests; cancel the "
                                                            "booking or contact the school.", "liveSessionId")
    if live_session.is_cancelled:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This live session was cancelled.", "liveSessionId")
    if ctx.now >= live_session.starts_at:
        raise UserErrors.one(ErrorCode.ABSENCE_TOO_LATE, "Absences are requested before the live session starts.",
                             "liveSessionId")


def _already_requested() -> UserErrors:
    return UserErrors.one(ErrorCode.ABSENCE_ALREADY_REQUESTED, "You have requested an absence from this live "
                                                               "session already.", "liveSessionId")


@audited("reviewAbsenceRequest", subject=AbsenceRequest, by="request_id")
async def review_absence_request(ctx: Context, request_id: int, *, approve: bool,
                                 comment: str | None) -> AbsenceRequest:
    """Approves or rejects; reviewing again replaces the decision (a correction)."""
    user = require_signed_in(ctx)
    request = await AbsenceRequestById(ctx).load(request_id)
    booking = await BookingById(ctx).load(request.booking_id) if request is not None else None
    live_session = await LiveSessionById(ctx).load(booking.live_session_id) if booking is not None else None
    if live_session is None or not await can_see_booking(ctx, booking, live_session):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such absence request.", "id")
    if not await may_review_absence(ctx, live_session):
        raise NotAllowed("Absence requests are reviewed by administrators and the live session's instructor.")
    problems = Problems()
    comment = optional_text(comment, problems, COMMENT_MAX_LENGTH, "comment")
    problems.raise_if_any()

    async with ctx.database.write() as db:
        request = await db.get(AbsenceRequest, request.id, populate_existing=True)
        request.status = (AbsenceRequestStatus.APPROVED if approve else AbsenceRequestStatus.REJECTED).value
        request.reviewed_at = ctx.now
        request.reviewed_by_id = user.id
        request.review_comment = comment
        await db.flush()
        teacher = await instructor_user_id(db, live_session.instructor_id)
        await record_schedule_change(db, ctx, EventType.ABSENCE_REQUEST_REVIEWED, ScheduleEventKind.ABSENCE_REVIEWED,
                                     live_session, {booking.learner_id, teacher},
                                     absence_request_data(request, booking, live_session))
    return request


async def absence_request_of(ctx: Context, booking: Booking) -> AbsenceRequest | None:
    return await AbsenceRequestByBooking(ctx).load(booking.id)
