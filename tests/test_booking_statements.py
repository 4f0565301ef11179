"""The booking search, a course's slots and a credit ledger cost a fixed number of SQL
statements, whatever they hold."""

from datetime import timedelta

import pytest

from tests.booking_data import BOOK, data, given, iso  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid
from tests.test_schedule_statements import log_hint

SEARCH = """
query($from: DateTime!, $to: DateTime!) { courses(search: "conv", bookable: true, first: 50) {
  totalCount
  edges { node {
    code title creditCost canBook
    availableSlots(from: $from, to: $to) {
      id startsAt endsAt seatsLeft instructor { displayName bio } myBooking { status }
    }
  } }
} }
"""

SLOTS = """
query($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { ... on Course {
  title canBook
  availableSlots(from: $from, to: $to) { id startsAt seatsLeft instructor { displayName } myBooking { status } }
} } }
"""

LEDGER = """
{ viewer { credits { balance transactions(first: 100) { totalCount edges { node {
  kind amount balanceAfter description createdAt
  liveSession { code startsAt course { title } instructor { displayName } canRequestAbsence
                myBooking { status absenceRequest { status } } }
} } } } } }
"""

RANGE = {"from": iso(NOW), "to": iso(NOW + timedelta(days=30))}


@pytest.mark.parametrize("count", [2, 12])
async def test_the_booking_search_runs_a_fixed_number_of_statements(data, given, caller, count_statements, count):
    # given: bookable courses with three slots each across two instructors, one slot booked by the learner
    teachers = [await data.instructor("Ines"), await data.instructor("Omar")]
    courses = [await given.course(title=f"Conversation {n:02d}") for n in range(count)]
    learner = await given.learner(*courses[::2], credits=5)
    slots = [await given.slot(course, teachers[hour % 2], NOW + timedelta(days=1 + n, hours=hour))
             for n, course in enumerate(courses) for hour in range(3)]
    assert (await caller(learner)(BOOK, input={"slotId": gid("BookableSlot", slots[0].id)}))["bookSlot"][
        "errors"] == []

    # when
    with count_statements() as log:
        body = await caller(learner).execute(SEARCH, **RANGE)

    # then
    assert "errors" not in body, body
    found = [e["node"] for e in body["data"]["courses"]["edges"]]
    assert len(found) == count and found[0]["code"] == courses[0].code
    assert all(len(c["availableSlots"]) == 3 for c in found)
    assert found[0]["availableSlots"][0]["myBooking"] == {"status": "BOOKED"}
    assert [c["canBook"] for c in found] == [n % 2 == 0 for n in range(count)]
    assert log.count == SEARCH_STATEMENTS, log_hint(log)


@pytest.mark.parametrize("count", [3, 40])
async def test_a_course_s_slots_run_a_fixed_number_of_statements(data, given, caller, count_statements, count):
    course = await given.course()
    teachers = [await data.instructor(f"Teacher {n}") for n in range(4)]
    learner = await given.learner(course, credits=5)
    slots = [await given.slot(course, teachers[n % 4], NOW + timedelta(hours=12 + 3 * n)) for n in range(count)]
    assert (await caller(learner)(BOOK, input={"slotId": gid("BookableSlot", slots[0].id)}))["bookSlot"][
        "errors"] == []

    with count_statements() as log:
        body = await caller(learner).execute(SLOTS, id=gid("Course", course.id), **RANGE)

    assert "errors" not in body, body
    assert len(body["data"]["node"]["availableSlots"]) == count
    assert log.count == SLOTS_STATEMENTS, log_hint(log)


@pytest.mark.parametrize("count", [4, 40])
async def test_a_credit_ledger_runs_a_fixed_number_of_statements(data, given, caller, count_statements, count):
    # given: a deposit, then bookings (on slots of three instructors), every other one cancelled
    course = await given.course(credit_cost=1)
    teachers = [await data.instructor(f"Teacher {n}") for n in range(3)]
    learner = await given.learner(course, credits=count)
    for n in range(count // 2):
        slot = await given.slot(course, teachers[n % 3], NOW + timedelta(days=1, hours=2 * n))
        booked = (await caller(learner)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]
        if n % 2:
            await caller(learner)("""mutation($id: ID!) { cancelBooking(input: {bookingId: $id}) {
                errors { code } } }""", id=booked["booking"]["id"])

    with count_statements() as log:
        body = await caller(learner).execute(LEDGER)

    assert "errors" not in body, body
    edges = body["data"]["viewer"]["credits"]["transactions"]["edges"]
    assert len(edges) == 1 + count // 2 + count // 4
    assert log.count == LEDGER_STATEMENTS, log_hint(log)


HISTORY = """
query($courseId: ID!) { viewer { schedule { courseHistory(courseId: $courseId, first: 50) { totalCount edges { node {
  code startsAt status canRequestAbsence
  myBooking { status creditTransaction { kind amount balanceAfter } refundTransaction { amount }
              absenceRequest { reason status reviewedAt } }
} } } } } }
"""


@pytest.mark.parametrize("count", [4, 30])
async def test_a_course_history_with_credits_and_absences_runs_a_fixed_number_of_statements(
        data, given, caller, count_statements, clock, count):
    # given: booked live sessions of a course, a third with an absence request, a third cancelled
    course = await given.course(credit_cost=1, absence_requests_enabled=True)
    teacher = await data.instructor()
    learner = await given.learner(course, credits=count)
    for n in range(count):
        slot = await given.slot(course, teacher, NOW + timedelta(hours=1 + 2 * n))
        booked = (await caller(learner)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"]
        if n % 3 == 1:
            await caller(learner)("""mutation($id: ID!) { requestAbsence(input: {liveSessionId: $id, reason: "Away"})
                { errors { code } } }""", id=booked["liveSession"]["id"])
        elif n % 3 == 2:
            await caller(learner)("""mutation($id: ID!) { cancelBooking(input: {bookingId: $id}) {
                errors { code } } }""", id=booked["id"])
    clock.set(NOW + timedelta(days=30))

    with count_statements() as log:
        body = await caller(learner).execute(HISTORY, courseId=gid("Course", course.id))

    assert "errors" not in body, body
    edges = body["data"]["viewer"]["schedule"]["courseHistory"]["edges"]
    assert len(edges) == count - count // 3
    assert all(e["node"]["myBooking"]["creditTransaction"]["amount"] == -1 for e in edges)
    assert log.count == HISTORY_STATEMENTS, log_hint(log)


# Measured on SQLite and PostgreSQL; the point is that few and many rows cost the same.
# Search: the signed-in user, the page of courses, its totalCount, the viewer's access to
# every course, every course's slots, their instructors, and the viewer's bookings on them.
SEARCH_STATEMENTS = 7
# Slots: the signed-in user, the course, the access, the slots, instructors, bookings.
SLOTS_STATEMENTS = 6
# Ledger: the signed-in user, the balance, the page, its totalCount, then one per loader:
# live sessions (with their courses and instructors), the learner's bookings (with their
# absence requests).
LEDGER_STATEMENTS = 6
# History: the signed-in user, the page, its totalCount, then one per loader: the learner's
# bookings (with their absence requests), their transactions (the course is not needed once a
# live session has started: no absence can be requested).
HISTORY_STATEMENTS = 5
