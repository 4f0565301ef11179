"""Races of the booking lifecycle, on the engine the tests run on (PostgreSQL or SQLite),
each request on its own connections, fired together with asyncio.gather through the ASGI
app (the rate limiter off, so only the booking rules answer; as many in flight as the
database pool has connections):

- 50 learners booking 5 free seats while 10 holders cancel and 20 others join the waitlist;
- a learner rescheduling onto the seat another is cancelling;
- two promotions (a cancellation sent three times and a larger capacity) for the seats freed.

Each race runs RACE_RUNS times: 20 in CI (CI=true), 3 elsewhere unless RACE_RUNS says.
After each, no slot is overbooked, nobody is booked twice on a slot or waits twice for
one, waitlist positions are unique, and every ledger replays to its balance.
"""

import asyncio
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.conftest import NOW, Caller
from tests.lifecycle_data import check_invariants, data, given, outcome, slot_input  # noqa: F401

RACE_RUNS = int(os.environ.get("RACE_RUNS") or (20 if os.environ.get("CI") == "true" else 3))
RUNS = pytest.mark.parametrize("run", range(RACE_RUNS))

# The races ask for little back: the time goes into the database's answers, not into the fields.
BOOK = """mutation($input: BookSlotInput!) { bookSlot(input: $input) {
  booking { id status liveSession { id } } errors { code } } }"""
CANCEL = """mutation($input: CancelBookingInput!) { cancelBooking(input: $input) {
  booking { status } errors { code } } }"""
JOIN = """mutation($input: JoinWaitlistInput!) { joinWaitlist(input: $input) {
  waitlistEntry { status } errors { code } } }"""
RESCHEDULE = """mutation($input: RescheduleBookingInput!) { rescheduleBooking(input: $input) {
  booking { status } errors { code } } }"""
UPDATE_CAPACITY = """
mutation($id: ID!, $capacity: Int!) { updateLiveSession(input: {id: $id, capacity: $capacity}) {
  liveSession { capacity } errors { code }
} }
"""


async def learners(data, course, count, credits, prefix):
    """`count` learners in one session holding the course, each with `credits`: written in one
    transaction, as a race's setup is most of its time otherwise."""
    session = await data.session(courses=[course], access_start=NOW - timedelta(days=1),
                                 access_end=NOW + timedelta(days=30))
    made = [models.User(name=f"{prefix} {n:02d}", email=f"{uuid.uuid4().hex[:10]}@example.test")
            for n in range(count)]
    async with data.database.write() as db:
        db.add_all(made)
        await db.flush()
        db.add_all([models.Enrollment(session_id=session.id, user_id=user.id) for user in made])
        db.add_all([models.CreditAccount(user_id=user.id, balance=credits) for user in made])
        db.add_all([models.CreditTransaction(user_id=user.id, kind="DEPOSIT", amount=credits, balance_after=credits,
                                             description="Deposit", created_at=NOW) for user in made])
    return made


@dataclass
class PooledCaller(Caller):
    """A caller that waits for a turn among as many requests as the database pool has connections
    (pool and overflow): more would only queue inside the service for a connection, and on a
    loaded machine time out there (SERVICE_UNAVAILABLE) before the race is decided."""

    turns: asyncio.Semaphore | None = None

    async def execute(self, query, **variables):
        assert self.turns is not None
        async with self.turns:
            return await super().execute(query, **variables)


@pytest.fixture
async def callers(client_with, settings, clock):
    """`await callers(users)`: a caller for each, all through one app and one set of turns."""
    client = await client_with(rate_limit_enabled=False)
    turns = asyncio.Semaphore(2 * settings.database_pool_size)

    async def make(users):
        return [PooledCaller(client, settings, clock, user, turns) for user in users]

    return make


async def entries_of(data, slot):
    async with data.database.read() as db:
        return list((await db.scalars(select(models.WaitlistEntry).where(models.WaitlistEntry.slot_id == slot.id)
                                      .order_by(models.WaitlistEntry.position))).all())


def no_crash(result):
    """A top-level error (a crash, a deadlock) fails the race."""
    assert not result.get("errors"), result
    return result["data"]


