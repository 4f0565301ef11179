"""Administrative sessions: the admin's list and changes, and a user's "My sessions"."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.infrastructure.storable import global_id
from sessiongraph.models import (
    ClassMember,
    Course,
    Enrollment,
    LiveSession,
    Session,
    SessionCategory,
    SessionCourse,
    SessionCourseCoach,
    SessionStatus,
    SessionVisibility,
    User,
    UserClass,
)
from sessiongraph.models.events import EventType
from sessiongraph.models.sessions import OPEN_START, access_order
from sessiongraph.models.windows import DateWindow
from sessiongraph.resolvers.accounts import like_pattern, require_users_exist
from sessiongraph.resolvers.audit import audit_note, audit_removed, audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, Problem, Problems, UserErrors
from sessiongraph.resolvers.events import enrollment_data
from sessiongraph.resolvers.outbox import NewEvent, record_events
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import can_follow_session, require_admin, require_signed_in
from sessiongraph.resolvers.validation import DURATION_DAYS

WINDOW_FIELDS = {
    "display_window": ("display_start", "display_end", "displayWindow"),
    "access_window": ("access_start", "access_end", "accessWindow"),
    "coach_access_window": ("coach_start", "coach_end", "coachAccessWindow"),
}
PLAIN_FIELDS = ("name", "description", "category_id", "coach_id", "visibility", "duration_days")


# --- categories ---------------------------------------------------------------------

@audited("createSessionCategory", subject=SessionCategory)
async def create_category(ctx: Context, *, name: str, start: date | None, end: date | None) -> SessionCategory:
    require_admin(ctx)
    problems = Problems()
    name = (name or "").strip()
    if not name:
        problems.add(ErrorCode.VALIDATION, "name must not be blank.", "name")
    if start is not None and end is not None and end < start:
        problems.add(ErrorCode.INVALID_WINDOW, "end must not be before start.", "end")
    problems.raise_if_any()
    async with ctx.database.write() as db:
        if await db.scalar(select(SessionCategory.id).where(SessionCategory.name == name)) is not None:
            raise UserErrors.one(ErrorCode.DUPLICATE, f"A category named {name!r} exists.", "name")
        category = SessionCategory(name=name, start=start, end=end)
        db.add(category)
        await db.flush()
    return category


async def list_categories(ctx: Context, *, search: str | None, first: int | None,
                          after: str | None) -> Page[SessionCategory]:
    """Categories by name, for the admin's filter and session editor."""
    require_admin(ctx)
    query = select(SessionCategory)
    if search:
        query = query.where(func.lower(SessionCategory.name).like(like_pattern(search), escape="\\"))
    return await paginate(ctx, query, [SessionCategory.name, SessionCategory.id], lambda c: (c.name, c.id),
                          first, after)


# --- create, update, delete ---------------------------------------------------------

@dataclass
class SessionChange:
    """The fields an input sets; a field absent from `values` is left as it is."""

    values: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.values


@audited("createSession", subject=Session)
async def create_session(ctx: Context, change: SessionChange, course_ids: list[int]) -> tuple[Session, list[Problem]]:
    require_admin(ctx)
    session = Session(name="")
    _apply(session, change)
    course_ids = list(dict.fromkeys(course_ids))
    with _name_taken_is_duplicate(session):
        async with ctx.database.write() as db:
            warnings = await _validate(db, session, check_name=True)
            await _require_courses(db, course_ids, "courseIds")
            db.add(session)
            await db.flush()
            await _replace_courses(db, session.id, course_ids)
    return session, warnings


@audited("updateSession", subject=Session, by="session_id")
async def update_session(ctx: Context, session_id: int, change: SessionChange) -> tuple[Session, list[Problem]]:
    require_admin(ctx)
    async with ctx.database.write() as db:
        session = await _get_session(db, session_id, "id")
        renamed = "name" in change and change.values["name"] != session.name
        _apply(session, change)
        warnings = await _validate(db, session, check_name=renamed)
        with _name_taken_is_duplicate(session):
            await db.flush()
    return session, warnings


@audited("deleteSession", subject=Session, by="session_id")
async def delete_session(ctx: Context, session_id: int) -> int:
    require_admin(ctx)
    async with ctx.database.write() as db:
        audit_removed(db, await _get_session(db, session_id, "id"))
        # Children are deleted explicitly rather than trusting ON DELETE CASCADE, which
        # SQLite only honours on connections that enabled foreign keys.
        for table in (SessionCourseCoach, SessionCourse, Enrollment):
            await db.execute(delete(table).where(table.session_id == session_id))
        # Its live sessions stay, with their bookings and reports, outside any session.
        await db.execute(update(LiveSession).where(LiveSession.session_id == session_id).values(session_id=None))
        await db.execute(delete(Session).where(Session.id == session_id))
    return session_id


