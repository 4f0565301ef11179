"""Booking: instructors publish (and withdraw) slots, once or repeating; learners book,
reschedule and cancel them. A seat a cancellation or a reschedule frees goes to the
slot's waitlist in the same transaction (resolvers/waitlist.py).

The rules (DESIGN.md, "Booking"): only bookable courses, only learners with access to
the course, only slots in the future with a free seat, and only with the credits the
course costs. The first booking of a slot creates its live session; later ones join
it. Seats and balance are each guarded by one conditional UPDATE in the booking's
database transaction (`booked < seats`, `balance >= cost`): whatever runs at the same
time, a slot is never overbooked and a balance never goes below zero, on PostgreSQL
(the row stays locked until commit) and on SQLite (the first write locks the file).

Checks that need no lock run first, through the request's loaders; inside the
transaction only its own connection is used, so a request holding a row lock never
waits for a second connection from the pool.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.infrastructure.zones import zone_named
from sessiongraph.models import (
    BookableSlot,
    Booking,
    BookingStatus,
    Course,
    Instructor,
    LiveSession,
)
from sessiongraph.models import recurrence as recurrences
from sessiongraph.models.booking import cancellation_deadline, overlapping
from sessiongraph.models.events import EventType
from sessiongraph.resolvers import credits, seats, waitlist
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import BadInput, ErrorCode, NotAllowed, Problems, UserErrors
from sessiongraph.resolvers.events import (
    ScheduleEventKind,
    booking_data,
    instructor_user_id,
    instructor_user_ids,
    record_schedule_change,
    record_schedule_changes,
    rescheduled_data,
    schedule_change,
)
from sessiongraph.resolvers.loaders.accounts import InstructorById, UserById
from sessiongraph.resolvers.loaders.booking import OpenSlotsByCourse, SlotById
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import BookingById, LiveSessionById
from sessiongraph.resolvers.permissions import (
    can_see_booking,
    may_cancel_booking,
    may_publish_availability,
    require_signed_in,
)
from sessiongraph.resolvers.validation import SEATS, http_url, optional_text

MAX_SLOTS_PER_PUBLISH = 200
# What one publication may write once its recurrences are expanded: one INSERT and one
# overlap query whatever the number, so the bound is on memory and the answer's size.
MAX_PUBLISHED_OCCURRENCES = 1000
MAX_EXCEPTIONS = recurrences.MAX_OCCURRENCES
# availableSlots answers for a range of at most this, so the list stays a page's size.
MAX_SLOT_RANGE = timedelta(days=93)
IDEMPOTENCY_KEY_MAX_LENGTH = 200

slots_table = BookableSlot.__table__
bookings_table = Booking.__table__
instructors_table = Instructor.__table__


# --- publishing availability --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """One slot as published: when, how many seats, and where the live session will be."""

    starts_at: datetime
    ends_at: datetime
    seats: int
    virtual_classroom_url: str | None = None
    location: tuple[str | None, str | None, str | None] | None = None
    # An RRULE repeating the slot (models/recurrence.py), its end, and occurrences left out.
    recurrence: str | None = None
    until: datetime | None = None
    exceptions: tuple[datetime, ...] = ()


@audited("publishAvailability", subject=Instructor, by="instructor_id")
async def publish_availability(ctx: Context, *, instructor_id: int, course_id: int,
                               offers: list[SlotOffer]) -> list[BookableSlot]:
    """Adds the instructor's slots for a bookable course: each in the future, with at least
    one seat, overlapping none of the others given nor the instructor's slots and live
    sessions (cancelled ones aside). All of them or none."""
    user = require_signed_in(ctx)
    instructor = await InstructorById(ctx).load(instructor_id)
    if instructor is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such instructor.", "instructorId")
    if not may_publish_availability(ctx, instructor):
        raise NotAllowed("Instructors publish their own availability; administrators anyone's.")
    course = await CourseById(ctx).load(course_id)
    if course is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such course.", "courseId")
    if not course.bookable:
        raise UserErrors.one(ErrorCode.NOT_BOOKABLE, "This course is not open for booking.", "courseId")

    problems = Problems()
    if len(offers) > MAX_SLOTS_PER_PUBLISH:
        problems.add(ErrorCode.VALIDATION, f"Publish at most {MAX_SLOTS_PER_PUBLISH} slots at once.", "slots")
        problems.raise_if_any()
    zone = await _zone_of(ctx, instructor) if any(offer.recurrence for offer in offers) else ZoneInfo("UTC")
    given = [(n, occurrence) for n, offer in enumerate(offers)
             for occurrence in _occurrences(_slot(offer, n, instructor, course, user.id, ctx.now, problems),
                                            offer, n, zone, problems)]
    if len(given) > MAX_PUBLISHED_OCCURRENCES:
        problems.add(ErrorCode.VALIDATION, f"Publish at most {MAX_PUBLISHED_OCCURRENCES} slots at once, "
                                           "recurrences counted.", "slots")
        problems.raise_if_any()
    for n in _overlapping_inputs(given):
        problems.add(ErrorCode.SLOT_OVERLAP, "This slot overlaps another one given.", "slots", str(n))
    problems.raise_if_any()
    slots = [slot for _, slot in given]
    if not slots:
        return []

    async with ctx.database.write() as db:
        # The instructor's row is the lock that makes publishing one at a time per
        # instructor, so two publications cannot both pass the overlap check.
        await db.execute(update(instructors_table).where(instructors_table.c.id == instructor.id)
                         .values(display_name=instructors_table.c.display_name))
        taken = await _busy_times(db, instructor.id, min(s.starts_at for s in slots), max(s.ends_at for s in slots))
        for n in sorted({n for n, slot in given
                         if any(overlapping(slot.starts_at, slot.ends_at, start, end) for start, end in taken)}):
            problems.add(ErrorCode.SLOT_OVERLAP,
                         "The instructor has a slot or a live session at this time.", "slots", str(n))
        problems.raise_if_any()
        # One INSERT for them all on every engine: the unit of work would write SQLite's one row
        # per statement (it cannot match RETURNING rows to objects there). A publication's slots
        # never overlap, so each one's start tells which row it is.
        written = {slot.starts_at: slot for slot in await db.scalars(
            insert(BookableSlot).returning(BookableSlot), [slot.model_dump(exclude={"id"}) for slot in slots])}
    return [written[slot.starts_at] for slot in slots]


def _slot(offer: SlotOffer, n: int, instructor: Instructor, course: Course, user_id: int, now: datetime,
          problems: Problems) -> BookableSlot:
    at = ("slots", str(n))
    if offer.ends_at <= offer.starts_at:
        problems.add(ErrorCode.INVALID_WINDOW, "endsAt must be after startsAt.", *at, "endsAt")
    if offer.starts_at <= now:
        problems.add(ErrorCode.SLOT_IN_PAST, "A slot must start in the future.", *at, "startsAt")
    SEATS.check(offer.seats, problems, *at, "seats")
    name, address, room = offer.location or (None, None, None)
    return BookableSlot(
        course_id=course.id, instructor_id=instructor.id, starts_at=offer.starts_at, ends_at=offer.ends_at,
        seats=offer.seats, virtual_classroom_url=http_url(offer.virtual_classroom_url, problems, *at,
                                                          "virtualClassroomUrl"),
        location_name=optional_text(name, problems, 200, *at, "location", "name"),
        location_address=optional_text(address, problems, 500, *at, "location", "address"),
        location_room=optional_text(room, problems, 100, *at, "location", "room"),
        published_by_id=user_id, created_at=now)


async def _zone_of(ctx: Context, instructor: Instructor) -> ZoneInfo:
    """Where a series is expanded: the instructor's own time zone."""
    user = await UserById(ctx).load(instructor.user_id)
    return (zone_named(user.time_zone) if user is not None else None) or ZoneInfo("UTC")


