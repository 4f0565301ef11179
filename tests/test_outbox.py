"""The outbox: every change is an event row written in the change's transaction, the relay
publishes it, and `scheduleChanged(after:)` resumes from a cursor with no gap and no
duplicate at the seam between the table and the live events.

Served by a real uvicorn with the test's frozen clock; the relay is paused (closed) where a
test needs events committed but not yet published.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.resolvers import outbox
from sessiongraph.schema.relay import from_global_id
from tests.booking_data import BOOK, CANCEL, given  # noqa: F401
from tests.conftest import NOW
from tests.imports_support import import_csv, seed
from tests.lifecycle_data import JOIN, WITHDRAW, slot_input
from tests.lifecycle_data import RESCHEDULE as RESCHEDULE_BOOKING
from tests.schedule_data import data, gid  # noqa: F401
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

CHANGES = """subscription($after: String) {
  scheduleChanged(after: $after) { kind cursor liveSession { startsAt } } }"""
AHEAD = NOW + timedelta(days=30)
RESCHEDULE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code } } }"""


async def events_in(database) -> list[models.Event]:
    async with database.read() as db:
        return list((await db.scalars(select(models.Event).order_by(models.Event.id))).all())


async def users_of(database, event_id: int) -> set[int]:
    async with database.read() as db:
        return set((await db.scalars(select(models.EventUser.user_id).where(
            models.EventUser.event_id == event_id))).all())


@pytest.fixture
async def booked(data):
    """A learner booked on a live session a month ahead, and an admin who reschedules it."""
    learner, admin = await data.user("Lena"), await data.user("Ada", is_admin=True)
    live_session = await data.live_session(await data.course(), await data.instructor(), AHEAD)
    await data.book(learner, live_session)
    return learner, admin, live_session


@pytest.fixture
def reschedule(caller, booked):
    """`await reschedule(hour)`: moves the live session to that hour of its day; returns its new start."""
    _, admin, live_session = booked

    async def to(hour: int):
        starts = AHEAD.replace(hour=hour)
        answer = await caller(admin)(RESCHEDULE, id=gid("LiveSession", live_session.id), s=starts.isoformat(),
                                     e=(starts + timedelta(hours=1)).isoformat())
        assert answer["updateLiveSession"]["errors"] == []
        return starts

    return to


@pytest.fixture
async def subscribe(live_server, settings, clock):
    sockets: list[GraphQLSocket] = []

    async def as_user(user: models.User, after: str | None = None) -> GraphQLSocket:
        socket = await GraphQLSocket.connect(live_server, TRANSPORT_WS, issue_token(user.id, settings, clock.now()))
        sockets.append(socket)
        await socket.subscribe(CHANGES, after=after)
        await asyncio.sleep(0.05)  # the server attaches to the broker before the first change
        return socket

    yield as_user
    for socket in sockets:
        await socket.close()


async def next_change(socket: GraphQLSocket) -> dict:
    return (await socket.next_data())["scheduleChanged"]


