"""Who may see and do what: the one place these rules live.

Roles come from the data, not the token: the admin flag on the user, and per
object whether the viewer coaches, teaches, guards or is enrolled. Resolvers ask
here; a "no" for reading another user's data looks like the data is not there.
"""

from __future__ import annotations

import asyncio

from sessiongraph.models import Booking, BookingStatus, Course, Instructor, LiveSession, Session, User
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import NotAllowed, NotAuthenticated
from sessiongraph.resolvers.loaders.accounts import ChildIdsByGuardian, InstructorByUser
from sessiongraph.resolvers.loaders.booking import CourseSessionsOfLearner
from sessiongraph.resolvers.loaders.schedule import BookingByLearnerLiveSession, OnLearnerSchedule, TeachesLearner
from sessiongraph.resolvers.loaders.sessions import (
    CoachedSessionIds,
    CoachesLearner,
    EnrollmentByLearnerSession,
    SessionById,
)


def require_signed_in(ctx: Context) -> User:
    if ctx.actor.user is None:
        raise NotAuthenticated()
    return ctx.actor.user


def require_admin(ctx: Context) -> User:
    user = require_signed_in(ctx)
    if not user.is_admin:
        raise NotAllowed("Only administrators can do this.")
    return user


async def coaches_session(ctx: Context, session: Session) -> bool:
    user_id = ctx.actor.user_id
    if user_id is None:
        return False
    if session.coach_id == user_id:
        return True
    return session.id in await CoachedSessionIds(ctx).load(user_id)


async def can_see_session(ctx: Context, session: Session) -> bool:
    """Admins, the session's coaches, and its learners while it is listed for them."""
    if ctx.actor.is_anonymous:
        return False
    if ctx.actor.is_admin:
        return True
    # The enrollment first: a learner's own details have it read already (LiveSessionDetails),
    # and then who coaches what need not be read at all.
    enrollment = await EnrollmentByLearnerSession(ctx).load((ctx.actor.user_id, session.id))
    if enrollment is not None and session.listed_for_learner(ctx.now, enrollment.first_access_at):
        return True
    return await coaches_session(ctx, session)


async def can_follow_session(ctx: Context, session: Session) -> bool:
    """Learner lists and tracking: admins, and the session's coaches inside the coach window."""
    if ctx.actor.is_admin:
        return True
    return await coaches_session(ctx, session) and session.coach_access_window.contains(ctx.now)


async def can_see_user(ctx: Context, user_id: int) -> bool:
    """Themselves, admins, and the people who coach (inside the coach access window), teach or
    guard them."""
    viewer_id = ctx.actor.user_id
    if viewer_id is None:
        return False
    if viewer_id == user_id or ctx.actor.is_admin:
        return True
    if await guards(ctx, user_id):
        return True
    if await CoachesLearner(ctx).load((viewer_id, user_id)) and await _coaches_learner_now(ctx, viewer_id, user_id):
        return True
    return await TeachesLearner(ctx).load((viewer_id, user_id))


async def _coaches_learner_now(ctx: Context, coach_id: int, learner_id: int) -> bool:
    """The learner is in a session the viewer coaches whose coach access window holds now: a
    coach reads the learners they coach within that window, as Session.learners does."""
    session_ids = sorted(await CoachedSessionIds(ctx).load(coach_id))
    sessions = await SessionById(ctx).load_many(session_ids)
    open_ids = [s.id for s in sessions if s is not None and s.coach_access_window.contains(ctx.now)]
    enrollments = await EnrollmentByLearnerSession(ctx).load_many([(learner_id, sid) for sid in open_ids])
    return any(e is not None for e in enrollments)


def can_see_email(ctx: Context, user_id: int) -> bool:
    """Other people see a name only."""
    return ctx.actor.is_admin or ctx.actor.user_id == user_id


# --- guardians, instructors and the schedule -----------------------------------------------

async def guards(ctx: Context, learner_id: int) -> bool:
    """True when the viewer is a guardian of the learner."""
    if ctx.actor.user_id is None:
        return False
    return learner_id in await ChildIdsByGuardian(ctx).load(ctx.actor.user_id)


async def can_read_schedule(ctx: Context, learner_id: int) -> bool:
    """A learner's schedule and reports: the learner, and (read-only) their guardians."""
    return ctx.actor.user_id == learner_id or await guards(ctx, learner_id)


async def teaches(ctx: Context, live_session: LiveSession) -> bool:
    """True when the viewer is the live session's instructor."""
    if ctx.actor.user_id is None:
        return False
    profile = await InstructorByUser(ctx).load(ctx.actor.user_id)
    return profile is not None and profile.id == live_session.instructor_id


