"""The calendar feed: Viewer.calendarFeed, resetCalendarFeed and GET /calendar/<secret>.ics,
read back with vobject, a parser independent of the icalendar library that writes it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.resolvers.calendar_feed import calendar_feed
from sessiongraph.resolvers.context import Actor, Context
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

FEED = "{ viewer { calendarFeed { url createdAt } } }"
RESET = "mutation { resetCalendarFeed { calendarFeed { url createdAt } errors { field code message } } }"
UPDATE = """mutation($input: UpdateLiveSessionInput!) { updateLiveSession(input: $input) {
  errors { code message } } }"""
CANCEL = """mutation($input: CancelLiveSessionInput!) { cancelLiveSession(input: $input) {
  errors { code message } } }"""
PARIS = ZoneInfo("Europe/Paris")
CLASSROOM = "https://classroom.test/secret-room"


async def feed_url(caller, user) -> str:
    return (await caller(user)(FEED))["viewer"]["calendarFeed"]["url"]


async def get_feed(http, url: str, **headers: str):
    return await http.get(url.removeprefix("http://127.0.0.1:8000"), headers=headers)


def events_of(body: str) -> dict[str, vobject.base.Component]:
    """The feed's VEVENTs by SUMMARY, as vobject reads them."""
    calendar = vobject.readOne(body)
    return {event.summary.value: event for event in calendar.contents.get("vevent", [])}


@pytest.fixture
async def course(data):
    return await data.course(title="Spanish B1")


@pytest.fixture
async def teacher(data):
    return await data.instructor("Irene Instructor")


# --- the URL ------------------------------------------------------------------------------


async def test_the_feed_url_is_absolute_issued_once_and_only_its_hash_is_stored(data, caller, settings, database):
    # given
    learner = await data.user("Lea")

    # when
    first = (await caller(learner)(FEED))["viewer"]["calendarFeed"]
    again = (await caller(learner)(FEED))["viewer"]["calendarFeed"]

    # then
    assert first == again
    assert first["url"].startswith(f"{settings.public_url}/calendar/") and first["url"].endswith(".ics")
    assert first["createdAt"].startswith("2026-03-10T12:00")
    secret = first["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(secret) >= 43
    async with database.read() as db:
        row = await db.get(models.CalendarFeed, learner.id)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.nonce, row.secret_hash)


async def test_each_user_has_their_own_feed(data, caller):
    one, other = await data.user("One"), await data.user("Other")
    assert await feed_url(caller, one) != await feed_url(caller, other)


async def test_anonymous_callers_have_no_feed_and_cannot_reset_one(anonymous):
    assert (await anonymous(FEED))["viewer"] is None
    body = await anonymous.execute(RESET)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_reset_issues_a_new_url_and_the_old_one_answers_404(data, caller, http, clock):
    # given
    learner = await data.user("Lea")
    old = await feed_url(caller, learner)
    assert (await get_feed(http, old)).status_code == 200
    clock.advance(hours=1)

    # when
    payload = (await caller(learner)(RESET))["resetCalendarFeed"]

    # then
    assert payload["errors"] == []
    new = payload["calendarFeed"]["url"]
    assert new != old
    assert payload["calendarFeed"]["createdAt"].startswith("2026-03-10T13:00")
    assert await feed_url(caller, learner) == new
    assert (await get_feed(http, old)).status_code == 404
    assert (await get_feed(http, new)).status_code == 200


async def test_an_unknown_secret_answers_404_after_one_statement(http, count_statements):
    with count_statements() as log:
        response = await http.get("/calendar/" + "A" * 43 + ".ics")
    assert response.status_code == 404
    assert log.count == 1
    assert (await http.get("/calendar/x.ics")).status_code == 404


# --- what a feed holds ----------------------------------------------------------------------


