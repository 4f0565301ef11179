"""Recurring availability (SlotInput.recurrence, until, exceptions) and withdrawSlot: series
expanded in the instructor's zone across DST, bounded before any expansion, overlaps refused
as for single slots; withdrawing open slots, and ones with bookings only when told to."""

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.models import recurrence
from tests.conftest import NOW, next_schedule_message
from tests.lifecycle_data import BOOK, JOIN, WITHDRAW, data, given, slot_input, snapshot  # noqa: F401
from tests.schedule_data import gid

PUBLISH = """
mutation($input: PublishAvailabilityInput!) { publishAvailability(input: $input) {
  slots { id startsAt endsAt seats recurrence }
  errors { field code message }
} }
"""

SLOTS = """
query($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { ... on Course {
  availableSlots(from: $from, to: $to) { id startsAt recurrence }
} } }
"""

PARIS = ZoneInfo("Europe/Paris")
# Monday 16 March 2026, 09:00 in Paris (08:00 UTC); Paris moves to summer time on Sunday 29 March.
MONDAY_9 = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)


async def parisian(data, given):
    course = await given.course(code="TALK")
    teacher = await data.instructor("Ines", time_zone="Europe/Paris")
    return course, teacher, await data.user_of(teacher)


def one_slot(start: datetime, minutes: int = 60, **more):
    return {"startsAt": start.isoformat(), "endsAt": (start + timedelta(minutes=minutes)).isoformat(), "seats": 3,
            **more}


async def publish(who, teacher, course, *slots):
    return (await who(PUBLISH, input={"instructorId": gid("Instructor", teacher.id),
                                      "courseId": gid("Course", course.id), "slots": list(slots)}))[
        "publishAvailability"]


def errors_of(payload):
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_a_weekly_slot_stays_at_nine_local_across_the_change_to_summer_time(data, given, caller):
    course, teacher, ines = await parisian(data, given)

    result = await publish(caller(ines), teacher, course, one_slot(MONDAY_9, recurrence="RRULE:FREQ=WEEKLY;COUNT=4"))

    assert result["errors"] == []
    starts = [datetime.fromisoformat(s["startsAt"]) for s in result["slots"]]
    assert [s.astimezone(PARIS).strftime("%m-%d %H:%M") for s in starts] == [
        "03-16 09:00", "03-23 09:00", "03-30 09:00", "04-06 09:00"]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 7, 7]
    assert {s["recurrence"] for s in result["slots"]} == {"FREQ=WEEKLY;COUNT=4"}
    assert all(datetime.fromisoformat(s["endsAt"]) - datetime.fromisoformat(s["startsAt"]) == timedelta(hours=1)
               for s in result["slots"])
    listed = (await caller(ines)(SLOTS, id=gid("Course", course.id), **{
        "from": NOW.isoformat(), "to": (NOW + timedelta(days=60)).isoformat()}))["node"]["availableSlots"]
    assert [s["recurrence"] for s in listed] == ["FREQ=WEEKLY;COUNT=4"] * 4


async def test_until_ends_a_series_and_exceptions_drop_single_occurrences(data, given, caller):
    course, teacher, ines = await parisian(data, given)
    wednesday = MONDAY_9 + timedelta(days=2)

    result = await publish(caller(ines), teacher, course, one_slot(
        MONDAY_9, recurrence="FREQ=DAILY", until=(MONDAY_9 + timedelta(days=4)).isoformat(),
        exceptions=[wednesday.isoformat()]))

    assert result["errors"] == []
    assert [datetime.fromisoformat(s["startsAt"]).astimezone(PARIS).day for s in result["slots"]] == [16, 17, 19, 20]


