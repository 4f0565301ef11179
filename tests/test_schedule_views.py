"""The learner's schedule: whose live sessions are on it, upNext, today, upcoming, past and
course history, with a frozen clock at Tuesday 2026-03-10 12:00 UTC."""

from datetime import UTC, datetime, timedelta

from sessiongraph import models
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

SCHEDULE = """
query($tz: String, $filter: LiveSessionFilter, $first: Int, $after: String) {
  viewer { schedule {
    upNext { code status }
    today(timeZone: $tz, filter: $filter) { code status }
    upcoming(filter: $filter, first: $first, after: $after, timeZone: $tz) {
      totalCount edges { cursor node { code status } } pageInfo { hasNextPage endCursor }
    }
    past(filter: $filter, first: $first, after: $after) {
      totalCount edges { node { code status } } pageInfo { hasNextPage endCursor }
    }
  } }
}
"""

HISTORY = """
query($course: ID!, $code: String, $status: LiveSessionStatus, $first: Int, $after: String) {
  viewer { schedule { courseHistory(courseId: $course, code: $code, status: $status, first: $first, after: $after) {
    totalCount edges { node { code status } } pageInfo { hasNextPage endCursor }
  } } }
}
"""


def codes(items) -> list[str]:
    return [item["code"] for item in items]


def edge_codes(connection) -> list[str]:
    return [edge["node"]["code"] for edge in connection["edges"]]


def at(hours: float = 0, days: int = 0) -> datetime:
    return NOW + timedelta(days=days, hours=hours)


async def test_a_schedule_holds_booked_live_sessions_and_those_of_enrolled_sessions(data, caller):
    # given
    learner = await data.user("Lea")
    other = await data.user("Otto")
    course = await data.course("MATH")
    teacher = await data.instructor()
    session = await data.session(courses=[course])
    await data.enroll(session, learner)
    booked = await data.live_session(course, teacher, at(days=2), code="BOOKED")
    await data.live_session(course, teacher, at(days=3), code="ENROLLED", session_id=session.id)
    others = await data.live_session(course, teacher, at(days=4), code="OTHERS")
    dropped = await data.live_session(course, teacher, at(days=5), code="DROPPED")
    await data.book(learner, booked)
    await data.book(other, others)
    await data.book(learner, dropped, models.BookingStatus.CANCELLED)

    # when
    mine = (await caller(learner)(SCHEDULE))["viewer"]["schedule"]
    theirs = (await caller(other)(SCHEDULE))["viewer"]["schedule"]

    # then
    assert edge_codes(mine["upcoming"]) == ["BOOKED", "ENROLLED"]
    assert edge_codes(theirs["upcoming"]) == ["OTHERS"]


async def test_up_next_is_the_next_live_session_not_ended_skipping_cancelled_ones(data, caller, clock):
    learner = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    done = await data.live_session(course, teacher, at(hours=-2), code="DONE")
    under_way = await data.live_session(course, teacher, at(hours=-0.5), code="UNDERWAY")
    cancelled = await data.live_session(course, teacher, at(hours=1), code="CANCELLED", cancelled_at=at(days=-1))
    later = await data.live_session(course, teacher, at(hours=3), code="LATER")
    for ls in (done, under_way, cancelled, later):
        await data.book(learner, ls)
    me = caller(learner)

    assert (await me(SCHEDULE))["viewer"]["schedule"]["upNext"] == {"code": "UNDERWAY", "status": "SCHEDULED"}
    clock.set(under_way.ends_at)  # the end instant: it has ended
    assert (await me(SCHEDULE))["viewer"]["schedule"]["upNext"]["code"] == "LATER"
    clock.set(later.ends_at)
    assert (await me(SCHEDULE))["viewer"]["schedule"]["upNext"] is None


