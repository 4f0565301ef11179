from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date
from enum import Enum
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, Integer, Select, Subquery, and_, bindparam, func, select, union
from sqlmodel import col

from sessiongraph.models import (
    AbsenceRequest,
    AttendanceReport,
    Booking,
    BookingStatus,
    Course,
    Enrollment,
    Instructor,
    LiveSession,
    Session,
    User,
)
from sessiongraph.models.rows import plain_rows
from sessiongraph.resolvers.loaders.accounts import InstructorById
from sessiongraph.resolvers.loaders.base import (
    CountBy,
    Loader,
    OneBy,
    first_rows_per_key,
    many_per_key,
    one_per_key,
    pairs_in,
)
from sessiongraph.resolvers.loaders.booking import AbsenceRequestByBooking
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.reports import ReportByLearnerLiveSession
from sessiongraph.resolvers.loaders.sessions import EnrollmentByLearnerSession, SessionById
from sessiongraph.resolvers.pagination import past_cursor

if TYPE_CHECKING:
    from sessiongraph.resolvers.context import Context


def on_schedule_of(learner_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """True for the live sessions on a learner's schedule: those they hold a booking on,
    and those of the administrative sessions they are enrolled in (no booking needed).

    One IN over a UNION rather than an OR of two INs: PostgreSQL cannot turn an OR of
    subqueries into index scans, and read every live session in the date range to test
    each (96 ms for a month calendar on 500,000 of them; 0.3 ms now). The inner select is
    uncorrelated rather than an aliased() copy of the table, which cost 0.7 ms to build."""
    booked = select(col(Booking.live_session_id)).where(col(Booking.learner_id) == learner_id,
                                                        col(Booking.status) == BookingStatus.BOOKED.value)
    enrolled = (select(col(LiveSession.id)).join(Enrollment, col(Enrollment.session_id) == LiveSession.session_id)
                .where(col(Enrollment.user_id) == learner_id).correlate(None))
    return col(LiveSession.id).in_(union(booked, enrolled))


def schedules_of(learner_ids: Sequence[int] | BindParameter[Any]) -> Subquery:
    """`on_schedule_of` for several learners at once: its UNION as rows (learner_id,
    live_session_id), which say whose schedule each live session is on. Each branch reads
    by learner through its index, as `on_schedule_of`'s do."""
    booked = select(col(Booking.learner_id), col(Booking.live_session_id)).where(
        col(Booking.learner_id).in_(learner_ids), col(Booking.status) == BookingStatus.BOOKED.value)
    enrolled = (select(col(Enrollment.user_id), col(LiveSession.id))
                .join(LiveSession, col(LiveSession.session_id) == Enrollment.session_id)
                .where(col(Enrollment.user_id).in_(learner_ids)))
    return union(booked, enrolled).subquery("on_schedule")


# A schedule's lists read their rows plain (models/rows.py): they are read-only, and a month
# calendar's statement read as ORM instances cost 1.1 ms of CPU against 0.35 ms for its plain rows.
LIVE_SESSIONS, COURSES, INSTRUCTORS = plain_rows(LiveSession), plain_rows(Course), plain_rows(Instructor)


def with_course_and_instructor(query: Select) -> Select:
    """Every schedule list shows each row's course and instructor (and the Join rule reads the
    course): read in the list's own statement, they are two statements fewer than the loaders'.
    Their columns come last, after the list's own."""
    return (query.add_columns(*COURSES.columns, *INSTRUCTORS.columns)
            .join(Course, col(Course.id) == LiveSession.course_id)
            .join(Instructor, col(Instructor.id) == LiveSession.instructor_id))


def take_course_and_instructor(ctx: Context, rows: Iterable[Sequence[Any]]) -> list[LiveSession]:
    """The live sessions of rows `with_course_and_instructor` read (each a live session's
    columns, then its course's and instructor's), their courses and instructors put in the
    request's loaders."""
    courses, instructors = CourseById(ctx), InstructorById(ctx)
    live_sessions = []
    course_end = len(LIVE_SESSIONS) + len(COURSES)
    # A list's rows share a few courses and instructors: each is made and primed once.
    course_ids: set[int] = set()
    instructor_ids: set[int] = set()
    for row in rows:
        live_session = LIVE_SESSIONS.of(row[:len(LIVE_SESSIONS)])
        if live_session.course_id not in course_ids:
            course_ids.add(live_session.course_id)
            courses.prime(live_session.course_id, COURSES.of(row[len(LIVE_SESSIONS):course_end]))
        if live_session.instructor_id not in instructor_ids:
            instructor_ids.add(live_session.instructor_id)
            instructors.prime(live_session.instructor_id, INSTRUCTORS.of(row[course_end:]))
        live_sessions.append(live_session)
    return live_sessions


# A schedule's lists are in this order (reversed when descending); it ends in a unique
# column, as cursors need.
SCHEDULE_ORDER = (col(LiveSession.starts_at), col(LiveSession.id))
_ORDERINGS = {False: [column.asc() for column in SCHEDULE_ORDER],
              True: [column.desc() for column in SCHEDULE_ORDER]}

# A list's statement is built once per shape and kept, its values bound as parameters:
# built and keyed anew for each request, it cost as much CPU as reading its rows (0.4 to
# 0.6 ms of a month calendar's). The shape is what decides the statement's structure: the
# rule, which of its arguments are None (and its enums and flags, which rules branch on),
# the order, whether there is a limit and a cursor, and one learner or several.
_LEARNER = bindparam("learner_id", type_=Integer)
_LEARNERS = bindparam("learner_ids", type_=Integer, expanding=True)
_ON_SCHEDULE_OF_ONE = on_schedule_of(_LEARNER)
_ONE_LEARNER = _LEARNER.label("learner_id")
_LIMIT = bindparam("row_limit", type_=Integer)
_AFTER = tuple(bindparam(f"after_{i}", type_=column.type)  # type: ignore[attr-defined]  # ORM attributes proxy .type
               for i, column in enumerate(SCHEDULE_ORDER))
MAX_STATEMENTS = 512  # shapes are a few dozen; the bound only guards against a rule's unforeseen argument
_STATEMENTS: dict[Hashable, Select] = {}

# A statement and its parameters.
Statement = tuple[Select, dict[str, Any]]


def _bound(value: Any, name: str, parameters: dict[str, Any]) -> tuple[Hashable, Any]:
    """(the value's part of the statement's shape, what stands for it in the statement): a bound
    parameter for a value, the value itself where it decides structure (None, a flag, an enum),
    and a dataclass's fields each so."""
    if value is None or isinstance(value, bool | Enum):
        return value, value
    if isinstance(value, int | str | date):  # datetime is a date
        parameters[name] = value
        return type(value).__name__, bindparam(name)
    if is_dataclass(value) and not isinstance(value, type):
        shapes, stand_ins = [], {}
        for field in fields(value):
            shape, stand_ins[field.name] = _bound(getattr(value, field.name), f"{name}_{field.name}", parameters)
            shapes.append(shape)
        return (type(value).__name__, tuple(shapes)), replace(value, **stand_ins)
    raise TypeError(f"a schedule list's argument of type {type(value).__name__} has no parameter form")


@dataclass(frozen=True, slots=True)
class ScheduleList:
    """One list of a schedule, the same for every learner it is asked for: the live sessions
    `rule(*arguments)`'s conditions keep, in SCHEDULE_ORDER (reversed when `descending`),
    those past the sort key `after` when given, at most `limit` (all when None). A value, so
    that the same list asked for several learners is one key of theirs, and one statement.
    `rule` is a function of its arguments alone: its statement is built once per shape."""

    rule: Callable[..., Iterable[ColumnElement[bool]]]
    arguments: tuple[Hashable, ...] = ()
    descending: bool = False
    limit: int | None = None
    after: tuple[Any, ...] | None = None
    # Each row with its details (`detailed`), for a document that selects them.
    details: bool = False

    def whole(self) -> ScheduleList:
        """Every row of the list, what its totalCount counts."""
        return replace(self, limit=None, after=None, details=False)

    def rows(self, learner_ids: Sequence[int]) -> Statement:
        """(learner_id, then the live session's, course's and instructor's columns, or with `details`
        `_DETAILED_COLUMNS`) for each learner's rows, in order."""
        return self._statement("rows", learner_ids, self._rows)

    def counts(self, learner_ids: Sequence[int]) -> Statement:
        """(learner_id, how many rows) for each learner with any, whatever the page."""
        return self.whole()._statement("counts", learner_ids, self._counts)

    def _statement(self, kind: str, learner_ids: Sequence[int],
                   build: Callable[[tuple[Any, ...], bool], Select]) -> Statement:
        parameters: dict[str, Any] = {}
        bound = [_bound(argument, f"argument_{i}", parameters) for i, argument in enumerate(self.arguments)]
        shapes, stand_ins = tuple(shape for shape, _ in bound), tuple(stand_in for _, stand_in in bound)
        one = len(learner_ids) == 1
        parameters.update({"learner_id": learner_ids[0]} if one else {"learner_ids": list(learner_ids)})
        if self.limit is not None:
            parameters["row_limit"] = self.limit
        if self.after is not None:
            parameters.update(zip((p.key for p in _AFTER), self.after, strict=True))
        shape = (kind, self.rule, shapes, self.descending, self.limit is None, self.after is None, one,
                 self.details)
        statement = _STATEMENTS.get(shape)
        if statement is None:
            statement = build(stand_ins, one)
            if len(_STATEMENTS) < MAX_STATEMENTS:
                _STATEMENTS[shape] = statement
        return statement, parameters

    def _kept(self, query: Select, stand_ins: tuple[Any, ...]) -> Select:
        query = query.where(*self.rule(*stand_ins))
        if self.after is not None:
            query = query.where(past_cursor(SCHEDULE_ORDER, _AFTER, self.descending))
        return query

    def _rows(self, stand_ins: tuple[Any, ...], one: bool) -> Select:
        ordering = _ORDERINGS[self.descending]
        if one:
            # A page of one learner's list is a plain LIMIT, without schedules_of's join.
            listed = self._kept(select(_ONE_LEARNER, *LIVE_SESSIONS.columns).where(_ON_SCHEDULE_OF_ONE),
                                stand_ins).order_by(*ordering)
            return self._shown(listed.limit(_LIMIT) if self.limit is not None else listed)
        on = schedules_of(_LEARNERS)
        chosen = self._kept(select(on.c.learner_id, *LIVE_SESSIONS.columns)
                            .join_from(on, LiveSession, col(LiveSession.id) == on.c.live_session_id), stand_ins)
        if self.limit is None:
            return self._shown(chosen.order_by(on.c.learner_id, *ordering))
        # Each learner's page: their first rows by a window function, then those rows read whole.
        rank = func.row_number().over(partition_by=on.c.learner_id, order_by=ordering).label("row_rank")
        ranked = self._kept(select(on.c.learner_id, col(LiveSession.id).label("live_session_id"), rank)
                            .join_from(on, LiveSession, col(LiveSession.id) == on.c.live_session_id),
                            stand_ins).subquery("ranked")
        return self._shown(
            select(ranked.c.learner_id, *LIVE_SESSIONS.columns)
            .join_from(ranked, LiveSession, col(LiveSession.id) == ranked.c.live_session_id)
            .where(ranked.c.row_rank <= _LIMIT).order_by(ranked.c.learner_id, ranked.c.row_rank))

    def _shown(self, listed: Select) -> Select:
        """The list's rows (learner_id and the live session's columns) with what their fields read."""
        return detailed(listed, self.descending) if self.details else with_course_and_instructor(listed)

    def _counts(self, stand_ins: tuple[Any, ...], one: bool) -> Select:
        if one:
            return self._kept(select(_ONE_LEARNER, func.count()).select_from(LiveSession).where(_ON_SCHEDULE_OF_ONE),
                              stand_ins)
        on = schedules_of(_LEARNERS)
        return (self._kept(select(on.c.learner_id, func.count())
                           .join_from(on, LiveSession, col(LiveSession.id) == on.c.live_session_id), stand_ins)
                .group_by(on.c.learner_id))


def _learners_by_list(keys: Sequence[tuple[int, ScheduleList]]) -> dict[ScheduleList, list[int]]:
    learners: dict[ScheduleList, list[int]] = defaultdict(list)
    for learner_id, schedule_list in dict.fromkeys(keys):
        learners[schedule_list].append(learner_id)
    return learners


class ScheduleListByLearner(Loader[tuple[int, ScheduleList], list[LiveSession]]):
    """Key: (learner ID, a list of their schedule); its live sessions, their courses and
    instructors put in the request's loaders. One statement per list for every learner it
    is asked for at once: a guardian's children cost what one child does."""

    async def batch_load(self, db, keys):
        found: dict[tuple[int, ScheduleList], list[Any]] = defaultdict(list)
        for schedule_list, learner_ids in _learners_by_list(keys).items():
            for row in (await db.execute(*schedule_list.rows(learner_ids))).all():
                found[row[0], schedule_list].append(row)
        return [take_details(self.context, found.get(key, [])) if key[1].details
                else take_course_and_instructor(self.context, (row[1:] for row in found.get(key, []))) for key in keys]


class ScheduleCountByLearner(Loader[tuple[int, ScheduleList], int]):
    """Key: (learner ID, a list of their schedule); how many live sessions the whole list
    holds (its totalCount), one statement per list for every learner it is asked for."""

    async def batch_load(self, db, keys):
        counts: dict[tuple[int, ScheduleList], int] = {}
        for schedule_list, learner_ids in _learners_by_list(keys).items():
            for learner_id, count in (await db.execute(*schedule_list.counts(learner_ids))).all():
                counts[learner_id, schedule_list] = count
        return [counts.get(key, 0) for key in keys]


class LiveSessionById(Loader[int, LiveSession | None]):
    """Key: live session ID; its course and instructor read in the same statement and put in
    the request's loaders, as a schedule list's are: every screen that shows a live session
    shows them, and the Join rule reads the course."""

    async def batch_load(self, db, keys):
        query = with_course_and_instructor(select(*LIVE_SESSIONS.columns).where(col(LiveSession.id).in_(keys)))
        return one_per_key(keys, take_course_and_instructor(self.context, (await db.execute(query)).all()),
                           attrgetter("id"))


class BookingById(OneBy[int, Booking | None], key=Booking.id):
    pass


BOOKINGS, ABSENCE_REQUESTS = plain_rows(Booking), plain_rows(AbsenceRequest)


class BookingByLearnerLiveSession(Loader[tuple[int, int], Booking | None]):
    """Key: (learner ID, live session ID); their live booking, else their latest cancelled one.
    Each booking's absence request (at most one) is read in the same statement and put in the
    request's loaders: every screen that shows the viewer's booking shows its request."""

    async def batch_load(self, db, keys):
        query = (select(*BOOKINGS.columns, *ABSENCE_REQUESTS.columns)
                 .outerjoin(AbsenceRequest, col(AbsenceRequest.booking_id) == Booking.id)
                 .where(pairs_in(Booking.learner_id, Booking.live_session_id, keys)).order_by(Booking.id))
        requests = AbsenceRequestByBooking(self.context)
        bookings = []
        for row in (await db.execute(query)).all():
            booking = BOOKINGS.of(row[:len(BOOKINGS)])
            request = row[len(BOOKINGS):]
            requests.prime(booking.id, ABSENCE_REQUESTS.of(request) if request[0] is not None else None)
            bookings.append(booking)
        grouped = many_per_key(keys, bookings, lambda b: (b.learner_id, b.live_session_id))
        return [_current(bookings) for bookings in grouped]


def _current(bookings: list[Booking]) -> Booking | None:
    booked = [b for b in bookings if b.status == BookingStatus.BOOKED.value]
    if booked:
        return booked[0]
    return bookings[-1] if bookings else None


class BookedCountByLiveSession(CountBy[int], key=Booking.live_session_id,
                               where=Booking.status == BookingStatus.BOOKED.value):
    pass


BOOKING_ORDER = (Booking.booked_at, Booking.id)


class BookingsByLiveSession(Loader[tuple[int, int], list[Booking]]):
    """Key: (live session ID, n); its first n bookings by time booked, cancelled ones included."""

    async def batch_load(self, db, keys):
        parents = sorted({k for k, _ in keys})
        pages = await first_rows_per_key(db, Booking, Booking.live_session_id, parents, BOOKING_ORDER,
                                         max(n for _, n in keys))
        by_id = dict(zip(parents, pages, strict=True))
        return [by_id[k][:n] for k, n in keys]


class BookingCountByLiveSession(CountBy[int], key=Booking.live_session_id):
    """Every booking, cancelled ones included (BookedCountByLiveSession counts the seats taken)."""


class OnLearnerSchedule(Loader[tuple[int, int], bool]):
    """Key: (learner ID, live session ID); True when it is on that learner's schedule."""

    async def batch_load(self, db, keys):
        booked = select(Booking.learner_id, Booking.live_session_id).where(
            pairs_in(Booking.learner_id, Booking.live_session_id, keys),
            Booking.status == BookingStatus.BOOKED.value)
        enrolled = (select(Enrollment.user_id, LiveSession.id)
                    .join(LiveSession, LiveSession.session_id == Enrollment.session_id)
                    .where(pairs_in(Enrollment.user_id, LiveSession.id, keys)))
        found = {tuple(row) for row in (await db.execute(union(booked, enrolled))).all()}
        return [key in found for key in keys]


# What a live session's details show for a learner (LiveSessionDetails), each read by its own
# loader otherwise. The learner's booking is their live one, else their latest cancelled one, as
# BookingByLearnerLiveSession picks (there is at most one live booking per learner and live session).
SESSIONS, REPORTS, ENROLLMENTS = plain_rows(Session), plain_rows(AttendanceReport), plain_rows(Enrollment)
_CURRENT_BOOKING = (select(col(Booking.id))
                    .where(col(Booking.learner_id) == User.id, col(Booking.live_session_id) == LiveSession.id)
                    .order_by((col(Booking.status) == BookingStatus.BOOKED.value).desc(), col(Booking.id).desc())
                    .limit(1).correlate(LiveSession, User).scalar_subquery())
_SEATS_TAKEN = (select(func.count()).select_from(Booking)
                .where(col(Booking.live_session_id) == LiveSession.id,
                       col(Booking.status) == BookingStatus.BOOKED.value)
                .correlate(LiveSession).scalar_subquery())
_DETAILED_PARTS = (LIVE_SESSIONS, COURSES, INSTRUCTORS, SESSIONS, BOOKINGS, ABSENCE_REQUESTS, REPORTS, ENROLLMENTS)
_DETAILED_COLUMNS = (col(User.id), *(column for part in _DETAILED_PARTS for column in part.columns), _SEATS_TAKEN)


def _joined_details(query: Select) -> Select:
    """The joins of a live session's details on a query that reads live_session, and app_user as its learner."""
    return (query
            .join(Course, col(Course.id) == LiveSession.course_id)
            .join(Instructor, col(Instructor.id) == LiveSession.instructor_id)
            .outerjoin(Session, col(Session.id) == LiveSession.session_id)
            .outerjoin(Booking, col(Booking.id) == _CURRENT_BOOKING)
            .outerjoin(AbsenceRequest, col(AbsenceRequest.booking_id) == Booking.id)
            .outerjoin(AttendanceReport, and_(col(AttendanceReport.learner_id) == User.id,
                                              col(AttendanceReport.live_session_id) == LiveSession.id))
            .outerjoin(Enrollment, and_(col(Enrollment.user_id) == User.id,
                                        col(Enrollment.session_id) == LiveSession.session_id)))


# Every learner asked for beside every live session asked for: a request asks for one learner's
# (the viewer's), and the pairs not asked for are few and true all the same.
_DETAILED_BY_ID = _joined_details(
    select(*_DETAILED_COLUMNS).select_from(LiveSession)
    .join(User, col(User.id).in_(bindparam("learner_ids", type_=Integer, expanding=True)))
).where(col(LiveSession.id).in_(bindparam("live_session_ids", type_=Integer, expanding=True)))


def detailed(listed: Select, descending: bool) -> Select:
    """The rows of a schedule list's statement (`learner_id`, then a live session's columns), each
    with its details, in the list's order."""
    rows = listed.subquery("listed")
    return _joined_details(
        select(*_DETAILED_COLUMNS).select_from(rows)
        .join(LiveSession, col(LiveSession.id) == rows.c.id)
        .join(User, col(User.id) == rows.c.learner_id)
    ).order_by(col(User.id), *_ORDERINGS[descending])


def take_details(ctx: Context, rows: Iterable[Sequence[Any]]) -> list[LiveSession]:
    """The live sessions of rows with their details (`_DETAILED_COLUMNS`), and what each shows for
    the row's learner put in the request's loader that reads it."""
    live_sessions_by_id, courses, instructors = LiveSessionById(ctx), CourseById(ctx), InstructorById(ctx)
    seats, bookings, reports = BookedCountByLiveSession(ctx), BookingByLearnerLiveSession(ctx), \
        ReportByLearnerLiveSession(ctx)
    on_schedule, requests = OnLearnerSchedule(ctx), AbsenceRequestByBooking(ctx)
    sessions, enrollments = SessionById(ctx), EnrollmentByLearnerSession(ctx)
    live_sessions = []
    for row in rows:
        learner_id, seats_taken = row[0], row[-1]
        parts: list[Any] = []
        start = 1
        for part in _DETAILED_PARTS:  # None for an outer join that found none
            values = row[start:start + len(part)]
            parts.append(part.of(values) if any(value is not None for value in values) else None)
            start += len(part)
        live_session, course, instructor, session, booking, absence, report, enrollment = parts
        key = (learner_id, live_session.id)
        live_sessions_by_id.prime(live_session.id, live_session)
        courses.prime(course.id, course)
        instructors.prime(instructor.id, instructor)
        seats.prime(live_session.id, seats_taken)
        bookings.prime(key, booking)
        reports.prime(key, report)
        on_schedule.prime(key, (booking is not None and booking.status == BookingStatus.BOOKED.value)
                          or enrollment is not None)
        if booking is not None:
            requests.prime(booking.id, absence)
        if live_session.session_id is not None:
            sessions.prime(live_session.session_id, session)
            enrollments.prime((learner_id, live_session.session_id), enrollment)
        live_sessions.append(live_session)
    return live_sessions


class LiveSessionDetails(Loader[tuple[int, int], LiveSession | None]):
    """Key: (learner ID, live session ID); the live session, and in the same statement what its
    details show for that learner (course, instructor, administrative session, seats taken, the
    learner's booking with its absence request, report and enrollment, and so whether it is on
    their schedule), each put in the request's loader that reads it: one statement where those
    seven loaders make up to seven. A field asks for it when the document selects those details
    (schema/schedule.py); permissions and fields then find what they read already loaded."""

    async def batch_load(self, db, keys):
        rows = (await db.execute(_DETAILED_BY_ID, {"learner_ids": sorted({k[0] for k in keys}),
                                                   "live_session_ids": sorted({k[1] for k in keys})})).all()
        found = {(row[0], live_session.id): live_session
                 for row, live_session in zip(rows, take_details(self.context, rows), strict=True)}
        return [found.get(key) for key in keys]


class TeachesLearner(Loader[tuple[int, int], bool]):
    """Key: (instructor's user ID, learner ID); True when a live session the first teaches
    is on the learner's schedule."""

    async def batch_load(self, db, keys):
        teacher_ids = {k[0] for k in keys}
        learner_ids = {k[1] for k in keys}
        booked = (select(Instructor.user_id, Booking.learner_id)
                  .select_from(Booking)
                  .join(LiveSession, LiveSession.id == Booking.live_session_id)
                  .join(Instructor, Instructor.id == LiveSession.instructor_id)
                  .where(Booking.status == BookingStatus.BOOKED.value, Instructor.user_id.in_(teacher_ids),
                         Booking.learner_id.in_(learner_ids)))
        enrolled = (select(Instructor.user_id, Enrollment.user_id)
                    .select_from(LiveSession)
                    .join(Instructor, Instructor.id == LiveSession.instructor_id)
                    .join(Enrollment, Enrollment.session_id == LiveSession.session_id)
                    .where(Instructor.user_id.in_(teacher_ids), Enrollment.user_id.in_(learner_ids)))
        found = {tuple(row) for row in (await db.execute(union(booked, enrolled))).all()}
        return [key in found for key in keys]