def _occurrences(slot: BookableSlot, offer: SlotOffer, n: int, zone: ZoneInfo,
                 problems: Problems) -> list[BookableSlot]:
    """The slot, or each occurrence of its recurrence: the same length and place, starting at
    each start the rule gives in the instructor's zone, those in `exceptions` left out."""
    at = ("slots", str(n))
    if offer.recurrence is None:
        if offer.until is not None or offer.exceptions:
            problems.add(ErrorCode.VALIDATION, "until and exceptions go with a recurrence.", *at, "recurrence")
        return [slot]
    if len(offer.exceptions) > MAX_EXCEPTIONS:
        problems.add(ErrorCode.VALIDATION, f"Give at most {MAX_EXCEPTIONS} exceptions.", *at, "exceptions")
        return []
    try:
        rule = recurrences.parse(offer.recurrence, offer.until)
        starts = recurrences.occurrences(rule, slot.starts_at, zone)
    except recurrences.InvalidRecurrence as error:
        problems.add(ErrorCode.INVALID_RECURRENCE, str(error), *at, "recurrence")
        return []
    left_out = set(offer.exceptions)
    for m, exception in enumerate(offer.exceptions):
        if exception not in starts:
            problems.add(ErrorCode.VALIDATION, "This exception is not a start of the recurrence.",
                         *at, "exceptions", str(m))
    length = slot.ends_at - slot.starts_at
    fields = slot.model_dump(exclude={"id", "starts_at", "ends_at", "recurrence"})
    return [BookableSlot(**fields, starts_at=start, ends_at=start + length, recurrence=rule.rule)
            for start in starts if start not in left_out]