async def test_a_learners_feed_holds_their_booked_and_enrolled_live_sessions(data, caller, http, settings,
                                                                             course, teacher):
    # given: a booked one, one of an enrolled session, one not theirs, and booked ones outside the span
    learner = await data.user("Lea", time_zone="Europe/Paris")
    session = await data.session(courses=[course])
    await data.enroll(session, learner)
    booked = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Verbs",
                                     lesson_goal="Use the past tense", virtual_classroom_url=CLASSROOM)
    enrolled = await data.live_session(course, teacher, NOW + timedelta(days=3), session_id=session.id,
                                       lesson_name="Nouns", location_name="Hall B", location_room="12")
    await data.live_session(course, teacher, NOW + timedelta(days=4), lesson_name="Not mine")
    too_old = await data.live_session(course, teacher, NOW - timedelta(days=91), lesson_name="Too old")
    too_far = await data.live_session(course, teacher, NOW + timedelta(days=366), lesson_name="Too far")
    for live_session in (booked, too_old, too_far):
        await data.book(learner, live_session)

    # when
    response = await get_feed(http, await feed_url(caller, learner))

    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    body = response.text
    calendar = vobject.readOne(body)
    events = calendar.contents["vevent"]
    assert sorted(e.uid.value for e in events) == sorted(
        f"live-session-{ls.id}@127.0.0.1" for ls in (booked, enrolled))
    verbs = next(e for e in events if "Verbs" in e.description.value)
    assert verbs.summary.value == "Spanish B1"
    assert verbs.description.value.splitlines()[:3] == [
        "Lesson: Verbs", "Goal: Use the past tense", "Instructor: Irene Instructor"]
    assert verbs.url.value == f"{settings.public_url}/app/#session={gid('LiveSession', booked.id)}"
    assert verbs.status.value == "CONFIRMED"
    assert verbs.sequence.value == "0"
    assert verbs.location.value == "Online"
    nouns = next(e for e in events if "Nouns" in e.description.value)
    assert nouns.location.value == "Hall B, 12"
    assert CLASSROOM not in body and "classroom.test" not in body
    assert calendar.vtimezone.tzid.value == "Europe/Paris"


async def test_a_weekly_class_at_nine_stays_at_nine_local_across_the_dst_change(data, caller, http, course,
                                                                                 teacher):
    # given: 09:00 in Paris every Tuesday, across the change to summer time on 29 March 2026
    learner = await data.user("Lea", time_zone="Europe/Paris")
    local_starts = [datetime(2026, 3, day, 9, 0, tzinfo=PARIS) for day in (17, 24, 31)] + [
        datetime(2026, 4, 7, 9, 0, tzinfo=PARIS)]
    for n, local in enumerate(local_starts):
        await data.book(learner, await data.live_session(course, teacher, local.astimezone(UTC), lesson_name=f"W{n}"))

    # when
    body = (await get_feed(http, await feed_url(caller, learner))).text

    # then: the times are 09:00 in the zone the feed's own VTIMEZONE describes, and the same
    # instants as stored (08:00 UTC in winter, 07:00 UTC in summer)
    events = sorted(vobject.readOne(body).contents["vevent"], key=lambda e: e.dtstart.value)
    starts = [e.dtstart.value for e in events]
    assert [s.astimezone(UTC) for s in starts] == [local.astimezone(UTC) for local in local_starts]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 7, 7]
    assert all((s.hour, s.minute) == (9, 0) for s in starts)
    assert all(not isinstance(s.tzinfo, ZoneInfo) for s in starts)  # read from the VTIMEZONE, not a zone database
    assert all(e.dtend.value - e.dtstart.value == timedelta(hours=1) for e in events)
    assert "DTSTART;TZID=Europe/Paris:20260331T090000" in body


async def test_a_guardians_feed_adds_each_childs_live_sessions_under_their_name(data, caller, http, course, teacher):
    # given
    guardian = await data.user("Gina Guardian")
    anna, ben = await data.user("Anna"), await data.user("Ben")
    await data.guardian_of(guardian, anna, ben)
    annas = await data.live_session(course, teacher, NOW + timedelta(days=1), lesson_name="Anna's")
    shared = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Both")
    await data.book(anna, annas)
    await data.book(anna, shared)
    await data.book(ben, shared)
    stranger = await data.user("Stranger")
    await data.book(stranger, await data.live_session(course, teacher, NOW + timedelta(days=3)))

    # when
    events = events_of((await get_feed(http, await feed_url(caller, guardian))).text)

    # then: one event per live session, the children on it named
    assert sorted(events) == ["Anna, Ben: Spanish B1", "Anna: Spanish B1"]
    assert events["Anna, Ben: Spanish B1"].uid.value == f"live-session-{shared.id}@127.0.0.1"
    # and a child's own feed is theirs, unprefixed
    assert sorted(events_of((await get_feed(http, await feed_url(caller, anna))).text)) == ["Spanish B1"] * 1