@RUNS
async def test_fifty_book_five_seats_while_ten_cancel_and_twenty_wait(data, given, callers, run):
    # given: 15 seats, 10 held by learners about to cancel
    course = await given.course(credit_cost=1)
    slot = await given.slot(course, await data.instructor("Ines"), NOW + timedelta(days=1), seats=15)
    holders = await learners(data, course, 10, 1, "Holder")
    bookers = await learners(data, course, 50, 1, "Booker")
    waiters = await learners(data, course, 20, 1, "Waiter")
    holding = await callers(holders)
    held = [no_crash(r)["bookSlot"]["booking"]["id"]
            for r in await asyncio.gather(*(c.execute(BOOK, input=slot_input(slot)) for c in holding))]

    # when
    results = await asyncio.gather(
        *(c.execute(BOOK, input=slot_input(slot)) for c in await callers(bookers)),
        *(c.execute(CANCEL, input={"bookingId": b}) for c, b in zip(holding, held, strict=True)),
        *(c.execute(JOIN, input=slot_input(slot)) for c in await callers(waiters)))

    # then
    booked = Counter(outcome(no_crash(r)["bookSlot"]) for r in results[:50])
    cancelled = Counter(outcome(no_crash(r)["cancelBooking"]) for r in results[50:60])
    joined = Counter(outcome(no_crash(r)["joinWaitlist"], "waitlistEntry") for r in results[60:])
    assert set(booked) <= {"BOOKED", "SLOT_FULL"} and booked["BOOKED"] >= 5
    assert cancelled == {"CANCELLED": 10}
    assert set(joined) <= {"WAITING", "SLOT_NOT_FULL"}
    promoted = [e for e in await entries_of(data, slot) if e.status == "PROMOTED"]
    assert (await given.fresh(slot)).booked == booked["BOOKED"] + len(promoted) <= 15
    await check_invariants(given)


@RUNS
async def test_a_reschedule_onto_a_seat_being_cancelled_lands_once(data, given, callers, run):
    # given: Lea on slot A (Wes waits for it); Max holds B's one seat and cancels it as Lea moves there
    course = await given.course(credit_cost=2)
    slot_a = await given.slot(course, await data.instructor("Ines"), NOW + timedelta(days=1), seats=1)
    slot_b = await given.slot(course, await data.instructor("Omar"), NOW + timedelta(days=2), seats=1)
    lea, max_, wes = await learners(data, course, 3, 2, "Learner")
    lea_calls, max_calls, wes_calls = await callers([lea, max_, wes])
    leas = no_crash(await lea_calls.execute(BOOK, input=slot_input(slot_a)))["bookSlot"]["booking"]
    maxs = no_crash(await max_calls.execute(BOOK, input=slot_input(slot_b)))["bookSlot"]["booking"]
    assert no_crash(await wes_calls.execute(JOIN, input=slot_input(slot_a)))["joinWaitlist"]["errors"] == []

    # when
    moved, cancelled = await asyncio.gather(
        lea_calls.execute(RESCHEDULE, input={"bookingId": leas["id"], **slot_input(slot_b)}),
        max_calls.execute(CANCEL, input={"bookingId": maxs["id"]}))

    # then: Lea is on B (the cancellation came first) or still on A (B was full); never both, never neither
    answer = outcome(no_crash(moved)["rescheduleBooking"])
    assert outcome(no_crash(cancelled)["cancelBooking"]) == "CANCELLED"
    assert answer in {"BOOKED", "SLOT_FULL"}
    a, b = await given.fresh(slot_a), await given.fresh(slot_b)
    assert (a.booked, b.booked) == (1, 1) if answer == "BOOKED" else (a.booked, b.booked) == (1, 0)
    async with data.database.read() as db:
        leas_now = (await db.scalars(select(models.Booking.live_session_id).where(
            models.Booking.learner_id == lea.id, models.Booking.status == "BOOKED"))).all()
    assert leas_now == [b.live_session_id if answer == "BOOKED" else a.live_session_id]
    assert [e.status for e in await entries_of(data, slot_a)] == ["PROMOTED" if answer == "BOOKED" else "WAITING"]
    assert await given.balance(lea) == 0
    await check_invariants(given)


@RUNS
async def test_two_promotions_at_once_promote_each_waiting_learner_once(data, given, callers, admin, run):
    # given: Ada holds the one seat; Ben, Cat and Dan wait in that order
    course = await given.course(credit_cost=1)
    slot = await given.slot(course, await data.instructor("Ines"), NOW + timedelta(days=1), seats=1)
    ada, ben, cat, dan = await learners(data, course, 4, 1, "Learner")
    ada_calls, *waiting, admin_calls = await callers([ada, ben, cat, dan, admin.user])
    adas = no_crash(await ada_calls.execute(BOOK, input=slot_input(slot)))["bookSlot"]["booking"]
    for waiter in waiting:
        assert no_crash(await waiter.execute(JOIN, input=slot_input(slot)))["joinWaitlist"]["errors"] == []

    # when: Ada's cancellation, sent three times, and a capacity of 2, all at once
    results = await asyncio.gather(
        *(ada_calls.execute(CANCEL, input={"bookingId": adas["id"]}) for _ in range(3)),
        admin_calls.execute(UPDATE_CAPACITY, id=adas["liveSession"]["id"], capacity=2))

    # then: two seats freed, the first two waiting learners booked once each
    assert {outcome(no_crash(r)["cancelBooking"]) for r in results[:3]} == {"CANCELLED"}
    assert no_crash(results[3])["updateLiveSession"]["errors"] == []
    assert [(e.learner_id, e.status) for e in await entries_of(data, slot)] == [
        (ben.id, "PROMOTED"), (cat.id, "PROMOTED"), (dan.id, "WAITING")]
    assert (await given.fresh(slot)).booked == 2
    assert (await given.balance(ben), await given.balance(cat), await given.balance(dan)) == (0, 0, 1)
    await check_invariants(given)
