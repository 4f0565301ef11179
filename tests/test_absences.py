"""Absence requests: who may ask and when, once per booking; who reviews; what the learner,
the schedule's details and the course history show; the event a decision publishes."""

import asyncio
from datetime import timedelta

from sessiongraph.schema.relay import from_global_id
from tests.booking_data import BOOK, CANCEL, codes, data, given, iso  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid

REQUEST = """
mutation($input: RequestAbsenceInput!) { requestAbsence(input: $input) {
  absenceRequest { id reason status requestedAt reviewedAt comment booking { status } }
  errors { field code message }
} }
"""

REVIEW = """
mutation($input: ReviewAbsenceRequestInput!) { reviewAbsenceRequest(input: $input) {
  absenceRequest { status reviewedAt comment }
  errors { field code message }
} }
"""

DETAILS = """
query($id: ID!) { node(id: $id) { ... on LiveSession {
  code canRequestAbsence
  myBooking { status creditTransaction { kind amount } absenceRequest { reason status } }
} } }
"""

HISTORY = """
query($courseId: ID!) { viewer { schedule { courseHistory(courseId: $courseId) { edges { node {
  code status myBooking { creditTransaction { kind amount } refundTransaction { amount } absenceRequest { status } }
} } } } } }
"""


async def booked_learner(data, given, caller, *, enabled=True, cost=2):
    course = await given.course(absence_requests_enabled=enabled, credit_cost=cost)
    teacher = await data.instructor("Ines")
    slot = await given.slot(course, teacher, NOW + timedelta(days=1))
    lea = await given.learner(course, credits=5)
    booked = (await caller(lea)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"]
    return course, teacher, lea, booked, booked["liveSession"]["id"]


async def ask(caller, user, live_session_id, reason="Doctor's appointment"):
    return (await caller(user)(REQUEST, input={"liveSessionId": live_session_id, "reason": reason}))["requestAbsence"]


async def test_a_booked_learner_requests_an_absence_once(data, given, caller):
    # given
    _, _, lea, _booked, live_session_id = await booked_learner(data, given, caller)
    before = (await caller(lea)(DETAILS, id=live_session_id))["node"]

    # when
    asked = await ask(caller, lea, live_session_id, reason="  Doctor's appointment ")
    after = (await caller(lea)(DETAILS, id=live_session_id))["node"]
    twice = await ask(caller, lea, live_session_id)

    # then
    assert before["canRequestAbsence"] is True and before["myBooking"]["absenceRequest"] is None
    assert asked["errors"] == []
    assert {k: v for k, v in asked["absenceRequest"].items() if k != "id"} == {
        "reason": "Doctor's appointment", "status": "PENDING", "requestedAt": iso(NOW), "reviewedAt": None,
        "comment": None, "booking": {"status": "BOOKED"}}
    assert after["canRequestAbsence"] is False
    assert after["myBooking"] == {"status": "BOOKED", "creditTransaction": {"kind": "BOOKING", "amount": -2},
                                  "absenceRequest": {"reason": "Doctor's appointment", "status": "PENDING"}}
    assert codes(twice["errors"]) == [(["liveSessionId"], "ABSENCE_ALREADY_REQUESTED")]


async def test_absence_requests_are_refused_with_their_codes(data, given, caller, clock, admin):
    _, teacher, lea, _booked, live_session_id = await booked_learner(data, given, caller)
    _, _, max_, _, not_enabled_id = await booked_learner(data, given, caller, enabled=False)
    stranger = await data.user("Stan")

    assert codes((await ask(caller, max_, not_enabled_id))["errors"]) == [(["liveSessionId"], "ABSENCE_NOT_ENABLED")]
    assert codes((await ask(caller, lea, live_session_id, reason="  "))["errors"]) == [(["reason"], "VALIDATION")]
    assert codes((await ask(caller, stranger, live_session_id))["errors"]) == [(["liveSessionId"], "NOT_FOUND")]
    assert codes((await ask(caller, await data.user_of(teacher), live_session_id))["errors"]) == [
        (["liveSessionId"], "NOT_BOOKED")]
    clock.set(NOW + timedelta(days=1))  # the start
    assert (await caller(lea)(DETAILS, id=live_session_id))["node"]["canRequestAbsence"] is False
    assert codes((await ask(caller, lea, live_session_id))["errors"]) == [(["liveSessionId"], "ABSENCE_TOO_LATE")]


async def test_no_absence_on_a_cancelled_booking_or_a_cancelled_live_session(data, given, caller, admin):
    course, teacher, lea, booked, live_session_id = await booked_learner(data, given, caller)
    await caller(lea)(CANCEL, input={"bookingId": booked["id"]})
    max_ = await given.learner(course, name="Max", credits=5)
    slot = await given.slot(course, teacher, NOW + timedelta(days=2))
    other_id = (await caller(max_)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]["booking"][
        "liveSession"]["id"]
    await admin("mutation($input: CancelLiveSessionInput!) { cancelLiveSession(input: $input) { errors { code } } }",
                input={"id": other_id})

    assert codes((await ask(caller, lea, live_session_id))["errors"]) == [(["liveSessionId"], "NOT_BOOKED")]
    assert codes((await ask(caller, max_, other_id))["errors"]) == [(["liveSessionId"], "LIVE_SESSION_CANCELLED")]
    assert (await caller(max_)(DETAILS, id=other_id))["node"]["canRequestAbsence"] is False


async def test_the_instructor_or_an_admin_reviews_and_the_learner_hears_of_it(data, given, caller, admin, app, clock):
    # given
    _, teacher, lea, _, live_session_id = await booked_learner(data, given, caller)
    request_id = (await ask(caller, lea, live_session_id))["absenceRequest"]["id"]
    other_teacher = await data.user_of(await data.instructor("Omar"))
    teacher_user = await data.user_of(teacher)
    # What the setup published is out first: the subscriptions below hear only what the step does.
    await app.state.relay.idle()

    async with app.state.broker.subscribe(f"schedule:user:{lea.id}") as events:
        # when
        clock.set(NOW + timedelta(hours=1))
        approved = (await caller(teacher_user)(REVIEW, input={"id": request_id, "approve": True,
                                                               "comment": " Get well soon "}))
        rejected = await admin(REVIEW, input={"id": request_id, "approve": False})
        by_learner = await caller(lea).execute(REVIEW, input={"id": request_id, "approve": True})
        by_other = await caller(other_teacher)(REVIEW, input={"id": request_id, "approve": True})

        # then
        assert approved["reviewAbsenceRequest"] == {"absenceRequest": {
            "status": "APPROVED", "reviewedAt": iso(NOW + timedelta(hours=1)), "comment": "Get well soon"},
            "errors": []}
        assert rejected["reviewAbsenceRequest"]["absenceRequest"]["status"] == "REJECTED"
        assert by_learner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert codes(by_other["reviewAbsenceRequest"]["errors"]) == [(["id"], "NOT_FOUND")]
        _, db_id = from_global_id(live_session_id)
        for _ in range(2):
            event = await asyncio.wait_for(anext(events), 5)
            assert (event["kind"], event["liveSessionId"]) == ("ABSENCE_REVIEWED", db_id)
        assert events.pending == 0
    details = (await caller(lea)(DETAILS, id=live_session_id))["node"]["myBooking"]["absenceRequest"]
    assert details == {"reason": "Doctor's appointment", "status": "REJECTED"}


async def test_a_guardian_sees_the_child_s_request_but_cannot_make_one(data, given, caller):
    _, _, lea, _, live_session_id = await booked_learner(data, given, caller)
    gina = await data.user("Gina")
    await data.guardian_of(gina, lea)
    await ask(caller, lea, live_session_id)

    child = (await caller(gina)("""{ viewer { children { schedule { upNext {
        canRequestAbsence myBooking { absenceRequest { status } } } } } } }"""))["viewer"]["children"][0]
    asking = await ask(caller, gina, live_session_id)

    assert child["schedule"]["upNext"] == {"canRequestAbsence": False,
                                           "myBooking": {"absenceRequest": {"status": "PENDING"}}}
    assert codes(asking["errors"]) == [(["liveSessionId"], "NOT_BOOKED")]


async def test_the_course_history_shows_each_session_s_credit_transaction_and_absence(data, given, caller, clock):
    course, _, lea, booked, live_session_id = await booked_learner(data, given, caller)
    await ask(caller, lea, live_session_id)

    clock.set(NOW + timedelta(days=2))
    history = (await caller(lea)(HISTORY, courseId=gid("Course", course.id)))["viewer"]["schedule"]["courseHistory"]

    assert [e["node"] for e in history["edges"]] == [{
        "code": booked["liveSession"]["code"], "status": "COMPLETED",
        "myBooking": {"creditTransaction": {"kind": "BOOKING", "amount": -2}, "refundTransaction": None,
                      "absenceRequest": {"status": "PENDING"}}}]


async def test_an_absence_request_is_a_node_for_those_who_see_its_booking(data, given, caller):
    _, teacher, lea, _, live_session_id = await booked_learner(data, given, caller)
    request_id = (await ask(caller, lea, live_session_id))["absenceRequest"]["id"]
    query = "query($id: ID!) { node(id: $id) { ... on AbsenceRequest { status } } }"

    assert (await caller(lea)(query, id=request_id))["node"] == {"status": "PENDING"}
    assert (await caller(await data.user_of(teacher))(query, id=request_id))["node"] == {"status": "PENDING"}
    assert (await caller(await data.user("Stan"))(query, id=request_id))["node"] is None
