"""The learner's schedule (up next, today, upcoming, past, calendar, course history), an
instructor's teaching list, and the admin's changes to live sessions.

Whose live sessions are on a schedule is `on_schedule_of`: booked ones, and those of
the administrative sessions the learner is enrolled in. Cancelled ones stay on it
(clients strike them through); only `up_next` skips them. Local days are the zone's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.infrastructure.zones import shown, zone_named
from sessiongraph.models import (
    BookableSlot,
    Booking,
    BookingStatus,
    Course,
    Instructor,
    LiveSession,
    LiveSessionStatus,
    Session,
    Weekday,
)
from sessiongraph.models.calendar import CalendarView, LocalDays, calendar_days, local_date, local_midnight
from sessiongraph.models.events import EventType
from sessiongraph.models.schedule import is_joinable, join_window_of
from sessiongraph.models.sessions import SessionCourse
from sessiongraph.resolvers import credits, waitlist
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import BadInput, ErrorCode, Problems, UserErrors
from sessiongraph.resolvers.events import (
    ScheduleEventKind,
    live_session_data,
    people_on,
    record_schedule_change,
    record_schedule_changes,
    schedule_change,
)
from sessiongraph.resolvers.loaders.accounts import InstructorByUser
from sessiongraph.resolvers.loaders.base import answered_together
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import (
    LIVE_SESSIONS,
    SCHEDULE_ORDER,
    BookingCountByLiveSession,
    BookingsByLiveSession,
    ScheduleCountByLearner,
    ScheduleList,
    ScheduleListByLearner,
    on_schedule_of,
    take_course_and_instructor,
    with_course_and_instructor,
)
from sessiongraph.resolvers.pagination import Page, Related, decode_cursor, first_page, page_of, page_size, paginate
from sessiongraph.resolvers.permissions import (
    can_manage_live_session,
    can_read_schedule,
    may_join,
    require_admin,
    require_signed_in,
)
from sessiongraph.resolvers.seats import code_taken, new_code
from sessiongraph.resolvers.validation import SEATS, http_url, optional_text

# --- time zones -----------------------------------------------------------------------------


def viewer_zone(ctx: Context, time_zone: str | None = None) -> ZoneInfo:
    """The zone a request's local days are in: `timeZone` when given, else the viewer's setting."""
    if time_zone is not None:
        zone = zone_named(time_zone)
        if zone is None:
            raise BadInput(f"{shown(time_zone)} is not an IANA time zone name (like 'Europe/Paris').")
        return zone
    setting = ctx.actor.user.time_zone if ctx.actor.user is not None else "UTC"
    return zone_named(setting) or ZoneInfo("UTC")


def viewer_week_start(ctx: Context, week_start: Weekday | None = None) -> Weekday:
    if week_start is not None:
        return Weekday(week_start)
    setting = ctx.actor.user.week_start if ctx.actor.user is not None else None
    return Weekday(setting) if setting in Weekday.__members__ else Weekday.MONDAY


# --- the learner's views ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveSessionFilter:
    course_id: int | None = None
    instructor_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found = []
        if self.course_id is not None:
            found.append(LiveSession.course_id == self.course_id)
        if self.instructor_id is not None:
            found.append(LiveSession.instructor_id == self.instructor_id)
        return found


def _by_start(ls: LiveSession) -> tuple[datetime, int]:
    return ls.starts_at, ls.id


# Each list of the schedule is a ScheduleList, answered by ScheduleListByLearner: the same
# list asked for several learners at once (a guardian's children) is one statement. Its
# conditions are these rules, named by the list so that equal lists are equal keys.


def _running_after(now: datetime) -> list[ColumnElement[bool]]:
    return [LiveSession.ends_at > now, LiveSession.cancelled_at.is_(None)]


def _starting_between(starts_from: datetime, starts_before: datetime | None,
                      filter: LiveSessionFilter) -> list[ColumnElement[bool]]:
    kept = [LiveSession.starts_at >= starts_from, *filter.conditions()]
    if starts_before is not None:
        kept.append(LiveSession.starts_at < starts_before)
    return kept


def _ended_by(now: datetime, filter: LiveSessionFilter) -> list[ColumnElement[bool]]:
    return [LiveSession.ends_at <= now, *filter.conditions()]


def _course_history(now: datetime, course_id: int, status: LiveSessionStatus | None,
                    code: str | None) -> list[ColumnElement[bool]]:
    ended = LiveSession.ends_at <= now
    cancelled = LiveSession.cancelled_at.is_not(None)
    kept = [LiveSession.course_id == course_id]
    if status is LiveSessionStatus.COMPLETED:
        kept += [ended, LiveSession.cancelled_at.is_(None)]
    elif status is LiveSessionStatus.CANCELLED:
        kept.append(cancelled)
    else:
        kept.append(ended | cancelled)
    if code is not None:
        kept.append(LiveSession.code == code)
    return kept


async def _listed(ctx: Context, learner_id: int, listed: ScheduleList) -> list[LiveSession] | None:
    """The list's live sessions on the learner's schedule; None when the viewer may not read it."""
    if not await can_read_schedule(ctx, learner_id):
        return None
    return await ScheduleListByLearner(ctx).load((learner_id, listed))


async def _page(ctx: Context, learner_id: int, listed: ScheduleList, first: int | None,
                after: str | None) -> Page[LiveSession] | None:
    """A page of the list (as `paginate` would give it); None when the viewer may not read it."""
    if not await can_read_schedule(ctx, learner_id):
        return None
    limit = page_size(ctx, first)
    seen = tuple(decode_cursor(after, len(SCHEDULE_ORDER))) if after is not None else None
    rows = await ScheduleListByLearner(ctx).load((learner_id, replace(listed, limit=limit + 1, after=seen)))
    return page_of(rows, limit, _by_start, lambda: ScheduleCountByLearner(ctx).load((learner_id, listed.whole())),
                   has_previous_page=after is not None)


@answered_together
async def up_next(ctx: Context, learner_id: int, details: bool = False) -> LiveSession | None:
    """The next live session that has not ended (one under way counts), cancelled ones skipped;
    with `details`, what its details show read with it (ScheduleList)."""
    found = await _listed(ctx, learner_id, ScheduleList(_running_after, (ctx.now,), limit=1, details=details))
    return found[0] if found else None


@answered_together
async def today(ctx: Context, learner_id: int, zone: ZoneInfo, filter: LiveSessionFilter) -> list[LiveSession]:
    """Every live session starting on the current local day, ended and cancelled ones included."""
    day = local_date(ctx.now, zone)
    listed = ScheduleList(_starting_between, (local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone),
                                              filter))
    return await _listed(ctx, learner_id, listed) or []


@answered_together
async def upcoming(ctx: Context, learner_id: int, zone: ZoneInfo, filter: LiveSessionFilter,
                   first: int | None, after: str | None) -> Page[LiveSession] | None:
    """From the next local midnight on, ascending."""
    tomorrow = local_date(ctx.now, zone) + timedelta(days=1)
    return await _page(ctx, learner_id, ScheduleList(_starting_between, (local_midnight(tomorrow, zone), None, filter)),
                       first, after)


@answered_together
async def past(ctx: Context, learner_id: int, filter: LiveSessionFilter,
               first: int | None, after: str | None) -> Page[LiveSession] | None:
    """Every live session whose end has passed, cancelled ones included, newest first."""
    return await _page(ctx, learner_id, ScheduleList(_ended_by, (ctx.now, filter), descending=True), first, after)


@answered_together
async def course_history(ctx: Context, learner_id: int, course_id: int, *, code: str | None,
                         status: LiveSessionStatus | None, first: int | None,
                         after: str | None) -> Page[LiveSession] | None:
    """A course's live sessions on the schedule that have ended or were cancelled, newest first."""
    if status is LiveSessionStatus.SCHEDULED:
        return None
    code = code.strip().upper() if code is not None else None
    return await _page(ctx, learner_id, ScheduleList(_course_history, (ctx.now, course_id, status, code),
                                                     descending=True), first, after)


