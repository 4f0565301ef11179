from sqlalchemy import or_, select, union

from sessiongraph.models import Enrollment, Session, SessionCategory, SessionCourse, SessionCourseCoach
from sessiongraph.resolvers.loaders.base import CountBy, Loader, ManyBy, OneBy, many_per_key


class SessionById(OneBy[int, Session | None], key=Session.id):
    pass


class CategoryById(OneBy[int, SessionCategory | None], key=SessionCategory.id):
    pass


class CoursesBySession(ManyBy[int, list[SessionCourse]], key=SessionCourse.session_id,
                       order_by=(SessionCourse.session_id, SessionCourse.position, SessionCourse.course_id)):
    """A session's courses in their order."""


class CoachIdsBySessionCourse(ManyBy[tuple[int, int], list[int]],
                              key=(SessionCourseCoach.session_id, SessionCourseCoach.course_id),
                              order_by=SessionCourseCoach.user_id):
    """Key: (session ID, course ID)."""

    def shape(self, rows: list[SessionCourseCoach]) -> list[int]:
        return [coach.user_id for coach in rows]


class CourseCountBySession(CountBy[int], key=SessionCourse.session_id):
    pass


class LearnerCountBySession(CountBy[int], key=Enrollment.session_id):
    pass


class EnrollmentByLearnerSession(OneBy[tuple[int, int], Enrollment | None],
                                 key=(Enrollment.user_id, Enrollment.session_id)):
    """Key: (user ID, session ID); None when that user is not enrolled there."""


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
