"""Booking: instructors publish slots, learners book and cancel them.

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

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.models import (
    BookableSlot,
    Booking,
    BookingStatus,
    Course,
    CreditTransactionKind,
    Instructor,
    LiveSession,
)
from sessiongraph.models.booking import cancellation_deadline, overlapping
from sessiongraph.resolvers import credits
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import BadInput, ErrorCode, NotAllowed, Problems, UserErrors
from sessiongraph.resolvers.events import ScheduleEventKind, publish_schedule_change
from sessiongraph.resolvers.loaders.accounts import InstructorById
from sessiongraph.resolvers.loaders.booking import OpenSlotsByCourse, SlotById
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import BookingById, BookingByLearnerLiveSession, LiveSessionById
from sessiongraph.resolvers.permissions import (
    can_see_booking,
    has_course_access,
    may_cancel_booking,
    may_publish_availability,
    require_signed_in,
)
from sessiongraph.resolvers.schedule import new_code
from sessiongraph.resolvers.validation import SEATS, http_url, optional_text

MAX_SLOTS_PER_PUBLISH = 200
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
    slots = [_slot(offer, n, instructor, course, user.id, ctx.now, problems) for n, offer in enumerate(offers)]
    for n, slot in enumerate(slots):
        if any(slot.overlaps(other.starts_at, other.ends_at) for other in slots[:n]):
            problems.add(ErrorCode.SLOT_OVERLAP, "This slot overlaps another one given.", "slots", str(n))
    problems.raise_if_any()
    if not slots:
        return []

    async with ctx.database.write() as db:
        # The instructor's row is the lock that makes publishing one at a time per
        # instructor, so two publications cannot both pass the overlap check.
        await db.execute(update(instructors_table).where(instructors_table.c.id == instructor.id)
                         .values(display_name=instructors_table.c.display_name))
        taken = await _busy_times(db, instructor.id, min(s.starts_at for s in slots), max(s.ends_at for s in slots))
        for n, slot in enumerate(slots):
            if any(overlapping(slot.starts_at, slot.ends_at, start, end) for start, end in taken):
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
        _booking_with_key(ctx, user.id, key) if key is not None else _none(), SlotById(ctx).load(slot_id))
    if earlier is not None:
        return await _replayed(ctx, earlier, slot_id)
    if slot is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    live_session_id = slot.live_session_id
    course, has_access, live_session, mine = await asyncio.gather(
        CourseById(ctx).load(slot.course_id), has_course_access(ctx, user.id, slot.course_id),
        LiveSessionById(ctx).load(live_session_id) if live_session_id is not None else _none(),
        BookingByLearnerLiveSession(ctx).load((user.id, live_session_id)) if live_session_id is not None
        else _none())
    if not course.bookable:
        raise UserErrors.one(ErrorCode.NOT_BOOKABLE, "This course is not open for booking.", "slotId")
    if not has_access:
        raise UserErrors.one(ErrorCode.NO_ACCESS, "You need to be enrolled in a current session with this "
                                                  "course to book it.", "slotId")
    if slot.starts_at <= ctx.now:
        raise UserErrors.one(ErrorCode.SLOT_IN_PAST, "This slot has already started.", "slotId")
    if live_session is not None and live_session.is_cancelled:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This slot's live session was cancelled.", "slotId")
    if mine is not None and mine.status == BookingStatus.BOOKED.value:
        raise UserErrors.one(ErrorCode.ALREADY_BOOKED, "You have booked this slot already.", "slotId")

    try:
        async with ctx.database.write() as db:
            booking, live_session = await _book(db, ctx, user.id, slot, course, key)
    except IntegrityError:
        # A concurrent request of the same learner got there first: with the same key,
        # that one is the answer; else it booked this live session already.
        if key is not None and (earlier := await _booking_with_key(ctx, user.id, key)) is not None:
            return await _replayed(ctx, earlier, slot_id)
        if await _booked_already(ctx, user.id, slot.id):
            raise UserErrors.one(ErrorCode.ALREADY_BOOKED, "You have booked this slot already.",
                                 "slotId") from None
        raise
    instructor = await InstructorById(ctx).load(live_session.instructor_id)
    await publish_schedule_change(ctx, ScheduleEventKind.BOOKED, live_session.id, {user.id, instructor.user_id})
    return booking


async def _book(db: AsyncSession, ctx: Context, learner_id: int, slot: BookableSlot, course: Course,
                key: str | None) -> tuple[Booking, LiveSession]:
    # The seat first: this UPDATE row-locks the slot (PostgreSQL) or takes the write lock
    # (SQLite), and matches only while a seat is free and the slot is in the future.
    taken = (await db.execute(
        update(slots_table)
        .where(slots_table.c.id == slot.id, slots_table.c.booked < slots_table.c.seats,
               slots_table.c.starts_at > ctx.now)
        .values(booked=slots_table.c.booked + 1)
        .returning(slots_table.c.live_session_id))).first()
    if taken is None:
        starts_at = await db.scalar(select(BookableSlot.starts_at).where(BookableSlot.id == slot.id))
        if starts_at is not None and starts_at <= ctx.now:
            raise UserErrors.one(ErrorCode.SLOT_IN_PAST, "This slot has already started.", "slotId")
        raise UserErrors.one(ErrorCode.SLOT_FULL, "This slot is full.", "slotId")

    if taken.live_session_id is None:
        live_session = await _first_live_session(db, ctx, slot)
    else:
        # Shared lock: a concurrent cancelLiveSession either finished (and we see it) or waits for us.
        live_session = await db.scalar(select(LiveSession).where(LiveSession.id == taken.live_session_id)
                                       .with_for_update(read=True))
        if live_session.is_cancelled:
            raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This slot's live session was cancelled.",
                                 "slotId")

    booking = Booking(learner_id=learner_id, live_session_id=live_session.id, status=BookingStatus.BOOKED.value,
                      booked_at=ctx.now, idempotency_key=key)
    db.add(booking)
    await db.flush()

    if course.credit_cost > 0:
        after = await credits.change_balance(db, learner_id, -course.credit_cost, ctx.now)
        if after is None:
            raise UserErrors.one(ErrorCode.INSUFFICIENT_CREDITS,
                                 f"Booking this costs {course.credit_cost} credits; your balance is too low.",
                                 "slotId")
        await credits.record(db, user_id=learner_id, kind=CreditTransactionKind.BOOKING, amount=-course.credit_cost,
                             balance_after=after, description=f"Booking: {credits.describe(live_session, course)}",
                             now=ctx.now, live_session_id=live_session.id, booking_id=booking.id)
    return booking, live_session


async def _first_live_session(db: AsyncSession, ctx: Context, slot: BookableSlot) -> LiveSession:
    """The live session the slot becomes at its first booking: the slot's course, instructor,
    times and place, with as many places as it has seats."""
    live_session = LiveSession(
        code=await new_code(db), course_id=slot.course_id, instructor_id=slot.instructor_id,
        starts_at=slot.starts_at, ends_at=slot.ends_at, capacity=slot.seats,
        virtual_classroom_url=slot.virtual_classroom_url, location_name=slot.location_name,
        location_address=slot.location_address, location_room=slot.location_room,
        created_at=ctx.now, updated_at=ctx.now)
    db.add(live_session)
    await db.flush()
    await db.execute(update(slots_table).where(slots_table.c.id == slot.id)
                     .values(live_session_id=live_session.id))
    return live_session


async def _none() -> None:
    """A read that is not needed, where `asyncio.gather` wants one."""
    return None


async def _booked_already(ctx: Context, learner_id: int, slot_id: int) -> bool:
    """Read afresh, past the request's loaders: has the learner a live booking on the slot?"""
    async with ctx.database.read() as db:
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
    async with ctx.database.read() as db:
        return await db.scalar(select(Booking).where(Booking.learner_id == learner_id,
                                                     Booking.idempotency_key == key))


