from sqlalchemy import func, or_, select, union

from sessiongraph.models import Enrollment, Session, SessionCategory, SessionCourse, SessionCourseCoach
from sessiongraph.resolvers.loaders.base import Loader, many_per_key, one_per_key, pairs_in


class SessionById(Loader[int, Session | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(Session).where(Session.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda s: s.id)


class CategoryById(Loader[int, SessionCategory | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(SessionCategory).where(SessionCategory.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda c: c.id)


class CoursesBySession(Loader[int, list[SessionCourse]]):
    """A session's courses in their order."""

    async def batch_load(self, db, keys):
        query = (select(SessionCourse).where(SessionCourse.session_id.in_(keys))
                 .order_by(SessionCourse.session_id, SessionCourse.position, SessionCourse.course_id))
        return many_per_key(keys, (await db.scalars(query)), lambda sc: sc.session_id)


class CoachIdsBySessionCourse(Loader[tuple[int, int], list[int]]):
    """Key: (session ID, course ID)."""

    async def batch_load(self, db, keys):
        query = (select(SessionCourseCoach)
                 .where(pairs_in(SessionCourseCoach.session_id, SessionCourseCoach.course_id, keys))
                 .order_by(SessionCourseCoach.user_id))
        rows = (await db.scalars(query))
        grouped = many_per_key(keys, rows, lambda c: (c.session_id, c.course_id))
        return [[c.user_id for c in group] for group in grouped]


class CourseCountBySession(Loader[int, int]):
    async def batch_load(self, db, keys):
        query = (select(SessionCourse.session_id, func.count()).where(SessionCourse.session_id.in_(keys))
                 .group_by(SessionCourse.session_id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(k, 0) for k in keys]


class LearnerCountBySession(Loader[int, int]):
    async def batch_load(self, db, keys):
        query = (select(Enrollment.session_id, func.count()).where(Enrollment.session_id.in_(keys))
                 .group_by(Enrollment.session_id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(k, 0) for k in keys]


class EnrollmentByLearnerSession(Loader[tuple[int, int], Enrollment | None]):
    """Key: (user ID, session ID); None when that user is not enrolled there."""

    async def batch_load(self, db, keys):
        query = select(Enrollment).where(pairs_in(Enrollment.user_id, Enrollment.session_id, keys))
        return one_per_key(keys, (await db.scalars(query)), lambda e: (e.user_id, e.session_id))


class CoachedSessionIds(Loader[int, frozenset[int]]):
    """Key: user ID; the sessions that user coaches, as session coach or course coach."""

    async def batch_load(self, db, keys):
        as_session_coach = select(Session.coach_id.label("user_id"), Session.id.label("session_id")).where(
            Session.coach_id.in_(keys))
        as_course_coach = select(SessionCourseCoach.user_id, SessionCourseCoach.session_id).where(
            SessionCourseCoach.user_id.in_(keys))
        rows = (await db.execute(union(as_session_coach, as_course_coach))).all()
        grouped = many_per_key(keys, rows, lambda r: r[0])
        return [frozenset(r[1] for r in group) for group in grouped]


class CoachesLearner(Loader[tuple[int, int], bool]):
    """Key: (coach user ID, learner user ID); True when the coach coaches a session the learner is in."""

    async def batch_load(self, db, keys):
        coach_ids = {k[0] for k in keys}
        learner_ids = {k[1] for k in keys}
        query = (
            select(Session.coach_id, SessionCourseCoach.user_id, Enrollment.user_id)
            .select_from(Enrollment)
            .join(Session, Session.id == Enrollment.session_id)
            .outerjoin(SessionCourseCoach, SessionCourseCoach.session_id == Enrollment.session_id)
            .where(Enrollment.user_id.in_(learner_ids))
            .where(or_(Session.coach_id.in_(coach_ids), SessionCourseCoach.user_id.in_(coach_ids)))
        )
        pairs: set[tuple[int, int]] = set()
        for session_coach, course_coach, learner in (await db.execute(query)).all():
            pairs.add((session_coach, learner))
            pairs.add((course_coach, learner))
        return [key in pairs for key in keys]