@contextmanager
def _name_taken_is_duplicate(session: Session):
    """Two admins saving the same name at once: the unique index decides, the loser gets DUPLICATE."""
    try:
        yield
    except IntegrityError as error:
        if "name" not in str(error.orig).lower():
            raise
        raise UserErrors.one(ErrorCode.DUPLICATE, f"A session named {session.name!r} exists.", "name") from error


def _apply(session: Session, change: SessionChange) -> None:
    for name in PLAIN_FIELDS:
        if name in change:
            value = change.values[name]
            if name == "name":
                value = (value or "").strip()
            elif name == "visibility" and value is not None:
                value = SessionVisibility(value).value
            setattr(session, name, value)
    if session.visibility is None:
        session.visibility = SessionVisibility.READ_ONLY.value
    for key, (start_column, end_column, _) in WINDOW_FIELDS.items():
        if key in change:
            window: DateWindow = change.values[key] or DateWindow()
            setattr(session, start_column, window.start)
            setattr(session, end_column, window.end)


async def _validate(db: AsyncSession, session: Session, *, check_name: bool) -> list[Problem]:
    """Refuses what cannot be saved (all problems at once); returns the warnings."""
    with db.no_autoflush:  # the checks must not write the unchecked row
        return await _check(db, session, check_name=check_name)


async def _check(db: AsyncSession, session: Session, *, check_name: bool) -> list[Problem]:
    problems = Problems()
    problems.items.extend(session_rule_problems(session))
    if check_name and _name_is_well_formed(session) and await db.scalar(select(Session.id).where(
            Session.name == session.name, Session.id.is_distinct_from(session.id))) is not None:
        problems.add(ErrorCode.DUPLICATE, f"A session named {session.name!r} exists.", "name")
    if session.category_id is not None and await db.get(SessionCategory, session.category_id) is None:
        problems.add(ErrorCode.NOT_FOUND, "No such session category.", "categoryId")
    if session.coach_id is not None and await db.get(User, session.coach_id) is None:
        problems.add(ErrorCode.NOT_FOUND, "No such user for the session coach.", "coachId")
    problems.raise_if_any()
    return session_warnings(session)


def _name_is_well_formed(session: Session) -> bool:
    return bool(session.name) and len(session.name) <= 200


def session_rule_problems(session: Session) -> list[Problem]:
    """What makes a session unsavable that needs no database: its name, windows and duration.

    Shared with the CSV import, which checks thousands of rows without a query each.
    """
    problems = Problems()
    if not session.name:
        problems.add(ErrorCode.VALIDATION, "name must not be blank.", "name")
    elif not _name_is_well_formed(session):
        problems.add(ErrorCode.VALIDATION, "name must be at most 200 characters.", "name")
    for key, (_, _, input_name) in WINDOW_FIELDS.items():
        if not getattr(session, key).is_valid:
            problems.add(ErrorCode.INVALID_WINDOW, f"{input_name} ends before it starts.", input_name, "end")
    if session.duration_days is not None:
        DURATION_DAYS.check(session.duration_days, problems, "durationDays")
        if session.access_start is not None or session.access_end is not None:
            problems.add(ErrorCode.VALIDATION,
                         "A session with durationDays has no access dates: give one or the other.",
                         "durationDays")
    return problems.items


def session_warnings(session: Session) -> list[Problem]:
    """What is saved but worth telling the admin about."""
    if session.coach_access_window.covers(session.access_window):
        return []
    return [Problem(ErrorCode.COACH_WINDOW_NOT_COVERING,
                    "The coach access window does not cover the learners' access window; "
                    "coaches will be locked out while learners are in.",
                    ("coachAccessWindow",))]


async def _get_session(db: AsyncSession, session_id: int, *field: str) -> Session:
    session = await db.get(Session, session_id)
    if session is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such session.", *field)
    return session


async def _require_courses(db: AsyncSession, course_ids: list[int], *field: str) -> None:
    if not course_ids:
        return
    found = set((await db.scalars(select(Course.id).where(Course.id.in_(course_ids)))).all())
    if len(found) != len(set(course_ids)):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "Some of the courses given do not exist.", *field)


