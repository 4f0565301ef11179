"""Live sessions, bookings and the learner's schedule on the wire, and the admin's
live-session mutations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.models.calendar import CalendarView as CalendarViewModel
from sessiongraph.resolvers import absences, permissions, schedule
from sessiongraph.resolvers.loaders.accounts import InstructorById
from sessiongraph.resolvers.loaders.base import NOT_LOADED
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.credits import TransactionsByBooking
from sessiongraph.resolvers.loaders.reports import ReportByLearnerLiveSession
from sessiongraph.resolvers.loaders.schedule import (
    BookedCountByLiveSession,
    BookingById,
    BookingByLearnerLiveSession,
    LiveSessionById,
    LiveSessionDetails,
)
from sessiongraph.resolvers.loaders.sessions import SessionById
from sessiongraph.resolvers.pagination import Page
from sessiongraph.resolvers.reports import live_session_reports
from sessiongraph.schema.accounts import Instructor, User, Weekday, load_instructor, load_user
from sessiongraph.schema.courses import Course, load_course
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.lookahead import load_ahead, selected_names
from sessiongraph.schema.relay import Connection, Node, decode_id, id_of, node_fetcher, to_global_id
from sessiongraph.schema.reports import SessionReport
from sessiongraph.schema.sessions import Session

if TYPE_CHECKING:
    from sessiongraph.schema.booking import AbsenceRequest
    from sessiongraph.schema.credits import CreditTransaction

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
LiveSessionStatus: TypeAlias = models.LiveSessionStatus
strawberry.enum(LiveSessionStatus, name="LiveSessionStatus")
BookingStatus: TypeAlias = models.BookingStatus
strawberry.enum(BookingStatus, name="BookingStatus")
CalendarView: TypeAlias = CalendarViewModel
strawberry.enum(CalendarView, name="CalendarView")


def connection(page: Page[Any] | None, convert: Callable[[Any], Any]) -> Connection[Any]:
    """A resolver's page as a connection; no page (nothing the viewer may see) is an empty one."""
    return Connection.from_page(page, convert) if page is not None else Connection.empty()


@strawberry.type
class Lesson:
    name: str
    goal: str | None


@strawberry.type(description="Where a live session happens; never the classroom URL (see joinAvailability).")
class Location:
    is_virtual: bool
    name: str | None
    address: str | None
    room: str | None


@strawberry.type
class Link:
    title: str
    url: str


@strawberry.type(description="When the Join action is available: from `opensAt` (startsAt minus the "
                             "course's join lead) until `closesAt` (endsAt, which is closed). `isOpen` is "
                             "true while the viewer can join now; `url` is the classroom URL then, else null.")
class JoinAvailability:
    opens_at: datetime
    closes_at: datetime
    is_open: bool
    url: str | None

    @classmethod
    def from_state(cls, state: schedule.JoinState) -> JoinAvailability:
        return cls(opens_at=state.opens_at, closes_at=state.closes_at, is_open=state.is_open, url=state.url)


async def load_ahead_rows(info: Info, live_sessions: Iterable[models.LiveSession]) -> None:
    """The courses and instructors a list of live sessions shows, loaded ahead (see
    schema/lookahead.py); joinAvailability needs the course too."""
    rows = list(live_sessions)
    if rows:
        await load_ahead(info, [
            (("course", "joinAvailability"), CourseById(info.context), (ls.course_id for ls in rows)),
            (("instructor",), InstructorById(info.context), (ls.instructor_id for ls in rows)),
        ])


# A live session's own fields that read more rows than it and its course and instructor. Where a
# document selects any of them on a live session found on its own (by ID, or Up Next),
# LiveSessionDetails reads them all with it in one statement, for the fields to find loaded.
DETAILS = frozenset({"myBooking", "myReport", "seatsLeft", "session", "canRequestAbsence"})


def asks_for_details(info: Info) -> bool:
    return not selected_names(info).isdisjoint(DETAILS)


