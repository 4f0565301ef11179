"""The lifecycle's costs that the client operations' test (tests/test_client_statements.py)
does not vary: withdrawing a slot with few or many bookings, and a cancellation freeing a
seat for a short or a long waitlist, cost the same statements."""

from datetime import timedelta

import pytest

from tests.conftest import NOW
from tests.lifecycle_data import BOOK, CANCEL, JOIN, WITHDRAW, data, given, slot_input  # noqa: F401
from tests.test_schedule_statements import log_hint


async def booked_slot(data, given, caller, bookings: int, waiting: int):
    """A slot of `bookings` seats, all booked, with `waiting` learners in line."""
    course = await given.course(credit_cost=1)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1), seats=bookings)
    made = []
    for n in range(bookings):
        learner = await given.learner(course, name=f"Booker {n}", credits=2)
        made.append((learner, (await caller(learner)(BOOK, input=slot_input(slot)))["bookSlot"]["booking"]["id"]))
    for n in range(waiting):
        learner = await given.learner(course, name=f"Waiter {n}", credits=2)
        assert (await caller(learner)(JOIN, input=slot_input(slot)))["joinWaitlist"]["errors"] == []
    return slot, await data.user_of(teacher), made


@pytest.mark.parametrize("bookings", [2, 12])
async def test_withdrawing_a_slot_costs_the_same_however_many_bookings_it_cancels(data, given, caller,
                                                                                 count_statements, bookings):
    slot, teacher, _ = await booked_slot(data, given, caller, bookings, waiting=3)

    with count_statements() as log:
        result = (await caller(teacher)(WITHDRAW, input={**slot_input(slot), "cancelBookings": True}))["withdrawSlot"]

    assert result["errors"] == [] and result["cancelledBookingCount"] == bookings
    assert log.count == WITHDRAW_STATEMENTS, log_hint(log)
    await given.check_ledgers()


@pytest.mark.parametrize("waiting", [2, 20])
async def test_a_cancellation_promotes_at_the_same_cost_however_long_the_line(data, given, caller, count_statements,
                                                                             waiting):
    slot, _, ((learner, booking_id),) = await booked_slot(data, given, caller, 1, waiting)

    with count_statements() as log:
        result = (await caller(learner)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]

    assert result["errors"] == [] and result["booking"]["status"] == "CANCELLED"
    assert (await given.fresh(slot)).booked == 1
    assert log.count == CANCEL_AND_PROMOTE_STATEMENTS, log_hint(log)
    await given.check_ledgers()


# Measured on SQLite and PostgreSQL. Withdrawing: the signed-in user, the slot, its instructor; then
# the slot's lock, its live session, the bookings, the live session cancelled, the debits to refund,
# one UPDATE of every account, one INSERT of the refunds, the bookings cancelled, the slot deleted
# (its waitlist with it); then the instructor's user, and the events (a booking.cancelled per booking):
# the outbox counter, one INSERT of the events, one of the users they concern.
WITHDRAW_STATEMENTS = 17
# Cancelling (the checks: the booking, its live session read with its course and instructor; the seat,
# the booking, the refund) and promoting the first in line: the
# overdue entries expired, the slot, course and live session afresh, the line, who may book, the
# debit, the seat, the booking, its ledger line, the entry; the instructor's user, then the events
# (booking.cancelled, waitlist.promoted): the outbox counter, one INSERT of the events, one of their users.
CANCEL_AND_PROMOTE_STATEMENTS = 28
