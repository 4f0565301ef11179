"""Waitlists: joining a full slot's queue, leaving it, and promotion when a seat frees.

Promotion runs inside the transaction that frees the seat (a cancellation, a reschedule
away, a larger capacity), which already holds the slot's row lock: the seats it offers
cannot be taken by anyone else meanwhile, and two frees of one slot promote one after
the other, never the same learner twice. Learners are offered seats in position order;
one who may no longer book the course, is booked on the slot already or lacks the
credits is SKIPPED with that reason and the next is offered the seat.

Expiry is lazy, not a timer: a WAITING entry past its deadline (the slot's cancellation
notice) reads as EXPIRED (models/waitlist.py), and the next write on the slot's
waitlist marks it so. Nothing is promoted past the deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from sessiongraph.models import BookableSlot, Booking, BookingStatus, Course, LiveSession, WaitlistEntry
from sessiongraph.models.booking import cancellation_deadline
from sessiongraph.models.events import EventType
from sessiongraph.models.waitlist import WaitlistReason, WaitlistStatus, status_of
from sessiongraph.resolvers import seats
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.events import ScheduleEventKind, instructor_user_ids, promotion_data, schedule_change
from sessiongraph.resolvers.loaders.booking import SlotById, course_sessions_of
from sessiongraph.resolvers.loaders.waitlist import LatestEntryByLearnerSlot, WaitlistEntryById
from sessiongraph.resolvers.outbox import NewEvent
from sessiongraph.resolvers.permissions import require_signed_in

# Viewer.waitlist is a plain list: the entries on slots still to come, at most this many.
VIEWER_WAITLIST_LIMIT = 100

slots_table: Table = SQLModel.metadata.tables["bookable_slot"]
entries_table: Table = SQLModel.metadata.tables["waitlist_entry"]
WAITING = WaitlistStatus.WAITING.value


@dataclass(frozen=True, slots=True)
class Promotion:
    """A learner booked from the waitlist; recorded as an event by the freeing transaction."""

    entry_id: int
    booking: Booking
    live_session: LiveSession


# --- the learner's actions --------------------------------------------------------------------


async def join_waitlist(ctx: Context, slot_id: int) -> WaitlistEntry:
    """Queues the viewer for a full slot they could book. Credits are checked at promotion,
    not here: a learner may top up while waiting."""
    user = require_signed_in(ctx)
    slot = await SlotById(ctx).load(slot_id)
    if slot is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such slot.", "slotId")
    assert user.id is not None and slot.id is not None  # stored rows
    course = await seats.check_bookable(ctx, user.id, slot)
    entry = await LatestEntryByLearnerSlot(ctx).load((user.id, slot.id))
    if entry is not None and entry.status == WAITING and ctx.now < entry.expires_at:
        raise _already_waiting()
    deadline = cancellation_deadline(slot.starts_at, course.cancellation_notice_minutes)
    if ctx.now >= deadline:
        raise UserErrors.one(ErrorCode.WAITLIST_CLOSED, "Seats of this slot are no longer offered to a waitlist: "
                                                        "its cancellation notice has passed.", "slotId")
    try:
        async with ctx.database.write() as db:
            return await _join(db, ctx, user.id, slot.id, deadline)
    except IntegrityError:
        # The same learner joining twice at once: the partial unique index lets one in.
        raise _already_waiting() from None


async def _join(db: AsyncSession, ctx: Context, learner_id: int, slot_id: int,
                deadline: datetime) -> WaitlistEntry:
    # The ticket and the fullness check in one statement on the slot's row: the lock that
    # also orders bookings, so a seat cannot free between "full" and the entry.
    ticket = (await db.execute(
        update(slots_table).where(slots_table.c.id == slot_id, slots_table.c.booked >= slots_table.c.seats)
        .values(waitlist_joined=slots_table.c.waitlist_joined + 1)
        .returning(slots_table.c.waitlist_joined, slots_table.c.live_session_id))).first()
    if ticket is None:
        raise UserErrors.one(ErrorCode.SLOT_NOT_FULL, "This slot has seats: book it instead.", "slotId")
    if ticket.live_session_id is not None and await db.scalar(select(col(Booking.id)).where(
            col(Booking.learner_id) == learner_id, col(Booking.live_session_id) == ticket.live_session_id,
            col(Booking.status) == BookingStatus.BOOKED.value)) is not None:
        raise UserErrors.one(ErrorCode.ALREADY_BOOKED, "You have booked this slot already.", "slotId")
    await _expire_overdue(db, ctx, slot_id)
    entry = WaitlistEntry(slot_id=slot_id, learner_id=learner_id, position=ticket.waitlist_joined,
                          status=WAITING, joined_at=ctx.now, expires_at=deadline)
    db.add(entry)
    await db.flush()
    return entry


def _already_waiting() -> UserErrors:
    return UserErrors.one(ErrorCode.ALREADY_WAITING, "You are on this slot's waitlist already.", "slotId")


async def leave_waitlist(ctx: Context, entry_id: int) -> WaitlistEntry:
    """The learner (or an admin) leaves; leaving an entry that is no longer WAITING changes nothing."""
    require_signed_in(ctx)
    entry = await WaitlistEntryById(ctx).load(entry_id)
    if entry is None or not may_see_entry(ctx, entry):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such waitlist entry.", "waitlistEntryId")
    if status_of(entry, ctx.now) is not WaitlistStatus.WAITING:
        return entry
    async with ctx.database.write() as db:
        await db.execute(update(entries_table).where(entries_table.c.id == entry.id, entries_table.c.status == WAITING,
                                                     entries_table.c.expires_at > ctx.now)
                         .values(status=WaitlistStatus.LEFT.value, resolved_at=ctx.now))
        return (await db.scalars(select(WaitlistEntry).where(col(WaitlistEntry.id) == entry.id)
                                 .execution_options(populate_existing=True))).one()


def may_see_entry(ctx: Context, entry: WaitlistEntry) -> bool:
    """An entry is its learner's (and administrators')."""
    return ctx.actor.is_admin or (ctx.actor.user_id is not None and ctx.actor.user_id == entry.learner_id)


async def viewer_waitlist(ctx: Context) -> list[WaitlistEntry]:
    """The viewer's entries on slots that have not started, soonest slot first, whatever
    their status (so a client shows PROMOTED and SKIPPED ones too)."""
    user_id = ctx.actor.user_id
    if user_id is None:
        return []
    async with ctx.read() as db:
        rows = (await db.execute(
            select(WaitlistEntry, BookableSlot).join(BookableSlot, col(BookableSlot.id) == WaitlistEntry.slot_id)
            .where(col(WaitlistEntry.learner_id) == user_id, col(BookableSlot.starts_at) > ctx.now)
            .order_by(col(BookableSlot.starts_at), col(WaitlistEntry.id)).limit(VIEWER_WAITLIST_LIMIT))).all()
    for _, slot in rows:
        SlotById(ctx).prime(slot.id, slot)
    return [entry for entry, _ in rows]


# --- promotion, inside the transaction that freed seats ----------------------------------------


async def offer_freed_seats(db: AsyncSession, ctx: Context, slot_id: int) -> list[Promotion]:
    """Books waiting learners on the slot's free seats, first come first served. The caller
    has locked the slot's row (it just changed `booked` or `seats`) and its live session."""
    await _expire_overdue(db, ctx, slot_id)
    slot = (await db.scalars(select(BookableSlot).where(col(BookableSlot.id) == slot_id)
                             .execution_options(populate_existing=True))).one_or_none()
    if slot is None or slot.booked >= slot.seats:
        return []
    course = (await db.scalars(select(Course).where(col(Course.id) == slot.course_id)
                               .execution_options(populate_existing=True))).one()
    live_session = (await db.get(LiveSession, slot.live_session_id, populate_existing=True)
                    if slot.live_session_id is not None else None)
    if live_session is not None and live_session.is_cancelled:
        await _close_waiting(db, ctx, slot_id, WaitlistStatus.EXPIRED, WaitlistReason.LIVE_SESSION_CANCELLED)
        return []
    if ctx.now >= cancellation_deadline(slot.starts_at, course.cancellation_notice_minutes):
        await _close_waiting(db, ctx, slot_id, WaitlistStatus.EXPIRED, WaitlistReason.NOTICE_PASSED)
        return []
    waiting = list((await db.scalars(select(WaitlistEntry).where(col(WaitlistEntry.slot_id) == slot_id,
                                                                 col(WaitlistEntry.status) == WAITING)
                                     .order_by(col(WaitlistEntry.position)))).all())
    if not waiting:
        return []
    may_book = await _may_book(db, ctx, course, live_session, [entry.learner_id for entry in waiting])
    promotions: list[Promotion] = []
    free = slot.seats - slot.booked
    for entry in waiting:
        if free == 0:
            break
        reason = may_book.get(entry.learner_id) or await _book_from_waitlist(db, ctx, slot, course, entry)
        if isinstance(reason, WaitlistReason):
            await _resolve(db, ctx, entry, WaitlistStatus.SKIPPED, reason)
            continue
        promotions.append(reason)
        free -= 1
    return promotions