async def test_an_instructors_feed_adds_their_teaching(data, caller, http, course, teacher):
    # given: two live sessions they teach (one with nobody booked), one someone else teaches
    teacher_user = await data.user_of(teacher)
    other = await data.instructor("Otto Other")
    mine = [await data.live_session(course, teacher, NOW + timedelta(days=d)) for d in (1, 2)]
    await data.live_session(course, other, NOW + timedelta(days=3))

    # when
    body = (await get_feed(http, await feed_url(caller, teacher_user))).text

    # then
    uids = sorted(e.uid.value for e in vobject.readOne(body).contents["vevent"])
    assert uids == sorted(f"live-session-{ls.id}@127.0.0.1" for ls in mine)


async def test_a_cancelled_live_session_stays_with_status_cancelled_and_a_higher_sequence(data, caller, admin, http,
                                                                                          course, teacher):
    # given
    learner = await data.user("Lea")
    live_session = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Verbs")
    await data.book(learner, live_session)
    url = await feed_url(caller, learner)

    # when
    payload = (await admin(CANCEL, input={"id": gid("LiveSession", live_session.id), "reason": "Ill"}))
    assert payload["cancelLiveSession"]["errors"] == []

    # then
    (event,) = vobject.readOne((await get_feed(http, url)).text).contents["vevent"]
    assert event.status.value == "CANCELLED"
    assert event.sequence.value == "1"
    assert "Cancelled: Ill" in event.description.value


async def test_sequence_rises_with_each_reschedule_and_only_then(data, caller, admin, http, course, teacher, database):
    # given
    learner = await data.user("Lea")
    live_session = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Verbs")
    await data.book(learner, live_session)
    url = await feed_url(caller, learner)
    live_id = gid("LiveSession", live_session.id)

    async def sequence() -> str:
        (event,) = vobject.readOne((await get_feed(http, url)).text).contents["vevent"]
        return event.sequence.value

    # when / then
    moved = (NOW + timedelta(days=3)).isoformat()
    assert (await admin(UPDATE, input={"id": live_id, "startsAt": moved,
                                       "endsAt": (NOW + timedelta(days=3, hours=1)).isoformat()}))[
        "updateLiveSession"]["errors"] == []
    assert await sequence() == "1"
    assert (await admin(UPDATE, input={"id": live_id, "lessonName": "Nouns"}))["updateLiveSession"]["errors"] == []
    assert await sequence() == "1"
    assert (await admin(UPDATE, input={"id": live_id, "endsAt": (NOW + timedelta(days=3, hours=2)).isoformat()}))[
        "updateLiveSession"]["errors"] == []
    assert await sequence() == "2"
    async with database.read() as db:
        assert (await db.get(models.LiveSession, live_session.id)).sequence == 2


# --- HTTP -----------------------------------------------------------------------------------


