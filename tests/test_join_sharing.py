"""joinAvailability at scale: subscribers in the same state share one execution, a shared result
never reaches a subscriber with other rights, an event costs the same statements for one
subscriber as for many, and an event published while a subscriber reads is not lost.

The clock is frozen and moved; nothing waits for real time to pass."""

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from sessiongraph import models
from sessiongraph.infrastructure.broker import InProcessBroker
from sessiongraph.infrastructure.scheduler import Scheduler
from sessiongraph.resolvers import subscriptions
from sessiongraph.resolvers.context import Actor, Context
from sessiongraph.resolvers.events import ScheduleEventKind, live_session_channel
from sessiongraph.schema import build_schema
from sessiongraph.schema.subscriptions import join_availability_value
from sessiongraph.server import shared_results
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_subscriptions import connect  # noqa: F401
from tests.ws_client import LEGACY_WS, TRANSPORT_WS

URL = "https://classroom.example.test/room/9"
NEW_URL = "https://classroom.example.test/room/10"
JOIN = "subscription($id: ID!) { joinAvailability(liveSessionId: $id) { opensAt isOpen url } }"
PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


@pytest.fixture
def executions(monkeypatch):
    """How many times a shared result was executed."""
    count = [0]
    real = shared_results.execute_subscription_event

    def counting(executor):
        count[0] += 1
        return real(executor)

    monkeypatch.setattr(shared_results, "execute_subscription_event", counting)
    return count


async def a_class(data, starts_in=timedelta(minutes=30)):
    """A live session with a classroom URL, two booked learners, and a guardian of the first."""
    course = await data.course()
    teacher = await data.instructor()
    live_session = await data.live_session(course, teacher, NOW + starts_in, virtual_classroom_url=URL)
    lena, lars = await data.user("Lena"), await data.user("Lars")
    await data.book(lena, live_session)
    await data.book(lars, live_session)
    guardian = await data.user("Gina Guardian")
    await data.guardian_of(guardian, lena)
    return live_session, lena, lars, guardian


async def publish(app, live_session, kind=ScheduleEventKind.UPDATED):
    await app.state.broker.publish(live_session_channel(live_session.id),
                                   {"kind": kind.value, "liveSessionId": live_session.id,
                                    "occurredAt": NOW.isoformat()})


async def set_url(database, live_session, url):
    async with database.write() as db:
        await db.execute(update(models.LiveSession).where(models.LiveSession.id == live_session.id)
                         .values(virtual_classroom_url=url))


