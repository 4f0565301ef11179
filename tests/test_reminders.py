"""Reminders: one `reminder.due` event per (user, live session, offset), planned from the
database by every instance's ReminderPlanner.

The clock is frozen: a test moves it to a reminder's moment, wakes the planner and waits until
it is idle. Two planners on engines of their own stand for two instances.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.db import Database, create_engine
from sessiongraph.resolvers import reminders
from sessiongraph.resolvers.reminders import ReminderPlanner
from tests.conftest import NOW, Caller
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_webhooks import Receiver, settle

STARTS = NOW + timedelta(days=3)
CREATE_COURSE = """mutation($input: CreateCourseInput!) { createCourse(input: $input) {
  course { id reminderOffsetsMinutes } errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code } } }"""
CANCEL = """mutation($id: ID!) { cancelLiveSession(input: {id: $id}) { errors { code } } }"""
CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret errors { code } } }"""


@pytest.fixture
async def planners(settings, database, clock):
    """`planners(n)`: n planners, the first on the tests' engine, the others each on an engine of its
    own (another instance's)."""
    made: list[ReminderPlanner] = []
    engines: list[Database] = []

    def make(count: int = 1) -> list[ReminderPlanner]:
        for _ in range(count):
            if made:  # another instance: an engine of its own
                engines.append(Database(create_engine(settings)))
            made.append(ReminderPlanner(engines[-1] if engines else database, clock, settings))
        return made[-count:]

    yield make
    for planner in made:
        await planner.close()
    for engine in engines:
        await engine.dispose()


async def run(*planners: ReminderPlanner) -> None:
    """Each planner works until it finds nothing due (all at once)."""
    for planner in planners:
        planner.wake()
    await asyncio.gather(*(planner.idle() for planner in planners))


async def reminded(database) -> list[tuple[str, str, int]]:
    """(userId, liveSessionId, offsetMinutes) of each reminder.due event, in order."""
    async with database.read() as db:
        rows = (await db.scalars(select(models.Event.data).where(models.Event.type == "reminder.due")
                                 .order_by(models.Event.id))).all()
    return [(d["userId"], d["liveSessionId"], d["offsetMinutes"]) for d in map(json.loads, rows)]


@pytest.fixture
async def lesson(data):
    """A live session of a default course three days ahead: a booked learner, a learner enrolled on its
    session, a learner whose booking was cancelled, its instructor; and a learner of another one."""
    course = await data.course()
    session = await data.session(courses=[course])
    instructor = await data.instructor()
    live_session = await data.live_session(course, instructor, STARTS, session_id=session.id)
    booked, enrolled, cancelled = await data.user("Bo"), await data.user("En"), await data.user("Cy")
    await data.book(booked, live_session)
    await data.enroll(session, enrolled)
    await data.book(cancelled, live_session, models.BookingStatus.CANCELLED)
    other = await data.live_session(course, await data.instructor("Otto"), STARTS + timedelta(hours=5))
    await data.book(await data.user("Ola"), other)
    on_it = {gid("User", booked.id), gid("User", enrolled.id), gid("User", instructor.user_id)}
    return live_session, on_it


def remind(live_session, users, offset: int) -> set[tuple[str, str, int]]:
    return {(user, gid("LiveSession", live_session.id), offset) for user in users}


async def test_everyone_on_a_live_session_is_reminded_once_at_each_of_its_course_offsets(
        lesson, planners, clock, database):
    live_session, on_it = lesson
    (planner,) = planners()
    clock.set(STARTS - timedelta(minutes=1440, seconds=1))
    await run(planner)
    assert await reminded(database) == []

    # when: the day-ahead moment comes
    clock.advance(seconds=1)
    await run(planner)
    # then: the booked and the enrolled learner and the instructor, not the cancelled booking's learner
    day_ahead = await reminded(database)
    assert len(day_ahead) == 3 and set(day_ahead) == remind(live_session, on_it, 1440)

    clock.advance(minutes=2)
    await run(planner)
    assert len(await reminded(database)) == 3

    clock.set(STARTS - timedelta(minutes=15))
    await run(planner)
    assert set((await reminded(database))[3:]) == remind(live_session, on_it, 15)
    assert len(await reminded(database)) == 6

    # Each event concerns its user only and is no schedule change; its data names what it reminds of.
    async with database.read() as db:
        last = (await db.scalars(select(models.Event).order_by(models.Event.id.desc()).limit(1))).one()
        users = (await db.scalars(select(models.EventUser.user_id).where(
            models.EventUser.event_id == last.id))).all()
    data = json.loads(last.data)
    assert last.schedule_kind is None and last.live_session_id == live_session.id
    assert [gid("User", user) for user in users] == [data["userId"]]
    assert data["courseId"] == gid("Course", live_session.course_id)
    assert (data["offsetMinutes"], data["startsAt"], data["remindAt"]) == (
        15, STARTS.isoformat(), (STARTS - timedelta(minutes=15)).isoformat())