def _overlapping_inputs(given: list[tuple[int, BookableSlot]]) -> list[int]:
    """The inputs one of whose slots overlaps a slot given before it in time order (sorted once,
    so a thousand occurrences cost a sort, not a million comparisons)."""
    found: set[int] = set()
    latest_end: datetime | None = None
    for n, slot in sorted(given, key=lambda pair: (pair[1].starts_at, pair[0])):
        if latest_end is not None and slot.starts_at < latest_end and slot.ends_at > slot.starts_at:
            found.add(n)
        if slot.ends_at > slot.starts_at:
            latest_end = slot.ends_at if latest_end is None else max(latest_end, slot.ends_at)
    return sorted(found)


async def _busy_times(db: AsyncSession, instructor_id: int, starts_from: datetime,
                      ends_by: datetime) -> list[tuple[datetime, datetime]]:
    """The instructor's slots and live sessions meeting [starts_from, ends_by), cancelled ones left out."""
    slots = (select(BookableSlot.starts_at, BookableSlot.ends_at)
             .outerjoin(LiveSession, LiveSession.id == BookableSlot.live_session_id)
             .where(BookableSlot.instructor_id == instructor_id, BookableSlot.starts_at < ends_by,
                    BookableSlot.ends_at > starts_from, LiveSession.cancelled_at.is_(None)))
    live_sessions = select(LiveSession.starts_at, LiveSession.ends_at).where(
        LiveSession.instructor_id == instructor_id, LiveSession.starts_at < ends_by,
        LiveSession.ends_at > starts_from, LiveSession.cancelled_at.is_(None))
    return [tuple(row) for query in (slots, live_sessions) for row in (await db.execute(query)).all()]


async def available_slots(ctx: Context, course: Course, starts_from: datetime, starts_before: datetime,
                          instructor_id: int | None) -> list[BookableSlot]:
    """A bookable course's slots starting in [from, to) that have not started yet, full ones
    included, ascending; those whose live session was cancelled are gone."""
    if starts_before - starts_from > MAX_SLOT_RANGE:
        raise BadInput(f"availableSlots covers at most {MAX_SLOT_RANGE.days} days from `from` to `to`.")
    if not course.bookable or starts_before <= starts_from:
        return []
    return await OpenSlotsByCourse(ctx).load((course.id, starts_from, starts_before, ctx.now, instructor_id))