def join_of(data_):
    return data_["joinAvailability"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribers_in_one_state_share_one_execution_and_never_see_what_their_rights_hide(
        data, connect, app, database, clock, executions, protocol):
    # given: the window is open; two learners who may join (one with two subscriptions) and a
    # guardian who may only look, all on the same document
    live_session, lena, lars, guardian = await a_class(data)
    clock.set(live_session.starts_at - timedelta(minutes=15))
    sockets = {"lena": await connect(lena, protocol), "lars": await connect(lars, protocol),
               "gina": await connect(guardian, protocol)}
    for socket in sockets.values():
        await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    await sockets["lena"].subscribe(JOIN, id=gid("LiveSession", live_session.id))
    first = {name: join_of(await socket.next_data()) for name, socket in sockets.items()}
    first["lena 2"] = join_of(await sockets["lena"].next_data())
    assert {name: state["url"] for name, state in first.items()} == {
        "lena": URL, "lars": URL, "gina": None, "lena 2": URL}
    assert executions[0] == 0  # every first result is Strawberry's own

    # when: the URL changes (an event every subscriber hears)
    await set_url(database, live_session, NEW_URL)
    await publish(app, live_session)

    # then: those who may join get the new URL, the guardian does not, each under its own ID
    heard = {}
    for name, socket in [*sockets.items(), ("lena 2", sockets["lena"])]:
        message = await socket.next_message()
        heard[name] = (message["id"], join_of(message["payload"]["data"]))
    assert {name: state["url"] for name, (_, state) in heard.items()} == {
        "lena": NEW_URL, "lars": NEW_URL, "gina": None, "lena 2": NEW_URL}
    assert {name: state["isOpen"] for name, (_, state) in heard.items()} == {
        "lena": True, "lars": True, "gina": False, "lena 2": True}
    assert sorted(operation_id for operation_id, _ in (heard["lena"], heard["lena 2"])) == ["1", "2"]
    # and: two states, two executions, for four subscribers
    assert executions[0] == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_at_the_opening_instant_the_learner_gets_the_url_and_the_guardian_hears_nothing(
        data, connect, clock, protocol):
    live_session, lena, _, guardian = await a_class(data)
    learner_socket, guardian_socket = await connect(lena, protocol), await connect(guardian, protocol)
    for socket in (learner_socket, guardian_socket):
        await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
        assert join_of(await socket.next_data())["isOpen"] is False

    clock.set(live_session.starts_at - timedelta(minutes=15))

    assert join_of(await learner_socket.next_data()) == {"opensAt": "2026-03-10T12:15:00+00:00", "isOpen": True,
                                                         "url": URL}
    assert await guardian_socket.nothing_within(0.1)  # closed before, closed now: nothing to say


async def test_a_shared_result_is_the_same_payload_strawberry_sends_first(data, connect, app, clock):
    live_session, lena, lars, _ = await a_class(data)
    early, late = await connect(lena, TRANSPORT_WS), await connect(lars, TRANSPORT_WS)
    await early.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    await early.next_message()

    await late.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    strawberrys = (await late.next_message())["payload"]
    await publish(app, live_session, ScheduleEventKind.RESCHEDULED)  # announced, though nothing moved
    shared = (await early.next_message())["payload"]

    assert shared == strawberrys


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_viewer_who_may_no_longer_see_the_live_session_is_completed(data, connect, app, database, protocol):
    live_session, lena, lars, _ = await a_class(data)
    gone, staying = await connect(lena, protocol), await connect(lars, protocol)
    for socket in (gone, staying):
        await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))
        await socket.next_data()

    # when: Lena's booking disappears (not cancelled: a cancelled booking still shows her the class)
    async with database.write() as db:
        await db.execute(delete(models.Booking).where(models.Booking.learner_id == lena.id))
    await publish(app, live_session)

    assert (await gone.next_message())["type"] == "complete"
    assert join_of(await staying.next_data())["opensAt"] == "2026-03-10T12:15:00+00:00"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_completing_or_closing_lets_go_of_the_live_session(data, connect, app, protocol):
    live_session, lena, lars, _ = await a_class(data)
    first, second = await connect(lena, protocol), await connect(lars, protocol)
    operation = await first.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    await second.subscribe(JOIN, id=gid("LiveSession", live_session.id))
    await first.next_data()
    await second.next_data()
    assert app.state.broker.subscriber_count == 2

    await first.socket.send(f'{{"id": "{operation}", "type": "{"complete" if protocol == TRANSPORT_WS else "stop"}"}}')
    await second.close()
    for _ in range(100):
        if app.state.broker.subscriber_count == 0:
            break
        await asyncio.sleep(0.01)
    assert app.state.broker.subscriber_count == 0
    await publish(app, live_session)
    assert await first.nothing_within(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_event_published_while_the_subscriber_reads_is_not_lost(
        data, connect, app, database, clock, monkeypatch, protocol):
    # given: the window is open
    live_session, lena, _, _ = await a_class(data)
    clock.set(live_session.starts_at)
    real_read = subscriptions._read
    changed = []

    async def read_then_change(ctx, live_session_id):
        """The subscriber's read returns the old URL; before it has joined the watch, the URL
        changes and the change is published (as a mutation on another instance would)."""
        found = await real_read(ctx, live_session_id)
        if not changed:
            changed.append(True)
            await set_url(database, live_session, NEW_URL)
            await publish(app, live_session)
        return found

    monkeypatch.setattr(subscriptions, "_read", read_then_change)
    socket = await connect(lena, protocol)

    await socket.subscribe(JOIN, id=gid("LiveSession", live_session.id))

    assert join_of(await socket.next_data())["url"] == URL  # what the read found
    assert join_of(await socket.next_data())["url"] == NEW_URL  # and the event it did not miss


async def viewers_streams(database, settings, clock, broker, scheduler, users, live_session):
    streams = []
    for user in users:
        ctx = Context(database=database, clock=clock, settings=settings, actor=Actor(user), broker=broker,
                      scheduler=scheduler)
        stream = await subscriptions.join_availability(ctx, live_session.id)
        await anext(stream)
        streams.append(stream)
    return streams


async def statements_for_one_event(data, database, settings, clock, count_statements, learners):
    course = await data.course()
    live_session = await data.live_session(course, await data.instructor(), NOW + timedelta(minutes=30),
                                           virtual_classroom_url=URL)
    users = [await data.user(f"Learner {n}") for n in range(learners)]
    for user in users:
        await data.book(user, live_session)
    broker, scheduler = InProcessBroker(), Scheduler(clock)
    streams = await viewers_streams(database, settings, clock, broker, scheduler, users * 2, live_session)

    with count_statements() as log:
        await broker.publish(live_session_channel(live_session.id), {"kind": "RESCHEDULED"})
        for stream in streams:
            await asyncio.wait_for(anext(stream), 5)
    for stream in streams:
        stream.close()
    await scheduler.close()
    assert broker.subscriber_count == 0
    return log.count


async def test_an_event_costs_the_same_statements_for_one_subscriber_as_for_many(
        data, database, settings, clock, count_statements):
    one = await statements_for_one_event(data, database, settings, clock, count_statements, learners=1)
    many = await statements_for_one_event(data, database, settings, clock, count_statements, learners=12)

    assert many == one
    assert one <= 8


async def test_the_opening_instant_costs_no_statement_and_one_alarm(data, database, settings, clock,
                                                                    count_statements):
    live_session, lena, lars, guardian = await a_class(data)
    broker, scheduler = InProcessBroker(), Scheduler(clock)
    streams = await viewers_streams(database, settings, clock, broker, scheduler, [lena, lars, guardian] * 3,
                                    live_session)
    assert scheduler.timer_count == 1 and len(scheduler._alarms[live_session.starts_at - timedelta(minutes=15)]) == 1

    with count_statements() as log:
        clock.set(live_session.starts_at - timedelta(minutes=15))
        opened = [await asyncio.wait_for(anext(stream), 5) for stream in streams[:2]]

    assert log.count == 0
    assert [state.url for state in opened] == [URL, URL]
    for stream in streams:
        stream.close()
    await scheduler.close()


async def test_after_the_broker_reconnects_every_subscriber_hears_its_state_again(data, database, settings, clock):
    live_session, lena, _, guardian = await a_class(data)
    broker, scheduler = InProcessBroker(), Scheduler(clock)
    learner_stream, guardian_stream = await viewers_streams(database, settings, clock, broker, scheduler,
                                                            [lena, guardian], live_session)

    broker.resync_all()  # what the Redis listener does after it reconnected: events may have been missed

    assert (await asyncio.wait_for(anext(learner_stream), 5)).opens_at == live_session.starts_at - timedelta(minutes=15)
    assert (await asyncio.wait_for(anext(guardian_stream), 5)).url is None
    for stream in (learner_stream, guardian_stream):
        stream.close()
    await scheduler.close()


async def test_a_subscriber_that_falls_behind_gets_the_latest_state_not_a_backlog(data, database, settings, clock):
    live_session, lena, _, _ = await a_class(data)
    broker, scheduler = InProcessBroker(), Scheduler(clock)
    [stream] = await viewers_streams(database, settings, clock, broker, scheduler, [lena], live_session)
    opens_at = live_session.starts_at - timedelta(minutes=15)

    clock.set(opens_at)  # open
    await asyncio.sleep(0)
    clock.set(live_session.ends_at)  # closed again, before the subscriber took the open state
    await asyncio.sleep(0)

    latest = await asyncio.wait_for(anext(stream), 5)
    assert latest.is_open is False and latest.closes_at == live_session.ends_at
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.05)
    stream.close()
    await scheduler.close()


