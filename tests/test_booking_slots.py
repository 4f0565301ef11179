"""publishAvailability, Course.availableSlots and the booking search: who publishes, which
slots are refused, and which are listed."""

from datetime import timedelta

from sqlalchemy import func, select

from sessiongraph import models
from tests.booking_data import PUBLISH, SLOTS, codes, data, given, iso  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid

SEARCH = """
query($search: String, $from: DateTime!, $to: DateTime!) { courses(search: $search, bookable: true) {
  edges { node { code canBook availableSlots(from: $from, to: $to) { startsAt seatsLeft instructor { displayName } } } }
} }
"""

DAY = NOW + timedelta(days=1)


def slot_input(start, minutes=60, seats=5, **more):
    return {"startsAt": iso(start), "endsAt": iso(start + timedelta(minutes=minutes)), "seats": seats, **more}


async def teacher_and_course(data, given):
    course = await given.course(code="TALK")
    teacher = await data.instructor("Ines")
    return course, teacher, await data.user_of(teacher)


async def publish(who, teacher, course, *slots):
    return (await who(PUBLISH, input={"instructorId": gid("Instructor", teacher.id),
                                      "courseId": gid("Course", course.id), "slots": list(slots)}))[
        "publishAvailability"]


async def slot_count(data) -> int:
    async with data.database.read() as db:
        return await db.scalar(select(func.count()).select_from(models.BookableSlot))


async def test_an_instructor_publishes_their_slots(data, given, caller):
    course, teacher, teacher_user = await teacher_and_course(data, given)

    result = await publish(caller(teacher_user), teacher, course,
                           slot_input(DAY + timedelta(hours=2), seats=3), slot_input(DAY, minutes=90, seats=8))

    assert result["errors"] == []
    assert [(s["startsAt"], s["endsAt"], s["seats"], s["seatsLeft"]) for s in result["slots"]] == [
        (iso(DAY + timedelta(hours=2)), iso(DAY + timedelta(hours=3)), 3, 3),
        (iso(DAY), iso(DAY + timedelta(minutes=90)), 8, 8)]
    assert {s["instructor"]["displayName"] for s in result["slots"]} == {"Ines"}
    assert {s["course"]["code"] for s in result["slots"]} == {"TALK"}


async def test_the_live_session_booked_from_a_slot_gets_its_place(data, given, caller):
    course, teacher, teacher_user = await teacher_and_course(data, given)
    learner = await given.learner(course, credits=1)
    slot_id = (await publish(caller(teacher_user), teacher, course, slot_input(
        DAY, virtualClassroomUrl="https://room.example.test/ines",
        location={"name": "Studio", "address": "1 Main St", "room": "4"})))["slots"][0]["id"]
    booked = (await caller(learner)("""
        mutation($input: BookSlotInput!) { bookSlot(input: $input) { booking { liveSession {
          location { isVirtual name address room } joinAvailability { opensAt isOpen url }
        } } } }""", input={"slotId": slot_id}))["bookSlot"]["booking"]["liveSession"]

    assert booked["location"] == {"isVirtual": True, "name": "Studio", "address": "1 Main St", "room": "4"}
    assert booked["joinAvailability"] == {"opensAt": iso(DAY - timedelta(minutes=15)), "isOpen": False, "url": None}