async def test_an_unchanged_feed_answers_304_to_its_etag_and_a_changed_one_200(data, caller, admin, http, course,
                                                                                teacher):
    # given
    learner = await data.user("Lea")
    live_session = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Verbs")
    await data.book(learner, live_session)
    url = await feed_url(caller, learner)
    first = await get_feed(http, url)
    etag = first.headers["etag"]

    # when / then
    again = await get_feed(http, url, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await get_feed(http, url, **{"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    assert (await get_feed(http, url, **{"If-None-Match": '"other"'})).status_code == 200
    await admin(UPDATE, input={"id": gid("LiveSession", live_session.id), "lessonName": "Nouns"})
    changed = await get_feed(http, url, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert first.headers["cache-control"] == "private, no-cache"


async def test_no_bearer_token_is_needed_and_none_is_looked_at(data, caller, http):
    learner = await data.user("Lea")
    url = await feed_url(caller, learner)
    response = await get_feed(http, url, Authorization="Bearer not-a-token")
    assert response.status_code == 200


async def test_a_deactivated_users_feed_answers_404(data, caller, http, database):
    learner = await data.user("Lea")
    url = await feed_url(caller, learner)
    async with database.write() as db:
        (await db.get(models.User, learner.id)).active = False
    assert (await get_feed(http, url)).status_code == 404


@pytest.mark.parametrize("count", [5, 60])
async def test_a_feed_costs_two_statements_whatever_it_holds(data, caller, http, count_statements, course, teacher,
                                                             count):
    # given: a guardian who teaches, with a child; live sessions of each kind
    guardian = await data.user("Gina")
    child = await data.user("Anna")
    await data.guardian_of(guardian, child)
    profile = models.Instructor(user_id=guardian.id, display_name="Gina")
    await data.add(profile)
    session = await data.session(courses=[course])
    await data.enroll(session, guardian, child)
    for n in range(count):
        kind = n % 4
        live_session = await data.live_session(course, profile if kind == 0 else teacher,
                                               NOW + timedelta(days=n % 50, hours=n),
                                               session_id=session.id if kind == 1 else None)
        if kind in (2, 3):
            await data.book(child if kind == 2 else guardian, live_session)
    url = await feed_url(caller, guardian)

    # when
    with count_statements() as log:
        response = await get_feed(http, url)

    # then
    assert len(vobject.readOne(response.text).contents["vevent"]) == count
    assert log.count == 2


# --- the writer against icalendar ---------------------------------------------------------


async def test_the_events_are_the_lines_icalendar_writes_for_them(data, caller, http, course, teacher):
    # given: text that needs escaping and folding, in several scripts
    learner = await data.user("Lea", time_zone="Europe/Paris")
    goal = "Écrire; lire, parler\\écouter\n" + "日本語のテキスト " * 12
    live_session = await data.live_session(course, teacher, NOW + timedelta(days=2), lesson_name="Verbs, nouns",
                                           lesson_goal=goal, location_name="Salle; 3", location_address="1, rue X")
    await data.book(learner, live_session)

    # when
    body = (await get_feed(http, await feed_url(caller, learner))).content

    # then: every line fits in 75 octets, and icalendar, given the values vobject read, writes the same lines
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    assert body.endswith(b"END:VCALENDAR\r\n")
    (read,) = vobject.readOne(body.decode()).contents["vevent"]
    assert read.description.value.splitlines()[1] == "Goal: Écrire; lire, parler\\écouter"
    theirs = icalendar.Event()
    for name in ("uid", "summary", "description", "location", "url", "status"):
        theirs.add(name, getattr(read, name).value)
    for name in ("dtstamp", "dtstart", "dtend", "created", "last-modified"):
        theirs.add(name, read.contents[name][0].value.astimezone(PARIS if name.startswith("dt") and name != "dtstamp"
                                                                  else UTC))
    theirs.add("sequence", int(read.sequence.value))
    ours = b"BEGIN:VEVENT" + body.split(b"BEGIN:VEVENT")[1].split(b"END:VEVENT")[0] + b"END:VEVENT\r\n"
    assert unfolded(ours) == unfolded(theirs.to_ical())


def unfolded(ical: bytes) -> list[str]:
    """The content lines, folding undone, in order of name (icalendar orders them its own way)."""
    return sorted(ical.decode().replace("\r\n ", "").splitlines())


async def test_the_stored_user_zone_decides_the_tzid(data, caller, http, course, teacher, database):
    learner = await data.user("Lea", time_zone="America/New_York")
    await data.book(learner, await data.live_session(course, teacher, NOW + timedelta(days=1)))
    body = (await get_feed(http, await feed_url(caller, learner))).text
    calendar = vobject.readOne(body)
    (event,) = calendar.contents["vevent"]
    assert calendar.vtimezone.tzid.value == "America/New_York"
    assert "DTSTART;TZID=America/New_York:20260311T080000" in body  # 12:00 UTC, in summer time since 8 March
    async with database.read() as db:
        stored = await db.scalar(select(models.LiveSession.starts_at))
    assert event.dtstart.value.astimezone(UTC) == stored


async def test_two_first_reads_at_once_get_the_same_url(data, caller):
    learner = await data.user("Lea")
    first, second = await asyncio.gather(caller(learner)(FEED), caller(learner)(FEED))
    assert first == second


async def test_a_new_server_key_issues_new_urls_and_the_old_ones_answer_404(data, database, clock, settings, http):
    # given: a feed issued under the first key
    learner = await data.user("Lea")

    def as_learner(under: Settings) -> Context:
        return Context(database=database, clock=clock, settings=under, actor=Actor(learner))

    old = await calendar_feed(as_learner(settings))
    rotated = settings.model_copy(update={"jwt_secret": "another-secret-of-at-least-thirty-two-bytes"})

    # when: the viewer reads it under the next
    new = await calendar_feed(as_learner(rotated))

    # then
    assert new.url != old.url
    assert await calendar_feed(as_learner(rotated)) == new
    assert (await get_feed(http, old.url)).status_code == 404
    assert (await get_feed(http, new.url)).status_code == 200
