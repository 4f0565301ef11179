"""Subscriptions through a real WebSocket client against the running app, on both protocols,
with the clock frozen and advanced instead of waiting."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from sessiongraph.clients.documents import all_operations
from sessiongraph.resolvers import outbox
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401
from tests.ws_client import LEGACY_WS, TRANSPORT_WS

URL = "https://classroom.example.test/room/7"
JOIN = "subscription($id: ID!) { joinAvailability(liveSessionId: $id) { opensAt closesAt isOpen url } }"
CHANGES = "subscription { scheduleChanged { kind occurredAt liveSession { code startsAt status } } }"

pytestmark = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


@pytest.fixture
def connect(ws_connect):
    return ws_connect


async def booked(data, starts_in=timedelta(minutes=30), **fields):
    learner = await data.user("Lena")
    course = await data.course()
    teacher = await data.instructor()
    live_session = await data.live_session(course, teacher, NOW + starts_in, virtual_classroom_url=URL, **fields)
    await data.book(learner, live_session)
    return learner, live_session


async def settle():
    """Lets the server's tasks run after the clock moved."""
    for _ in range(3):
        await asyncio.sleep(0.01)


async def test_join_availability_emits_now_then_when_the_window_opens_and_closes(data, connect, clock, protocol):
    learner, live_session = await booked(data)
    socket = await connect(learner, protocol)

    await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    first = await socket.next_data()
    assert first["joinAvailability"] == {"opensAt": "2026-03-10T12:15:00+00:00",
                                         "closesAt": "2026-03-10T13:30:00+00:00", "isOpen": False, "url": None}

    clock.set(live_session.starts_at - timedelta(minutes=15, seconds=1))
    await settle()
    assert await socket.nothing_within(0.1)

    clock.advance(seconds=1)  # opensAt
    opened = await socket.next_data()
    assert opened["joinAvailability"]["isOpen"] is True
    assert opened["joinAvailability"]["url"] == URL

    clock.set(live_session.ends_at)
    closed = await socket.next_data()
    assert closed["joinAvailability"] == {**first["joinAvailability"], "isOpen": False, "url": None}


async def test_join_availability_emits_when_rescheduled_and_when_cancelled(data, connect, admin, clock, protocol):
    learner, live_session = await booked(data)
    socket = await connect(learner, protocol)
    await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    await socket.next_data()

    await admin("""mutation($id: ID!) { updateLiveSession(input: {id: $id, startsAt: "2026-03-10T14:00:00Z",
                  endsAt: "2026-03-10T15:00:00Z"}) { errors { code } } }""", id=gid("LiveSession", live_session.id))
    moved = await socket.next_data()
    assert moved["joinAvailability"]["opensAt"] == "2026-03-10T13:45:00+00:00"

    await admin("mutation($id: ID!) { cancelLiveSession(input: {id: $id}) { errors { code } } }",
                id=gid("LiveSession", live_session.id))
    cancelled = await socket.next_data()
    clock.set(NOW.replace(hour=13, minute=50))
    await settle()
    assert cancelled["joinAvailability"]["isOpen"] is False
    assert await socket.nothing_within(0.1)  # a cancelled class never opens


async def test_a_new_classroom_url_is_sent_while_the_window_is_open(data, connect, admin, clock, protocol):
    learner, live_session = await booked(data)
    clock.set(live_session.starts_at)
    socket = await connect(learner, protocol)
    await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    assert (await socket.next_data())["joinAvailability"]["url"] == URL

    await admin("""mutation($id: ID!) { updateLiveSession(input: {id: $id,
                  virtualClassroomUrl: "https://classroom.example.test/room/8"}) { errors { code } } }""",
                id=gid("LiveSession", live_session.id))

    assert (await socket.next_data())["joinAvailability"]["url"] == "https://classroom.example.test/room/8"


