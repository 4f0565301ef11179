"""Administrative sessions on the wire: types, the admin list, and the admin mutations."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.models.windows import DateWindow as Window
from sessiongraph.resolvers import permissions, sessions
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.loaders.accounts import UserById
from sessiongraph.resolvers.loaders.base import NOT_LOADED
from sessiongraph.resolvers.loaders.sessions import (
    CategoryById,
    CoachIdsBySessionCourse,
    CourseCountBySession,
    CoursesBySession,
    EnrollmentByLearnerSession,
    LearnerCountBySession,
    SessionById,
)
from sessiongraph.resolvers.pagination import Page
from sessiongraph.schema.accounts import User, load_user
from sessiongraph.schema.courses import Course, load_course
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.lookahead import load_ahead
from sessiongraph.schema.relay import Connection, Node, decode_id, decode_ids, id_of, node_fetcher, to_global_id
from sessiongraph.schema.reports import SessionTracking

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
SessionVisibility: TypeAlias = models.SessionVisibility
strawberry.enum(SessionVisibility, name="SessionVisibility")
SessionStatus: TypeAlias = models.SessionStatus
strawberry.enum(SessionStatus, name="SessionStatus")


@strawberry.type
class DateWindow:
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_window(cls, window: Window) -> DateWindow:
        return cls(start=window.start, end=window.end)


@strawberry.input
class DateWindowInput:
    start: datetime | None = None
    end: datetime | None = None

    def to_window(self) -> Window:
        return Window(self.start, self.end)


@strawberry.type
class SessionCategory(Node):
    name: str
    start: date | None
    end: date | None

    @classmethod
    def from_model(cls, category: models.SessionCategory) -> SessionCategory:
        return cls(id=to_global_id("SessionCategory", category.id), name=category.name,
                   start=category.start, end=category.end)


@node_fetcher("SessionCategory")
async def fetch_category(info: Info, category_id: int) -> SessionCategory | None:
    category = await CategoryById(info.context).load(category_id)
    return SessionCategory.from_model(category) if category is not None else None


@strawberry.type
class SessionCourse:
    position: int
    session_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await load_course(info, self.course_id)

    @strawberry.field
    async def coaches(self, info: Info) -> list[User]:
        coach_ids = await CoachIdsBySessionCourse(info.context).load((self.session_id, self.course_id))
        users = await UserById(info.context).load_many(coach_ids)
        return [User.from_model(u) for u in users if u is not None]


async def load_ahead_rows(info: Info, rows: list[models.Session]) -> None:
    """The categories and counts a list of sessions shows, loaded ahead (schema/lookahead.py)."""
    if rows:
        ctx = info.context
        await load_ahead(info, [
            (("category",), CategoryById(ctx), (s.category_id for s in rows if s.category_id is not None)),
            (("courseCount",), CourseCountBySession(ctx), (s.id for s in rows)),
            (("learnerCount",), LearnerCountBySession(ctx), (s.id for s in rows)),
        ])


@strawberry.type
class Session(Node):
    name: str
    description: str | None
    visibility: SessionVisibility
    display_window: DateWindow
    access_window: DateWindow
    coach_access_window: DateWindow
    duration_days: int | None
    model: strawberry.Private[models.Session]

    @classmethod
    def from_model(cls, session: models.Session) -> Session:
        return cls(id=to_global_id("Session", session.id), name=session.name, description=session.description,
                   visibility=models.SessionVisibility(session.visibility),
                   display_window=DateWindow.from_window(session.display_window),
                   access_window=DateWindow.from_window(session.access_window),
                   coach_access_window=DateWindow.from_window(session.coach_access_window),
                   duration_days=session.duration_days, model=session)

    # category, status (for admins), courseCount and learnerCount are plain functions that
    # answer at once when the list holding this row loaded their values ahead
    # (`load_ahead_rows`), and hand graphql-core an awaitable otherwise.

    @strawberry.field
    def category(self, info: Info) -> SessionCategory | None:
        if self.model.category_id is None:
            return None
        category = CategoryById(info.context).peek(self.model.category_id)
        if category is NOT_LOADED:
            return self._category_when_read(info)  # type: ignore[return-value]
        return SessionCategory.from_model(category) if category is not None else None

    async def _category_when_read(self, info: Info) -> SessionCategory | None:
        category = await CategoryById(info.context).load(self.model.category_id)
        return SessionCategory.from_model(category) if category is not None else None

    @strawberry.field
    async def coach(self, info: Info) -> User | None:
        return await load_user(info, self.model.coach_id)

    @strawberry.field(description="By the access window for admins and learners (a learner's own "
                                  "duration for duration sessions); by the coach access window for coaches.")
    def status(self, info: Info) -> SessionStatus:
        ctx = info.context
        if ctx.actor.is_admin:
            return self.model.status(ctx.now)
        return self._status_for_others(info)  # type: ignore[return-value]

    async def _status_for_others(self, info: Info) -> SessionStatus:
        ctx = info.context
        if await permissions.coaches_session(ctx, self.model):
            return self.model.coach_status(ctx.now)
        enrollment = None
        if ctx.actor.user_id is not None:
            enrollment = await EnrollmentByLearnerSession(ctx).load((ctx.actor.user_id, self.model.id))
        return self.model.learner_status(ctx.now, enrollment.first_access_at if enrollment else None)

    @strawberry.field(description="The session's courses in order.")
    async def courses(self, info: Info) -> list[SessionCourse]:
        rows = await CoursesBySession(info.context).load(self.model.id)
        return [SessionCourse(position=r.position, session_id=r.session_id, course_id=r.course_id) for r in rows]

    @strawberry.field
    def course_count(self, info: Info) -> int:
        counts = CourseCountBySession(info.context)
        count = counts.peek(self.model.id)
        return counts.load(self.model.id) if count is NOT_LOADED else count  # type: ignore[return-value]

    @strawberry.field
    def learner_count(self, info: Info) -> int:
        counts = LearnerCountBySession(info.context)
        count = counts.peek(self.model.id)
        return counts.load(self.model.id) if count is NOT_LOADED else count  # type: ignore[return-value]

    @strawberry.field(description="Enrolled learners by name; admins and the session's coaches "
                                  "(inside the coach access window) only, empty for others.")
    async def learners(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[User]:
        page = await sessions.enrolled_learners(info.context, self.model, first, after)
        return Connection.from_page(page, User.from_model) if page is not None else Connection.empty()

    @strawberry.field(description="Attendance per enrolled learner by name, and the session's totals; admins "
                                  "and the session's coaches (inside the coach access window) only, empty "
                                  "for others.")
    async def tracking(self, info: Info, first: int | None = None, after: str | None = None) -> SessionTracking:
        return await SessionTracking.of(info, self.model, first, after)


@node_fetcher("Session")
async def fetch_session(info: Info, session_id: int) -> Session | None:
    session = await SessionById(info.context).load(session_id)
    if session is None or not await permissions.can_see_session(info.context, session):
        return None
    return Session.from_model(session)


# --- inputs and payloads -------------------------------------------------------------------

@strawberry.input
class SessionFilter:
    search: str | None = None
    category_id: strawberry.ID | None = None
    status: SessionStatus | None = None
    from_: datetime | None = strawberry.field(name="from", default=None)
    to: datetime | None = None


@strawberry.input
class CreateSessionCategoryInput:
    name: str
    start: date | None = None
    end: date | None = None


@strawberry.type
class CreateSessionCategoryPayload:
    session_category: SessionCategory | None
    errors: list[UserError]


@strawberry.input
class CreateSessionInput:
    name: str
    description: str | None = None
    category_id: strawberry.ID | None = None
    coach_id: strawberry.ID | None = None
    visibility: SessionVisibility | None = None
    display_window: DateWindowInput | None = None
    access_window: DateWindowInput | None = None
    coach_access_window: DateWindowInput | None = None
    duration_days: int | None = None
    course_ids: list[strawberry.ID] | None = None


@strawberry.input(description="Fields left out stay as they are; a window given as null is opened on both ends.")
class UpdateSessionInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    category_id: strawberry.ID | None = strawberry.UNSET
    coach_id: strawberry.ID | None = strawberry.UNSET
    visibility: SessionVisibility | None = strawberry.UNSET
    display_window: DateWindowInput | None = strawberry.UNSET
    access_window: DateWindowInput | None = strawberry.UNSET
    coach_access_window: DateWindowInput | None = strawberry.UNSET
    duration_days: int | None = strawberry.UNSET


def _session_change(input: CreateSessionInput | UpdateSessionInput) -> sessions.SessionChange:
    """The fields the input sets, decoded into the resolvers' terms."""
    change = sessions.SessionChange()
    for name in ("name", "description", "visibility", "duration_days"):
        value = getattr(input, name)
        if value is not strawberry.UNSET:
            change.values[name] = value
    for name, type_name, input_name in (("category_id", "SessionCategory", "categoryId"),
                                        ("coach_id", "User", "coachId")):
        value = getattr(input, name)
        if value is not strawberry.UNSET:
            change.values[name] = decode_id(value, type_name, input_name) if value is not None else None
    for name in ("display_window", "access_window", "coach_access_window"):
        value = getattr(input, name)
        if value is not strawberry.UNSET:
            change.values[name] = value.to_window() if value is not None else None
    if isinstance(input, CreateSessionInput) and change.values.get("visibility") is None:
        change.values["visibility"] = models.SessionVisibility.READ_ONLY
    return change