BAD_RULES = {
    "a hundred thousand": {"recurrence": "FREQ=DAILY;COUNT=100000"},
    "every second": {"recurrence": "FREQ=SECONDLY;COUNT=10"},
    "every minute": {"recurrence": "FREQ=MINUTELY;COUNT=10"},
    "every hour": {"recurrence": "FREQ=HOURLY;COUNT=10"},
    "hours of a day": {"recurrence": "FREQ=DAILY;BYHOUR=9,10;COUNT=10"},
    "no end": {"recurrence": "FREQ=WEEKLY"},
    "past a year": {"recurrence": "FREQ=WEEKLY", "until": (MONDAY_9 + timedelta(days=400)).isoformat()},
    "both ends": {"recurrence": "FREQ=WEEKLY;COUNT=3;UNTIL=20260401T000000Z"},
    "not a rule": {"recurrence": "every monday please"},
    "huge interval": {"recurrence": "FREQ=DAILY;INTERVAL=99999999999999999999;COUNT=2"},
}


@pytest.mark.parametrize("name", sorted(BAD_RULES))
async def test_an_unbounded_or_sub_daily_rule_is_refused_before_any_expansion(data, given, caller, monkeypatch,
                                                                              name):
    # given: dateutil's parser fails the test if it is reached at all
    course, teacher, ines = await parisian(data, given)

    def expanded(*args, **kwargs):
        raise AssertionError("the rule reached the expansion")

    monkeypatch.setattr(recurrence, "rrulestr", expanded)
    before = await snapshot(data.database)

    result = await publish(caller(ines), teacher, course, one_slot(MONDAY_9, **BAD_RULES[name]))

    assert errors_of(result) == [(["slots", "0", "recurrence"], "INVALID_RECURRENCE")]
    assert await snapshot(data.database) == before


async def test_a_rule_that_reaches_past_a_year_or_matches_nothing_is_refused(data, given, caller):
    course, teacher, ines = await parisian(data, given)

    answers = await asyncio.gather(*(publish(caller(ines), teacher, course, one_slot(MONDAY_9, recurrence=rule))
                                     for rule in ("FREQ=DAILY;COUNT=400", "FREQ=YEARLY;COUNT=3",
                                                  "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=1",
                                                  "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20270101")))

    assert [errors_of(a) for a in answers] == [[(["slots", "0", "recurrence"], "INVALID_RECURRENCE")]] * 4
    assert await slot_total(data) == 0


async def test_occurrences_overlapping_the_instructor_s_slots_or_each_other_are_refused(data, given, caller):
    course, teacher, ines = await parisian(data, given)
    await given.slot(course, teacher, (MONDAY_9 + timedelta(days=14)).astimezone(UTC))
    before = await snapshot(data.database)

    clash = await publish(caller(ines), teacher, course, one_slot(MONDAY_9, recurrence="FREQ=WEEKLY;COUNT=4"))
    self_clash = await publish(caller(ines), teacher, course,
                               one_slot(MONDAY_9 + timedelta(days=30), minutes=25 * 60, recurrence="FREQ=DAILY;COUNT=3"))
    bad_exception = await publish(caller(ines), teacher, course, one_slot(
        MONDAY_9 + timedelta(days=60), recurrence="FREQ=WEEKLY;COUNT=2",
        exceptions=[(MONDAY_9 + timedelta(days=61)).isoformat()]))
    until_alone = await publish(caller(ines), teacher, course, one_slot(MONDAY_9 + timedelta(days=90),
                                                                        until=MONDAY_9.isoformat()))

    assert errors_of(clash) == [(["slots", "0"], "SLOT_OVERLAP")]
    assert errors_of(self_clash) == [(["slots", "0"], "SLOT_OVERLAP")]
    assert errors_of(bad_exception) == [(["slots", "0", "exceptions", "0"], "VALIDATION")]
    assert errors_of(until_alone) == [(["slots", "0", "recurrence"], "VALIDATION")]
    assert await snapshot(data.database) == before


async def slot_total(data) -> int:
    async with data.database.read() as db:
        return await db.scalar(select(func.count()).select_from(models.BookableSlot))


# --- withdrawSlot ------------------------------------------------------------------------------