async def test_today_upcoming_and_past_split_by_local_day_and_end(data, caller):
    # given: a UTC learner at 12:00 on the 10th
    learner = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    rows = {
        "YESTERDAY": dict(starts_at=at(hours=-14)),                      # 9th 22:00
        "MORNING": dict(starts_at=at(hours=-4)),                         # ended today
        "NOON": dict(starts_at=at(hours=-0.5)),                          # under way
        "GONE": dict(starts_at=at(hours=2), cancelled_at=at(days=-1)),   # later today, cancelled
        "EVENING": dict(starts_at=at(hours=10)),                         # 22:00 today
        "MIDNIGHT": dict(starts_at=at(hours=12)),                        # 11th 00:00: tomorrow
        "NEXTWEEK": dict(starts_at=at(days=7)),
        "FUTUREOFF": dict(starts_at=at(days=8), cancelled_at=at(days=-1)),
        "OLDOFF": dict(starts_at=at(days=-3), cancelled_at=at(days=-4)),
    }
    for code, fields in rows.items():
        await data.book(learner, await data.live_session(course, teacher, code=code, **fields))

    # when
    schedule = (await caller(learner)(SCHEDULE))["viewer"]["schedule"]

    # then
    assert schedule["today"] == [
        {"code": "MORNING", "status": "COMPLETED"}, {"code": "NOON", "status": "SCHEDULED"},
        {"code": "GONE", "status": "CANCELLED"}, {"code": "EVENING", "status": "SCHEDULED"}]
    assert edge_codes(schedule["upcoming"]) == ["MIDNIGHT", "NEXTWEEK", "FUTUREOFF"]
    assert schedule["upcoming"]["edges"][2]["node"]["status"] == "CANCELLED"
    assert edge_codes(schedule["past"]) == ["MORNING", "YESTERDAY", "OLDOFF"]
    assert schedule["past"]["totalCount"] == 3


async def test_lists_filter_by_course_and_instructor(data, caller):
    learner = await data.user()
    math, art = await data.course("MATH"), await data.course("ART")
    ines, ivan = await data.instructor("Ines"), await data.instructor("Ivan")
    for code, course, teacher, when in (("M-INES", math, ines, 2), ("M-IVAN", math, ivan, 3),
                                        ("A-INES", art, ines, 4), ("A-IVAN", art, ivan, -3)):
        await data.book(learner, await data.live_session(course, teacher, at(days=when), code=code))
    me = caller(learner)

    by_course = (await me(SCHEDULE, filter={"courseId": gid("Course", math.id)}))["viewer"]["schedule"]
    by_teacher = (await me(SCHEDULE, filter={"instructorId": gid("Instructor", ines.id)}))["viewer"]["schedule"]
    both = (await me(SCHEDULE, filter={"courseId": gid("Course", art.id),
                                       "instructorId": gid("Instructor", ivan.id)}))["viewer"]["schedule"]
    not_an_id = (await me(SCHEDULE, filter={"courseId": gid("User", learner.id)}))["viewer"]["schedule"]

    assert edge_codes(by_course["upcoming"]) == ["M-INES", "M-IVAN"]
    assert edge_codes(by_teacher["upcoming"]) == ["M-INES", "A-INES"]
    assert edge_codes(both["upcoming"]) == [] and edge_codes(both["past"]) == ["A-IVAN"]
    assert not_an_id["today"] == [] and not_an_id["upcoming"]["totalCount"] == 0