@strawberry.type(description="One instructor-led class meeting of a course.")
class LiveSession(Node):
    code: str = strawberry.field(description="The short \"Session ID\" people read off the screen.")
    starts_at: datetime
    ends_at: datetime
    lesson: Lesson | None
    location: Location | None
    recording_url: str | None
    capacity: int
    cancelled_at: datetime | None
    cancellation_reason: str | None
    model: strawberry.Private[models.LiveSession]
    # Whose booking and report `myBooking` and `myReport` show: the viewer's, or on a
    # child's schedule the child's.
    learner_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, live_session: models.LiveSession, learner_id: int | None = None) -> LiveSession:
        ls = live_session
        place = ls.location
        return cls(
            id=to_global_id("LiveSession", ls.id), code=ls.code, starts_at=ls.starts_at, ends_at=ls.ends_at,
            lesson=Lesson(name=ls.lesson_name, goal=ls.lesson_goal) if ls.lesson_name is not None else None,
            location=Location(is_virtual=place.is_virtual, name=place.name, address=place.address,
                              room=place.room) if place is not None else None,
            recording_url=ls.recording_url, capacity=ls.capacity, cancelled_at=ls.cancelled_at,
            cancellation_reason=ls.cancellation_reason, model=ls, learner_id=learner_id)

    def _learner(self, info: Info) -> int | None:
        return self.learner_id if self.learner_id is not None else info.context.actor.user_id

    # Built only when asked for: a live session is built for every row of a list.
    @strawberry.field
    def extra_links(self) -> list[Link]:
        return [Link(title=k.title, url=k.url) for k in self.model.links]

    @strawberry.field(description="CANCELLED once cancelled; else COMPLETED from endsAt on; else SCHEDULED.")
    def status(self, info: Info) -> LiveSessionStatus:
        return self.model.status(info.context.now)

    # course, instructor and joinAvailability are plain functions that answer at once when
    # the list holding this row loaded their rows ahead (`load_ahead_rows`), and hand
    # graphql-core an awaitable otherwise (a live session fetched on its own).

    @strawberry.field
    def course(self, info: Info) -> Course:
        loaded = CourseById(info.context).peek(self.model.course_id)
        if loaded is NOT_LOADED:
            return load_course(info, self.model.course_id)  # type: ignore[return-value]
        return Course.from_model(loaded) if loaded is not None else None  # type: ignore[return-value]

    @strawberry.field(description="The administrative session it belongs to; null when none, or when the "
                                  "viewer may not see that session.")
    async def session(self, info: Info) -> Session | None:
        if self.model.session_id is None:
            return None
        session = await SessionById(info.context).load(self.model.session_id)
        if session is None or not await permissions.can_see_session(info.context, session):
            return None
        return Session.from_model(session)

    @strawberry.field
    def instructor(self, info: Info) -> Instructor:
        loaded = InstructorById(info.context).peek(self.model.instructor_id)
        if loaded is NOT_LOADED:
            return load_instructor(info, self.model.instructor_id)  # type: ignore[return-value]
        return Instructor.from_model(loaded) if loaded is not None else None  # type: ignore[return-value]

    @strawberry.field(description="Capacity minus the learners booked, never below 0.")
    async def seats_left(self, info: Info) -> int:
        booked = await BookedCountByLiveSession(info.context).load(self.model.id)
        return max(self.model.capacity - booked, 0)

    @strawberry.field
    def join_availability(self, info: Info) -> JoinAvailability:
        course = CourseById(info.context).peek(self.model.course_id)
        if course is not NOT_LOADED:
            # Outside the window nobody may join, so nothing more needs reading.
            closed = schedule.closed_join_state(info.context, self.model, course.join_lead_minutes)
            if closed is not None:
                return JoinAvailability.from_state(closed)
        return self._join_availability_when_read(info)  # type: ignore[return-value]

    async def _join_availability_when_read(self, info: Info) -> JoinAvailability:
        return JoinAvailability.from_state(await schedule.join_availability(info.context, self.model))

    @strawberry.field(description="The viewer's booking (on a child's schedule, the child's): the live one, "
                                  "else the latest cancelled one.")
    async def my_booking(self, info: Info) -> Booking | None:
        learner_id = self._learner(info)
        if learner_id is None:
            return None
        booking = await BookingByLearnerLiveSession(info.context).load((learner_id, self.model.id))
        return Booking.from_model(booking) if booking is not None else None

    @strawberry.field(description="The viewer's attendance report (on a child's schedule, the child's).")
    async def my_report(self, info: Info) -> SessionReport | None:
        learner_id = self._learner(info)
        if learner_id is None:
            return None
        report = await ReportByLearnerLiveSession(info.context).load((learner_id, self.model.id))
        return SessionReport.from_model(report) if report is not None else None

    @strawberry.field(description="Whether the viewer may request an absence now: booked on it, the course "
                                  "takes absence requests, it has not started, and no request was made. "
                                  "Always false on a child's schedule (guardians only look).")
    async def can_request_absence(self, info: Info) -> bool:
        return await absences.can_request_absence(info.context, self.model, self._learner(info))

    @strawberry.field(description="Every booking on it, cancelled ones included; for its instructor, its "
                                  "session's coaches and admins, empty for others.")
    async def bookings(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Booking]:
        page = await schedule.live_session_bookings(info.context, self.model, first, after)
        return connection(page, Booking.from_model)

    @strawberry.field(description="Every learner's report, by learner; for its instructor, its session's "
                                  "coaches and admins, empty for others.")
    async def reports(self, info: Info, first: int | None = None,
                      after: str | None = None) -> Connection[SessionReport]:
        page = await live_session_reports(info.context, self.model, first, after)
        return connection(page, SessionReport.from_model)