async def withdraw(who, slot, cancel_bookings=None):
    given_input = slot_input(slot)
    if cancel_bookings is not None:
        given_input["cancelBookings"] = cancel_bookings
    return (await who(WITHDRAW, input=given_input))["withdrawSlot"]


async def test_an_open_slot_is_withdrawn_and_no_longer_listed(data, given, caller):
    course, teacher, ines = await parisian(data, given)
    slot = await given.slot(course, teacher, NOW + timedelta(days=1))

    result = await withdraw(caller(ines), slot)

    assert result == {"withdrawnSlotId": gid("BookableSlot", slot.id), "cancelledBookingCount": 0, "errors": []}
    assert await slot_total(data) == 0


async def test_a_slot_with_bookings_is_withdrawn_only_with_cancel_bookings(data, given, caller, app):
    # given: two learners booked, one waiting
    course, teacher, ines = await parisian(data, given)
    slot = await given.slot(course, teacher, NOW + timedelta(days=1), seats=2)
    lea, max_, ben = [await given.learner(course, name=name, credits=3) for name in ("Lea", "Max", "Ben")]
    for learner in (lea, max_):
        assert (await caller(learner)(BOOK, input=slot_input(slot)))["bookSlot"]["errors"] == []
    assert (await caller(ben)(JOIN, input=slot_input(slot)))["joinWaitlist"]["errors"] == []
    before = await snapshot(data.database)

    # when
    refused = await withdraw(caller(ines), slot)
    unchanged = await snapshot(data.database)
    # What the setup published is out first: the subscriptions below hear only what the step does.
    await app.state.relay.idle()
    async with app.state.broker.subscribe(f"schedule:user:{lea.id}") as leas, \
            app.state.broker.subscribe(f"schedule:user:{max_.id}") as maxs:
        withdrawn = await withdraw(caller(ines), slot, cancel_bookings=True)
        live_session_id = (await first_live_session(data)).id
        cancelled = {"kind": "CANCELLED", "liveSessionId": live_session_id, "occurredAt": NOW.isoformat()}
        assert await next_schedule_message(leas) == cancelled
        assert await next_schedule_message(maxs) == cancelled

    # then
    assert errors_of(refused) == [(["slotId"], "SLOT_HAS_BOOKINGS")] and refused["withdrawnSlotId"] is None
    assert unchanged == before
    assert withdrawn == {"withdrawnSlotId": gid("BookableSlot", slot.id), "cancelledBookingCount": 2, "errors": []}
    assert await slot_total(data) == 0
    async with data.database.read() as db:
        assert set((await db.scalars(select(models.Booking.status))).all()) == {"CANCELLED"}
        assert await db.scalar(select(func.count()).select_from(models.WaitlistEntry)) == 0
    assert (await first_live_session(data)).cancelled_at is not None
    assert [t.kind for t in await given.ledger(lea)] == ["DEPOSIT", "BOOKING", "REFUND"]
    assert await given.balance(lea) == 3 and await given.balance(max_) == 3
    await given.check_ledgers()


async def test_withdrawing_is_for_the_slot_s_instructor_and_before_it_starts(data, given, caller, clock):
    course, teacher, ines = await parisian(data, given)
    slot = await given.slot(course, teacher, NOW + timedelta(hours=1))
    colleague = await data.user_of(await data.instructor("Omar"))
    before = await snapshot(data.database)

    by_colleague = await caller(colleague).execute(WITHDRAW, input=slot_input(slot))
    missing = (await caller(ines)(WITHDRAW, input={"slotId": gid("BookableSlot", 999_999)}))["withdrawSlot"]
    clock.set(NOW + timedelta(hours=1))
    started = await withdraw(caller(ines), slot)

    assert by_colleague["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert errors_of(missing) == [(["slotId"], "NOT_FOUND")]
    assert errors_of(started) == [(["slotId"], "SLOT_IN_PAST")]
    assert await snapshot(data.database) == before


async def first_live_session(data):
    async with data.database.read() as db:
        return await db.scalar(select(models.LiveSession))
