"""Bookings, cancellations and absence decisions reach scheduleChanged subscribers: the
learner, their guardian and the instructor, over a real WebSocket."""

import asyncio
from datetime import timedelta

import pytest

from sessiongraph.infrastructure.tokens import issue_token
from tests.booking_data import BOOK, CANCEL, data, given  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

CHANGES = "subscription { scheduleChanged { kind occurredAt liveSession { code status myBooking { status } } } }"


@pytest.fixture
def connect(live_server, settings, clock):
    sockets = []

    async def open_as(user):
        socket = await GraphQLSocket.connect(live_server, TRANSPORT_WS, issue_token(user.id, settings, clock.now()))
        sockets.append(socket)
        await socket.subscribe(CHANGES)
        await asyncio.sleep(0.05)  # the server subscribes to the broker before the first change
        return socket

    yield open_as
    for socket in sockets:
        asyncio.get_event_loop().create_task(socket.close())


async def test_a_booking_its_absence_decision_and_its_cancellation_are_pushed_to_everyone_concerned(
        data, given, caller, connect):
    # given: a learner with a guardian, and the slot's instructor, all listening
    course = await given.course(absence_requests_enabled=True)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1))
    lea = await given.learner(course, credits=5)
    gina = await data.user("Gina")
    await data.guardian_of(gina, lea)
    teacher_user = await data.user_of(teacher)
    sockets = {"learner": await connect(lea), "guardian": await connect(gina),
               "instructor": await connect(teacher_user)}

    # when: booked
    booked = (await caller(lea)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"]
    code = booked["liveSession"]["code"]

    # then
    for who, socket in sockets.items():
        event = (await socket.next_data())["scheduleChanged"]
        assert (event["kind"], event["liveSession"]["code"]) == ("BOOKED", code), who

    # when: an absence requested and approved by the instructor
    request = (await caller(lea)("""mutation($id: ID!) { requestAbsence(input: {liveSessionId: $id, reason: "Ill"}) {
        absenceRequest { id } } }""", id=booked["liveSession"]["id"]))["requestAbsence"]["absenceRequest"]
    await caller(teacher_user)("""mutation($id: ID!) { reviewAbsenceRequest(input: {id: $id, approve: true}) {
        errors { code } } }""", id=request["id"])

    # then
    for who, socket in sockets.items():
        event = (await socket.next_data())["scheduleChanged"]
        assert event["kind"] == "ABSENCE_REVIEWED", who

    # when: cancelled
    await caller(lea)(CANCEL, input={"bookingId": booked["id"]})

    # then: everyone hears of it; the learner sees their booking cancelled
    heard = {who: (await socket.next_data())["scheduleChanged"] for who, socket in sockets.items()}
    assert {who: (e["kind"], e["liveSession"]["code"]) for who, e in heard.items()} == dict.fromkeys(sockets, ("CANCELLED", code))
    assert heard["learner"]["liveSession"]["myBooking"] == {"status": "CANCELLED"}
