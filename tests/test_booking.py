"""bookSlot and cancelBooking: every rule and refusal, the live session a first booking
creates, credits debited and refunded, idempotent retries, and the events published."""

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.schema.relay import from_global_id
from tests.booking_data import BOOK, CANCEL, SLOTS, codes, data, given, iso  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid

SCHEDULE = """
{ viewer {
  credits { balance }
  schedule {
    upcoming { edges { node { code myBooking { status } } } }
    calendar(view: WEEK, date: "2026-03-10") { days { date count sessions { code } } }
  }
} }
"""

CANCEL_LIVE_SESSION = """
mutation($input: CancelLiveSessionInput!) { cancelLiveSession(input: $input) {
  liveSession { status } errors { field code message }
} }
"""

UPDATE_LIVE_SESSION = """
mutation($input: UpdateLiveSessionInput!) { updateLiveSession(input: $input) {
  liveSession { startsAt capacity } errors { field code message }
} }
"""


async def a_slot(data, given, *, seats=5, cost=2, credits=10, starts_in=timedelta(days=1), **course_fields):
    course = await given.course(code="TALK", title="Conversation", credit_cost=cost, **course_fields)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + starts_in, seats=seats)
    learner = await given.learner(course, credits=credits)
    return course, teacher, slot, learner


async def book(caller, user, slot, key=None):
    given_input = {"slotId": gid("BookableSlot", slot.id)}
    if key is not None:
        given_input["idempotencyKey"] = key
    return (await caller(user)(BOOK, input=given_input))["bookSlot"]


async def test_the_first_booking_creates_the_live_session_and_debits_the_course_s_cost(data, given, caller):
    # given
    _, _, slot, lea = await a_slot(data, given, seats=4, cost=2, credits=10)

    # when
    result = await book(caller, lea, slot)

    # then
    assert result["errors"] == []
    booked = result["booking"]
    live_session = booked["liveSession"]
    assert booked["status"] == "BOOKED"
    assert (live_session["startsAt"], live_session["endsAt"]) == (iso(slot.starts_at), iso(slot.ends_at))
    assert (live_session["capacity"], live_session["seatsLeft"], live_session["status"]) == (4, 3, "SCHEDULED")
    assert live_session["course"] == {"code": "TALK"} and live_session["instructor"] == {"displayName": "Ines"}
    assert live_session["myBooking"] == {"id": booked["id"]}
    debit = booked["creditTransaction"]
    assert (debit["kind"], debit["amount"], debit["balanceAfter"]) == ("BOOKING", -2, 8)
    assert debit["liveSession"] == {"code": live_session["code"]}
    assert debit["description"] == f"Booking: Conversation, session {live_session['code']} on 2026-03-11 12:00 UTC"
    assert (await given.fresh(slot)).booked == 1
    assert await given.balance(lea) == 8


async def test_later_bookings_join_the_slot_s_live_session(data, given, caller):
    course, _, slot, lea = await a_slot(data, given)
    max_ = await given.learner(course, name="Max", credits=5)

    first = await book(caller, lea, slot)
    second = await book(caller, max_, slot)

    assert first["booking"]["liveSession"]["id"] == second["booking"]["liveSession"]["id"]
    assert second["booking"]["liveSession"]["seatsLeft"] == 3
    async with data.database.read() as db:
        assert await db.scalar(select(func.count()).select_from(models.LiveSession)) == 1


async def test_a_new_booking_shows_in_the_upcoming_list_and_calendar_at_once(data, given, caller):
    _, _, slot, lea = await a_slot(data, given, credits=3, cost=1)

    code = (await book(caller, lea, slot))["booking"]["liveSession"]["code"]
    viewer = (await caller(lea)(SCHEDULE))["viewer"]

    assert viewer["credits"] == {"balance": 2}
    assert viewer["schedule"]["upcoming"]["edges"] == [{"node": {"code": code, "myBooking": {"status": "BOOKED"}}}]
    day = next(d for d in viewer["schedule"]["calendar"]["days"] if d["date"] == "2026-03-11")
    assert (day["count"], day["sessions"]) == (1, [{"code": code}])