# --- booking ------------------------------------------------------------------------------------


async def book_slot(ctx: Context, slot_id: int, idempotency_key: str | None = None) -> Booking:
    """Books the viewer on a slot. The same idempotency key from the same learner answers
    with the booking the first request made, booking nothing more."""
    user = require_signed_in(ctx)
    key = _idempotency_key(idempotency_key)
    # What the checks read, in two rounds rather than one after another; the checks are
    # still decided in the order below, which is the order of their errors' precedence.
    earlier, slot = await asyncio.gather(
        _booking_with_key(ctx, user.id, key) if key is not None else seats.no_read(), SlotById(ctx).load(slot_id))
    if earlier is not None:
        return await _replayed(ctx, earlier, slot_id)
    if slot is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    course = await seats.check_bookable(ctx, user.id, slot)
    try:
        async with ctx.database.write() as db:
            booking, live_session = await _book(db, ctx, user.id, slot, course, key)
            teacher = await instructor_user_id(db, live_session.instructor_id)
            await record_schedule_change(db, ctx, EventType.BOOKING_CREATED, ScheduleEventKind.BOOKED, live_session,
                                         {user.id, teacher}, booking_data(booking, live_session))
    except IntegrityError:
        return await _raced(ctx, user.id, key, slot)
    return booking


async def _raced(ctx: Context, learner_id: int, key: str | None, slot: BookableSlot) -> Booking:
    """After a unique index refused the booking: a concurrent request of the same learner got
    there first. With the same key, that one is the answer; else it booked this slot already."""
    if key is not None and (earlier := await _booking_with_key(ctx, learner_id, key)) is not None:
        return await _replayed(ctx, earlier, slot.id)
    if await _booked_already(ctx, learner_id, slot.id):
        raise UserErrors.one(ErrorCode.ALREADY_BOOKED, "You have booked this slot already.", "slotId") from None
    raise


async def _book(db: AsyncSession, ctx: Context, learner_id: int, slot: BookableSlot, course: Course,
                key: str | None) -> tuple[Booking, LiveSession]:
    live_session = await seats.take_seat(db, ctx, slot)
    booking = await seats.add_booking(db, ctx, learner_id, live_session, key)
    await _pay(db, ctx, booking, live_session, course)
    return booking, live_session


async def _pay(db: AsyncSession, ctx: Context, booking: Booking, live_session: LiveSession, course: Course) -> None:
    after = await seats.debit(db, ctx, booking.learner_id, course)
    if after is None:
        raise seats.too_few_credits(course)
    await seats.record_debit(db, ctx, booking, live_session, course, after)


async def _booked_already(ctx: Context, learner_id: int, slot_id: int) -> bool:
    """Read afresh, past the request's loaders: has the learner a live booking on the slot?"""
    async with ctx.read() as db:
        return await db.scalar(
            select(Booking.id).join(BookableSlot, BookableSlot.live_session_id == Booking.live_session_id)
            .where(BookableSlot.id == slot_id, Booking.learner_id == learner_id,
                   Booking.status == BookingStatus.BOOKED.value)) is not None


def _idempotency_key(given: str | None) -> str | None:
    key = (given or "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise UserErrors.one(ErrorCode.VALIDATION,
                             f"idempotencyKey must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
                             "idempotencyKey")
    return key or None


async def _booking_with_key(ctx: Context, learner_id: int, key: str) -> Booking | None:
    async with ctx.read() as db:
        return await db.scalar(select(Booking).where(Booking.learner_id == learner_id,
                                                     Booking.idempotency_key == key))