async def test_two_instances_racing_and_a_restart_record_each_reminder_exactly_once(
        data, planners, clock, database, monkeypatch):
    # given: 40 learners on a live session, and rounds of 7 so the instances race over many rounds
    monkeypatch.setattr(reminders, "PLAN_BATCH", 7)
    live_session = await data.live_session(await data.course(), await data.instructor(), STARTS)
    learners = [await data.user(f"L{n}") for n in range(40)]
    for learner in learners:
        await data.book(learner, live_session)
    first, second = planners(2)

    clock.set(STARTS - timedelta(minutes=15))
    await run(first, second)

    got = await reminded(database)
    assert len(got) == 41 and len(set(got)) == 41

    # A restarted instance (a new planner) finds nothing left to send.
    await first.close()
    (restarted,) = planners()
    clock.advance(minutes=1)
    await run(restarted, second)
    assert len(await reminded(database)) == 41


async def test_a_cancelled_live_session_or_booking_gets_no_reminder(lesson, data, planners, clock, database, admin):
    live_session, _ = lesson
    answer = await admin(CANCEL, id=gid("LiveSession", live_session.id))
    assert answer["cancelLiveSession"]["errors"] == []
    other_learner, other_instructor = await data.user("Late canceller"), await data.instructor("Ivo")
    other = await data.live_session(await data.course(), other_instructor, STARTS)
    booking = await data.book(other_learner, other)
    async with database.write() as db:
        (await db.get(models.Booking, booking.id)).status = models.BookingStatus.CANCELLED.value
    (planner,) = planners()

    clock.set(STARTS - timedelta(minutes=1440))
    await run(planner)

    # Only the other live session's instructor is reminded: its one learner cancelled.
    assert await reminded(database) == [(gid("User", other_instructor.user_id), gid("LiveSession", other.id), 1440)]


async def test_a_reminder_under_five_minutes_late_is_sent_and_a_later_one_skipped(
        data, planners, clock, database):
    course, instructor = await data.course(), await data.instructor()
    learner = await data.user()
    three_late = await data.live_session(course, instructor, STARTS)
    six_late = await data.live_session(course, instructor, STARTS - timedelta(minutes=3))
    for live_session in (three_late, six_late):
        await data.book(learner, live_session)
    (planner,) = planners()

    # when: the service comes back 3 minutes after one's day-ahead moment, 6 after the other's
    clock.set(STARTS - timedelta(minutes=1440 - 3))
    await run(planner)
    clock.advance(minutes=10)
    await run(planner)

    assert {(session, offset) for _, session, offset in await reminded(database)} == {
        (gid("LiveSession", three_late.id), 1440)}


async def test_a_live_session_moved_to_another_time_is_reminded_again_for_its_new_start(
        lesson, planners, clock, database, admin):
    live_session, on_it = lesson
    (planner,) = planners()
    clock.set(STARTS - timedelta(minutes=1440))
    await run(planner)
    assert len(await reminded(database)) == 3

    # when: it moves two hours later
    moved = STARTS + timedelta(hours=2)
    answer = await admin(UPDATE, id=gid("LiveSession", live_session.id), s=moved.isoformat(),
                         e=(moved + timedelta(hours=1)).isoformat())
    assert answer["updateLiveSession"]["errors"] == []
    clock.set(moved - timedelta(minutes=1440))
    await run(planner)

    # then: the day-ahead reminder again, for the new start; none at the old start's quarter of an hour
    again = (await reminded(database))[3:]
    assert set(again) == remind(live_session, on_it, 1440) and len(again) == 3
    clock.set(STARTS - timedelta(minutes=15))
    await run(planner)
    assert len(await reminded(database)) == 6
    clock.set(moved - timedelta(minutes=15))
    await run(planner)
    assert set((await reminded(database))[6:]) == remind(live_session, on_it, 15)


async def test_a_course_reminds_at_the_offsets_it_sets(data, planners, clock, database, admin):
    created = (await admin(CREATE_COURSE, input={"code": "R1", "title": "Early", "reminderOffsetsMinutes": [5, 60]})
               )["createCourse"]
    assert created["errors"] == [] and created["course"]["reminderOffsetsMinutes"] == [60, 5]
    silent = (await admin(CREATE_COURSE, input={"code": "R2", "title": "Silent", "reminderOffsetsMinutes": []})
              )["createCourse"]["course"]
    plain = (await admin(CREATE_COURSE, input={"code": "R3", "title": "Plain"}))["createCourse"]["course"]
    assert (silent["reminderOffsetsMinutes"], plain["reminderOffsetsMinutes"]) == ([], [1440, 15])

    instructor = await data.instructor()
    sessions = {}
    for course in (created["course"], silent):
        async with database.read() as db:
            model = (await db.scalars(select(models.Course).where(models.Course.code == (
                "R1" if course is created["course"] else "R2")))).one()
        sessions[course["id"]] = await data.live_session(model, instructor, STARTS)
    (planner,) = planners()

    for minutes in (1440, 60, 15, 5):
        clock.set(STARTS - timedelta(minutes=minutes))
        await run(planner)

    assert await reminded(database) == [
        (gid("User", instructor.user_id), gid("LiveSession", sessions[created["course"]["id"]].id), offset)
        for offset in (60, 5)]