async def test_a_free_course_books_without_a_credit_transaction(data, given, caller):
    _, _, slot, lea = await a_slot(data, given, cost=0, credits=0)

    result = await book(caller, lea, slot)

    assert result["errors"] == [] and result["booking"]["creditTransaction"] is None
    assert await given.ledger(lea) == []


async def test_each_refusal_has_its_code_and_takes_nothing(data, given, caller, clock):
    # given: a slot of a bookable course, and learners each missing one thing
    course, teacher, slot, lea = await a_slot(data, given, seats=1, cost=2, credits=2)
    closed = await given.course(code="CLOSED", bookable=False)
    closed_slot = await given.slot(closed, teacher, NOW + timedelta(days=2))
    await given.access(lea, closed)
    outsider = await data.user("Otto")
    await given.deposit(outsider, 5)
    ended = await data.user("Eve")
    await given.access(ended, course, access_start=NOW - timedelta(days=60), access_end=NOW - timedelta(days=1))
    await given.deposit(ended, 5)
    upcoming = await data.user("Uma")
    await given.access(upcoming, course, access_start=NOW + timedelta(days=5), access_end=NOW + timedelta(days=30))
    poor = await given.learner(course, name="Pat", credits=1)
    rich = await given.learner(course, name="Rich", credits=9)

    async def refusal(user, target=slot):
        result = await book(caller, user, target)
        assert result["booking"] is None
        return codes(result["errors"])

    # then
    assert await refusal(lea, closed_slot) == [(["slotId"], "NOT_BOOKABLE")]
    assert await refusal(outsider) == [(["slotId"], "NO_ACCESS")]
    assert await refusal(ended) == [(["slotId"], "NO_ACCESS")]
    assert await refusal(upcoming) == [(["slotId"], "NO_ACCESS")]
    assert await refusal(poor) == [(["slotId"], "INSUFFICIENT_CREDITS")]
    assert (await given.fresh(slot)).booked == 0 and await given.balance(poor) == 1
    assert (await book(caller, lea, slot))["errors"] == []
    assert await refusal(lea) == [(["slotId"], "ALREADY_BOOKED")]
    assert await refusal(rich) == [(["slotId"], "SLOT_FULL")]
    assert (await caller(rich)(BOOK, input={"slotId": gid("BookableSlot", 999)}))["bookSlot"]["errors"][0]["code"] \
        == "NOT_FOUND"
    assert (await caller(rich)(BOOK, input={"slotId": gid("Course", slot.id)}))["bookSlot"]["errors"][0]["code"] \
        == "NOT_FOUND"
    clock.set(slot.starts_at)
    assert await refusal(rich) == [(["slotId"], "SLOT_IN_PAST")]
    assert await given.balance(rich) == 9 and (await given.fresh(slot)).booked == 1
    await given.check_ledgers()


async def test_a_visible_session_keeps_its_courses_bookable_after_access_ends_a_read_only_one_does_not(
        data, given, caller):
    course, _teacher, slot, _ = await a_slot(data, given)
    visible, read_only = await data.user("Vic"), await data.user("Rob")
    past = dict(access_start=NOW - timedelta(days=60), access_end=NOW - timedelta(days=1))
    await given.access(visible, course, visibility="VISIBLE", **past)
    await given.access(read_only, course, visibility="READ_ONLY", **past)
    for user in (visible, read_only):
        await given.deposit(user, 5)

    assert (await book(caller, visible, slot))["errors"] == []
    assert codes((await book(caller, read_only, slot))["errors"]) == [(["slotId"], "NO_ACCESS")]


async def test_anonymous_callers_cannot_book(data, given, anonymous):
    _, _, slot, _ = await a_slot(data, given)

    body = await anonymous.execute(BOOK, input={"slotId": gid("BookableSlot", slot.id)})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- idempotency ----------------------------------------------------------------------------