async def can_manage_live_session(ctx: Context, live_session: LiveSession) -> bool:
    """Its bookings, its reports, and recording attendance: admins, its instructor, and the
    coaches of its administrative session inside their coach access window."""
    if ctx.actor.is_anonymous:
        return False
    if ctx.actor.is_admin or await teaches(ctx, live_session):
        return True
    if live_session.session_id is None:
        return False
    session = await SessionById(ctx).load(live_session.session_id)
    return session is not None and await can_follow_session(ctx, session)


async def can_see_live_session(ctx: Context, live_session: LiveSession) -> bool:
    """Those who manage it, the learners it is on the schedule of, and their guardians. A
    learner who booked it and cancelled still sees it (through their booking, their credit
    transactions and the CANCELLED event), though it is no longer on their schedule."""
    if ctx.actor.is_anonymous:
        return False
    if ctx.actor.is_admin:
        return True
    if await _on_schedule_or_booked(ctx, ctx.actor.user_id, live_session):
        return True
    if await can_manage_live_session(ctx, live_session):
        return True
    children = await ChildIdsByGuardian(ctx).load(ctx.actor.user_id)
    return any(await asyncio.gather(*(_on_schedule_or_booked(ctx, child, live_session) for child in children)))


async def _on_schedule_or_booked(ctx: Context, learner_id: int, live_session: LiveSession) -> bool:
    if await OnLearnerSchedule(ctx).load((learner_id, live_session.id)):
        return True
    return await BookingByLearnerLiveSession(ctx).load((learner_id, live_session.id)) is not None


async def can_see_booking(ctx: Context, booking: Booking, live_session: LiveSession) -> bool:
    """The booking's learner, their guardians, and those who manage the live session."""
    if ctx.actor.is_anonymous:
        return False
    if booking.learner_id == ctx.actor.user_id or await guards(ctx, booking.learner_id):
        return True
    return await can_manage_live_session(ctx, live_session)


async def may_join(ctx: Context, live_session: LiveSession, course: Course) -> bool:
    """Who may use the Join action (the when is the live session's rule): its instructor;
    a learner booked on it; a learner enrolled in its session while they may use the
    session, where the course needs no booking. Guardians and admins only look."""
    viewer_id = ctx.actor.user_id
    if viewer_id is None:
        return False
    if await teaches(ctx, live_session):
        return True
    booking = await BookingByLearnerLiveSession(ctx).load((viewer_id, live_session.id))
    if booking is not None and booking.status == BookingStatus.BOOKED.value:
        return True
    if live_session.session_id is None or course.bookable:
        return False
    enrollment = await EnrollmentByLearnerSession(ctx).load((viewer_id, live_session.session_id))
    if enrollment is None:
        return False
    session = await SessionById(ctx).load(live_session.session_id)
    return session is not None and session.usable_by_learner(ctx.now, enrollment.first_access_at)


# --- booking, credits and absences ------------------------------------------------------------

async def has_course_access(ctx: Context, learner_id: int, course_id: int) -> bool:
    """A learner has access to a course (and may book its slots) while enrolled in an
    administrative session holding it that they may use: inside its access window (a
    duration session's days counted from their first access), or after it on a VISIBLE one."""
    sessions = await CourseSessionsOfLearner(ctx).load((learner_id, course_id))
    return any(session.usable_by_learner(ctx.now, first_access_at) for session, first_access_at in sessions)


async def can_read_credits(ctx: Context, user_id: int) -> bool:
    """A user's credit account: the user, their guardians (read-only) and admins."""
    if ctx.actor.is_anonymous:
        return False
    return ctx.actor.is_admin or await can_read_schedule(ctx, user_id)


def may_cancel_booking(ctx: Context, booking: Booking) -> bool:
    """The booking's learner, and admins; guardians and instructors only look."""
    return ctx.actor.is_admin or (ctx.actor.user_id is not None and ctx.actor.user_id == booking.learner_id)


async def may_review_absence(ctx: Context, live_session: LiveSession) -> bool:
    """Absence requests are decided by admins and the live session's instructor."""
    return ctx.actor.is_admin or await teaches(ctx, live_session)


def may_publish_availability(ctx: Context, instructor: Instructor) -> bool:
    """An instructor publishes their own slots; admins publish anyone's."""
    return ctx.actor.is_admin or (ctx.actor.user_id is not None and ctx.actor.user_id == instructor.user_id)
