"""Booking lifecycle test data: the GraphQL of rescheduling, waitlists and withdrawing
slots, a snapshot of every booking table (to show a refusal wrote nothing), and the
invariants every race must leave.

Test modules import the fixtures: `from tests.lifecycle_data import data, given  # noqa: F401`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from sessiongraph import models
from tests.booking_data import BOOK, CANCEL, BookingData, data, given  # noqa: F401
from tests.schedule_data import gid

RESCHEDULE = """
mutation($input: RescheduleBookingInput!) { rescheduleBooking(input: $input) {
  booking { id status liveSession { id code startsAt } creditTransaction { kind amount balanceAfter } }
  errors { field code message }
} }
"""

JOIN = """
mutation($input: JoinWaitlistInput!) { joinWaitlist(input: $input) {
  waitlistEntry { id position placeInLine status reason joinedAt slot { id waitlistCount seatsLeft } }
  errors { field code message }
} }
"""

LEAVE = """
mutation($input: LeaveWaitlistInput!) { leaveWaitlist(input: $input) {
  waitlistEntry { id status placeInLine }
  errors { field code message }
} }
"""

WITHDRAW = """
mutation($input: WithdrawSlotInput!) { withdrawSlot(input: $input) {
  withdrawnSlotId cancelledBookingCount
  errors { field code message }
} }
"""

MY_WAITLIST = """
{ viewer { waitlist {
  id position placeInLine status reason
  slot { id startsAt waitlistCount myWaitlistEntry { id status } }
  booking { status liveSession { code } }
} } }
"""

# The tables a booking, a reschedule, a waitlist or a withdrawal can write.
WRITTEN = (models.BookableSlot, models.LiveSession, models.Booking, models.CreditAccount, models.CreditTransaction,
           models.WaitlistEntry)


def slot_input(slot: models.BookableSlot) -> dict[str, str]:
    return {"slotId": gid("BookableSlot", slot.id)}


async def snapshot(database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables the lifecycle writes, in key order: equal before and after a
    refusal means it wrote nothing."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with database.read() as db:
        for model in WRITTEN:
            table = model.__table__
            found = (await db.execute(select(table).order_by(*table.primary_key.columns))).all()
            rows[table.name] = [tuple(row) for row in found]
    return rows


async def check_invariants(given: BookingData) -> None:
    """What no race may break: no slot holds more bookings than seats, its counter matches its
    live bookings, no learner is booked twice on one live session, no learner waits twice on one
    slot, positions are unique per slot, and every ledger replays to its balance."""
    async with given.database.read() as db:
        slots = (await db.scalars(select(models.BookableSlot))).all()
        live = dict((await db.execute(
            select(models.Booking.live_session_id, func.count()).where(models.Booking.status == "BOOKED")
            .group_by(models.Booking.live_session_id))).all())
        pairs = (await db.execute(select(models.Booking.learner_id, models.Booking.live_session_id)
                                  .where(models.Booking.status == "BOOKED"))).all()
        entries = (await db.scalars(select(models.WaitlistEntry))).all()
    for slot in slots:
        assert 0 <= slot.booked <= slot.seats, slot
        assert slot.booked == live.get(slot.live_session_id, 0), slot
    assert max(Counter(pairs).values(), default=1) == 1
    assert max(Counter((e.slot_id, e.position) for e in entries).values(), default=1) == 1
    assert max(Counter((e.slot_id, e.learner_id) for e in entries if e.status == "WAITING").values(),
               default=1) == 1
    await given.check_ledgers()


def outcome(payload: dict[str, Any], name: str = "booking") -> str:
    """The object's status, or the first UserError code."""
    if payload[name] is not None:
        return payload[name]["status"]
    return payload["errors"][0]["code"]


__all__ = ["BOOK", "CANCEL", "JOIN", "LEAVE", "MY_WAITLIST", "RESCHEDULE", "WITHDRAW", "check_invariants",
           "outcome", "slot_input", "snapshot"]
