"""The schedule's lists cost a fixed number of SQL statements, whatever they hold."""

from datetime import datetime, timedelta

import pytest

from sessiongraph import models
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

LIVE_SESSION = """
fragment Shown on LiveSession {
  id code startsAt endsAt status
  course { code title }
  lesson { name goal }
  instructor { displayName user { name } }
  location { isVirtual name address room }
  joinAvailability { opensAt closesAt isOpen url }
  myBooking { status }
  myReport { attendance }
  seatsLeft
}
"""

DASHBOARD = LIVE_SESSION + """
{ viewer { schedule {
  upNext { ...Shown }
  today { ...Shown }
  upcoming(first: 20) { totalCount edges { node { ...Shown } } }
} } }
"""

MONTH = LIVE_SESSION + """
{ viewer { schedule { calendar(view: MONTH, date: "2026-03-10") {
  start end days { date isToday count sessions { ...Shown } }
} } } }
"""

TRACKING = """
query($id: ID!) { node(id: $id) { ... on Session { tracking(first: 100) {
  learnerCount attendanceRate totals { booked }
  learners { totalCount edges { node { learner { name } booked attended late absent excused attendanceRate
                                       lastAttendedAt } } }
} } } }
"""


async def learner_with_schedule(data, starts: list[datetime]):
    """A learner with live sessions at `starts`: a third booked, a third in an enrolled
    session, a third booked and reported, across three instructors and two courses, some
    with a classroom URL and a place."""
    learner = await data.user("Lea", time_zone="Europe/Paris")
    courses = [await data.course(), await data.course(bookable=True)]
    teachers = [await data.instructor(f"Teacher {n}") for n in range(3)]
    session = await data.session(courses=courses[:1])
    await data.enroll(session, learner)
    for n, starts_at in enumerate(starts):
        kind = n % 3
        live_session = await data.live_session(
            courses[0] if kind == 1 else courses[n % 2], teachers[n % 3], starts_at,
            session_id=session.id if kind == 1 else None, lesson_name=f"Lesson {n}", lesson_goal="Practice",
            virtual_classroom_url="https://room.test/x" if n % 2 == 0 else None,
            location_name="Hall" if n % 4 else None)
        if kind != 1:
            await data.book(learner, live_session)
        if kind == 2:
            await data.report(live_session, learner, models.AttendanceStatus.PRESENT)
    return learner


@pytest.mark.parametrize("count", [6, 60])
async def test_the_dashboard_runs_a_fixed_number_of_statements(data, caller, count_statements, count):
    # given: 3 live sessions this morning (one under way and joinable), the rest over the weeks after
    today = [NOW - timedelta(minutes=m) for m in (120, 60, 30)]
    later = [NOW + timedelta(days=1, hours=7 * n) for n in range(count - 3)]
    learner = await learner_with_schedule(data, today + later)

    # when
    with count_statements() as log:
        body = await caller(learner).execute(DASHBOARD)

    # then
    assert "errors" not in body, body
    schedule = body["data"]["viewer"]["schedule"]
    assert len(schedule["today"]) == 3 and schedule["today"][2]["joinAvailability"]["isOpen"]
    assert len(schedule["upcoming"]["edges"]) == min(count - 3, 20)
    assert log.count == DASHBOARD_STATEMENTS, log_hint(log)