async def test_each_mutation_writes_its_event_in_its_own_transaction_and_a_refused_one_writes_none(
        data, given, caller, admin, database, app):
    # given: a bookable slot with absence requests, a learner with credits, an instructor
    course = await given.course(absence_requests_enabled=True)
    teacher = await data.instructor("Ines")
    teacher_user = await data.user_of(teacher)
    slot = await given.slot(course, teacher, NOW + timedelta(days=2))
    lea = await given.learner(course, credits=5)

    # when: a refused booking (no such slot), then the whole lifecycle
    refused = await caller(lea)(BOOK, input={"slotId": gid("BookableSlot", slot.id + 1000)})
    assert refused["bookSlot"]["errors"]
    assert await events_in(database) == []

    booked = (await caller(lea)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"]
    live_session_id = booked["liveSession"]["id"]
    request = (await caller(lea)("""mutation($id: ID!) { requestAbsence(input: {liveSessionId: $id, reason: "Ill"})
        { absenceRequest { id } } }""", id=live_session_id))["requestAbsence"]["absenceRequest"]
    await caller(teacher_user)("""mutation($id: ID!) { reviewAbsenceRequest(input: {id: $id, approve: false})
        { errors { code } } }""", id=request["id"])
    await caller(lea)(CANCEL, input={"bookingId": booked["id"]})
    starts = NOW + timedelta(days=3)
    await admin(RESCHEDULE, id=live_session_id, s=starts.isoformat(), e=(starts + timedelta(hours=1)).isoformat())
    await admin("""mutation($id: ID!) { cancelLiveSession(input: {id: $id, reason: "Flood"}) { errors { code } } }""",
                id=live_session_id)
    session = await data.session(courses=[course])
    other = await data.user("Otto")
    await admin("""mutation($s: ID!, $u: [ID!]) { enrollLearners(input: {sessionId: $s, userIds: $u})
        { errors { code } } }""", s=gid("Session", session.id), u=[gid("User", other.id)])

    # then: one event per change, numbered 1.. in commit order, with its webhook data and its audience
    events = await events_in(database)
    assert [(e.id, e.type, e.schedule_kind) for e in events] == [
        (1, "booking.created", "BOOKED"),
        (2, "absence_request.created", None),
        (3, "absence_request.reviewed", "ABSENCE_REVIEWED"),
        (4, "booking.cancelled", "CANCELLED"),
        (5, "live_session.updated", "RESCHEDULED"),
        (6, "live_session.cancelled", "CANCELLED"),
        (7, "enrollment.created", None),
    ]
    first = json.loads(events[0].data)
    assert first["bookingId"] == booked["id"] and first["liveSessionId"] == live_session_id
    assert first["userId"] == gid("User", lea.id) and first["status"] == "BOOKED"
    assert json.loads(events[2].data)["absenceStatus"] == "REJECTED"
    assert json.loads(events[5].data)["cancellationReason"] == "Flood"
    assert json.loads(events[6].data) == {"sessionId": gid("Session", session.id), "userId": gid("User", other.id),
                                          "classId": None}
    assert await users_of(database, 1) == {lea.id, teacher_user.id}
    assert await users_of(database, 2) == set()
    # The cancelled booking leaves the learner off the live session's later events.
    assert await users_of(database, 5) == {teacher_user.id}
    await app.state.relay.idle()
    assert all(e.published_at is not None for e in await events_in(database))


async def test_resuming_after_a_cursor_replays_what_was_missed_then_goes_live_with_no_gap_or_duplicate(
        booked, reschedule, subscribe, app, database):
    learner, _, _ = booked
    # given: a subscriber that heard one change, then went away
    first_socket = await subscribe(learner)
    first_time = await reschedule(8)
    first = await next_change(first_socket)
    assert datetime.fromisoformat(first["liveSession"]["startsAt"]) == first_time
    await first_socket.close()

    # when: two changes commit while the relay is paused (in the table, not yet published)...
    await app.state.relay.close()
    missed = [await reschedule(9), await reschedule(10)]
    assert [e.published_at for e in (await events_in(database))[1:]] == [None, None]
    # ... and the client resumes after the change it saw
    socket = await subscribe(learner, after=first["cursor"])

    # then: the missed ones, in order, from the table
    replayed = [await next_change(socket) for _ in missed]
    assert [e["kind"] for e in replayed] == ["RESCHEDULED", "RESCHEDULED"]
    # Each event shows the live session as it is now (the last reschedule), as live events do.
    assert {datetime.fromisoformat(e["liveSession"]["startsAt"]) for e in replayed} == {missed[-1]}
    cursors = [first["cursor"], *(e["cursor"] for e in replayed)]
    assert [outbox.decode_cursor(c) for c in cursors] == [1, 2, 3]

    # when: the relay publishes them now (the seam): they are not heard twice
    await app.state.relay.start()
    await app.state.relay.idle()
    assert await socket.nothing_within(0.5)

    # then: a later change comes live, once
    await reschedule(11)
    live = await next_change(socket)
    assert outbox.decode_cursor(live["cursor"]) == 4
    assert await socket.nothing_within(0.3)


async def test_a_resumed_stream_shows_each_event_once_to_a_guardian_of_two_children_in_order(
        data, subscribe, caller, database, app):
    # given: two children booked on the same live session, their guardian subscribed with a cursor
    kids = [await data.user("Kim"), await data.user("Kai")]
    gina, admin = await data.user("Gina"), await data.user("Ada", is_admin=True)
    await data.guardian_of(gina, *kids)
    live_session = await data.live_session(await data.course(), await data.instructor(), NOW + timedelta(days=1))
    for kid in kids:
        await data.book(kid, live_session)
    await app.state.relay.close()
    for hour in (8, 9, 10):
        starts = (NOW + timedelta(days=1)).replace(hour=hour)
        await caller(admin)(RESCHEDULE, id=gid("LiveSession", live_session.id), s=starts.isoformat(),
                            e=(starts + timedelta(hours=1)).isoformat())

    # when: the guardian resumes from the first event
    socket = await subscribe(gina, after=outbox.encode_cursor(1))
    await app.state.relay.start()

    # then: events 2 and 3 once each, though each concerns both children
    heard = [outbox.decode_cursor((await next_change(socket))["cursor"]) for _ in range(2)]
    assert heard == [2, 3]
    assert await socket.nothing_within(0.5)


async def test_a_cursor_whose_events_were_purged_is_refused_with_cursor_expired(
        booked, reschedule, subscribe, clock, settings, database, app):
    learner, _, _ = booked
    await reschedule(8)
    await reschedule(9)
    await app.state.relay.idle()
    kept_cursor, old_cursor = outbox.encode_cursor(2), outbox.encode_cursor(1)

    # when: a week and a day later the old events are purged
    clock.advance(days=settings.event_retention_days + 1)
    assert await outbox.purge(database, clock.now() - timedelta(days=settings.event_retention_days)) == 2
    assert await events_in(database) == []

    # then: a cursor from before the last purged event is refused before any event...
    socket = await subscribe(learner, after=old_cursor)
    refusal = await socket.next_message()
    assert refusal["type"] == "error", refusal
    assert refusal["payload"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
    # ... as is one the service never handed out
    socket = await subscribe(learner, after="not-a-cursor")
    refusal = await socket.next_message()
    assert refusal["type"] == "error" and refusal["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # ... while the cursor of the last purged event still resumes: nothing was lost after it
    socket = await subscribe(learner, after=kept_cursor)
    await reschedule(10)
    assert outbox.decode_cursor((await next_change(socket))["cursor"]) == 3


async def test_the_purge_keeps_events_the_relay_has_not_published(booked, reschedule, clock, database, app):
    await app.state.relay.close()
    await reschedule(8)
    clock.advance(days=30)
    assert await outbox.purge(database, clock.now()) == 0
    assert len(await events_in(database)) == 1
    await app.state.relay.start()  # publishes it (and its poll may purge it at once: either way it goes)
    await app.state.relay.idle()
    await outbox.purge(database, clock.now())
    assert await events_in(database) == []


async def test_an_import_records_an_enrollment_event_for_each_new_enrollment_only(admin, database):
    ids = await seed(database, sessions={"Autumn": []}, users=["ana@example.org", "bo@example.org"])
    first = await import_csv(admin, "session,email\nAutumn,ana@example.org\n")
    again = await import_csv(admin, "session,email\nAutumn,ana@example.org\nAutumn,bo@example.org\n")
    assert (first["created"], again["created"]) == (1, 1)
    events = await events_in(database)
    assert [e.type for e in events] == ["enrollment.created", "enrollment.created"]
    assert [json.loads(e.data)["userId"] for e in events] == [gid("User", ids["ana@example.org"]),
                                                             gid("User", ids["bo@example.org"])]
    assert {json.loads(e.data)["sessionId"] for e in events} == {gid("Session", ids["Autumn"])}


# --- the booking lifecycle's events: rescheduling, promotion from a waitlist, withdrawing a slot ---


async def new_events(database, since: int) -> list[models.Event]:
    return [event for event in await events_in(database) if event.id > since]


async def last_event_id(database) -> int:
    return max((event.id for event in await events_in(database)), default=0)


async def two_teachers_slots(data, given, seats: int = 5):
    course = await given.course()
    ines, omar = await data.instructor("Ines"), await data.instructor("Omar")
    first = await given.slot(course, ines, NOW + timedelta(days=2), seats=seats)
    second = await given.slot(course, omar, NOW + timedelta(days=3), seats=seats)
    return course, first, second, await data.user_of(ines), await data.user_of(omar)


async def booked_on(caller, learner, slot) -> dict:
    answer = (await caller(learner)(BOOK, input=slot_input(slot)))["bookSlot"]
    assert answer["errors"] == [], answer
    return answer["booking"]


async def test_a_reschedule_records_one_booking_rescheduled_event_and_a_refused_one_none(data, given, caller,
                                                                                        database):
    # given: Lea booked on Ines's slot
    course, first, second, ines, omar = await two_teachers_slots(data, given)
    lea = await given.learner(course, credits=5)
    old = await booked_on(caller, lea, first)
    since = await last_event_id(database)

    # when: a refused reschedule (no such slot), then one to Omar's slot
    refused = (await caller(lea)(RESCHEDULE_BOOKING, input={
        "bookingId": old["id"], "slotId": gid("BookableSlot", second.id + 1000)}))["rescheduleBooking"]
    assert refused["errors"]
    assert await new_events(database, since) == []
    moved = (await caller(lea)(RESCHEDULE_BOOKING, input={"bookingId": old["id"], **slot_input(second)}))[
        "rescheduleBooking"]["booking"]

    # then: one event, naming both bookings and live sessions, told to the learner and both instructors
    [event] = await new_events(database, since)
    assert (event.type, event.schedule_kind) == ("booking.rescheduled", "RESCHEDULED")
    assert event.live_session_id == from_global_id(moved["liveSession"]["id"])[1]
    data_ = json.loads(event.data)
    assert (data_["bookingId"], data_["previousBookingId"], data_["userId"], data_["status"]) == (
        moved["id"], old["id"], gid("User", lea.id), "BOOKED")
    assert (data_["liveSessionId"], data_["previousLiveSessionId"]) == (moved["liveSession"]["id"],
                                                                       old["liveSession"]["id"])
    assert await users_of(database, event.id) == {lea.id, ines.id, omar.id}


async def test_a_promotion_is_recorded_after_the_cancellation_that_freed_the_seat_and_a_refused_one_records_none(
        data, given, caller, database):
    # given: Ines's one-seat slot, booked by Lea, with Max waiting
    course, first, _, ines, _ = await two_teachers_slots(data, given, seats=1)
    lea = await given.learner(course, credits=5)
    max_ = await given.learner(course, name="Max", credits=5)
    booking = await booked_on(caller, lea, first)
    entry = (await caller(max_)(JOIN, input=slot_input(first)))["joinWaitlist"]
    assert entry["errors"] == []
    since = await last_event_id(database)

    # when: Max may not cancel Lea's booking; then Lea cancels it
    refused = (await caller(max_)(CANCEL, input={"bookingId": booking["id"]}))["cancelBooking"]
    assert refused["errors"]
    assert await new_events(database, since) == []
    assert (await caller(lea)(CANCEL, input={"bookingId": booking["id"]}))["cancelBooking"]["errors"] == []

    # then: the cancellation, then the promotion, each once, in the same transaction's order
    cancelled, promoted = await new_events(database, since)
    assert (cancelled.type, cancelled.schedule_kind) == ("booking.cancelled", "CANCELLED")
    assert (promoted.type, promoted.schedule_kind) == ("waitlist.promoted", "PROMOTED")
    assert promoted.id == cancelled.id + 1 and promoted.live_session_id == cancelled.live_session_id
    async with database.read() as db:
        max_booking = await db.scalar(select(models.Booking).where(models.Booking.learner_id == max_.id))
    promotion = json.loads(promoted.data)
    assert (promotion["userId"], promotion["bookingId"], promotion["waitlistEntryId"], promotion["status"]) == (
        gid("User", max_.id), gid("Booking", max_booking.id), entry["waitlistEntry"]["id"], "BOOKED")
    assert json.loads(cancelled.data)["bookingId"] == booking["id"]
    assert await users_of(database, cancelled.id) == {lea.id, ines.id}
    assert await users_of(database, promoted.id) == {max_.id, ines.id}


async def test_withdrawing_a_slot_records_each_cancelled_booking_once_and_a_refused_withdrawal_none(
        data, given, caller, admin, database):
    # given: Ines's slot booked by Lea and Max
    course, first, _, ines, _ = await two_teachers_slots(data, given)
    learners = [await given.learner(course, name=name, credits=5) for name in ("Lea", "Max")]
    bookings = [await booked_on(caller, learner, first) for learner in learners]
    since = await last_event_id(database)

    # when: without cancelBookings it is refused; with it the slot goes
    refused = (await admin(WITHDRAW, input=slot_input(first)))["withdrawSlot"]
    assert [error["code"] for error in refused["errors"]] == ["SLOT_HAS_BOOKINGS"]
    assert await new_events(database, since) == []
    done = (await admin(WITHDRAW, input={**slot_input(first), "cancelBookings": True}))["withdrawSlot"]
    assert done["errors"] == [] and done["cancelledBookingCount"] == 2

    # then: one booking.cancelled per booking, each told to its learner and the instructor
    events = await new_events(database, since)
    assert [(e.type, e.schedule_kind) for e in events] == [("booking.cancelled", "CANCELLED")] * 2
    by_booking = {json.loads(e.data)["bookingId"]: e for e in events}
    assert set(by_booking) == {b["id"] for b in bookings}
    for learner, booking in zip(learners, bookings, strict=True):
        event = by_booking[booking["id"]]
        assert json.loads(event.data)["status"] == "CANCELLED"
        assert json.loads(event.data)["userId"] == gid("User", learner.id)
        assert await users_of(database, event.id) == {learner.id, ines.id}
