"""rescheduleBooking: one transaction moving a booking to another slot of its course, the
price difference in the ledger, the old slot's notice, idempotency keys, the events, and
the freed seat offered to the old slot's waitlist. Every refusal writes nothing."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sessiongraph import models
from sessiongraph.schema.relay import from_global_id
from tests.conftest import NOW, next_schedule_message
from tests.lifecycle_data import BOOK, JOIN, RESCHEDULE, data, given, slot_input, snapshot  # noqa: F401
from tests.schedule_data import gid


async def two_slots(data, given, *, cost=2, credits=10, seats=5, notice=0, first_in=timedelta(days=1)):
    course = await given.course(code="TALK", title="Conversation", credit_cost=cost,
                                cancellation_notice_minutes=notice)
    ines, omar = await data.instructor("Ines"), await data.instructor("Omar")
    first = await given.slot(course, ines, NOW + first_in, seats=seats)
    second = await given.slot(course, omar, NOW + timedelta(days=2), seats=seats)
    lea = await given.learner(course, credits=credits)
    return course, first, second, lea


async def booked_on(caller, learner, slot):
    result = (await caller(learner)(BOOK, input=slot_input(slot)))["bookSlot"]
    assert result["errors"] == [], result
    return result["booking"]


async def reschedule(caller, user, booking_id, slot, key=None):
    given_input = {"bookingId": booking_id, **slot_input(slot)}
    if key is not None:
        given_input["idempotencyKey"] = key
    return (await caller(user)(RESCHEDULE, input=given_input))["rescheduleBooking"]


async def test_a_reschedule_moves_the_booking_and_its_credits_in_one_go(data, given, caller):
    # given
    _, first, second, lea = await two_slots(data, given, cost=2, credits=10)
    old = await booked_on(caller, lea, first)

    # when
    moved = await reschedule(caller, lea, old["id"], second)

    # then: a new booking on the second slot, the old one cancelled, the seat moved
    assert moved["errors"] == []
    assert moved["booking"]["status"] == "BOOKED" and moved["booking"]["id"] != old["id"]
    assert moved["booking"]["creditTransaction"] == {"kind": "BOOKING", "amount": -2, "balanceAfter": 8}
    async with data.database.read() as db:
        assert (await db.get(models.Booking, from_global_id(old["id"])[1])).status == "CANCELLED"
    assert (await given.fresh(first)).booked == 0 and (await given.fresh(second)).booked == 1
    assert [(t.kind, t.amount, t.balance_after) for t in await given.ledger(lea)] == [
        ("DEPOSIT", 10, 10), ("BOOKING", -2, 8), ("REFUND", 2, 10), ("BOOKING", -2, 8)]
    await given.check_ledgers()


@pytest.mark.parametrize(("new_cost", "balance_after"), [(3, 7), (1, 9)])
async def test_the_price_difference_is_debited_or_refunded(data, given, caller, new_cost, balance_after):
    course, first, second, lea = await two_slots(data, given, cost=2, credits=10)
    old = await booked_on(caller, lea, first)
    async with data.database.write() as db:
        await db.execute(update(models.Course).where(models.Course.id == course.id).values(credit_cost=new_cost))

    moved = await reschedule(caller, lea, old["id"], second)

    assert moved["errors"] == []
    assert await given.balance(lea) == balance_after
    await given.check_ledgers()


async def test_only_the_difference_needs_covering_and_too_little_for_it_writes_nothing(data, given, caller):
    # given: booked for 2 with nothing left; the course now costs 3
    course, first, second, lea = await two_slots(data, given, cost=2, credits=2)
    old = await booked_on(caller, lea, first)
    third = await given.slot(course, await data.instructor("Pia"), NOW + timedelta(days=3))
    assert (await reschedule(caller, lea, old["id"], third))["errors"] == []  # same price, balance 0: fine
    async with data.database.write() as db:
        await db.execute(update(models.Course).where(models.Course.id == course.id).values(credit_cost=3))
    before = await snapshot(data.database)

    refused = await reschedule(caller, lea, (await booked_id(data, lea)), second)

    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["slotId"], "INSUFFICIENT_CREDITS")]
    assert await snapshot(data.database) == before


async def booked_id(data, learner):
    async with data.database.read() as db:
        found = await db.scalar(select(models.Booking.id).where(models.Booking.learner_id == learner.id,
                                                                models.Booking.status == "BOOKED"))
    return gid("Booking", found)


async def test_refusals_name_their_reason_and_write_nothing(data, given, caller, clock):
    # given: Lea booked on the first slot (notice 60 minutes), a full slot, another course's slot
    course, first, second, lea = await two_slots(data, given, notice=60, first_in=timedelta(hours=3))
    old = await booked_on(caller, lea, first)
    other_course = await given.course(code="MATH", title="Maths")
    elsewhere = await given.slot(other_course, await data.instructor("Uma"), NOW + timedelta(days=2, hours=3))
    await given.access(lea, other_course)
    full = await given.slot(course, await data.instructor("Pia"), NOW + timedelta(days=3), seats=1)
    await booked_on(caller, await given.learner(course, name="Max", credits=5), full)
    started = await given.slot(course, await data.instructor("Ray"), NOW + timedelta(minutes=30))
    stranger = await given.learner(course, name="Stan", credits=5)
    before = await snapshot(data.database)

    # when
    answers = {
        "another course": await reschedule(caller, lea, old["id"], elsewhere),
        "full": await reschedule(caller, lea, old["id"], full),
        "same slot": await reschedule(caller, lea, old["id"], first),
        "no such slot": (await caller(lea)(RESCHEDULE, input={"bookingId": old["id"],
                                                             "slotId": gid("BookableSlot", 999_999)}))[
            "rescheduleBooking"],
        "someone else's": await reschedule(caller, stranger, old["id"], second),
    }
    clock.set(NOW + timedelta(minutes=45))
    answers["started"] = await reschedule(caller, lea, old["id"], started)
    clock.set(NOW + timedelta(hours=2, minutes=1))  # inside the first slot's 60 minutes of notice
    answers["too late"] = await reschedule(caller, lea, old["id"], second)

    # then
    assert {name: [(e["field"], e["code"]) for e in a["errors"]] for name, a in answers.items()} == {
        "another course": [(["slotId"], "VALIDATION")],
        "full": [(["slotId"], "SLOT_FULL")],
        "same slot": [(["slotId"], "ALREADY_BOOKED")],
        "no such slot": [(["slotId"], "NOT_FOUND")],
        "someone else's": [(["bookingId"], "NOT_FOUND")],
        "started": [(["slotId"], "SLOT_IN_PAST")],
        "too late": [(["bookingId"], "TOO_LATE_TO_CANCEL")],
    }
    assert all(a["booking"] is None for a in answers.values())
    assert await snapshot(data.database) == before


async def test_a_cancelled_booking_cannot_be_rescheduled(data, given, caller):
    _, first, second, lea = await two_slots(data, given)
    old = await booked_on(caller, lea, first)
    await caller(lea)("mutation($id: ID!) { cancelBooking(input: {bookingId: $id}) { errors { code } } }",
                      id=old["id"])
    before = await snapshot(data.database)

    refused = await reschedule(caller, lea, old["id"], second)

    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["bookingId"], "NOT_BOOKED")]
    assert await snapshot(data.database) == before


async def test_the_idempotency_key_moves_a_booking_once(data, given, caller):
    course, first, second, lea = await two_slots(data, given, cost=2, credits=10)
    old = await booked_on(caller, lea, first)
    third = await given.slot(course, await data.instructor("Pia"), NOW + timedelta(days=3))

    answers = await asyncio.gather(*(reschedule(caller, lea, old["id"], second, key="move-1") for _ in range(3)))
    again = await reschedule(caller, lea, old["id"], second, key="move-1")
    elsewhere = await reschedule(caller, lea, old["id"], third, key="move-1")

    assert {a["booking"]["id"] for a in [*answers, again]} == {answers[0]["booking"]["id"]}
    assert [(e["field"], e["code"]) for e in elsewhere["errors"]] == [(["idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")]
    assert (await given.fresh(first)).booked == 0 and (await given.fresh(second)).booked == 1
    assert await given.balance(lea) == 8
    await given.check_ledgers()


async def test_the_freed_seat_goes_to_the_old_slot_s_waitlist_and_everyone_hears(data, given, caller, app):
    # given: the first slot is full with Lea; Max waits for it
    course, first, second, lea = await two_slots(data, given, seats=1, cost=1)
    max_ = await given.learner(course, name="Max", credits=1)
    old = await booked_on(caller, lea, first)
    assert (await caller(max_)(JOIN, input=slot_input(first)))["joinWaitlist"]["errors"] == []
    ines, omar = (await data.user_of(await data_instructor(data, first)),
                  await data.user_of(await data_instructor(data, second)))
    broker = app.state.broker

    # What the setup published is out first: the subscriptions below hear only what the step does.
    await app.state.relay.idle()
    # when
    async with broker.subscribe(f"schedule:user:{lea.id}") as lea_hears, \
            broker.subscribe(f"schedule:user:{max_.id}") as max_hears, \
            broker.subscribe(f"schedule:user:{ines.id}") as ines_hears, \
            broker.subscribe(f"schedule:user:{omar.id}") as omar_hears:
        moved = await reschedule(caller, lea, old["id"], second)

        # then
        new_live_session = from_global_id(moved["booking"]["liveSession"]["id"])[1]
        old_live_session = from_global_id(old["liveSession"]["id"])[1]
        rescheduled = {"kind": "RESCHEDULED", "liveSessionId": new_live_session, "occurredAt": NOW.isoformat()}
        promoted = {"kind": "PROMOTED", "liveSessionId": old_live_session, "occurredAt": NOW.isoformat()}
        assert await next_schedule_message(lea_hears) == rescheduled and await next_schedule_message(omar_hears) == rescheduled
        assert [await next_schedule_message(ines_hears) for _ in range(2)] == [rescheduled, promoted]
        assert await next_schedule_message(max_hears) == promoted
    assert (await given.fresh(first)).booked == 1 and await given.balance(max_) == 0
    async with data.database.read() as db:
        entry = await db.scalar(select(models.WaitlistEntry))
    assert entry.status == "PROMOTED" and entry.booking_id is not None


async def data_instructor(data, slot):
    async with data.database.read() as db:
        return await db.get(models.Instructor, slot.instructor_id)