async def _replace_courses(db: AsyncSession, session_id: int, course_ids: list[int]) -> None:
    await db.execute(delete(SessionCourse).where(SessionCourse.session_id == session_id))
    if course_ids:
        await db.execute(insert(SessionCourse), [
            {"session_id": session_id, "course_id": course_id, "position": position}
            for position, course_id in enumerate(course_ids)
        ])


# --- courses, coaches and learners ----------------------------------------------------

@audited("setSessionCourses", subject=Session, by="session_id")
async def set_session_courses(ctx: Context, session_id: int, course_ids: list[int]) -> Session:
    require_admin(ctx)
    course_ids = list(dict.fromkeys(course_ids))
    async with ctx.database.write() as db:
        session = await _get_session(db, session_id, "sessionId")
        await _require_courses(db, course_ids, "courseIds")
        await _replace_courses(db, session_id, course_ids)
        # A course leaving the session takes its coaches with it.
        await db.execute(delete(SessionCourseCoach).where(
            SessionCourseCoach.session_id == session_id, SessionCourseCoach.course_id.not_in(course_ids)))
    return session


@audited("setCourseCoaches", subject=Session, by="session_id")
async def set_course_coaches(ctx: Context, session_id: int, course_id: int, coach_ids: list[int]) -> Session:
    require_admin(ctx)
    coach_ids = list(dict.fromkeys(coach_ids))
    async with ctx.database.write() as db:
        session = await _get_session(db, session_id, "sessionId")
        in_session = await db.scalar(select(SessionCourse.course_id).where(
            SessionCourse.session_id == session_id, SessionCourse.course_id == course_id))
        if in_session is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "That course is not part of this session.", "courseId")
        await require_users_exist(db, coach_ids, "coachIds")
        await db.execute(delete(SessionCourseCoach).where(
            SessionCourseCoach.session_id == session_id, SessionCourseCoach.course_id == course_id))
        if coach_ids:
            await db.execute(insert(SessionCourseCoach), [
                {"session_id": session_id, "course_id": course_id, "user_id": u} for u in coach_ids])
    return session


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    session: Session
    enrolled: int
    already_enrolled: int


@audited("enrollLearners", subject=Session, by="session_id")
async def enroll_learners(ctx: Context, session_id: int, *, user_ids: list[int] | None,
                          class_id: int | None) -> EnrollmentResult:
    require_admin(ctx)
    if (user_ids is None) == (class_id is None):
        raise UserErrors.one(ErrorCode.VALIDATION, "Give exactly one of userIds and classId.", "userIds")
    async with ctx.database.write() as db:
        session = await _get_session(db, session_id, "sessionId")
        if class_id is not None:
            if await db.get(UserClass, class_id) is None:
                raise UserErrors.one(ErrorCode.NOT_FOUND, "No such class.", "classId")
            # The class's members at this moment; later members are not enrolled by it.
            user_ids = list((await db.scalars(select(ClassMember.user_id).where(
                ClassMember.class_id == class_id).order_by(ClassMember.user_id))).all())
        else:
            user_ids = list(dict.fromkeys(user_ids))
            await require_users_exist(db, user_ids, "userIds")
        enrolled, already = await add_enrollments(db, session_id, user_ids, class_id=class_id, now=ctx.now)
    return EnrollmentResult(session, enrolled, already)


async def add_enrollments(db: AsyncSession, session_id: int, user_ids: list[int], *,
                          class_id: int | None, now: datetime) -> tuple[int, int]:
    """Enrolls whoever is not yet enrolled; returns (newly enrolled, already enrolled)."""
    if not user_ids:
        return 0, 0
    existing = set((await db.scalars(select(Enrollment.user_id).where(
        Enrollment.session_id == session_id, Enrollment.user_id.in_(user_ids)))).all())
    new = [u for u in user_ids if u not in existing]
    if new:
        await db.execute(insert(Enrollment), [
            {"session_id": session_id, "user_id": u, "class_id": class_id, "enrolled_at": now} for u in new])
        await record_events(db, [NewEvent(EventType.ENROLLMENT_CREATED, enrollment_data(session_id, u, class_id))
                                 for u in new], now=now)
    return len(new), len(user_ids) - len(new)