@dataclass(slots=True)
class CalendarDay:
    date: date
    is_today: bool
    # Models, or rows of CALENDAR_ROW's columns (calendar_rows).
    sessions: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Calendar:
    view: CalendarView
    zone: ZoneInfo
    week_start: Weekday
    start: date
    end: date
    days: list[CalendarDay]


def _calendar_frame(ctx: Context, view: CalendarView, day: date, zone: ZoneInfo,
                    week_start: Weekday) -> tuple[Calendar, LocalDays]:
    """The view's days, none holding a session yet, and the instants they span."""
    span = calendar_days(view, day, week_start, zone)
    today_here = local_date(ctx.now, zone)
    days = [CalendarDay(date=d, is_today=d == today_here) for d in span.dates]
    return Calendar(view=view, zone=zone, week_start=week_start, start=span.first, end=span.last, days=days), span


def _starting_in(query: Select, starts_at: Any, ends_at: Any) -> Select:
    return (query.where(LiveSession.starts_at >= starts_at, LiveSession.starts_at < ends_at)
            .order_by(LiveSession.starts_at, LiveSession.id))


def _place(calendar: Calendar, live_sessions: Iterable[Any]) -> None:
    """Each live session (model or row) on the local day it starts."""
    by_date = {d.date: d for d in calendar.days}
    for live_session in live_sessions:
        by_date[local_date(live_session.starts_at, calendar.zone)].sessions.append(live_session)