@pytest.mark.parametrize("offsets", [[0], [-5], [43_201], [15, 15], list(range(1, 12))])
async def test_reminder_offsets_out_of_bounds_repeated_or_too_many_are_refused(admin, offsets):
    answer = (await admin(CREATE_COURSE, input={"code": "BAD", "title": "Bad", "reminderOffsetsMinutes": offsets})
              )["createCourse"]
    assert answer["course"] is None
    assert [(error["field"][-1], error["code"]) for error in answer["errors"]] == [
        ("reminderOffsetsMinutes", "VALIDATION")]


async def test_a_round_runs_as_many_statements_for_a_batch_of_reminders_as_for_two(
        data, planners, clock, database):
    course, instructor = await data.course(), await data.instructor()
    small = await data.live_session(course, instructor, STARTS)
    await data.book(await data.user(), small)
    large = await data.live_session(course, instructor, STARTS + timedelta(hours=2))
    await _book_many(database, large, reminders.PLAN_BATCH - 2)  # and the instructor: one round
    (planner,) = planners()

    counts = []
    for live_session in (small, large):
        clock.set(live_session.starts_at - timedelta(minutes=15))
        with _statements(database) as statements:
            await run(planner)
        counts.append(len(statements))
    assert len(await reminded(database)) == 2 + reminders.PLAN_BATCH - 1
    assert counts[0] == counts[1], counts


async def test_the_planner_wakes_itself_at_the_next_reminder_moment(lesson, planners, clock, database):
    live_session, on_it = lesson
    (planner,) = planners()
    planner.poll_seconds = 3600  # no poll before the test ends: only its own alarm can wake it
    clock.set(STARTS - timedelta(minutes=1500))
    await planner.start()
    await planner.idle()
    assert planner.alarm is not None

    clock.set(STARTS - timedelta(minutes=1440))  # the frozen clock wakes whoever sleeps until now
    await planner.alarm
    await planner.idle()
    assert set(await reminded(database)) == remind(live_session, on_it, 1440)


async def test_a_webhook_endpoint_for_reminders_receives_each(lesson, client_with, make_user, settings, clock):
    live_session, on_it = lesson
    http = await client_with(webhook_allow_private=True)
    admin = Caller(http, settings, clock, await make_user("Ada", is_admin=True))
    async with Receiver("200") as receiver:
        created = (await admin(CREATE_ENDPOINT, input={"url": receiver.url, "eventTypes": ["reminder.due"]})
                   )["createWebhookEndpoint"]
        assert created["errors"] == []
        clock.set(STARTS - timedelta(minutes=15))
        await run(http.app.state.planner)
        await settle(http)

    bodies = [json.loads(body) for _, body in receiver.requests]
    assert {body["type"] for body in bodies} == {"reminder.due"}
    assert {(b["data"]["userId"], b["data"]["liveSessionId"], b["data"]["offsetMinutes"]) for b in bodies} == \
        remind(live_session, on_it, 15)


async def _book_many(database, live_session, count: int) -> None:
    async with database.write() as db:
        users = [models.User(name=f"L{n}", email=f"l{n}-{live_session.id}@example.test") for n in range(count)]
        db.add_all(users)
        await db.flush()
        db.add_all([models.Booking(learner_id=user.id, live_session_id=live_session.id,
                                   status=models.BookingStatus.BOOKED.value) for user in users])


class _statements:
    """Every statement the block sends on the engine, the planner's background work included."""

    def __init__(self, database) -> None:
        self.engines = [engine.sync_engine for engine in database.engines]
        self.sent: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.sent.append(statement)

    def __enter__(self) -> list[str]:
        for engine in self.engines:
            sa_event.listen(engine, "before_cursor_execute", self._record)
        return self.sent

    def __exit__(self, *_exc) -> None:
        for engine in self.engines:
            sa_event.remove(engine, "before_cursor_execute", self._record)


async def test_the_purge_forgets_reminders_an_hour_after_their_start_and_writes_nothing_before(
        lesson, planners, clock, database):
    # given: the day-ahead reminders of the lesson, recorded
    _, on_it = lesson
    (planner,) = planners()
    clock.set(STARTS - timedelta(minutes=1440))
    await run(planner)
    writes: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement)

    sa_event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        # when: purged up to an hour after the start
        kept = await reminders.purge(database, STARTS + reminders.KEEP_AFTER_START)
        writes_while_kept = list(writes)
        # and: a moment later
        gone = await reminders.purge(database, STARTS + reminders.KEEP_AFTER_START + timedelta(seconds=1))
    finally:
        sa_event.remove(database.engine.sync_engine, "before_cursor_execute", record)

    # then: nothing went while the start was under an hour ago, not even a write; then all three went
    assert (kept, writes_while_kept) == (0, [])
    async with database.read() as db:
        left = (await db.scalars(select(models.ReminderSent.user_id))).all()
    assert gone == len(on_it) == 3 and left == []