@audited("unenrollLearners", subject=Session, by="session_id")
async def unenroll_learners(ctx: Context, session_id: int, user_ids: list[int]) -> tuple[Session, int]:
    require_admin(ctx)
    async with ctx.database.write() as db:
        session = await _get_session(db, session_id, "sessionId")
        result = await db.execute(delete(Enrollment).where(
            Enrollment.session_id == session_id, Enrollment.user_id.in_(list(set(user_ids))))
            .returning(Enrollment.user_id))
        unenrolled = sorted(result.scalars().all())
        audit_note(db, "learners", [global_id("User", u) for u in unenrolled], [])
    return session, len(unenrolled)


# --- the admin's list -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SessionFilter:
    search: str | None = None
    category_id: int | None = None
    status: SessionStatus | None = None
    starts_before: datetime | None = None  # the filter's `to`
    ends_after: datetime | None = None  # the filter's `from`


async def list_sessions(ctx: Context, filter: SessionFilter, first: int | None, after: str | None) -> Page[Session]:
    require_admin(ctx)
    now = ctx.now
    query = select(Session)
    if filter.search:
        # ILIKE, not lower() LIKE: PostgreSQL serves it from the name's trigram index.
        query = query.where(Session.name.ilike(like_pattern(filter.search), escape="\\"))
    if filter.category_id is not None:
        query = query.where(Session.category_id == filter.category_id)
    if filter.status is SessionStatus.UPCOMING:
        query = query.where(Session.access_start > now)
    elif filter.status is SessionStatus.PAST:
        query = query.where(Session.access_end <= now)
    elif filter.status is SessionStatus.ACTIVE:
        query = query.where(or_(Session.access_start.is_(None), Session.access_start <= now),
                            or_(Session.access_end.is_(None), Session.access_end > now))
    if filter.starts_before is not None:
        query = query.where(or_(Session.access_start.is_(None), Session.access_start <= filter.starts_before))
    if filter.ends_after is not None:
        query = query.where(or_(Session.access_end.is_(None), Session.access_end >= filter.ends_after))
    order = [access_order(ctx.database.dialect), Session.name, Session.id]
    return await paginate(ctx, query, order,
                          lambda s: (s.access_start or OPEN_START, s.name, s.id), first, after)


async def enrolled_learners(ctx: Context, session: Session, first: int | None,
                            after: str | None) -> Page[User] | None:
    """A page of the session's learners by name; None for a viewer who may not follow the session."""
    if not await can_follow_session(ctx, session):
        return None
    query = select(User).join(Enrollment, Enrollment.user_id == User.id).where(Enrollment.session_id == session.id)
    return await paginate(ctx, query, [User.name, User.id], lambda u: (u.name, u.id), first, after)


# --- My sessions ----------------------------------------------------------------------------

@dataclass
class MySessions:
    current: list[Session] = field(default_factory=list)
    upcoming: list[Session] = field(default_factory=list)
    past: list[Session] = field(default_factory=list)


async def my_sessions(ctx: Context) -> MySessions:
    """The viewer's sessions: as a learner by the display and access windows and
    visibility; as a coach by the coach access window (a coach sees a session they
    coach whatever its display window, so they can prepare it)."""
    user = require_signed_in(ctx)
    now = ctx.now
    # A UNION, not an OR with a subquery, so that PostgreSQL reads each half by its index.
    coached_ids = union(select(Session.id).where(Session.coach_id == user.id).correlate(None),
                        select(SessionCourseCoach.session_id).where(SessionCourseCoach.user_id == user.id))
    async with ctx.read() as db:
        coached = (await db.scalars(select(Session).where(Session.id.in_(coached_ids)))).all()
        learning = (await db.execute(select(Session, Enrollment.first_access_at).join(
            Enrollment, Enrollment.session_id == Session.id).where(Enrollment.user_id == user.id))).all()

    mine = MySessions()
    by_status = {SessionStatus.ACTIVE: mine.current, SessionStatus.UPCOMING: mine.upcoming,
                 SessionStatus.PAST: mine.past}
    coached_set = {s.id for s in coached}
    for session in coached:
        by_status[session.coach_status(now)].append(session)
    for session, first_access_at in learning:
        if session.id in coached_set or not session.listed_for_learner(now, first_access_at):
            continue
        by_status[session.learner_status(now, first_access_at)].append(session)

    def by_start(s: Session):
        return (s.access_start or OPEN_START, s.name)

    mine.current.sort(key=by_start)
    mine.upcoming.sort(key=by_start)
    mine.past.sort(key=lambda s: s.name)
    mine.past.sort(key=lambda s: s.access_end or OPEN_START, reverse=True)  # newest end first, stable on name
    return mine