async def _replayed(ctx: Context, earlier: Booking, slot_id: int) -> Booking:
    """The first request's booking, when the retry asks for the same slot. Read afresh: the
    request's loaders may hold the slot from before the first booking linked it."""
    async with ctx.database.read() as db:
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
    the start; cancelling a cancelled booking changes nothing."""
    require_signed_in(ctx)
    booking = await BookingById(ctx).load(booking_id)
    live_session = await LiveSessionById(ctx).load(booking.live_session_id) if booking is not None else None
    if booking is None or not await can_see_booking(ctx, booking, live_session):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such booking.", "bookingId")
    if not may_cancel_booking(ctx, booking):
        raise NotAllowed("Only the learner who booked (or an administrator) can cancel a booking.")
    if booking.status == BookingStatus.CANCELLED.value:
        return booking
    course = await CourseById(ctx).load(live_session.course_id)
    _check_cancellable(ctx, live_session, course)

    try:
        async with ctx.database.write() as db:
            booking = await _cancel(db, ctx, booking, live_session, course)
    except _CancelledMeanwhile:
        async with ctx.database.read() as db:
            return await db.get(Booking, booking.id)
    instructor = await InstructorById(ctx).load(live_session.instructor_id)
    await publish_schedule_change(ctx, ScheduleEventKind.CANCELLED, live_session.id,
                                  {booking.learner_id, instructor.user_id})
    return booking


class _CancelledMeanwhile(Exception):
    """A concurrent request cancelled the booking first; this one undoes its part."""


async def _cancel(db: AsyncSession, ctx: Context, booking: Booking, live_session: LiveSession,
                  course: Course) -> Booking:
    # Locks in the order booking takes them (slot, then live session, then account), so
    # a cancellation and a booking of the same slot never wait on each other in a circle.
    await db.execute(update(slots_table)
                     .where(slots_table.c.live_session_id == live_session.id, slots_table.c.booked > 0)
                     .values(booked=slots_table.c.booked - 1))
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
    await credits.refund_booking(db, booking, f"Refund of a cancelled booking: {credits.describe(current, course)}",
                                 ctx.now)
    return await db.get(Booking, booking.id, populate_existing=True)


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