@answered_together
async def calendar(ctx: Context, learner_id: int, view: CalendarView, day: date, zone: ZoneInfo,
                   week_start: Weekday) -> Calendar:
    """The days of the view, each with the live sessions starting on it (local time), in
    one statement whatever the view holds."""
    result, span = _calendar_frame(ctx, view, day, zone, week_start)
    found = await _listed(ctx, learner_id, ScheduleList(_starting_between,
                                                        (span.starts_at, span.ends_at, LiveSessionFilter())))
    _place(result, found or [])
    return result


# A calendar row with what its course and instructor show: the columns the compiled
# calendar (schema/compiled/schedule.py) answers from, read in the same statement.
CALENDAR_ROW = (
    LiveSession.id, LiveSession.code, LiveSession.starts_at, LiveSession.ends_at, LiveSession.cancelled_at,
    LiveSession.virtual_classroom_url, LiveSession.lesson_name, LiveSession.location_name,
    LiveSession.location_address, LiveSession.location_room, LiveSession.course_id, LiveSession.instructor_id,
    Course.code.label("course_code"), Course.title.label("course_title"),
    Course.join_lead_minutes.label("join_lead_minutes"),
    Instructor.display_name.label("instructor_display_name"),
)


# Built once: the statement is the same for every request but for its parameters.
_CALENDAR_ROWS = _starting_in(
    select(*CALENDAR_ROW)
    .join(Course, Course.id == LiveSession.course_id)
    .join(Instructor, Instructor.id == LiveSession.instructor_id)
    .where(on_schedule_of(bindparam("learner_id"))),
    starts_at=bindparam("starts_at"), ends_at=bindparam("ends_at"))


async def calendar_rows(ctx: Context, learner_id: int, view: CalendarView, day: date, zone: ZoneInfo,
                        week_start: Weekday) -> Calendar:
    """`calendar` with rows of CALENDAR_ROW's columns on its days instead of models: one
    statement for the sessions, their courses and their instructors."""
    result, span = _calendar_frame(ctx, view, day, zone, week_start)
    if await can_read_schedule(ctx, learner_id):
        async with ctx.database.read_rows() as connection:
            rows = await connection.execute(_CALENDAR_ROWS, {
                "learner_id": learner_id, "starts_at": span.starts_at, "ends_at": span.ends_at})
            _place(result, rows.all())
    return result


# --- one live session -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinState:
    opens_at: datetime
    closes_at: datetime
    is_open: bool
    url: str | None


async def join_availability(ctx: Context, live_session: LiveSession) -> JoinState:
    """The join window, whether the viewer can join now, and the classroom URL only then."""
    course = await CourseById(ctx).load(live_session.course_id)
    closed = closed_join_state(ctx, live_session, course.join_lead_minutes)
    if closed is not None:
        return closed
    is_open = await may_join(ctx, live_session, course)
    window = live_session.join_window(course.join_lead_minutes)
    return JoinState(opens_at=window.start, closes_at=window.end, is_open=is_open,
                     url=live_session.virtual_classroom_url if is_open else None)


