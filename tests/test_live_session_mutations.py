"""Admin mutations: createLiveSession, updateLiveSession, cancelLiveSession, linkGuardian,
and createUser's instructor profile."""

from datetime import timedelta

from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

FIELDS = """
  id code startsAt endsAt status capacity seatsLeft recordingUrl cancelledAt cancellationReason
  course { code } session { name } lesson { name goal } instructor { displayName user { name } }
  location { isVirtual name address room } extraLinks { title url }
"""

CREATE = f"""
mutation($input: CreateLiveSessionInput!) {{ createLiveSession(input: $input) {{
  liveSession {{ {FIELDS} }} errors {{ field code message }}
}} }}
"""

UPDATE = f"""
mutation($input: UpdateLiveSessionInput!) {{ updateLiveSession(input: $input) {{
  liveSession {{ {FIELDS} }} errors {{ field code message }}
}} }}
"""

CANCEL = """
mutation($input: CancelLiveSessionInput!) { cancelLiveSession(input: $input) {
  liveSession { status cancelledAt cancellationReason } errors { field code message }
} }
"""

LINK = """
mutation($input: LinkGuardianInput!) { linkGuardian(input: $input) {
  guardian { name } learner { name } errors { field code message }
} }
"""


def iso(delta: timedelta = timedelta()) -> str:
    return (NOW + delta).isoformat()


async def basics(data):
    course = await data.course("MATH", title="Mathematics")
    teacher = await data.instructor("Ines")
    return {"courseId": gid("Course", course.id), "instructorId": gid("Instructor", teacher.id),
            "startsAt": iso(timedelta(days=1)), "endsAt": iso(timedelta(days=1, hours=1))}, course, teacher


def codes_of(errors) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in errors]


async def test_create_a_live_session_with_everything(data, admin):
    given, course, _ = await basics(data)
    session = await data.session("Spring", courses=[course])

    result = (await admin(CREATE, input={
        **given, "sessionId": gid("Session", session.id), "capacity": 12, "code": "  ab-12 ",
        "startsAt": "2026-03-11T09:00:00+01:00", "endsAt": "2026-03-11T10:30:00+01:00",
        "lessonName": "Fractions", "lessonGoal": "Add unlike fractions",
        "virtualClassroomUrl": "https://meet.example.test/ab12",
        "location": {"name": "Main campus", "address": "1 School Road", "room": "B12"},
        "recordingUrl": None, "extraLinks": [{"title": "Worksheet", "url": "https://example.test/w.pdf"}]}))
    created = result["createLiveSession"]

    assert created["errors"] == []
    ls = created["liveSession"]
    assert ls["code"] == "AB-12"
    assert (ls["startsAt"], ls["endsAt"]) == ("2026-03-11T08:00:00+00:00", "2026-03-11T09:30:00+00:00")
    assert (ls["status"], ls["capacity"], ls["seatsLeft"]) == ("SCHEDULED", 12, 12)
    assert ls["course"] == {"code": "MATH"} and ls["session"] == {"name": "Spring"}
    assert ls["lesson"] == {"name": "Fractions", "goal": "Add unlike fractions"}
    assert ls["instructor"] == {"displayName": "Ines", "user": {"name": "Ines"}}
    assert ls["location"] == {"isVirtual": True, "name": "Main campus", "address": "1 School Road", "room": "B12"}
    assert ls["extraLinks"] == [{"title": "Worksheet", "url": "https://example.test/w.pdf"}]
    assert ls["recordingUrl"] is None


async def test_create_defaults_a_code_and_the_capacity(data, admin):
    given, _, _ = await basics(data)

    ls = (await admin(CREATE, input=given))["createLiveSession"]["liveSession"]

    assert len(ls["code"]) == 6 and ls["code"].isalnum() and ls["code"].isupper()
    assert ls["capacity"] == 30 and ls["lesson"] is None and ls["location"] is None and ls["extraLinks"] == []