@strawberry.type
class CreateSessionPayload:
    session: Session | None
    warnings: list[UserError]
    errors: list[UserError]


@strawberry.type
class UpdateSessionPayload:
    session: Session | None
    warnings: list[UserError]
    errors: list[UserError]


@strawberry.input
class DeleteSessionInput:
    id: strawberry.ID


@strawberry.type
class DeleteSessionPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.input
class SetSessionCoursesInput:
    session_id: strawberry.ID
    course_ids: list[strawberry.ID]


@strawberry.type
class SetSessionCoursesPayload:
    session: Session | None
    errors: list[UserError]


@strawberry.input
class SetCourseCoachesInput:
    session_id: strawberry.ID
    course_id: strawberry.ID
    coach_ids: list[strawberry.ID]


@strawberry.type
class SetCourseCoachesPayload:
    session: Session | None
    errors: list[UserError]


@strawberry.input(description="Exactly one of userIds and classId.")
class EnrollLearnersInput:
    session_id: strawberry.ID
    user_ids: list[strawberry.ID] | None = None
    class_id: strawberry.ID | None = None


@strawberry.type
class EnrollLearnersPayload:
    session: Session | None
    enrolled_count: int
    already_enrolled_count: int
    errors: list[UserError]


@strawberry.input
class UnenrollLearnersInput:
    session_id: strawberry.ID
    user_ids: list[strawberry.ID]


