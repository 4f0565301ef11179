"""Seats: taking one on a slot, the live session a slot becomes at its first booking, and
the debit a booking makes. bookSlot, rescheduleBooking and waitlist promotions all book
through here, inside their own database transaction.

Locks are taken in one order everywhere (slot, then live session, then credit account),
so no two of these transactions wait on each other in a circle.
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from sessiongraph.models import BookableSlot, Booking, BookingStatus, Course, CreditTransactionKind, LiveSession
from sessiongraph.resolvers import credits
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import BookingByLearnerLiveSession, LiveSessionById
from sessiongraph.resolvers.permissions import has_course_access

# No 0/O or 1/I: codes are read aloud and typed from screens.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

slots_table: Table = SQLModel.metadata.tables["bookable_slot"]


async def code_taken(db: AsyncSession, code: str) -> bool:
    return await db.scalar(select(col(LiveSession.id)).where(col(LiveSession.code) == code)) is not None


async def new_code(db: AsyncSession) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not await code_taken(db, code):
            return code


async def check_bookable(ctx: Context, learner_id: int, slot: BookableSlot) -> Course:
    """The checks that need no lock before a learner takes a seat on the slot; its course."""
    live_session_id = slot.live_session_id
    course, has_access, live_session, mine = await asyncio.gather(
        CourseById(ctx).load(slot.course_id), has_course_access(ctx, learner_id, slot.course_id),
        LiveSessionById(ctx).load(live_session_id) if live_session_id is not None else no_read(),
        BookingByLearnerLiveSession(ctx).load((learner_id, live_session_id)) if live_session_id is not None
        else no_read())
    if course is None or not course.bookable:
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
    return course


async def no_read() -> None:
    """A read that is not needed, where `asyncio.gather` wants one."""
    return None


async def take_seat(db: AsyncSession, ctx: Context, slot: BookableSlot) -> LiveSession:
    """Takes a seat on the slot and returns its live session (made now if this is the first
    booking). This UPDATE row-locks the slot (PostgreSQL) or takes the write lock (SQLite),
    and matches only while a seat is free and the slot is in the future."""
    taken = (await db.execute(
        update(slots_table)
        .where(slots_table.c.id == slot.id, slots_table.c.booked < slots_table.c.seats,
               slots_table.c.starts_at > ctx.now)
        .values(booked=slots_table.c.booked + 1)
        .returning(slots_table.c.live_session_id))).first()
    if taken is None:
        starts_at = await db.scalar(select(col(BookableSlot.starts_at)).where(col(BookableSlot.id) == slot.id))
        if starts_at is not None and starts_at <= ctx.now:
            raise UserErrors.one(ErrorCode.SLOT_IN_PAST, "This slot has already started.", "slotId")
        raise UserErrors.one(ErrorCode.SLOT_FULL, "This slot is full.", "slotId")
    if taken.live_session_id is None:
        return await _first_live_session(db, ctx, slot)
    # Shared lock: a concurrent cancelLiveSession either finished (and we see it) or waits for us.
    live_session = (await db.scalars(select(LiveSession).where(col(LiveSession.id) == taken.live_session_id)
                                     .with_for_update(read=True))).one()
    if live_session.is_cancelled:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This slot's live session was cancelled.", "slotId")
    return live_session


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


async def add_booking(db: AsyncSession, ctx: Context, learner_id: int, live_session: LiveSession,
                      key: str | None) -> Booking:
    assert live_session.id is not None  # a stored live session
    booking = Booking(learner_id=learner_id, live_session_id=live_session.id, status=BookingStatus.BOOKED.value,
                      booked_at=ctx.now, idempotency_key=key)
    db.add(booking)
    await db.flush()
    return booking


async def debit(db: AsyncSession, ctx: Context, learner_id: int, course: Course) -> int | None:
    """Takes the course's cost from the learner's balance: the balance after, or None, with
    nothing changed, when it is too low (a free course takes nothing and answers 0)."""
    if course.credit_cost <= 0:
        return 0
    return await credits.change_balance(db, learner_id, -course.credit_cost, ctx.now)


async def record_debit(db: AsyncSession, ctx: Context, booking: Booking, live_session: LiveSession, course: Course,
                       balance_after: int) -> None:
    """The ledger line of a debit just made for the booking."""
    if course.credit_cost <= 0:
        return
    await credits.record(db, user_id=booking.learner_id, kind=CreditTransactionKind.BOOKING,
                         amount=-course.credit_cost, balance_after=balance_after,
                         description=f"Booking: {credits.describe(live_session, course)}", now=ctx.now,
                         live_session_id=live_session.id, booking_id=booking.id)


def too_few_credits(course: Course, field: str = "slotId") -> UserErrors:
    return UserErrors.one(ErrorCode.INSUFFICIENT_CREDITS,
                          f"Booking this costs {course.credit_cost} credits; your balance is too low.", field)