async def test_create_refuses_bad_input_listing_every_problem(data, admin):
    given, _, _ = await basics(data)

    errors = (await admin(CREATE, input={
        **given, "endsAt": given["startsAt"], "capacity": 0, "virtualClassroomUrl": "javascript:alert(1)",
        "recordingUrl": "ftp://files.example.test/rec.mp4", "lessonGoal": "A goal with no lesson",
        "extraLinks": [{"title": "ok", "url": "https://example.test"}, {"title": " ", "url": "example.test"}],
    }))["createLiveSession"]["errors"]

    assert sorted(codes_of(errors)) == sorted([
        (["endsAt"], "INVALID_WINDOW"), (["capacity"], "VALIDATION"), (["virtualClassroomUrl"], "VALIDATION"),
        (["recordingUrl"], "VALIDATION"), (["lessonName"], "VALIDATION"),
        (["extraLinks", "1", "title"], "VALIDATION"), (["extraLinks", "1", "url"], "VALIDATION")])


async def test_create_refuses_unknown_references_and_a_course_outside_the_session(data, admin):
    given, _, _ = await basics(data)
    other_course = await data.course()
    session = await data.session(courses=[other_course])

    unknown = (await admin(CREATE, input={**given, "courseId": gid("Course", 999),
                                          "instructorId": gid("Instructor", 999)}))["createLiveSession"]
    wrong_type = (await admin(CREATE, input={**given, "courseId": gid("User", 1)}))["createLiveSession"]
    outside = (await admin(CREATE, input={**given, "sessionId": gid("Session", session.id)}))["createLiveSession"]

    assert sorted(codes_of(unknown["errors"])) == [(["courseId"], "NOT_FOUND"), (["instructorId"], "NOT_FOUND")]
    assert codes_of(wrong_type["errors"]) == [(["courseId"], "NOT_FOUND")]
    assert codes_of(outside["errors"]) == [(["sessionId"], "VALIDATION")]


async def test_a_duplicate_code_is_refused_ignoring_case(data, admin):
    given, _, _ = await basics(data)
    await admin(CREATE, input={**given, "code": "MATH-1"})

    again = (await admin(CREATE, input={**given, "code": "math-1"}))["createLiveSession"]

    assert again["liveSession"] is None and codes_of(again["errors"]) == [(["code"], "DUPLICATE")]


async def test_naive_datetimes_are_a_top_level_error(data, admin):
    given, _, _ = await basics(data)

    body = await admin.execute(CREATE, input={**given, "startsAt": "2026-03-11T09:00:00"})

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_only_admins_change_live_sessions(data, caller, anonymous):
    given, _, teacher = await basics(data)
    teacher_caller = caller(await data.user_of(teacher))

    forbidden = await teacher_caller.execute(CREATE, input=given)
    unauthenticated = await anonymous.execute(CREATE, input=given)

    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_update_reschedules_relinks_and_clears(data, admin):
    _given, course, teacher = await basics(data)
    other = await data.instructor("Ivan")
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1), virtual_classroom_url="https://a.test",
                                 lesson_name="Old", location_name="Hall")
    new_start = NOW + timedelta(days=2)

    result = (await admin(UPDATE, input={
        "id": gid("LiveSession", ls.id), "startsAt": new_start.isoformat(),
        "endsAt": (new_start + timedelta(hours=2)).isoformat(), "instructorId": gid("Instructor", other.id),
        "virtualClassroomUrl": "https://b.test/room", "location": None, "lessonName": "New"}))["updateLiveSession"]

    assert result["errors"] == []
    updated = result["liveSession"]
    assert updated["startsAt"] == "2026-03-12T12:00:00+00:00" and updated["endsAt"] == "2026-03-12T14:00:00+00:00"
    assert updated["instructor"]["displayName"] == "Ivan" and updated["lesson"] == {"name": "New", "goal": None}
    assert updated["location"] == {"isVirtual": True, "name": None, "address": None, "room": None}