async def promotion_changes(db: AsyncSession, promotions: list[Promotion],
                            known: Mapping[int, int] | None = None) -> list[NewEvent]:
    """The events of the promotions, for the freeing transaction to record: each promoted learner
    and the instructor hear. `known` maps instructors to their users where the caller read them already."""
    if not promotions:
        return []
    teachers = dict(known or {})
    if missing := {promotion.live_session.instructor_id for promotion in promotions} - teachers.keys():
        teachers |= await instructor_user_ids(db, missing)
    return [schedule_change(EventType.WAITLIST_PROMOTED, ScheduleEventKind.PROMOTED, promotion.live_session,
                            {promotion.booking.learner_id, teachers[promotion.live_session.instructor_id]},
                            promotion_data(promotion.entry_id, promotion.booking, promotion.live_session))
            for promotion in promotions]


async def _may_book(db: AsyncSession, ctx: Context, course: Course, live_session: LiveSession | None,
                    learner_ids: list[int]) -> dict[int, WaitlistReason]:
    """Why each learner who may not book the slot now may not (those who may are absent)."""
    if not course.bookable:
        return dict.fromkeys(learner_ids, WaitlistReason.NOT_BOOKABLE)
    assert course.id is not None  # a stored course
    sessions = await course_sessions_of(db, [(learner_id, course.id) for learner_id in learner_ids])
    reasons = {learner_id: WaitlistReason.NO_ACCESS for learner_id, held in zip(learner_ids, sessions, strict=True)
               if not any(session.usable_by_learner(ctx.now, first) for session, first in held)}
    if live_session is not None:
        booked = (await db.scalars(select(col(Booking.learner_id)).where(
            col(Booking.live_session_id) == live_session.id, col(Booking.status) == BookingStatus.BOOKED.value,
            col(Booking.learner_id).in_(learner_ids)))).all()
        reasons.update(dict.fromkeys(booked, WaitlistReason.ALREADY_BOOKED))
    return reasons


