from sqlalchemy import ColumnElement, and_, case, func, or_, select, union_all

from sessiongraph.models import (
    AttendanceReport,
    AttendanceStatus,
    Booking,
    BookingStatus,
    Enrollment,
    LiveSession,
    Session,
)
from sessiongraph.models.columns import UTCDateTime
from sessiongraph.models.reports import ATTENDED, AttendanceFigures
from sessiongraph.models.sessions import SessionCourse
from sessiongraph.resolvers.loaders.base import Loader, first_rows_per_key, one_per_key, pairs_in


class ReportByLearnerLiveSession(Loader[tuple[int, int], AttendanceReport | None]):
    """Key: (learner ID, live session ID)."""

    async def batch_load(self, db, keys):
        query = select(AttendanceReport).where(
            pairs_in(AttendanceReport.learner_id, AttendanceReport.live_session_id, keys))
        return one_per_key(keys, (await db.scalars(query)), lambda r: (r.learner_id, r.live_session_id))


class ReportsByLiveSession(Loader[tuple[int, int], list[AttendanceReport]]):
    """Key: (live session ID, n); its first n reports by learner."""

    async def batch_load(self, db, keys):
        parents = sorted({k for k, _ in keys})
        pages = await first_rows_per_key(db, AttendanceReport, AttendanceReport.live_session_id, parents,
                                         (AttendanceReport.learner_id,), max(n for _, n in keys))
        by_id = dict(zip(parents, pages, strict=True))
        return [by_id[k][:n] for k, n in keys]


class ReportCountByLiveSession(Loader[int, int]):
    async def batch_load(self, db, keys):
        query = (select(AttendanceReport.live_session_id, func.count())
                 .where(AttendanceReport.live_session_id.in_(keys)).group_by(AttendanceReport.live_session_id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(k, 0) for k in keys]


def _tracked(enrollments: ColumnElement[bool]):
    """(session, learner, live session, start) for what tracking counts of each enrollment
    the condition keeps: the session's own live sessions, and the live sessions of its
    courses that the learner booked outside any session, starting inside its access
    window. Cancelled live sessions are left out."""
    attached = (
        select(Enrollment.session_id.label("session_id"), Enrollment.user_id.label("learner_id"),
               LiveSession.id.label("live_session_id"), LiveSession.starts_at.label("starts_at"))
        .join(LiveSession, LiveSession.session_id == Enrollment.session_id)
        .where(enrollments, LiveSession.cancelled_at.is_(None))
    )
    booked = (
        select(Enrollment.session_id, Enrollment.user_id, LiveSession.id, LiveSession.starts_at)
        .select_from(Enrollment)
        .join(Session, Session.id == Enrollment.session_id)
        .join(SessionCourse, SessionCourse.session_id == Enrollment.session_id)
        .join(LiveSession, and_(LiveSession.course_id == SessionCourse.course_id, LiveSession.session_id.is_(None)))
        .join(Booking, and_(Booking.live_session_id == LiveSession.id, Booking.learner_id == Enrollment.user_id,
                            Booking.status == BookingStatus.BOOKED.value))
        .where(enrollments, LiveSession.cancelled_at.is_(None),
               or_(Session.access_start.is_(None), LiveSession.starts_at >= Session.access_start),
               or_(Session.access_end.is_(None), LiveSession.starts_at < Session.access_end))
    )
    return union_all(attached, booked).subquery("tracked")


def _figures_query(enrollments: ColumnElement[bool], *, per_learner: bool):
    tracked = _tracked(enrollments)
    report = AttendanceReport

    def count_of(status: AttendanceStatus):
        return func.coalesce(func.sum(case((report.status == status.value, 1), else_=0)), 0)

    group = [tracked.c.session_id, tracked.c.learner_id] if per_learner else [tracked.c.session_id]
    return (
        select(*group, func.count(), count_of(AttendanceStatus.PRESENT), count_of(AttendanceStatus.LATE),
               count_of(AttendanceStatus.ABSENT), count_of(AttendanceStatus.EXCUSED),
               func.max(case((report.status.in_(ATTENDED), tracked.c.starts_at)), type_=UTCDateTime))
        .select_from(tracked)
        .outerjoin(report, and_(report.live_session_id == tracked.c.live_session_id,
                                report.learner_id == tracked.c.learner_id))
        .group_by(*group)
    )


def _figures(row) -> AttendanceFigures:
    booked, present, late, absent, excused, last = row
    return AttendanceFigures(booked=booked, attended=present, late=late, absent=absent, excused=excused,
                             last_attended_at=last)


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