class StandInConnection:
    """What a SharedSubscriber needs of its WebSocket handler: a socket that records what is sent."""

    def __init__(self):
        self.sent = []
        self.ended = []
        self.websocket = self
        self.ws = self

    async def send_text(self, text):
        self.sent.append(text)

    def _shared_ended(self, subscriber):
        self.ended.append(subscriber.operation_id)


async def test_a_shared_subscriber_sends_only_its_latest_state_and_the_group_executes_each_state_once(
        data, database, settings, clock, executions):
    live_session, lena, lars, _ = await a_class(data)
    broker, scheduler = InProcessBroker(), Scheduler(clock)
    streams = await viewers_streams(database, settings, clock, broker, scheduler, [lena, lars], live_session)
    results = shared_results.SharedResults(build_schema(settings),
                                           subscriptions.nobody_context(streams[0].watch._watches), json.dumps)
    connection = StandInConnection()
    outbox = shared_results.Outbox(connection, legacy=False)
    subscribers = []
    for n, stream in enumerate(streams):
        group = results.group(JOIN, None, {"id": gid("LiveSession", live_session.id)}, join_availability_value)
        subscriber = shared_results.SharedSubscriber(outbox, str(n), group, stream)
        stream.hand_over(subscriber)
        subscribers.append(subscriber)
    assert len(results) == 1

    facts = streams[0].watch.facts
    for subscriber in subscribers:  # before the connection's writer has run
        subscriber.offer(facts.state(live_session.starts_at, True))  # open
        subscriber.offer(facts.state(live_session.ends_at, True))  # closed again: replaces what was not sent
    for _ in range(3):
        await asyncio.sleep(0)

    assert [json.loads(text) for text in connection.sent] == [
        {"id": str(n), "type": "next", "payload": {"data": {"joinAvailability": {
            "opensAt": "2026-03-10T12:15:00+00:00", "isOpen": False, "url": None}}}} for n in range(2)]
    assert executions[0] == 1
    for subscriber in subscribers:
        subscriber.close()
    assert len(results) == 0 and broker.subscriber_count == 0
    await scheduler.close()


async def test_loaders_shared_by_viewers_never_share_together_whose_functions_run_as_their_caller(
        database, settings, clock):
    from dataclasses import replace

    from sessiongraph.resolvers.loaders.base import SharedLoaders, answered_together

    @answered_together
    async def asked_by(ctx):
        return ctx.actor.user_id

    shared = SharedLoaders.of(Context(database=database, clock=clock, settings=settings, actor=Actor(None)))
    lena, otto = (replace(shared.context, actor=Actor(models.User(id=n, name=f"U{n}", email=f"u{n}@example.test")))
                  for n in (1, 2))

    assert await asyncio.gather(asked_by(lena), asked_by(otto)) == [1, 2]