async def _replayed(ctx: Context, earlier: Booking, slot_id: int) -> Booking:
    """The first request's booking, when the retry asks for the same slot. Read afresh: the
    request's loaders may hold the slot from before the first booking linked it."""
    async with ctx.read() as db:
        same_slot = await db.scalar(select(BookableSlot.id).where(
            BookableSlot.id == slot_id, BookableSlot.live_session_id == earlier.live_session_id))
    if same_slot is None:
        raise UserErrors.one(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                             "This idempotency key was used for another booking; send a new key for a new "
                             "request.", "idempotencyKey")
    return earlier


# --- cancelling ------------------------------------------------------------------------------


async def cancel_booking(ctx: Context, booking_id: int) -> Booking:
    """Cancels a live booking and refunds it, until the course's cancellation notice before
    the start; cancelling a cancelled booking changes nothing. The freed seat goes to the
    slot's waitlist in the same transaction."""
    require_signed_in(ctx)
    booking, live_session = await _own_booking(ctx, booking_id, "cancel")
    if booking.status == BookingStatus.CANCELLED.value:
        return booking
    course = await CourseById(ctx).load(live_session.course_id)
    _check_cancellable(ctx, live_session, course)

    try:
        async with ctx.database.write() as db:
            booking, freed_slot_id = await _cancel(db, ctx, booking, live_session, course)
            promotions = await _offer(db, ctx, freed_slot_id)
            teacher = await instructor_user_id(db, live_session.instructor_id)
            await record_schedule_changes(db, ctx, [
                schedule_change(EventType.BOOKING_CANCELLED, ScheduleEventKind.CANCELLED, live_session,
                                {booking.learner_id, teacher}, booking_data(booking, live_session)),
                *await waitlist.promotion_changes(db, promotions, {live_session.instructor_id: teacher})])
    except _CancelledMeanwhile:
        async with ctx.read() as db:
            return await db.get(Booking, booking.id)
    return booking


async def _own_booking(ctx: Context, booking_id: int, action: str) -> tuple[Booking, LiveSession]:
    booking = await BookingById(ctx).load(booking_id)
    live_session = await LiveSessionById(ctx).load(booking.live_session_id) if booking is not None else None
    if booking is None or not await can_see_booking(ctx, booking, live_session):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such booking.", "bookingId")
    if not may_cancel_booking(ctx, booking):
        raise NotAllowed(f"Only the learner who booked (or an administrator) can {action} a booking.")
    return booking, live_session


async def _offer(db: AsyncSession, ctx: Context, freed_slot_id: int | None) -> list[waitlist.Promotion]:
    return await waitlist.offer_freed_seats(db, ctx, freed_slot_id) if freed_slot_id is not None else []


class _CancelledMeanwhile(Exception):
    """A concurrent request cancelled the booking first; this one undoes its part."""


async def _cancel(db: AsyncSession, ctx: Context, booking: Booking, live_session: LiveSession, course: Course,
                  why: str = "Refund of a cancelled booking") -> tuple[Booking, int | None]:
    """Cancels and refunds the booking; with the slot whose seat it freed (None for a live
    session made without one)."""
    # Locks in the order booking takes them (slot, then live session, then account), so
    # a cancellation and a booking of the same slot never wait on each other in a circle.
    freed_slot_id = await db.scalar(
        update(slots_table)
        .where(slots_table.c.live_session_id == live_session.id, slots_table.c.booked > 0)
        .values(booked=slots_table.c.booked - 1).returning(slots_table.c.id))
    cancelled = await db.execute(
        update(bookings_table)
        .where(bookings_table.c.id == booking.id, bookings_table.c.status == BookingStatus.BOOKED.value)
        .values(status=BookingStatus.CANCELLED.value, cancelled_at=ctx.now))
    if cancelled.rowcount != 1:
        raise _CancelledMeanwhile()
    # Share-locked against a concurrent cancelLiveSession, which refunds the booking itself.
    current = await db.scalar(select(LiveSession).where(LiveSession.id == live_session.id)
                              .with_for_update(read=True))
    _check_cancellable(ctx, current, course)
    await credits.refund_booking(db, booking, f"{why}: {credits.describe(current, course)}", ctx.now)
    return await db.get(Booking, booking.id, populate_existing=True), freed_slot_id