async def _book_from_waitlist(db: AsyncSession, ctx: Context, slot: BookableSlot, course: Course,
                              entry: WaitlistEntry) -> Promotion | WaitlistReason:
    # The debit first: the slot and its live session are locked already, so this keeps the
    # lock order (slot, live session, account), and a learner without the credits costs
    # one refused UPDATE instead of a seat taken and given back.
    after = await seats.debit(db, ctx, entry.learner_id, course)
    if after is None:
        return WaitlistReason.INSUFFICIENT_CREDITS
    live_session = await seats.take_seat(db, ctx, slot)
    booking = await seats.add_booking(db, ctx, entry.learner_id, live_session, None)
    await seats.record_debit(db, ctx, booking, live_session, course, after)
    await _resolve(db, ctx, entry, WaitlistStatus.PROMOTED, None, booking_id=booking.id)
    assert entry.id is not None  # a stored entry
    return Promotion(entry.id, booking, live_session)


async def _resolve(db: AsyncSession, ctx: Context, entry: WaitlistEntry, status: WaitlistStatus,
                   reason: WaitlistReason | None, booking_id: int | None = None) -> None:
    await db.execute(update(entries_table).where(entries_table.c.id == entry.id)
                     .values(status=status.value, reason=reason.value if reason else None, resolved_at=ctx.now,
                             booking_id=booking_id))


async def _close_waiting(db: AsyncSession, ctx: Context, slot_id: int, status: WaitlistStatus,
                         reason: WaitlistReason) -> None:
    await db.execute(update(entries_table)
                     .where(entries_table.c.slot_id == slot_id, entries_table.c.status == WAITING)
                     .values(status=status.value, reason=reason.value, resolved_at=ctx.now))


async def _expire_overdue(db: AsyncSession, ctx: Context, slot_id: int) -> None:
    """Writes down the expiry that reads have shown since each entry's deadline."""
    await db.execute(update(entries_table)
                     .where(entries_table.c.slot_id == slot_id, entries_table.c.status == WAITING,
                            entries_table.c.expires_at <= ctx.now)
                     .values(status=WaitlistStatus.EXPIRED.value, reason=WaitlistReason.NOTICE_PASSED.value,
                             resolved_at=ctx.now))


async def offer_freed_seats_on(db: AsyncSession, ctx: Context, live_session_id: int) -> list[Promotion]:
    """offer_freed_seats for the slot a live session was booked from, if it was."""
    await db.flush()  # the live session's new capacity, before the seats are counted
    slot_id = await db.scalar(select(col(BookableSlot.id)).where(col(BookableSlot.live_session_id) == live_session_id))
    return await offer_freed_seats(db, ctx, slot_id) if slot_id is not None else []


async def expire_for_cancelled_live_session(db: AsyncSession, ctx: Context, live_session_id: int) -> None:
    """A cancelled live session's slot will never seat anyone: its waitlist ends."""
    slot_id = await db.scalar(select(col(BookableSlot.id)).where(col(BookableSlot.live_session_id) == live_session_id))
    if slot_id is not None:
        await _close_waiting(db, ctx, slot_id, WaitlistStatus.EXPIRED, WaitlistReason.LIVE_SESSION_CANCELLED)