@node_fetcher("LiveSession")
async def fetch_live_session(info: Info, live_session_id: int) -> LiveSession | None:
    viewer = info.context.actor.user_id
    if viewer is not None and asks_for_details(info):
        live_session = await LiveSessionDetails(info.context).load((viewer, live_session_id))
    else:
        live_session = await LiveSessionById(info.context).load(live_session_id)
    if live_session is None or not await permissions.can_see_live_session(info.context, live_session):
        return None
    return LiveSession.from_model(live_session)


@strawberry.type
class Booking(Node):
    status: BookingStatus
    booked_at: datetime
    cancelled_at: datetime | None
    model: strawberry.Private[models.Booking]

    @classmethod
    def from_model(cls, booking: models.Booking) -> Booking:
        return cls(id=to_global_id("Booking", booking.id), status=models.BookingStatus(booking.status),
                   booked_at=booking.booked_at, cancelled_at=booking.cancelled_at, model=booking)

    @strawberry.field(description="Seen from the booking's learner: its myBooking is this booking.")
    async def live_session(self, info: Info) -> LiveSession:
        live_session = await LiveSessionById(info.context).load(self.model.live_session_id)
        return LiveSession.from_model(live_session, learner_id=self.model.learner_id)

    @strawberry.field
    async def learner(self, info: Info) -> User:
        return await load_user(info, self.model.learner_id)

    @strawberry.field(description="What booking it cost: its BOOKING transaction; null for a free course, "
                                  "and for those who may not read the learner's credits.")
    async def credit_transaction(self, info: Info) -> Annotated[
            CreditTransaction, strawberry.lazy("sessiongraph.schema.credits")] | None:
        from sessiongraph.schema.credits import transaction_or_none

        if not await permissions.can_read_credits(info.context, self.model.learner_id):
            return None
        found = await TransactionsByBooking(info.context).load(self.model.id)
        return transaction_or_none(found.get(models.CreditTransactionKind.BOOKING))

    @strawberry.field(description="Its REFUND transaction, once cancelled in time or with its live session; "
                                  "null for those who may not read the learner's credits.")
    async def refund_transaction(self, info: Info) -> Annotated[
            CreditTransaction, strawberry.lazy("sessiongraph.schema.credits")] | None:
        from sessiongraph.schema.credits import transaction_or_none

        if not await permissions.can_read_credits(info.context, self.model.learner_id):
            return None
        found = await TransactionsByBooking(info.context).load(self.model.id)
        return transaction_or_none(found.get(models.CreditTransactionKind.REFUND))

    @strawberry.field(description="The learner's absence request for it, with its status; null when none.")
    async def absence_request(self, info: Info) -> Annotated[
            AbsenceRequest, strawberry.lazy("sessiongraph.schema.booking")] | None:
        from sessiongraph.schema.booking import absence_request_or_none

        return absence_request_or_none(await absences.absence_request_of(info.context, self.model))


@node_fetcher("Booking")
async def fetch_booking(info: Info, booking_id: int) -> Booking | None:
    booking = await BookingById(info.context).load(booking_id)
    if booking is None:
        return None
    live_session = await LiveSessionById(info.context).load(booking.live_session_id)
    if not await permissions.can_see_booking(info.context, booking, live_session):
        return None
    return Booking.from_model(booking)


# --- the schedule -----------------------------------------------------------------------


@strawberry.input(description="Both given: sessions matching both.")
class LiveSessionFilter:
    course_id: strawberry.ID | None = None
    instructor_id: strawberry.ID | None = None


def _filter(given: LiveSessionFilter | None) -> schedule.LiveSessionFilter | None:
    """The filter in the resolvers' terms; None when an ID names nothing, which matches nothing."""
    if given is None:
        return schedule.LiveSessionFilter()
    course_id = instructor_id = None
    if given.course_id is not None:
        course_id = id_of(given.course_id, "Course")
        if course_id is None:
            return None
    if given.instructor_id is not None:
        instructor_id = id_of(given.instructor_id, "Instructor")
        if instructor_id is None:
            return None
    return schedule.LiveSessionFilter(course_id=course_id, instructor_id=instructor_id)