async def test_upcoming_and_past_paginate_by_cursor(data, caller):
    learner = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    for n in range(5):
        await data.book(learner, await data.live_session(course, teacher, at(days=n + 1), code=f"UP{n}"))
        await data.book(learner, await data.live_session(course, teacher, at(days=-n - 1), code=f"PAST{n}"))
    me = caller(learner)

    first = (await me(SCHEDULE, first=2))["viewer"]["schedule"]
    assert edge_codes(first["upcoming"]) == ["UP0", "UP1"] and first["upcoming"]["pageInfo"]["hasNextPage"]
    assert edge_codes(first["past"]) == ["PAST0", "PAST1"] and first["past"]["pageInfo"]["hasNextPage"]
    upcoming = []
    after = None
    while True:
        page = (await me(SCHEDULE, first=2, after=after))["viewer"]["schedule"]["upcoming"]
        upcoming += edge_codes(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert upcoming == [f"UP{n}" for n in range(5)]
    after_two = (await me(SCHEDULE, first=10, after=first["past"]["pageInfo"]["endCursor"]))
    assert edge_codes(after_two["viewer"]["schedule"]["past"]) == ["PAST2", "PAST3", "PAST4"]


async def test_course_history_holds_ended_or_cancelled_sessions_newest_first(data, caller):
    learner = await data.user()
    course, other_course = await data.course(), await data.course()
    teacher = await data.instructor()
    for code, course_, fields in (
            ("H-OLD", course, dict(starts_at=at(days=-9))),
            ("H-OFF", course, dict(starts_at=at(days=-5), cancelled_at=at(days=-6))),
            ("H-NEW", course, dict(starts_at=at(days=-1))),
            ("H-SOON", course, dict(starts_at=at(days=1))),
            ("H-LATEROFF", course, dict(starts_at=at(days=6), cancelled_at=at(days=-1))),
            ("H-ELSE", other_course, dict(starts_at=at(days=-2)))):
        await data.book(learner, await data.live_session(course_, teacher, code=code, **fields))
    me = caller(learner)
    course_id = gid("Course", course.id)

    history = (await me(HISTORY, course=course_id))["viewer"]["schedule"]["courseHistory"]
    completed = (await me(HISTORY, course=course_id, status="COMPLETED"))["viewer"]["schedule"]["courseHistory"]
    cancelled = (await me(HISTORY, course=course_id, status="CANCELLED"))["viewer"]["schedule"]["courseHistory"]
    scheduled = (await me(HISTORY, course=course_id, status="SCHEDULED"))["viewer"]["schedule"]["courseHistory"]
    by_code = (await me(HISTORY, course=course_id, code=" h-off "))["viewer"]["schedule"]["courseHistory"]
    paged = (await me(HISTORY, course=course_id, first=1))["viewer"]["schedule"]["courseHistory"]

    assert edge_codes(history) == ["H-LATEROFF", "H-NEW", "H-OFF", "H-OLD"]
    assert edge_codes(completed) == ["H-NEW", "H-OLD"]
    assert edge_codes(cancelled) == ["H-LATEROFF", "H-OFF"]
    assert edge_codes(scheduled) == []
    assert edge_codes(by_code) == ["H-OFF"]
    assert edge_codes(paged) == ["H-LATEROFF"] and paged["totalCount"] == 4 and paged["pageInfo"]["hasNextPage"]


async def test_tokyo_and_new_york_learners_see_the_same_session_on_different_days(data, caller):
    # given: 16:00 UTC on the 10th is 01:00 on the 11th in Tokyo and 12:00 on the 10th in New York (EDT)
    tokyo = await data.user("Tomo", time_zone="Asia/Tokyo")
    new_york = await data.user("Nia", time_zone="America/New_York")
    course = await data.course()
    teacher = await data.instructor()
    ls = await data.live_session(course, teacher, datetime(2026, 3, 10, 16, 0, tzinfo=UTC), code="SHARED")
    await data.book(tokyo, ls)
    await data.book(new_york, ls)
    query = """{ viewer { schedule {
      today { code startsAt }
      upcoming { edges { node { code } } }
      calendar(view: DAY, date: "2026-03-11") { timeZone days { date isToday count } }
    } } }"""

    # when
    in_tokyo = (await caller(tokyo)(query))["viewer"]["schedule"]
    in_new_york = (await caller(new_york)(query))["viewer"]["schedule"]

    # then: Tokyo's local now is the 10th 21:00, so the session is tomorrow
    assert in_tokyo["today"] == [] and edge_codes(in_tokyo["upcoming"]) == ["SHARED"]
    assert in_tokyo["calendar"] == {"timeZone": "Asia/Tokyo",
                                    "days": [{"date": "2026-03-11", "isToday": False, "count": 1}]}
    assert in_new_york["today"] == [{"code": "SHARED", "startsAt": "2026-03-10T16:00:00+00:00"}]
    assert edge_codes(in_new_york["upcoming"]) == []
    assert in_new_york["calendar"]["days"] == [{"date": "2026-03-11", "isToday": False, "count": 0}]


async def test_time_zone_argument_overrides_the_setting_and_an_unknown_zone_is_refused(data, caller):
    learner = await data.user(time_zone="America/New_York")
    course = await data.course()
    teacher = await data.instructor()
    await data.book(learner, await data.live_session(course, teacher, datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
                                                     code="SHARED"))
    me = caller(learner)

    as_tokyo = (await me(SCHEDULE, tz="Asia/Tokyo"))["viewer"]["schedule"]
    refused = await me.execute(SCHEDULE, tz="Mars/Olympus_Mons")

    assert as_tokyo["today"] == [] and edge_codes(as_tokyo["upcoming"]) == ["SHARED"]
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Mars/Olympus_Mons" in refused["errors"][0]["message"]
    assert "IANA" in refused["errors"][0]["message"]


async def test_anonymous_callers_have_no_viewer(anonymous):
    body = await anonymous.execute("{ viewer { schedule { upNext { code } } } }")
    assert body == {"data": {"viewer": None}}


async def test_a_bad_cursor_is_the_client_s_error(data, caller):
    learner = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    await data.book(learner, await data.live_session(course, teacher, at(days=1), code="SOON"))

    body = await caller(learner).execute("""{ viewer { schedule {
      upNext { code } upcoming(after: "not-a-cursor") { totalCount }
    } } }""")

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["viewer", "schedule", "upcoming"]
    assert body["data"] == {"viewer": None}  # non-null fields up to the nullable viewer


async def test_session_details_as_the_learner_sees_them(data, caller):
    learner = await data.user()
    course = await data.course("ART", title="Drawing")
    teacher = await data.instructor("Ines")
    in_person = await data.live_session(
        course, teacher, at(days=1), code="ROOM", lesson_name="Perspective", lesson_goal="Draw a street",
        location_name="Studio", location_address="1 Art Lane", location_room="B2",
        recording_url="https://videos.test/1", extra_links=[{"title": "Brief", "url": "https://docs.test/b"}])
    nowhere = await data.live_session(course, teacher, at(days=2), code="NOWHERE")
    for ls in (in_person, nowhere):
        await data.book(learner, ls)
    query = """{ viewer { schedule { upcoming { edges { node {
      code lesson { name goal } location { isVirtual name address room } recordingUrl extraLinks { title url }
      instructor { displayName } course { title } canRequestAbsence capacity seatsLeft
      joinAvailability { isOpen url } myBooking { status bookedAt } myReport { attendance }
    } } } } } }"""

    nodes = [e["node"] for e in (await caller(learner)(query))["viewer"]["schedule"]["upcoming"]["edges"]]

    assert nodes[0] == {
        "code": "ROOM", "lesson": {"name": "Perspective", "goal": "Draw a street"},
        "location": {"isVirtual": False, "name": "Studio", "address": "1 Art Lane", "room": "B2"},
        "recordingUrl": "https://videos.test/1", "extraLinks": [{"title": "Brief", "url": "https://docs.test/b"}],
        "instructor": {"displayName": "Ines"}, "course": {"title": "Drawing"}, "canRequestAbsence": False,
        "capacity": 30, "seatsLeft": 29, "joinAvailability": {"isOpen": False, "url": None},
        "myBooking": {"status": "BOOKED", "bookedAt": nodes[0]["myBooking"]["bookedAt"]}, "myReport": None}
    assert nodes[1]["lesson"] is None and nodes[1]["location"] is None and nodes[1]["extraLinks"] == []