async def test_update_refuses_to_reschedule_an_ended_session_but_takes_its_recording(data, admin):
    _, course, teacher = await basics(data)
    ended = await data.live_session(course, teacher, NOW - timedelta(hours=3))
    ls_id = gid("LiveSession", ended.id)

    moved = (await admin(UPDATE, input={"id": ls_id, "startsAt": iso(timedelta(days=1)),
                                        "endsAt": iso(timedelta(days=1, hours=1))}))["updateLiveSession"]
    recorded = (await admin(UPDATE, input={"id": ls_id, "recordingUrl": "https://videos.test/1"}))

    assert codes_of(moved["errors"]) == [(["startsAt"], "SESSION_ENDED")]
    assert recorded["updateLiveSession"]["errors"] == []
    assert recorded["updateLiveSession"]["liveSession"]["recordingUrl"] == "https://videos.test/1"
    assert recorded["updateLiveSession"]["liveSession"]["status"] == "COMPLETED"


async def test_update_validates_the_result(data, admin):
    _, course, teacher = await basics(data)
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1))
    learner = await data.user()
    await data.book(learner, ls)
    ls_id = gid("LiveSession", ls.id)

    backwards = (await admin(UPDATE, input={"id": ls_id, "endsAt": iso(timedelta(hours=1))}))["updateLiveSession"]
    into_past = (await admin(UPDATE, input={"id": ls_id, "startsAt": iso(timedelta(hours=-3)),
                                            "endsAt": iso(timedelta(hours=-2))}))["updateLiveSession"]
    null_start = (await admin(UPDATE, input={"id": ls_id, "startsAt": None}))["updateLiveSession"]
    too_small = (await admin(UPDATE, input={"id": ls_id, "capacity": 0}))["updateLiveSession"]
    missing = (await admin(UPDATE, input={"id": gid("LiveSession", 999), "capacity": 3}))["updateLiveSession"]

    assert codes_of(backwards["errors"]) == [(["endsAt"], "INVALID_WINDOW")]
    assert codes_of(into_past["errors"]) == [(["endsAt"], "VALIDATION")]
    assert codes_of(null_start["errors"]) == [(["startsAt"], "VALIDATION")]
    assert (["capacity"], "VALIDATION") in codes_of(too_small["errors"])
    assert codes_of(missing["errors"]) == [(["id"], "NOT_FOUND")]


async def test_capacity_cannot_drop_below_the_learners_booked(data, admin):
    _, course, teacher = await basics(data)
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1), capacity=5)
    for _ in range(3):
        await data.book(await data.user(), ls)

    below = (await admin(UPDATE, input={"id": gid("LiveSession", ls.id), "capacity": 2}))["updateLiveSession"]
    exact = (await admin(UPDATE, input={"id": gid("LiveSession", ls.id), "capacity": 3}))["updateLiveSession"]

    assert codes_of(below["errors"]) == [(["capacity"], "VALIDATION")]
    assert exact["errors"] == [] and exact["liveSession"]["seatsLeft"] == 0


async def test_cancel_keeps_it_listed_as_cancelled_and_is_idempotent(data, admin, caller, clock):
    _, course, teacher = await basics(data)
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1))
    learner = await data.user()
    await data.book(learner, ls)
    ls_id = gid("LiveSession", ls.id)

    first = (await admin(CANCEL, input={"id": ls_id, "reason": " Instructor ill "}))["cancelLiveSession"]
    clock.advance(hours=1)
    again = (await admin(CANCEL, input={"id": ls_id}))["cancelLiveSession"]
    changed = (await admin(UPDATE, input={"id": ls_id, "capacity": 4}))["updateLiveSession"]
    schedule = (await caller(learner)("{ viewer { schedule { upNext { code } upcoming { edges { node { status } } } "
                                      "} } }"))["viewer"]["schedule"]

    assert first == {"liveSession": {"status": "CANCELLED", "cancelledAt": "2026-03-10T12:00:00+00:00",
                                     "cancellationReason": "Instructor ill"}, "errors": []}
    assert again == first
    assert codes_of(changed["errors"]) == [(["id"], "LIVE_SESSION_CANCELLED")]
    assert schedule["upNext"] is None and schedule["upcoming"]["edges"] == [{"node": {"status": "CANCELLED"}}]