async def test_the_same_key_from_the_same_learner_answers_with_the_first_booking(data, given, caller):
    course, teacher, slot, lea = await a_slot(data, given, cost=2, credits=10)
    other_slot = await given.slot(course, teacher, NOW + timedelta(days=3))
    max_ = await given.learner(course, name="Max", credits=10)

    first = await book(caller, lea, slot, key="lea-retry-1")
    retried = await book(caller, lea, slot, key="lea-retry-1")
    elsewhere = await book(caller, lea, other_slot, key="lea-retry-1")
    someone_else = await book(caller, max_, slot, key="lea-retry-1")

    assert retried == first
    assert codes(elsewhere["errors"]) == [(["idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")]
    assert someone_else["errors"] == [] and someone_else["booking"]["id"] != first["booking"]["id"]
    assert [t.amount for t in await given.ledger(lea)] == [10, -2]
    assert (await given.fresh(slot)).booked == 2


async def test_a_key_answers_with_its_booking_even_once_cancelled(data, given, caller):
    _, _, slot, lea = await a_slot(data, given)
    first = await book(caller, lea, slot, key="k1")
    await caller(lea)(CANCEL, input={"bookingId": first["booking"]["id"]})

    retried = await book(caller, lea, slot, key="k1")
    fresh = await book(caller, lea, slot, key="k2")

    assert retried["booking"]["id"] == first["booking"]["id"] and retried["booking"]["status"] == "CANCELLED"
    assert fresh["errors"] == [] and fresh["booking"]["status"] == "BOOKED"


async def test_a_refused_request_can_be_retried_with_its_key(data, given, caller):
    _, _, slot, lea = await a_slot(data, given, cost=2, credits=0)

    refused = await book(caller, lea, slot, key="try")
    await given.deposit(lea, 2)
    accepted = await book(caller, lea, slot, key="try")

    assert codes(refused["errors"]) == [(["slotId"], "INSUFFICIENT_CREDITS")]
    assert accepted["errors"] == [] and accepted["booking"]["status"] == "BOOKED"


async def test_a_key_that_is_too_long_is_refused(data, given, caller):
    _, _, slot, lea = await a_slot(data, given)

    result = await book(caller, lea, slot, key="k" * 201)

    assert codes(result["errors"]) == [(["idempotencyKey"], "VALIDATION")]


# --- cancelling ------------------------------------------------------------------------------


async def test_cancelling_before_the_start_refunds_and_frees_the_seat(data, given, caller):
    # given
    _, _, slot, lea = await a_slot(data, given, cost=2, credits=5)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]

    # when
    result = (await caller(lea)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]

    # then
    assert result["errors"] == []
    cancelled = result["booking"]
    assert (cancelled["status"], cancelled["cancelledAt"]) == ("CANCELLED", iso(NOW))
    assert cancelled["creditTransaction"] == {"amount": -2}
    refund = cancelled["refundTransaction"]
    assert (refund["kind"], refund["amount"], refund["balanceAfter"]) == ("REFUND", 2, 5)
    assert refund["description"].startswith("Refund of a cancelled booking: Conversation, session ")
    assert (await given.fresh(slot)).booked == 0 and await given.balance(lea) == 5
    assert (await caller(lea)(SCHEDULE))["viewer"]["schedule"]["upcoming"]["edges"] == []
    await given.check_ledgers()


async def test_a_cancelled_seat_can_be_booked_again(data, given, caller):
    course, _, slot, lea = await a_slot(data, given, seats=1)
    max_ = await given.learner(course, name="Max", credits=5)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]
    assert codes((await book(caller, max_, slot))["errors"]) == [(["slotId"], "SLOT_FULL")]

    await caller(lea)(CANCEL, input={"bookingId": booking_id})

    assert (await book(caller, max_, slot))["errors"] == []
    assert (await book(caller, lea, slot))["errors"][0]["code"] == "SLOT_FULL"


async def test_cancelling_is_refused_from_the_course_s_cancellation_notice_on(data, given, caller, clock):
    _, _, slot, lea = await a_slot(data, given, cancellation_notice_minutes=120)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]

    clock.set(slot.starts_at - timedelta(minutes=120))
    refused = (await caller(lea)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]

    assert refused["booking"] is None
    assert codes(refused["errors"]) == [(["bookingId"], "TOO_LATE_TO_CANCEL")]
    assert "120 minutes before the start" in refused["errors"][0]["message"]
    assert await given.balance(lea) == 8 and (await given.fresh(slot)).booked == 1