def closed_join_state(ctx: Context, live_session: Any, lead_minutes: int) -> JoinState | None:
    """The join state while the window is not open now (nobody may join, whoever asks);
    None while it is, when who may join decides. `live_session` is a model or a row of its
    columns (the rules in models/schedule.py read columns only); `lead_minutes` its course's."""
    if is_joinable(live_session, ctx.now, lead_minutes):
        return None
    window = join_window_of(live_session, lead_minutes)
    return JoinState(opens_at=window.start, closes_at=window.end, is_open=False, url=None)


# --- the instructor's view ----------------------------------------------------------------


async def teaching(ctx: Context, *, starts_from: datetime | None, starts_before: datetime | None,
                   first: int | None, after: str | None) -> Page[LiveSession] | None:
    """The viewer's own live sessions as instructor, starting in [from, to), ascending."""
    user = require_signed_in(ctx)
    profile = await InstructorByUser(ctx).load(user.id)
    if profile is None:
        return None
    query = select(*LIVE_SESSIONS.columns).where(LiveSession.instructor_id == profile.id)
    if starts_from is not None:
        query = query.where(LiveSession.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(LiveSession.starts_at < starts_before)
    return await paginate(ctx, query, SCHEDULE_ORDER, _by_start, first, after,
                          related=Related(with_course_and_instructor, take_course_and_instructor))


async def live_session_bookings(ctx: Context, live_session: LiveSession, first: int | None,
                                after: str | None) -> Page[Booking] | None:
    """Every booking on a live session, cancelled ones included, for those who manage it. The
    first page comes from a loader, so a list of live sessions with their bookings costs the
    same statements whatever its length."""
    if not await can_manage_live_session(ctx, live_session):
        return None
    order = [Booking.booked_at, Booking.id]
    if after is None:
        limit = page_size(ctx, first)
        rows = await BookingsByLiveSession(ctx).load((live_session.id, limit + 1))
        return first_page(rows, limit, _by_booking_time,
                          lambda: BookingCountByLiveSession(ctx).load(live_session.id))
    query = select(Booking).where(Booking.live_session_id == live_session.id)
    return await paginate(ctx, query, order, _by_booking_time, first, after)


def _by_booking_time(booking: Booking) -> tuple[datetime, int]:
    return booking.booked_at, booking.id


# --- the admin's changes ------------------------------------------------------------------

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,31}")
DEFAULT_CAPACITY = 30
RESCHEDULING = ("starts_at", "ends_at", "instructor_id")


@dataclass
class LiveSessionChange:
    """The fields an input sets, in the model's terms; a field absent is left as it is.

    `location` is a (name, address, room) triple or None; `extra_links` a list of
    (title, URL) pairs.
    """

    values: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.values


@audited("createLiveSession", subject=LiveSession)
async def create_live_session(ctx: Context, change: LiveSessionChange) -> LiveSession:
    require_admin(ctx)
    live_session = LiveSession(code="", course_id=0, instructor_id=0, capacity=DEFAULT_CAPACITY,
                               starts_at=ctx.now, ends_at=ctx.now, created_at=ctx.now, updated_at=ctx.now)
    problems = Problems()
    _apply(live_session, change, problems)
    code = change.values.get("code")
    if code is not None:
        live_session.code = code.strip().upper()
        if not CODE_PATTERN.fullmatch(live_session.code):
            problems.add(ErrorCode.VALIDATION, "code must be 2 to 32 letters, digits or dashes.", "code")
    try:
        async with ctx.database.write() as db:
            await _validate(db, live_session, problems)
            if code is not None and await code_taken(db, live_session.code):
                raise _code_is_taken(live_session.code)
            if code is None:
                live_session.code = await new_code(db)
            db.add(live_session)
            await db.flush()
    except IntegrityError as error:
        # Two admins giving the same code at once: the unique index decides.
        if "code" not in str(error.orig).lower():
            raise
        raise _code_is_taken(live_session.code) from error
    return live_session


def _code_is_taken(code: str) -> UserErrors:
    return UserErrors.one(ErrorCode.DUPLICATE, f"A live session has the code {code}.", "code")