async def test_an_ended_live_session_cannot_be_cancelled(data, admin):
    _, course, teacher = await basics(data)
    ended = await data.live_session(course, teacher, NOW - timedelta(hours=2))

    result = (await admin(CANCEL, input={"id": gid("LiveSession", ended.id)}))["cancelLiveSession"]

    assert codes_of(result["errors"]) == [(["id"], "SESSION_ENDED")]


async def test_link_guardian(data, admin):
    guardian, child = await data.user("Gina"), await data.user("Kim")
    given = {"guardianId": gid("User", guardian.id), "learnerId": gid("User", child.id)}

    linked = (await admin(LINK, input=given))["linkGuardian"]
    again = (await admin(LINK, input=given))["linkGuardian"]
    themselves = (await admin(LINK, input={**given, "learnerId": given["guardianId"]}))["linkGuardian"]
    unknown = (await admin(LINK, input={**given, "learnerId": gid("User", 999)}))["linkGuardian"]

    assert linked == {"guardian": {"name": "Gina"}, "learner": {"name": "Kim"}, "errors": []}
    assert again == linked
    assert codes_of(themselves["errors"]) == [(["learnerId"], "VALIDATION")]
    assert codes_of(unknown["errors"]) == [(["learnerId"], "NOT_FOUND")]


async def test_link_guardian_is_for_admins(data, caller):
    guardian, child = await data.user("Gina"), await data.user("Kim")
    body = await caller(guardian).execute(LINK, input={"guardianId": gid("User", guardian.id),
                                                       "learnerId": gid("User", child.id)})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_create_user_with_an_instructor_profile(admin):
    query = """mutation($input: CreateUserInput!) { createUser(input: $input) {
      user { name instructor { id displayName bio user { name } } } errors { field code }
    } }"""

    teacher = (await admin(query, input={"email": "tess@example.com", "name": "Tess",
                                         "instructorProfile": {"displayName": "Ms. Tess", "bio": " Maths "}}))
    plain = (await admin(query, input={"email": "pat@example.com", "name": "Pat"}))
    blank = (await admin(query, input={"email": "bo@example.com", "name": "Bo",
                                       "instructorProfile": {"displayName": "  "}}))

    profile = teacher["createUser"]["user"]["instructor"]
    assert (profile["displayName"], profile["bio"], profile["user"]) == ("Ms. Tess", "Maths", {"name": "Tess"})
    assert (await admin("query($id: ID!) { node(id: $id) { ... on Instructor { displayName } } }",
                        id=profile["id"]))["node"] == {"displayName": "Ms. Tess"}
    assert plain["createUser"]["user"]["instructor"] is None
    assert blank["createUser"] == {"user": None, "errors": [
        {"field": ["instructorProfile", "displayName"], "code": "VALIDATION"}]}


async def test_deleting_a_session_keeps_its_live_sessions_outside_any_session(data, admin):
    given, course, _ = await basics(data)
    session = await data.session("Doomed", courses=[course])
    ls = (await admin(CREATE, input={**given, "sessionId": gid("Session", session.id)}))["createLiveSession"]

    await admin("mutation($id: ID!) { deleteSession(input: {id: $id}) { deletedId } }",
                id=gid("Session", session.id))
    after = await admin("query($id: ID!) { node(id: $id) { ... on LiveSession { code session { name } } } }",
                        id=ls["liveSession"]["id"])

    assert after["node"] == {"code": ls["liveSession"]["code"], "session": None}