@pytest.mark.parametrize("count", [6, 60])
async def test_a_month_calendar_runs_a_fixed_number_of_statements(data, caller, count_statements, count):
    # given: 6 or 60 live sessions spread over March, one under way now
    spread = timedelta(hours=24 * 30 / count)
    learner = await learner_with_schedule(data, [NOW - timedelta(minutes=30) + (n - count // 3) * spread
                                                 for n in range(count)])

    # when
    with count_statements() as log:
        body = await caller(learner).execute(MONTH)

    assert "errors" not in body, body
    days = body["data"]["viewer"]["schedule"]["calendar"]["days"]
    assert sum(d["count"] for d in days) == count
    assert log.count == MONTH_STATEMENTS, log_hint(log)


@pytest.mark.parametrize("learners", [5, 50])
async def test_session_tracking_runs_a_fixed_number_of_statements(data, admin, count_statements, learners):
    course = await data.course()
    teacher = await data.instructor()
    session = await data.session(courses=[course])
    people = [await data.user(f"Learner {n:03d}") for n in range(learners)]
    await data.enroll(session, *people)
    for day in range(3):
        live_session = await data.live_session(course, teacher, NOW - timedelta(days=day + 1), session_id=session.id)
        for person in people[::2]:
            await data.report(live_session, person, models.AttendanceStatus.LATE)

    with count_statements() as log:
        body = await admin.execute(TRACKING, id=gid("Session", session.id))

    assert "errors" not in body, body
    assert body["data"]["node"]["tracking"]["learners"]["totalCount"] == learners
    assert log.count == TRACKING_STATEMENTS, log_hint(log)


TEACHING = """
{ viewer { teaching(first: 100) { totalCount edges { node {
  code status course { code } seatsLeft
  bookings(first: 2) { totalCount pageInfo { hasNextPage } edges { node { status learner { name } } } }
  reports(first: 2) { totalCount edges { node { attendance } } }
} } } } }
"""


@pytest.mark.parametrize("count", [5, 50])
async def test_an_instructor_s_classes_with_their_bookings_run_a_fixed_number_of_statements(
        data, caller, count_statements, count):
    # given: classes with three bookings each (one cancelled), two of them reported
    course = await data.course()
    teacher = await data.instructor()
    learners = [await data.user(f"Learner {n}") for n in range(3)]
    for n in range(count):
        live_session = await data.live_session(course, teacher, NOW - timedelta(days=n))
        for learner in learners:
            await data.book(learner, live_session, models.BookingStatus.CANCELLED if learner is learners[2]
                            else models.BookingStatus.BOOKED)
        for learner in learners[:2]:
            await data.report(live_session, learner, models.AttendanceStatus.PRESENT)

    ines = caller(await data.user_of(teacher))

    # when
    with count_statements() as log:
        body = await ines.execute(TEACHING)

    # then
    assert "errors" not in body, body
    classes = [edge["node"] for edge in body["data"]["viewer"]["teaching"]["edges"]]
    assert len(classes) == count
    assert all(c["bookings"]["totalCount"] == 3 and c["bookings"]["pageInfo"]["hasNextPage"] for c in classes)
    assert all(len(c["reports"]["edges"]) == 2 for c in classes)
    assert log.count == TEACHING_STATEMENTS, log_hint(log)


def log_hint(log) -> str:
    return f"{log.count} statements:\n" + "\n".join(" ".join(s.split())[:300] for s in log.statements)


# Measured on SQLite and PostgreSQL; the point is that 6 and 60 (5 and 50) rows cost the same.
# Dashboard: the signed-in user, the three lists (each with its rows' courses and instructors),
# upcoming's totalCount, and one statement per loader (the instructors' users, booking, report,
# booked count, the viewer's own instructor profile for the join rule); the planned execution
# gathers the awaits of every depth at once, so the upcoming connection's nodes, three levels
# below today's items, load in the same batches.
DASHBOARD_STATEMENTS = 10
# Month: the signed-in user, the calendar's one query (with courses and instructors), and one
# statement per loader.
MONTH_STATEMENTS = 7
# Tracking: the signed-in user, the session, the page of learners, its totalCount, the
# learner count, the per-learner figures and the session's totals.
TRACKING_STATEMENTS = 7
# Teaching: the signed-in user, the list (with its courses) and its totalCount, the viewer's
# instructor profile, booked count, first bookings, their count, first reports, their count, and the
# bookings' learners. (Names on the reports too would add one statement, or none when both
# pages happen to come back within the same few turns: the count is bounded, not exact.)
TEACHING_STATEMENTS = 10