@audited("updateLiveSession", subject=LiveSession, by="live_session_id")
async def update_live_session(ctx: Context, live_session_id: int, change: LiveSessionChange) -> LiveSession:
    """Reschedules, re-links or completes a live session. Once it has ended, its time and
    instructor are history (SESSION_ENDED); its recording and links can still change."""
    require_admin(ctx)
    async with ctx.database.write() as db:
        live_session = await _get(db, live_session_id, "id")
        if live_session.is_cancelled:
            raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "A cancelled live session cannot change.", "id")
        before = {name: getattr(live_session, name) for name in RESCHEDULING}
        problems = Problems()
        for name in (*RESCHEDULING, "capacity"):
            if name in change and change.values[name] is None:
                problems.add(ErrorCode.VALIDATION, f"{_input_name(name)} cannot be null.", _input_name(name))
        problems.raise_if_any()
        _apply(live_session, change, problems)
        rescheduled = [name for name in RESCHEDULING if getattr(live_session, name) != before[name]]
        if rescheduled and ctx.now >= before["ends_at"]:
            raise UserErrors.one(ErrorCode.SESSION_ENDED, "This live session has ended; it cannot be rescheduled.",
                                 _input_name(rescheduled[0]))
        if "ends_at" in rescheduled or "starts_at" in rescheduled:
            if live_session.ends_at <= ctx.now:
                problems.add(ErrorCode.VALIDATION, "A live session cannot be moved to end in the past.", "endsAt")
            live_session.sequence += 1  # calendar apps replace their copy (the feed's SEQUENCE)
        await _validate(db, live_session, problems)
        await _keep_slot_in_step(db, live_session)
        if "capacity" in change:
            booked = await db.scalar(select(func.count()).select_from(Booking).where(
                Booking.live_session_id == live_session.id, Booking.status == BookingStatus.BOOKED.value))
            if live_session.capacity < booked:
                raise UserErrors.one(ErrorCode.VALIDATION,
                                     f"capacity cannot go below the {booked} learners booked.", "capacity")
        live_session.updated_at = ctx.now
        # A larger capacity frees seats: the slot's waitlist gets them in this transaction.
        promotions = await waitlist.offer_freed_seats_on(db, ctx, live_session.id) if "capacity" in change else []
        await db.flush()
        kind = ScheduleEventKind.RESCHEDULED if rescheduled else ScheduleEventKind.UPDATED
        await record_schedule_changes(db, ctx, [
            schedule_change(EventType.LIVE_SESSION_UPDATED, kind, live_session, await people_on(db, live_session),
                            {**live_session_data(live_session), "rescheduled": bool(rescheduled)}),
            *await waitlist.promotion_changes(db, promotions)])
    return live_session


@audited("cancelLiveSession", subject=LiveSession, by="live_session_id")
async def cancel_live_session(ctx: Context, live_session_id: int, reason: str | None) -> LiveSession:
    """Cancels it for everyone and refunds every booking's credits, in one transaction;
    cancelling again changes nothing. The bookings stay BOOKED, so the live session stays
    on the learners' schedules, struck through as CANCELLED."""
    require_admin(ctx)
    async with ctx.database.write() as db:
        live_session = await _get(db, live_session_id, "id")
        if live_session.is_cancelled:
            return live_session
        if live_session.has_ended(ctx.now):
            raise UserErrors.one(ErrorCode.SESSION_ENDED, "This live session has ended; it cannot be cancelled.",
                                 "id")
        live_session.cancelled_at = ctx.now
        live_session.cancellation_reason = (reason or "").strip() or None
        live_session.sequence += 1  # a change of STATUS, which calendar apps apply only at a higher SEQUENCE
        live_session.updated_at = ctx.now
        # Written (and locked) before the bookings are read: a booking made meanwhile has
        # either committed, and is refunded here, or waits and then finds it cancelled.
        await db.flush()
        await credits.refund_live_session(db, live_session, await db.get(Course, live_session.course_id), ctx.now)
        await waitlist.expire_for_cancelled_live_session(db, ctx, live_session.id)
        await record_schedule_change(db, ctx, EventType.LIVE_SESSION_CANCELLED, ScheduleEventKind.CANCELLED,
                                     live_session, await people_on(db, live_session), live_session_data(live_session))
    return live_session