@strawberry.type
class UnenrollLearnersPayload:
    session: Session | None
    unenrolled_count: int
    errors: list[UserError]


def _session_or_none(session: models.Session | None) -> Session | None:
    return Session.from_model(session) if session is not None else None


def _warnings(result) -> list[UserError]:
    return [UserError.from_problem(w) for w in result[1]] if result else []


@strawberry.type
class SessionsQuery:
    @strawberry.field(description="Every session category, by name; admins only.")
    async def session_categories(self, info: Info, search: str | None = None, first: int | None = None,
                                 after: str | None = None) -> Connection[SessionCategory]:
        page = await sessions.list_categories(info.context, search=search, first=first, after=after)
        return Connection.from_page(page, SessionCategory.from_model)

    @strawberry.field(description="Every session, for admins: sorted by access start (open starts "
                                  "first), then name.")
    async def sessions(self, info: Info, filter: SessionFilter | None = None, first: int | None = None,
                       after: str | None = None) -> Connection[Session]:
        page = await sessions_page(info.context, filter, first, after)
        if page is None:
            return Connection.empty()
        await load_ahead_rows(info, page.items)
        return Connection.from_page(page, Session.from_model)


async def sessions_page(ctx: Context, filter: SessionFilter | None, first: int | None,
                        after: str | None) -> Page[models.Session] | None:
    """`sessions` as a page; None (an empty list) when the category ID names no category."""
    given = filter or SessionFilter()
    category_id = None
    if given.category_id is not None:
        category_id = id_of(given.category_id, "SessionCategory")
        if category_id is None:
            permissions.require_admin(ctx)
            return None
    return await sessions.list_sessions(ctx, sessions.SessionFilter(
        search=given.search, category_id=category_id,
        status=models.SessionStatus(given.status) if given.status else None,
        starts_before=given.to, ends_after=given.from_), first, after)