@strawberry.type
class CalendarDay:
    day: date = strawberry.field(name="date")
    is_today: bool
    sessions: list[LiveSession]
    # A plain value, not a method: a month holds 42 days, and a resolved field costs
    # several times what a read attribute does.
    count: int = strawberry.field(description="How many live sessions start on this local day.")


@strawberry.type(description="Local days in `timeZone`, `start` to `end` both included.")
class Calendar:
    view: CalendarView
    time_zone: str
    week_start: Weekday
    start: date
    end: date
    days: list[CalendarDay]


@strawberry.type(description="One learner's live sessions: the viewer's own, or a child's for a guardian. "
                             "Cancelled ones stay listed with status CANCELLED; only upNext skips them.")
class LearnerSchedule:
    learner_id: strawberry.Private[int]

    def _live_session(self, live_session: models.LiveSession) -> LiveSession:
        return LiveSession.from_model(live_session, learner_id=self.learner_id)

    async def _connection(self, info: Info, page: Page[models.LiveSession] | None) -> Connection[LiveSession]:
        if page is not None:
            await load_ahead_rows(info, page.items)
        return connection(page, self._live_session)

    @strawberry.field(description="The next live session that has not ended (one under way included).")
    async def up_next(self, info: Info) -> LiveSession | None:
        details = asks_for_details(info)
        found = await schedule.up_next(info.context, self.learner_id, details=details)
        if found is None:
            return None
        if not details:
            await load_ahead_rows(info, [found])
        return self._live_session(found)

    @strawberry.field(description="Every live session starting on the current local day, ended ones "
                                  "included, ascending. `timeZone` overrides the viewer's setting.")
    async def today(self, info: Info, time_zone: str | None = None,
                    filter: LiveSessionFilter | None = None) -> list[LiveSession]:
        zone = schedule.viewer_zone(info.context, time_zone)
        decoded = _filter(filter)
        if decoded is None:
            return []
        found = await schedule.today(info.context, self.learner_id, zone, decoded)
        await load_ahead_rows(info, found)
        return [self._live_session(ls) for ls in found]

    @strawberry.field(description="Live sessions from the next local midnight on, ascending. `timeZone` "
                                  "overrides the viewer's setting, as on `today`.")
    async def upcoming(self, info: Info, filter: LiveSessionFilter | None = None, first: int | None = None,
                       after: str | None = None, time_zone: str | None = None) -> Connection[LiveSession]:
        zone = schedule.viewer_zone(info.context, time_zone)
        decoded = _filter(filter)
        page = None
        if decoded is not None:
            page = await schedule.upcoming(info.context, self.learner_id, zone, decoded, first, after)
        return await self._connection(info, page)

    @strawberry.field(description="Live sessions whose end has passed, cancelled ones included, newest first.")
    async def past(self, info: Info, filter: LiveSessionFilter | None = None, first: int | None = None,
                   after: str | None = None) -> Connection[LiveSession]:
        decoded = _filter(filter)
        page = None
        if decoded is not None:
            page = await schedule.past(info.context, self.learner_id, decoded, first, after)
        return await self._connection(info, page)

    @strawberry.field(description="DAY, WEEK (from the week start on or before `date`) or MONTH (the whole "
                                  "weeks holding the month), in the viewer's zone and week start unless "
                                  "`timeZone` / `weekStart` say otherwise.")
    async def calendar(self, info: Info, view: CalendarView, day: Annotated[date, strawberry.argument(name="date")],
                       time_zone: str | None = None, week_start: Weekday | None = None) -> Calendar:
        ctx = info.context
        zone = schedule.viewer_zone(ctx, time_zone)
        result = await schedule.calendar(ctx, self.learner_id, CalendarViewModel(view), day, zone,
                                         schedule.viewer_week_start(ctx, week_start))
        await load_ahead_rows(info, (ls for d in result.days for ls in d.sessions))
        return Calendar(view=result.view, time_zone=result.zone.key, week_start=result.week_start,
                        start=result.start, end=result.end,
                        days=[CalendarDay(day=d.date, is_today=d.is_today, count=len(d.sessions),
                                          sessions=[self._live_session(ls) for ls in d.sessions])
                              for d in result.days])

    @strawberry.field(description="The course's live sessions on this schedule that have ended or were "
                                  "cancelled, newest first; `code` matches exactly, ignoring case.")
    async def course_history(self, info: Info, course_id: strawberry.ID, code: str | None = None,
                             status: LiveSessionStatus | None = None, first: int | None = None,
                             after: str | None = None) -> Connection[LiveSession]:
        decoded = id_of(course_id, "Course")
        page = None
        if decoded is not None:
            page = await schedule.course_history(
                info.context, self.learner_id, decoded, code=code,
                status=models.LiveSessionStatus(status) if status is not None else None, first=first, after=after)
        return await self._connection(info, page)