async def test_someone_who_may_not_see_the_live_session_gets_not_found_and_keeps_the_connection(
        data, connect, protocol):
    _, live_session = await booked(data)
    stranger = await data.user("Stranger")
    socket = await connect(stranger, protocol)

    await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    message = await socket.next_message()

    # an `error` message for that operation: a list of errors in graphql-transport-ws, one in graphql-ws
    assert message["type"] == "error"
    error = message["payload"][0] if protocol == TRANSPORT_WS else message["payload"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    # the connection stays open: a second subscription still works
    await socket.subscribe(CHANGES)
    assert await socket.nothing_within(0.1)


async def test_schedule_changed_tells_the_learner_and_their_guardian_of_a_reschedule(data, connect, admin, protocol):
    learner, live_session = await booked(data)
    guardian = await data.user("Gina Guardian")
    await data.guardian_of(guardian, learner)
    stranger = await data.user("Stranger")
    learner_socket, guardian_socket, stranger_socket = [await connect(u, protocol)
                                                        for u in (learner, guardian, stranger)]
    for socket in (learner_socket, guardian_socket, stranger_socket):
        await socket.subscribe(CHANGES)
    await asyncio.sleep(0.05)  # the subscriptions are listening

    await admin("""mutation($id: ID!) { updateLiveSession(input: {id: $id, startsAt: "2026-03-10T14:00:00Z",
                  endsAt: "2026-03-10T15:00:00Z"}) { errors { code } } }""", id=gid("LiveSession", live_session.id))

    for socket in (learner_socket, guardian_socket):
        event = (await socket.next_data())["scheduleChanged"]
        assert event["kind"] == "RESCHEDULED"
        assert event["liveSession"] == {"code": live_session.code, "startsAt": "2026-03-10T14:00:00+00:00",
                                        "status": "SCHEDULED"}
    assert await guardian_socket.nothing_within(0.1)  # once, not once per channel
    assert await stranger_socket.nothing_within(0.1)


async def statements_to_hear_a_reschedule(data, connect, admin, count_statements, protocol, subscribers):
    """The statements (by what precedes their WHERE) from an admin's reschedule of a class of eight learners
    until `subscribers` of them, each on a socket of their own with every client's scheduleChanged document,
    have been sent the event."""
    documents = [op.document for op in all_operations() if op.kind == "subscription" and "scheduleChanged" in op.document]
    course, teacher = await data.course(), await data.instructor()
    live_session = await data.live_session(course, teacher, NOW + timedelta(minutes=30), virtual_classroom_url=URL)
    learners = [await data.user(f"Learner {n}") for n in range(8)]
    for learner in learners:
        await data.book(learner, live_session)
    sockets = []
    for learner in learners[:subscribers]:
        socket = await connect(learner, protocol)
        for document in documents:
            # From the outbox's start: a subscription still setting up when a change commits replays it.
            await socket.subscribe(document, after=outbox.encode_cursor(0))
        sockets.append(socket)

    async def reschedule_and_hear(starts_at: str, ends_at: str) -> None:
        await admin("""mutation($id: ID!, $startsAt: DateTime!, $endsAt: DateTime!) {
                      updateLiveSession(input: {id: $id, startsAt: $startsAt, endsAt: $endsAt}) { errors { code } } }""",
                    id=gid("LiveSession", live_session.id), startsAt=starts_at, endsAt=ends_at)
        for socket in sockets:
            for _ in documents:
                assert (await socket.next_data())["scheduleChanged"]["kind"] == "RESCHEDULED"

    # Every subscription has been set up once it has heard a first change.
    await reschedule_and_hear("2026-03-10T13:00:00Z", "2026-03-10T14:00:00Z")
    with count_statements() as log:
        await reschedule_and_hear("2026-03-10T14:00:00Z", "2026-03-10T15:00:00Z")
    return Counter(statement.split("WHERE")[0].strip() for statement in log.statements)


async def test_a_schedule_event_costs_the_same_statements_for_one_subscriber_as_for_many(
        data, connect, admin, count_statements, protocol):
    one = await statements_to_hear_a_reschedule(data, connect, admin, count_statements, protocol, subscribers=1)
    many = await statements_to_hear_a_reschedule(data, connect, admin, count_statements, protocol, subscribers=8)

    assert many == one, f"more for eight: {many - one}; fewer: {one - many}"


async def test_a_query_over_the_legacy_protocol_is_refused_clearly_and_over_transport_ws_answered(
        data, connect, protocol):
    learner = await data.user("Lena")
    socket = await connect(learner, protocol)

    await socket.subscribe("{ viewer { user { name } } }")
    message = await socket.next_message()

    if protocol == TRANSPORT_WS:
        assert message["payload"]["data"] == {"viewer": {"user": {"name": "Lena"}}}
    else:
        assert message["type"] == "error"
        assert message["payload"]["extensions"]["code"] == "BAD_REQUEST"