async def test_with_no_notice_a_booking_can_be_cancelled_until_the_start(data, given, caller, clock):
    _, _, slot, lea = await a_slot(data, given)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]

    clock.set(slot.starts_at - timedelta(seconds=1))
    in_time = (await caller(lea)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]
    assert in_time["errors"] == []

    again = await book(caller, lea, slot)  # booked again a second before the start
    clock.set(slot.starts_at)
    too_late = (await caller(lea)(CANCEL, input={"bookingId": again["booking"]["id"]}))["cancelBooking"]
    assert codes(too_late["errors"]) == [(["bookingId"], "TOO_LATE_TO_CANCEL")]


async def test_cancelling_twice_changes_nothing_the_second_time(data, given, caller):
    _, _, slot, lea = await a_slot(data, given, cost=2, credits=5)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]

    first = (await caller(lea)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]
    second = (await caller(lea)(CANCEL, input={"bookingId": booking_id}))["cancelBooking"]

    assert second == first
    assert [t.kind for t in await given.ledger(lea)] == ["DEPOSIT", "BOOKING", "REFUND"]


async def test_who_may_cancel_a_booking(data, given, caller, admin):
    _course, teacher, slot, lea = await a_slot(data, given)
    guardian, stranger = await data.user("Gina"), await data.user("Stan")
    await data.guardian_of(guardian, lea)
    booking_id = (await book(caller, lea, slot))["booking"]["id"]
    teacher_user = await data.user_of(teacher)

    stranger_says = await caller(stranger)(CANCEL, input={"bookingId": booking_id})
    guardian_says = await caller(guardian).execute(CANCEL, input={"bookingId": booking_id})
    teacher_says = await caller(teacher_user).execute(CANCEL, input={"bookingId": booking_id})
    admin_says = await admin(CANCEL, input={"bookingId": booking_id})

    assert codes(stranger_says["cancelBooking"]["errors"]) == [(["bookingId"], "NOT_FOUND")]
    assert guardian_says["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert teacher_says["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert admin_says["cancelBooking"]["booking"]["status"] == "CANCELLED"


# --- the live session booked from a slot -------------------------------------------------------


async def test_cancelling_the_live_session_refunds_every_booking_in_the_same_change(data, given, caller, admin):
    # given: two learners booked, one of whom cancelled already (and was refunded then)
    course, _, slot, lea = await a_slot(data, given, cost=3, credits=3)
    max_ = await given.learner(course, name="Max", credits=4)
    ann = await given.learner(course, name="Ann", credits=3)
    live_session_id = (await book(caller, lea, slot))["booking"]["liveSession"]["id"]
    await book(caller, max_, slot)
    anns = (await book(caller, ann, slot))["booking"]["id"]
    await caller(ann)(CANCEL, input={"bookingId": anns})

    # when
    result = (await admin(CANCEL_LIVE_SESSION, input={"id": live_session_id}))["cancelLiveSession"]
    again = (await admin(CANCEL_LIVE_SESSION, input={"id": live_session_id}))["cancelLiveSession"]

    # then: each refunded once; the bookings stay, so it stays on their schedules, struck through
    assert result == again == {"liveSession": {"status": "CANCELLED"}, "errors": []}
    assert (await given.balance(lea), await given.balance(max_), await given.balance(ann)) == (3, 4, 3)
    refunds = [t for t in await given.ledger(lea) if t.kind == "REFUND"]
    assert len(refunds) == 1 and refunds[0].description.startswith("Refund, the live session was cancelled: ")
    assert [t.kind for t in await given.ledger(ann)] == ["DEPOSIT", "BOOKING", "REFUND"]
    upcoming = (await caller(lea)(SCHEDULE))["viewer"]["schedule"]["upcoming"]["edges"]
    assert [e["node"]["myBooking"] for e in upcoming] == [{"status": "BOOKED"}]
    await given.check_ledgers()


async def test_a_cancelled_live_session_s_slot_is_closed_to_bookings_and_cancellations(data, given, caller, admin):
    course, _, slot, lea = await a_slot(data, given)
    max_ = await given.learner(course, name="Max", credits=5)
    booked = (await book(caller, lea, slot))["booking"]
    await admin(CANCEL_LIVE_SESSION, input={"id": booked["liveSession"]["id"]})

    listed = await caller(max_)(SLOTS, id=gid("Course", course.id),
                                **{"from": iso(NOW), "to": iso(NOW + timedelta(days=7))})
    booking_it = await book(caller, max_, slot)
    cancelling = (await caller(lea)(CANCEL, input={"bookingId": booked["id"]}))["cancelBooking"]

    assert listed["node"]["availableSlots"] == []
    assert codes(booking_it["errors"]) == [(["slotId"], "LIVE_SESSION_CANCELLED")]
    assert codes(cancelling["errors"]) == [(["bookingId"], "LIVE_SESSION_CANCELLED")]
    assert await given.balance(lea) == 10


async def test_a_rescheduled_live_session_takes_its_slot_along(data, given, caller, admin):
    course, _, slot, lea = await a_slot(data, given, seats=3)
    max_ = await given.learner(course, name="Max", credits=5)
    live_session_id = (await book(caller, lea, slot))["booking"]["liveSession"]["id"]
    await book(caller, max_, slot)
    later = slot.starts_at + timedelta(hours=2)

    moved = (await admin(UPDATE_LIVE_SESSION, input={
        "id": live_session_id, "startsAt": iso(later), "endsAt": iso(later + timedelta(hours=1)),
        "capacity": 2}))["updateLiveSession"]
    too_small = (await admin(UPDATE_LIVE_SESSION, input={"id": live_session_id, "capacity": 1}))["updateLiveSession"]

    assert moved["errors"] == [] and moved["liveSession"] == {"startsAt": iso(later), "capacity": 2}
    fresh = await given.fresh(slot)
    assert (fresh.starts_at, fresh.ends_at, fresh.seats, fresh.booked) == (later, later + timedelta(hours=1), 2, 2)
    assert codes(too_small["errors"]) == [(["capacity"], "VALIDATION")]
    assert (await given.fresh(slot)).seats == 2


# --- events --------------------------------------------------------------------------------


async def next_event(subscription):
    return await asyncio.wait_for(anext(subscription), 5)


async def test_booking_and_cancelling_are_published_to_the_learner_and_the_instructor(data, given, caller, app):
    _, teacher, slot, lea = await a_slot(data, given)
    teacher_user = await data.user_of(teacher)
    broker = app.state.broker
    # What the setup published is out first: the subscriptions below hear only what the step does.
    await app.state.relay.idle()

    async with broker.subscribe(f"schedule:user:{lea.id}") as learners, \
            broker.subscribe(f"schedule:user:{teacher_user.id}") as teachers:
        booked = (await book(caller, lea, slot))["booking"]
        await book(caller, lea, slot)  # refused (ALREADY_BOOKED): nothing published
        await caller(lea)(CANCEL, input={"bookingId": booked["id"]})
        await caller(lea)(CANCEL, input={"bookingId": booked["id"]})  # nothing changes: nothing published

        _, live_session_id = from_global_id(booked["liveSession"]["id"])
        # The outbox numbers the events in commit order (each test starts from an empty outbox).
        expected = [{"eventId": event_id, "kind": kind, "liveSessionId": live_session_id, "occurredAt": iso(NOW)}
                    for event_id, kind in ((1, "BOOKED"), (2, "CANCELLED"))]
        assert [await next_event(learners) for _ in expected] == expected
        assert [await next_event(teachers) for _ in expected] == expected
        assert learners.pending == 0 and teachers.pending == 0


async def test_a_learner_still_sees_a_live_session_they_cancelled_as_do_their_guardians(data, given, caller):
    _course, _, slot, lea = await a_slot(data, given)
    gina, stan = await data.user("Gina"), await data.user("Stan")
    await data.guardian_of(gina, lea)
    booked = (await book(caller, lea, slot))["booking"]
    await caller(lea)(CANCEL, input={"bookingId": booked["id"]})
    query = "query($id: ID!) { node(id: $id) { ... on LiveSession { code myBooking { status } } } }"

    mine = (await caller(lea)(query, id=booked["liveSession"]["id"]))["node"]
    guardians = (await caller(gina)(query, id=booked["liveSession"]["id"]))["node"]
    strangers = (await caller(stan)(query, id=booked["liveSession"]["id"]))["node"]

    assert mine == {"code": booked["liveSession"]["code"], "myBooking": {"status": "CANCELLED"}}
    assert guardians == {"code": booked["liveSession"]["code"], "myBooking": None}
    assert strangers is None
