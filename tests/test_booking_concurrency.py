"""Bookings at the same instant never overbook a slot nor overdraw a balance, on the engine
the tests run on (PostgreSQL or SQLite), with every request on its own connections.

The requests are fired together with asyncio.gather: through a real uvicorn server for
the 50 learners, and through the ASGI app for the rest (the rate limiter off, so only
the booking rules answer).
"""

import asyncio
import itertools
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from sessiongraph import models
from tests.booking_data import BOOK, CANCEL, PUBLISH, data, given  # noqa: F401
from tests.conftest import NOW, Caller
from tests.schedule_data import gid


async def many_learners(data, given, course, count, credits):
    """`count` learners in one session holding the course, each with `credits`."""
    session = await data.session(courses=[course], access_start=NOW - timedelta(days=1),
                                 access_end=NOW + timedelta(days=30))
    learners = [await data.user(f"Learner {n:02d}") for n in range(count)]
    await data.enroll(session, *learners)
    for learner in learners:
        await given.deposit(learner, credits)
    return learners


def outcome(result) -> str:
    """BOOKED, or the UserError code; a top-level error (a crash) fails the test."""
    assert "errors" not in result or not result.get("errors"), result
    payload = result["data"]["bookSlot"]
    if payload["booking"] is not None:
        return payload["booking"]["status"]
    return payload["errors"][0]["code"]


async def test_fifty_learners_at_once_on_five_seats_book_five_and_the_others_hear_it_is_full(
        data, given, live_server, settings, clock):
    # given
    course = await given.course(credit_cost=1)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1), seats=5)
    learners = await many_learners(data, given, course, 50, credits=1)

    # when: all at once, over real HTTP
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=120,
                                 limits=httpx.Limits(max_connections=50)) as client:
        callers = [Caller(client, settings, clock, learner) for learner in learners]
        results = await asyncio.gather(*(c.execute(BOOK, input={"slotId": gid("BookableSlot", slot.id)})
                                         for c in callers))

    # then
    assert Counter(outcome(r) for r in results) == {"BOOKED": 5, "SLOT_FULL": 45}
    live_sessions = {r["data"]["bookSlot"]["booking"]["liveSession"]["id"] for r in results
                     if r["data"]["bookSlot"]["booking"] is not None}
    assert len(live_sessions) == 1
    async with data.database.read() as db:
        assert (await db.get(models.BookableSlot, slot.id)).booked == 5
        assert await db.scalar(select(func.count()).select_from(models.Booking)) == 5
        assert await db.scalar(select(func.count()).select_from(models.LiveSession)) == 1
    await given.check_ledgers()


async def test_one_learner_with_credits_for_two_firing_ten_bookings_at_once_gets_two(data, given, client_with,
                                                                                      settings, clock):
    # given: ten slots of a course costing 3, and a balance of 6
    course = await given.course(credit_cost=3)
    teacher = await data.instructor("Ines")
    slots = [await given.slot(course, teacher, NOW + timedelta(days=1, hours=n), seats=3) for n in range(10)]
    lea = (await many_learners(data, given, course, 1, credits=6))[0]
    lea_calls = Caller(await client_with(rate_limit_enabled=False), settings, clock, lea)

    # when
    results = await asyncio.gather(*(lea_calls.execute(BOOK, input={"slotId": gid("BookableSlot", s.id)})
                                     for s in slots))

    # then
    assert Counter(outcome(r) for r in results) == {"BOOKED": 2, "INSUFFICIENT_CREDITS": 8}
    assert await given.balance(lea) == 0
    assert sorted(t.balance_after for t in await given.ledger(lea)) == [0, 3, 6]
    async with data.database.read() as db:
        assert await db.scalar(select(func.sum(models.BookableSlot.booked))) == 2
        assert await db.scalar(select(func.count()).select_from(models.LiveSession)) == 2
    await given.check_ledgers()


async def test_a_request_retried_ten_times_at_once_with_its_key_books_once(data, given, client_with, settings, clock):
    course = await given.course(credit_cost=2)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1), seats=5)
    lea = (await many_learners(data, given, course, 1, credits=10))[0]
    lea_calls = Caller(await client_with(rate_limit_enabled=False), settings, clock, lea)

    results = await asyncio.gather(*(lea_calls.execute(BOOK, input={
        "slotId": gid("BookableSlot", slot.id), "idempotencyKey": "one-click"}) for _ in range(10)))

    assert Counter(outcome(r) for r in results) == {"BOOKED": 10}
    assert len({r["data"]["bookSlot"]["booking"]["id"] for r in results}) == 1
    assert await given.balance(lea) == 8 and (await given.fresh(slot)).booked == 1
    await given.check_ledgers()


async def test_the_same_booking_cancelled_ten_times_at_once_is_refunded_once(data, given, client_with, settings,
                                                                              clock):
    course = await given.course(credit_cost=2)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1), seats=5)
    lea = (await many_learners(data, given, course, 1, credits=2))[0]
    lea_calls = Caller(await client_with(rate_limit_enabled=False), settings, clock, lea)
    booking_id = (await lea_calls(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"]["id"]

    results = await asyncio.gather(*(lea_calls(CANCEL, input={"bookingId": booking_id}) for _ in range(10)))

    assert {r["cancelBooking"]["booking"]["status"] for r in results} == {"CANCELLED"}
    assert [t.kind for t in await given.ledger(lea)] == ["DEPOSIT", "BOOKING", "REFUND"]
    assert await given.balance(lea) == 2 and (await given.fresh(slot)).booked == 0
    await given.check_ledgers()


async def test_overlapping_publications_at_once_keep_one(data, given, client_with, settings, clock):
    course = await given.course()
    teacher = await data.instructor("Ines")
    ines = Caller(await client_with(rate_limit_enabled=False), settings, clock, await data.user_of(teacher))
    starts = [NOW + timedelta(days=1, minutes=10 * n) for n in range(6)]  # each overlaps the next

    results = await asyncio.gather(*(ines(PUBLISH, input={
        "instructorId": gid("Instructor", teacher.id), "courseId": gid("Course", course.id),
        "slots": [{"startsAt": start.isoformat(), "endsAt": (start + timedelta(hours=1)).isoformat(), "seats": 3}]})
        for start in starts))

    published = [r["publishAvailability"] for r in results if r["publishAvailability"]["slots"]]
    refused = [r["publishAvailability"]["errors"][0]["code"] for r in results if not r["publishAvailability"]["slots"]]
    async with data.database.read() as db:
        slots = (await db.scalars(select(models.BookableSlot).order_by(models.BookableSlot.starts_at))).all()
    assert len(slots) == len(published) >= 1 and set(refused) <= {"SLOT_OVERLAP"}
    assert all(a.ends_at <= b.starts_at for a, b in itertools.pairwise(slots))