def _check_cancellable(ctx: Context, live_session: LiveSession, course: Course) -> None:
    if live_session.is_cancelled:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This live session was cancelled, and the booking "
                                                               "refunded with it.", "bookingId")
    deadline = cancellation_deadline(live_session.starts_at, course.cancellation_notice_minutes)
    if ctx.now >= deadline:
        notice = course.cancellation_notice_minutes
        raise UserErrors.one(ErrorCode.TOO_LATE_TO_CANCEL,
                             "Bookings can be cancelled until the start." if notice == 0 else
                             f"Bookings of this course can be cancelled until {notice} minutes before the start "
                             f"({deadline:%Y-%m-%d %H:%M} UTC).", "bookingId")


# --- rescheduling ------------------------------------------------------------------------------


async def reschedule_booking(ctx: Context, booking_id: int, slot_id: int,
                             idempotency_key: str | None = None) -> Booking:
    """Moves a live booking to another slot of the same course, in one transaction: a new
    booking on the new slot (carrying the idempotency key), the old one cancelled and
    refunded, the new one debited at the course's cost, so the balance moves by the price
    difference only. The old slot's cancellation notice applies; its freed seat goes to
    its waitlist."""
    require_signed_in(ctx)
    key = _idempotency_key(idempotency_key)
    booking, live_session = await _own_booking(ctx, booking_id, "reschedule")
    learner_id = booking.learner_id
    if key is not None and (earlier := await _booking_with_key(ctx, learner_id, key)) is not None:
        return await _replayed(ctx, earlier, slot_id)
    if booking.status == BookingStatus.CANCELLED.value:
        raise UserErrors.one(ErrorCode.NOT_BOOKED, "This booking was cancelled: book a slot instead.", "bookingId")
    slot = await SlotById(ctx).load(slot_id)
    if slot is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    if slot.course_id != live_session.course_id:
        raise UserErrors.one(ErrorCode.VALIDATION, "A booking moves to a slot of its own course.", "slotId")
    if slot.live_session_id == live_session.id:
        raise UserErrors.one(ErrorCode.ALREADY_BOOKED, "The booking is on this slot already.", "slotId")
    course = await seats.check_bookable(ctx, learner_id, slot)
    _check_cancellable(ctx, live_session, course)
    old_slot_id = await _slot_of(ctx, live_session.id)

    try:
        async with ctx.database.write() as db:
            moved, new_live_session = await _reschedule(db, ctx, booking, live_session, old_slot_id, slot,
                                                        course, key)
            promotions = await _offer(db, ctx, old_slot_id)
            teachers = await instructor_user_ids(db, {live_session.instructor_id, new_live_session.instructor_id})
            await record_schedule_changes(db, ctx, [
                schedule_change(EventType.BOOKING_RESCHEDULED, ScheduleEventKind.RESCHEDULED, new_live_session,
                                {learner_id, *teachers.values()},
                                rescheduled_data(moved, new_live_session, booking, live_session)),
                *await waitlist.promotion_changes(db, promotions, teachers)])
    except IntegrityError:
        return await _raced(ctx, learner_id, key, slot)
    except _CancelledMeanwhile:
        raise UserErrors.one(ErrorCode.NOT_BOOKED, "This booking was cancelled meanwhile.", "bookingId") from None
    return moved


async def _slot_of(ctx: Context, live_session_id: int) -> int | None:
    """A live session's slot never changes once its first booking made it."""
    async with ctx.read() as db:
        return await db.scalar(select(BookableSlot.id).where(BookableSlot.live_session_id == live_session_id))