async def _keep_slot_in_step(db: AsyncSession, live_session: LiveSession) -> None:
    """The slot a live session was booked from follows it: its times, instructor and seats,
    so availableSlots shows what was booked. The seats change only while they still hold
    the learners booked (one conditional UPDATE, as bookings take seats); this runs before
    the live session's own row is written, locking the slot first as bookSlot does."""
    slots = BookableSlot.__table__
    with db.no_autoflush:
        followed = await db.execute(
            update(slots).where(slots.c.live_session_id == live_session.id, slots.c.booked <= live_session.capacity)
            .values(starts_at=live_session.starts_at, ends_at=live_session.ends_at,
                    instructor_id=live_session.instructor_id, seats=live_session.capacity))
        if followed.rowcount == 0 and await db.scalar(
                select(BookableSlot.booked).where(BookableSlot.live_session_id == live_session.id)) is not None:
            raise UserErrors.one(ErrorCode.VALIDATION, "capacity cannot go below the learners booked.", "capacity")


def _input_name(name: str) -> str:
    """The input's camelCase name of a model field, for error paths."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _apply(live_session: LiveSession, change: LiveSessionChange, problems: Problems) -> None:
    values = change.values
    for name in ("course_id", "session_id", "instructor_id", "starts_at", "ends_at", "capacity"):
        if name in values and values[name] is not None:
            setattr(live_session, name, values[name])
    if "session_id" in values and values["session_id"] is None:
        live_session.session_id = None
    if "lesson_name" in values:
        live_session.lesson_name = optional_text(values["lesson_name"], problems, 300, "lessonName")
    if "lesson_goal" in values:
        live_session.lesson_goal = optional_text(values["lesson_goal"], problems, 5000, "lessonGoal")
    for name in ("virtual_classroom_url", "recording_url"):
        if name in values:
            setattr(live_session, name, http_url(values[name], problems, _input_name(name)))
    if "location" in values:
        name, address, room = values["location"] or (None, None, None)
        live_session.location_name = optional_text(name, problems, 200, "location", "name")
        live_session.location_address = optional_text(address, problems, 500, "location", "address")
        live_session.location_room = optional_text(room, problems, 100, "location", "room")
    if "extra_links" in values:
        links = []
        for position, (title, url) in enumerate(values["extra_links"] or []):
            title = optional_text(title, problems, 200, "extraLinks", str(position), "title")
            if title is None:
                problems.add(ErrorCode.VALIDATION, "title must not be blank.", "extraLinks", str(position), "title")
            url = http_url(url, problems, "extraLinks", str(position), "url")
            if url is None:
                problems.add(ErrorCode.VALIDATION, "url must be an http or https URL.",
                             "extraLinks", str(position), "url")
            links.append({"title": title, "url": url})
        live_session.extra_links = links


async def _validate(db: AsyncSession, live_session: LiveSession, problems: Problems) -> None:
    """Refuses what cannot be saved, every problem at once."""
    with db.no_autoflush:  # the checks must not write the unchecked row
        await _check(db, live_session, problems)


async def _check(db: AsyncSession, live_session: LiveSession, problems: Problems) -> None:
    if live_session.ends_at <= live_session.starts_at:
        problems.add(ErrorCode.INVALID_WINDOW, "endsAt must be after startsAt.", "endsAt")
    SEATS.check(live_session.capacity, problems, "capacity")
    if live_session.lesson_goal is not None and live_session.lesson_name is None:
        problems.add(ErrorCode.VALIDATION, "A lesson goal needs a lesson name.", "lessonName")
    if await db.get(Course, live_session.course_id) is None:
        problems.add(ErrorCode.NOT_FOUND, "No such course.", "courseId")
    if await db.get(Instructor, live_session.instructor_id) is None:
        problems.add(ErrorCode.NOT_FOUND, "No such instructor.", "instructorId")
    if live_session.session_id is not None:
        if await db.get(Session, live_session.session_id) is None:
            problems.add(ErrorCode.NOT_FOUND, "No such session.", "sessionId")
        elif await db.get(SessionCourse, (live_session.session_id, live_session.course_id)) is None:
            problems.add(ErrorCode.VALIDATION, "The course is not one of the session's courses.", "sessionId")
    problems.raise_if_any()


async def _get(db: AsyncSession, live_session_id: int, *field: str) -> LiveSession:
    live_session = await db.get(LiveSession, live_session_id)
    if live_session is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such live session.", *field)
    return live_session

