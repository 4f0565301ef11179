from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, union_all
from sqlmodel import col

from sessiongraph.models import (
    AttendanceReport,
    AttendanceStatus,
    Booking,
    BookingStatus,
    Enrollment,
    LiveSession,
    Session,
    User,
)
from sessiongraph.models.columns import UTCDateTime
from sessiongraph.models.reports import ATTENDED, AttendanceFigures
from sessiongraph.models.sessions import SessionCourse
from sessiongraph.resolvers.loaders.base import CountBy, Loader, NotByIndex, OneBy, first_rows_per_key, pairs_in


class ReportByLearnerLiveSession(OneBy[tuple[int, int], AttendanceReport | None],
                                 key=(AttendanceReport.learner_id, AttendanceReport.live_session_id)):
    """Key: (learner ID, live session ID)."""


class ReportsByLiveSession(Loader[tuple[int, int], list[AttendanceReport]]):
    """Key: (live session ID, n); its first n reports by learner."""

    async def batch_load(self, db, keys):
        parents = sorted({k for k, _ in keys})
        pages = await first_rows_per_key(db, AttendanceReport, AttendanceReport.live_session_id, parents,
                                         (AttendanceReport.learner_id,), max(n for _, n in keys))
        by_id = dict(zip(parents, pages, strict=True))
        return [by_id[k][:n] for k, n in keys]


class ReportCountByLiveSession(CountBy[int], key=AttendanceReport.live_session_id):
    pass


def _tracked(enrollments: ColumnElement[bool]):
    """(session, learner, live session, start) for what tracking counts of each enrollment
    the condition keeps: the session's own live sessions, and the live sessions of its
    courses that the learner booked outside any session, starting inside its access
    window. Cancelled live sessions are left out."""
    attached: Select[int, int, int | None, datetime] = (
        select(col(Enrollment.session_id).label("session_id"), col(Enrollment.user_id).label("learner_id"),
               col(LiveSession.id).label("live_session_id"), col(LiveSession.starts_at).label("starts_at"))
        .join(LiveSession, col(LiveSession.session_id) == Enrollment.session_id)
        .where(enrollments, col(LiveSession.cancelled_at).is_(None))
    )
    booked = (
        select(col(Enrollment.session_id), col(Enrollment.user_id), col(LiveSession.id), col(LiveSession.starts_at))
        .select_from(Enrollment)
        .join(Session, col(Session.id) == Enrollment.session_id)
        .join(SessionCourse, col(SessionCourse.session_id) == Enrollment.session_id)
        .join(LiveSession, and_(col(LiveSession.course_id) == SessionCourse.course_id,
                                NotByIndex(col(LiveSession.session_id)).is_(None)))
        .join(Booking, and_(col(Booking.live_session_id) == LiveSession.id,
                            col(Booking.learner_id) == Enrollment.user_id,
                            col(Booking.status) == BookingStatus.BOOKED.value))
        .where(enrollments, col(LiveSession.cancelled_at).is_(None),
               or_(col(Session.access_start).is_(None), col(LiveSession.starts_at) >= Session.access_start),
               or_(col(Session.access_end).is_(None), col(LiveSession.starts_at) < Session.access_end))
    )
    return union_all(attached, booked).subquery("tracked")


def _figures_query(enrollments: ColumnElement[bool], *, per_learner: bool):
    tracked = _tracked(enrollments)
    report = AttendanceReport

    def count_of(status: AttendanceStatus):
        return func.coalesce(func.sum(case((col(report.status) == status.value, 1), else_=0)), 0)

    group = [tracked.c.session_id, tracked.c.learner_id] if per_learner else [tracked.c.session_id]
    return (
        select(*group, func.count(), count_of(AttendanceStatus.PRESENT), count_of(AttendanceStatus.LATE),
               count_of(AttendanceStatus.ABSENT), count_of(AttendanceStatus.EXCUSED),
               func.max(case((col(report.status).in_(ATTENDED), tracked.c.starts_at)), type_=UTCDateTime))
        .select_from(tracked)
        .outerjoin(report, and_(col(report.live_session_id) == tracked.c.live_session_id,
                                col(report.learner_id) == tracked.c.learner_id))
        .group_by(*group)
    )


def _figures(row) -> AttendanceFigures:
    booked, present, late, absent, excused, last = row
    return AttendanceFigures(booked=booked, attended=present, late=late, absent=absent, excused=excused,
                             last_attended_at=last)


def tracking_rows_query(session_id: int) -> Select:
    """(name, email, booked, attended, late, absent, excused, last attended) of every learner of the
    session, by name: the figures `FiguresByEnrollment` gives one learner, for the whole session
    in one statement (PostgreSQL aggregates the session's reports once)."""
    figures = _figures_query(col(Enrollment.session_id) == session_id, per_learner=True).subquery("figures")
    _, learner_id, *counts = figures.c
    return (select(col(User.name), col(User.email), *counts)
            .select_from(Enrollment).join(User, col(User.id) == col(Enrollment.user_id))
            .outerjoin(figures, learner_id == col(Enrollment.user_id))
            .where(col(Enrollment.session_id) == session_id)
            .order_by(col(User.name), col(User.id)))


class FiguresByEnrollment(Loader[tuple[int, int], AttendanceFigures]):
    """Key: (session ID, learner ID); one learner's tracking figures in one session."""

    async def batch_load(self, db, keys):
        query = _figures_query(pairs_in(Enrollment.session_id, Enrollment.user_id, keys), per_learner=True)
        found = {(row[0], row[1]): _figures(row[2:]) for row in (await db.execute(query)).all()}
        return [found.get(k, AttendanceFigures()) for k in keys]


class FiguresBySession(Loader[int, AttendanceFigures]):
    """Key: session ID; the totals over every learner enrolled in the session."""

    async def batch_load(self, db, keys):
        query = _figures_query(Enrollment.session_id.in_(keys), per_learner=False)
        found = {row[0]: _figures(row[1:]) for row in (await db.execute(query)).all()}
        return [found.get(k, AttendanceFigures()) for k in keys]