async def _reschedule(db: AsyncSession, ctx: Context, booking: Booking, live_session: LiveSession,
                      old_slot_id: int | None, slot: BookableSlot, course: Course,
                      key: str | None) -> tuple[Booking, LiveSession]:
    # Both slots are locked in ID order, so two reschedules crossing between the same slots
    # queue instead of deadlocking; the new seat is taken before the old is released.
    if old_slot_id is not None and old_slot_id < slot.id:
        await db.execute(update(slots_table).where(slots_table.c.id == old_slot_id)
                         .values(booked=slots_table.c.booked))
    new_live_session = await seats.take_seat(db, ctx, slot)
    moved = await seats.add_booking(db, ctx, booking.learner_id, new_live_session, key)
    await _cancel(db, ctx, booking, live_session, course,
                  why=f"Refund of a booking moved to session {new_live_session.code}")
    await _pay(db, ctx, moved, new_live_session, course)
    return moved, new_live_session


# --- withdrawing a slot ------------------------------------------------------------------------


async def withdraw_slot(ctx: Context, slot_id: int, cancel_bookings: bool) -> int:
    """Removes a slot that has not started, with its waitlist; one with live bookings only with
    `cancel_bookings`, which cancels and refunds each and cancels its live session. Answers
    how many bookings it cancelled."""
    require_signed_in(ctx)
    slot = await SlotById(ctx).load(slot_id)
    if slot is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    if not may_publish_availability(ctx, await InstructorById(ctx).load(slot.instructor_id)):
        raise NotAllowed("Instructors withdraw their own slots; administrators anyone's.")
    if slot.starts_at <= ctx.now:
        raise UserErrors.one(ErrorCode.SLOT_IN_PAST, "This slot has started; it is history now.", "slotId")
    async with ctx.database.write() as db:
        return await _withdraw(db, ctx, slot.id, cancel_bookings)


async def _withdraw(db: AsyncSession, ctx: Context, slot_id: int, cancel_bookings: bool) -> int:
    # The slot's row first, as bookings lock it: a booking made meanwhile has committed (and
    # is counted here) or waits and then finds no slot.
    locked = (await db.execute(update(slots_table).where(slots_table.c.id == slot_id)
                               .values(booked=slots_table.c.booked)
                               .returning(slots_table.c.live_session_id))).first()
    if locked is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    live_session_id = locked.live_session_id
    booked: list[Booking] = []
    if live_session_id is not None:
        live_session = await db.scalar(select(LiveSession).where(LiveSession.id == live_session_id)
                                       .with_for_update())
        booked = list((await db.scalars(select(Booking).where(
            Booking.live_session_id == live_session_id, Booking.status == BookingStatus.BOOKED.value))).all())
        if booked and not cancel_bookings:
            raise UserErrors.one(ErrorCode.SLOT_HAS_BOOKINGS,
                                 f"{len(booked)} learners booked this slot: send cancelBookings: true to cancel "
                                 "and refund their bookings with it.", "slotId")
        if not live_session.is_cancelled:
            # An empty live session would stay on the instructor's schedule; it goes with its slot.
            live_session.cancelled_at = ctx.now
            live_session.cancellation_reason = "The slot was withdrawn."
            live_session.updated_at = ctx.now
            await db.flush()
            await credits.refund_live_session(db, live_session, await db.get(Course, live_session.course_id),
                                              ctx.now)
        await db.execute(update(bookings_table).where(bookings_table.c.id.in_([booking.id for booking in booked]))
                         .values(status=BookingStatus.CANCELLED.value, cancelled_at=ctx.now))
    await db.execute(delete(slots_table).where(slots_table.c.id == slot_id))
    if booked:
        # Each cancelled booking is an event; the rows read above still say BOOKED (the UPDATE went past them).
        teacher = await instructor_user_id(db, live_session.instructor_id)
        await record_schedule_changes(db, ctx, [
            schedule_change(EventType.BOOKING_CANCELLED, ScheduleEventKind.CANCELLED, live_session,
                            {booking.learner_id, teacher},
                            {**booking_data(booking, live_session), "status": BookingStatus.CANCELLED.value})
            for booking in booked])
    return len(booked)