# --- the admin's mutations -------------------------------------------------------------------


@strawberry.input
class LocationInput:
    name: str | None = None
    address: str | None = None
    room: str | None = None


@strawberry.input
class LinkInput:
    title: str
    url: str


@strawberry.input(description="capacity defaults to 30; code, when left out, is made up (6 characters).")
class CreateLiveSessionInput:
    course_id: strawberry.ID
    instructor_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    session_id: strawberry.ID | None = None
    capacity: int | None = None
    code: str | None = None
    lesson_name: str | None = None
    lesson_goal: str | None = None
    virtual_classroom_url: str | None = None
    location: LocationInput | None = None
    recording_url: str | None = None
    extra_links: list[LinkInput] | None = None


@strawberry.input(description="Fields left out stay as they are; null clears an optional one.")
class UpdateLiveSessionInput:
    id: strawberry.ID
    instructor_id: strawberry.ID | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    ends_at: datetime | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    lesson_name: str | None = strawberry.UNSET
    lesson_goal: str | None = strawberry.UNSET
    virtual_classroom_url: str | None = strawberry.UNSET
    location: LocationInput | None = strawberry.UNSET
    recording_url: str | None = strawberry.UNSET
    extra_links: list[LinkInput] | None = strawberry.UNSET


@strawberry.input
class CancelLiveSessionInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.type
class CreateLiveSessionPayload:
    live_session: LiveSession | None
    errors: list[UserError]


@strawberry.type
class UpdateLiveSessionPayload:
    live_session: LiveSession | None
    errors: list[UserError]


@strawberry.type
class CancelLiveSessionPayload:
    live_session: LiveSession | None
    errors: list[UserError]


PLAIN_INPUTS = ("starts_at", "ends_at", "capacity", "code", "lesson_name", "lesson_goal", "virtual_classroom_url",
                "recording_url")
ID_INPUTS = (("course_id", "Course", "courseId"), ("session_id", "Session", "sessionId"),
             ("instructor_id", "Instructor", "instructorId"))


def _change(input: CreateLiveSessionInput | UpdateLiveSessionInput) -> schedule.LiveSessionChange:
    """The fields the input sets, decoded into the resolvers' terms."""
    change = schedule.LiveSessionChange()
    for name in PLAIN_INPUTS:
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            change.values[name] = value
    for name, type_name, input_name in ID_INPUTS:
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            change.values[name] = decode_id(value, type_name, input_name) if value is not None else None
    if input.location is not strawberry.UNSET:
        place = input.location
        change.values["location"] = (place.name, place.address, place.room) if place is not None else None
    if input.extra_links is not strawberry.UNSET:
        change.values["extra_links"] = [(link.title, link.url) for link in input.extra_links or []]
    return change


def _live_session_or_none(live_session: models.LiveSession | None) -> LiveSession | None:
    return LiveSession.from_model(live_session) if live_session is not None else None


@strawberry.type
class ScheduleMutation:
    @strawberry.mutation(description="Admins: schedules a live session of a course, optionally inside an "
                                     "administrative session that holds the course.")
    async def create_live_session(self, info: Info, input: CreateLiveSessionInput) -> CreateLiveSessionPayload:
        live_session, errors = await attempt(info, lambda: schedule.create_live_session(info.context, _change(input)))
        return CreateLiveSessionPayload(live_session=_live_session_or_none(live_session), errors=errors)

    @strawberry.mutation(description="Admins: reschedules it, gives it a new URL, adds its recording. Once it "
                                     "has ended its time and instructor can no longer change (SESSION_ENDED).")
    async def update_live_session(self, info: Info, input: UpdateLiveSessionInput) -> UpdateLiveSessionPayload:
        live_session, errors = await attempt(info, lambda: schedule.update_live_session(
            info.context, decode_id(input.id, "LiveSession", "id"), _change(input)))
        return UpdateLiveSessionPayload(live_session=_live_session_or_none(live_session), errors=errors)

    @strawberry.mutation(description="Admins: cancels it for everyone (it stays on schedules as CANCELLED); "
                                     "cancelling again changes nothing.")
    async def cancel_live_session(self, info: Info, input: CancelLiveSessionInput) -> CancelLiveSessionPayload:
        live_session, errors = await attempt(info, lambda: schedule.cancel_live_session(
            info.context, decode_id(input.id, "LiveSession", "id"), input.reason))
        return CancelLiveSessionPayload(live_session=_live_session_or_none(live_session), errors=errors)