async def test_who_may_publish(data, given, caller, admin, anonymous):
    course, teacher, _teacher_user = await teacher_and_course(data, given)
    other = await data.instructor("Omar")
    learner = await data.user("Lea")

    by_admin = await publish(admin, teacher, course, slot_input(DAY))
    for_someone_else = await caller(await data.user_of(other)).execute(PUBLISH, input={
        "instructorId": gid("Instructor", teacher.id), "courseId": gid("Course", course.id),
        "slots": [slot_input(DAY + timedelta(hours=3))]})
    by_learner = await caller(learner).execute(PUBLISH, input={
        "instructorId": gid("Instructor", teacher.id), "courseId": gid("Course", course.id), "slots": []})
    by_nobody = await anonymous.execute(PUBLISH, input={
        "instructorId": gid("Instructor", teacher.id), "courseId": gid("Course", course.id), "slots": []})

    assert by_admin["errors"] == [] and len(by_admin["slots"]) == 1
    assert for_someone_else["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_learner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_nobody["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await slot_count(data) == 1


async def test_bad_slots_are_refused_all_at_once_and_none_is_saved(data, given, caller):
    course, teacher, teacher_user = await teacher_and_course(data, given)

    result = await publish(caller(teacher_user), teacher, course,
                           slot_input(DAY),
                           slot_input(NOW - timedelta(hours=1)),
                           {"startsAt": iso(DAY + timedelta(hours=5)), "endsAt": iso(DAY + timedelta(hours=5)),
                            "seats": 0},
                           slot_input(DAY + timedelta(minutes=30)),
                           slot_input(DAY + timedelta(hours=8), virtualClassroomUrl="ftp://nope"))

    assert result["slots"] == []
    assert sorted(codes(result["errors"])) == sorted([
        (["slots", "1", "startsAt"], "SLOT_IN_PAST"),
        (["slots", "2", "endsAt"], "INVALID_WINDOW"),
        (["slots", "2", "seats"], "VALIDATION"),
        (["slots", "3"], "SLOT_OVERLAP"),
        (["slots", "4", "virtualClassroomUrl"], "VALIDATION")])
    assert await slot_count(data) == 0


async def test_a_slot_overlapping_the_instructor_s_slots_or_live_sessions_is_refused(data, given, caller):
    # given: a slot 10:00-11:00 (another course), a live session 14:00-15:00, a cancelled one 16:00-17:00
    course, teacher, teacher_user = await teacher_and_course(data, given)
    other_course = await given.course(code="OTHER")
    at = DAY.replace(hour=10)
    await given.slot(other_course, teacher, at)
    await data.live_session(other_course, teacher, at.replace(hour=14))
    await data.live_session(other_course, teacher, at.replace(hour=16), cancelled_at=NOW)
    colleague = await data.instructor("Omar")
    as_teacher = caller(teacher_user)

    slot_clash = await publish(as_teacher, teacher, course, slot_input(at + timedelta(minutes=30)))
    session_clash = await publish(as_teacher, teacher, course, slot_input(at.replace(hour=13, minute=30)))
    touching = await publish(as_teacher, teacher, course, slot_input(at.replace(hour=11)),
                             slot_input(at.replace(hour=15)), slot_input(at.replace(hour=16)))
    colleague_same_time = await publish(caller(await data.user_of(colleague)), colleague, course, slot_input(at))

    assert codes(slot_clash["errors"]) == [(["slots", "0"], "SLOT_OVERLAP")]
    assert codes(session_clash["errors"]) == [(["slots", "0"], "SLOT_OVERLAP")]
    assert touching["errors"] == [] and len(touching["slots"]) == 3
    assert colleague_same_time["errors"] == []


async def test_only_a_bookable_course_takes_slots(data, given, admin):
    teacher = await data.instructor("Ines")
    closed = await data.course("CLOSED")

    not_bookable = await publish(admin, teacher, closed, slot_input(DAY))
    unknown = (await admin(PUBLISH, input={"instructorId": gid("Instructor", teacher.id),
                                           "courseId": gid("Course", 999), "slots": [slot_input(DAY)]}))
    no_instructor = (await admin(PUBLISH, input={"instructorId": gid("Instructor", 999),
                                                 "courseId": gid("Course", closed.id), "slots": []}))

    assert codes(not_bookable["errors"]) == [(["courseId"], "NOT_BOOKABLE")]
    assert codes(unknown["publishAvailability"]["errors"]) == [(["courseId"], "NOT_FOUND")]
    assert codes(no_instructor["publishAvailability"]["errors"]) == [(["instructorId"], "NOT_FOUND")]


# --- availableSlots -------------------------------------------------------------------------


async def available(caller, user, course, start, end, instructor=None):
    variables = {"id": gid("Course", course.id), "from": iso(start), "to": iso(end)}
    if instructor is not None:
        variables["instructorId"] = gid("Instructor", instructor.id)
    return (await caller(user)(SLOTS, **variables))["node"]["availableSlots"]


async def test_slots_starting_in_the_range_are_listed_in_time_order_full_ones_included(data, given, caller):
    # given
    course, teacher, _ = await teacher_and_course(data, given)
    colleague = await data.instructor("Omar")
    start, end = DAY.replace(hour=0), DAY.replace(hour=0) + timedelta(days=1)
    before = await given.slot(course, teacher, start - timedelta(minutes=30))
    first = await given.slot(course, colleague, start)
    full = await given.slot(course, teacher, start + timedelta(hours=9), seats=2, booked=2)
    last = await given.slot(course, teacher, end - timedelta(minutes=1), seats=3, booked=1)
    after = await given.slot(course, teacher, end)
    other_course = await given.course()
    await given.slot(other_course, teacher, start + timedelta(hours=3))
    learner = await data.user("Lea")

    # when
    listed = await available(caller, learner, course, start, end)
    ines_only = await available(caller, learner, course, start, end, instructor=teacher)

    # then
    assert [(s["id"], s["seatsLeft"]) for s in listed] == [
        (gid("BookableSlot", first.id), 5), (gid("BookableSlot", full.id), 0), (gid("BookableSlot", last.id), 2)]
    assert listed[0]["instructor"] == {"displayName": "Omar"} and listed[0]["myBooking"] is None
    assert [s["id"] for s in ines_only] == [gid("BookableSlot", full.id), gid("BookableSlot", last.id)]
    assert gid("BookableSlot", before.id) not in str(listed) and gid("BookableSlot", after.id) not in str(listed)


async def test_slots_that_have_started_are_not_listed(data, given, caller, clock):
    course, teacher, _ = await teacher_and_course(data, given)
    soon = await given.slot(course, teacher, NOW + timedelta(hours=1))
    later = await given.slot(course, teacher, NOW + timedelta(hours=3))
    learner = await data.user("Lea")

    clock.set(soon.starts_at)
    listed = await available(caller, learner, course, NOW, NOW + timedelta(days=1))

    assert [s["id"] for s in listed] == [gid("BookableSlot", later.id)]


async def test_a_course_that_is_not_bookable_lists_no_slots_and_the_range_is_bounded(data, given, caller):
    course, teacher, _ = await teacher_and_course(data, given)
    await given.slot(course, teacher, DAY)
    async with data.database.write() as db:
        (await db.get(models.Course, course.id)).bookable = False
    learner = await data.user("Lea")

    assert await available(caller, learner, course, NOW, NOW + timedelta(days=7)) == []
    assert await available(caller, learner, course, NOW + timedelta(days=7), NOW) == []
    too_long = await caller(learner).execute(SLOTS, id=gid("Course", course.id), **{
        "from": iso(NOW), "to": iso(NOW + timedelta(days=94))})
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_slot_is_a_node_for_signed_in_users(data, given, caller, anonymous):
    course, teacher, _ = await teacher_and_course(data, given)
    slot = await given.slot(course, teacher, DAY, seats=4, booked=1)
    query = "query($id: ID!) { node(id: $id) { ... on BookableSlot { seatsLeft course { code } } } }"

    assert (await caller(await data.user())(query, id=gid("BookableSlot", slot.id)))["node"] == {
        "seatsLeft": 3, "course": {"code": "TALK"}}
    assert (await anonymous(query, id=gid("BookableSlot", slot.id)))["node"] is None


async def test_the_booking_search_finds_bookable_courses_and_says_which_the_viewer_can_book(data, given, caller):
    # given: two bookable conversation courses, one the learner is enrolled for; a closed one
    mine = await given.course(code="CONV-A", title="Conversation A")
    theirs = await given.course(code="CONV-B", title="Conversation B")
    await data.course("CONV-C", title="Conversation C")
    await given.course(code="MATH", title="Mathematics")
    teacher = await data.instructor("Ines")
    await given.slot(mine, teacher, DAY)
    learner = await given.learner(mine)

    found = (await caller(learner)(SEARCH, search="convers", **{"from": iso(NOW), "to": iso(NOW + timedelta(days=7))}))

    assert [e["node"] for e in found["courses"]["edges"]] == [
        {"code": "CONV-A", "canBook": True,
         "availableSlots": [{"startsAt": iso(DAY), "seatsLeft": 5, "instructor": {"displayName": "Ines"}}]},
        {"code": "CONV-B", "canBook": False, "availableSlots": []}]
    assert theirs.bookable