@strawberry.type
class SessionsMutation:
    @strawberry.mutation
    async def create_session_category(self, info: Info, input: CreateSessionCategoryInput
                                      ) -> CreateSessionCategoryPayload:
        category, errors = await attempt(info, lambda: sessions.create_category(
            info.context, name=input.name, start=input.start, end=input.end))
        return CreateSessionCategoryPayload(
            session_category=SessionCategory.from_model(category) if category else None, errors=errors)

    @strawberry.mutation
    async def create_session(self, info: Info, input: CreateSessionInput) -> CreateSessionPayload:
        result, errors = await attempt(info, lambda: sessions.create_session(
            info.context, _session_change(input), decode_ids(input.course_ids or [], "Course", "courseIds")))
        return CreateSessionPayload(session=_session_or_none(result[0] if result else None),
                                    warnings=_warnings(result), errors=errors)

    @strawberry.mutation
    async def update_session(self, info: Info, input: UpdateSessionInput) -> UpdateSessionPayload:
        result, errors = await attempt(info, lambda: sessions.update_session(
            info.context, decode_id(input.id, "Session", "id"), _session_change(input)))
        return UpdateSessionPayload(session=_session_or_none(result[0] if result else None),
                                    warnings=_warnings(result), errors=errors)

    @strawberry.mutation
    async def delete_session(self, info: Info, input: DeleteSessionInput) -> DeleteSessionPayload:
        deleted, errors = await attempt(info, lambda: sessions.delete_session(
            info.context, decode_id(input.id, "Session", "id")))
        return DeleteSessionPayload(deleted_id=input.id if deleted is not None else None, errors=errors)

    @strawberry.mutation
    async def set_session_courses(self, info: Info, input: SetSessionCoursesInput) -> SetSessionCoursesPayload:
        session, errors = await attempt(info, lambda: sessions.set_session_courses(
            info.context, decode_id(input.session_id, "Session", "sessionId"),
            decode_ids(input.course_ids, "Course", "courseIds")))
        return SetSessionCoursesPayload(session=_session_or_none(session), errors=errors)

    @strawberry.mutation
    async def set_course_coaches(self, info: Info, input: SetCourseCoachesInput) -> SetCourseCoachesPayload:
        session, errors = await attempt(info, lambda: sessions.set_course_coaches(
            info.context, decode_id(input.session_id, "Session", "sessionId"),
            decode_id(input.course_id, "Course", "courseId"), decode_ids(input.coach_ids, "User", "coachIds")))
        return SetCourseCoachesPayload(session=_session_or_none(session), errors=errors)

    @strawberry.mutation
    async def enroll_learners(self, info: Info, input: EnrollLearnersInput) -> EnrollLearnersPayload:
        result, errors = await attempt(info, lambda: sessions.enroll_learners(
            info.context, decode_id(input.session_id, "Session", "sessionId"),
            user_ids=decode_ids(input.user_ids, "User", "userIds") if input.user_ids is not None else None,
            class_id=decode_id(input.class_id, "UserClass", "classId") if input.class_id is not None else None))
        return EnrollLearnersPayload(session=_session_or_none(result.session if result else None),
                                     enrolled_count=result.enrolled if result else 0,
                                     already_enrolled_count=result.already_enrolled if result else 0,
                                     errors=errors)

    @strawberry.mutation
    async def unenroll_learners(self, info: Info, input: UnenrollLearnersInput) -> UnenrollLearnersPayload:
        result, errors = await attempt(info, lambda: sessions.unenroll_learners(
            info.context, decode_id(input.session_id, "Session", "sessionId"),
            decode_ids(input.user_ids, "User", "userIds")))
        return UnenrollLearnersPayload(session=_session_or_none(result[0] if result else None),
                                       unenrolled_count=result[1] if result else 0, errors=errors)
