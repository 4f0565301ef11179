"""Admin mutations on administrative sessions: create, update, delete, courses, coaches, learners."""

import pytest

CREATE_SESSION = """
mutation($input: CreateSessionInput!) {
  createSession(input: $input) {
    session {
      id name description visibility status durationDays courseCount learnerCount
      category { name } coach { name }
      displayWindow { start end } accessWindow { start end } coachAccessWindow { start end }
      courses { position course { code } coaches { name } }
    }
    warnings { field code message }
    errors { field code message }
  }
}"""

UPDATE_SESSION = """
mutation($input: UpdateSessionInput!) {
  updateSession(input: $input) {
    session { id name description visibility status accessWindow { start end } category { name } }
    warnings { field code }
    errors { field code message }
  }
}"""

ENROLL = """
mutation($input: EnrollLearnersInput!) {
  enrollLearners(input: $input) {
    session { learnerCount }
    enrolledCount alreadyEnrolledCount
    errors { field code message }
  }
}"""


async def create_course(admin, code):
    data = await admin("mutation($c: String!) { createCourse(input: {code: $c, title: $c}) { course { id } } }", c=code)
    return data["createCourse"]["course"]["id"]


async def create_user(admin, email, name="Someone"):
    data = await admin("mutation($e: String!, $n: String!) { createUser(input: {email: $e, name: $n}) "
                       "{ user { id } errors { code message } } }", e=email, n=name)
    return data["createUser"]["user"]["id"]


async def create_session(admin, **input):
    data = await admin(CREATE_SESSION, input={"name": "Spring onboarding", **input})
    return data["createSession"]


async def test_create_session_with_every_field(admin):
    category = (await admin('mutation { createSessionCategory(input: {name: "Onboarding"}) '
                            '{ sessionCategory { id } } }'))["createSessionCategory"]["sessionCategory"]["id"]
    coach = await create_user(admin, "carla@example.com", "Carla Coach")
    courses = [await create_course(admin, "B"), await create_course(admin, "A")]

    payload = await create_session(
        admin, description="Welcome", categoryId=category, coachId=coach, visibility="VISIBLE",
        displayWindow={"start": "2026-02-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"},
        accessWindow={"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
        coachAccessWindow={"start": "2026-02-15T00:00:00Z", "end": "2026-04-15T00:00:00Z"},
        courseIds=courses)

    assert payload["errors"] == [] and payload["warnings"] == []
    session = payload["session"]
    assert session["name"] == "Spring onboarding"
    assert session["category"] == {"name": "Onboarding"}
    assert session["coach"] == {"name": "Carla Coach"}
    assert session["visibility"] == "VISIBLE"
    assert session["status"] == "ACTIVE"  # the clock stands at 2026-03-10
    assert session["accessWindow"] == {"start": "2026-03-01T00:00:00+00:00", "end": "2026-04-01T00:00:00+00:00"}
    assert [c["course"]["code"] for c in session["courses"]] == ["B", "A"]
    assert [c["position"] for c in session["courses"]] == [0, 1]
    assert session["courseCount"] == 2 and session["learnerCount"] == 0


async def test_defaults_are_open_windows_and_read_only(admin):
    session = (await create_session(admin))["session"]

    assert session["visibility"] == "READ_ONLY"
    assert session["status"] == "ACTIVE"
    assert session["displayWindow"] == {"start": None, "end": None}


@pytest.mark.parametrize("window", ["displayWindow", "accessWindow", "coachAccessWindow"])
async def test_a_window_that_ends_before_it_starts_is_refused(admin, window):
    payload = await create_session(admin, **{window: {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}})

    assert payload["session"] is None
    assert payload["errors"] == [{"field": [window, "end"], "code": "INVALID_WINDOW",
                                  "message": f"{window} ends before it starts."}]
    assert (await admin("{ sessions { totalCount } }"))["sessions"]["totalCount"] == 0


async def test_a_coach_window_that_does_not_cover_access_is_saved_with_a_warning(admin):
    payload = await create_session(
        admin, accessWindow={"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
        coachAccessWindow={"start": "2026-03-05T00:00:00Z", "end": "2026-04-15T00:00:00Z"})

    assert payload["errors"] == []
    assert payload["session"]["name"] == "Spring onboarding"
    assert [(w["code"], w["field"]) for w in payload["warnings"]] == [
        ("COACH_WINDOW_NOT_COVERING", ["coachAccessWindow"])]


async def test_an_open_coach_window_covers_everything(admin):
    payload = await create_session(admin, accessWindow={"start": "2026-03-01T00:00:00Z"})

    assert payload["warnings"] == []


async def test_a_duplicate_session_name_is_refused(admin):
    await create_session(admin)

    payload = await create_session(admin)

    assert payload["session"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("DUPLICATE", ["name"])]


async def test_every_problem_is_listed_at_once(admin):
    payload = await create_session(admin, name=" ", durationDays=0,
                                   accessWindow={"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"})

    codes = sorted((e["code"], tuple(e["field"])) for e in payload["errors"])
    assert codes == [("INVALID_WINDOW", ("accessWindow", "end")), ("VALIDATION", ("durationDays",)),
                     ("VALIDATION", ("durationDays",)), ("VALIDATION", ("name",))]


async def test_a_duration_session_has_no_access_dates(admin):
    refused = await create_session(admin, durationDays=30, accessWindow={"start": "2026-03-01T00:00:00Z"})
    accepted = await create_session(admin, name="Self-paced", durationDays=30)

    assert [e["code"] for e in refused["errors"]] == ["VALIDATION"]
    assert accepted["session"]["durationDays"] == 30
    assert accepted["session"]["status"] == "ACTIVE"


async def test_unknown_ids_are_not_found_errors(admin):
    payload = await create_session(admin, categoryId="U2Vzc2lvbkNhdGVnb3J5Ojk5", coachId="garbage")

    assert sorted((e["code"], e["field"][0]) for e in payload["errors"]) == [("NOT_FOUND", "coachId")]


@pytest.mark.parametrize("offset_days,status", [(-40, "PAST"), (0, "ACTIVE"), (30, "UPCOMING")])
async def test_status_follows_the_access_window_and_the_clock(admin, clock, offset_days, status):
    from datetime import timedelta

    start = clock.now() + timedelta(days=offset_days)
    payload = await create_session(admin, accessWindow={"start": start.isoformat(),
                                                        "end": (start + timedelta(days=30)).isoformat()})

    assert payload["session"]["status"] == status


async def test_status_turns_past_at_the_end_instant(admin, clock):
    from datetime import timedelta

    end = clock.now() + timedelta(minutes=1)
    session_id = (await create_session(admin, accessWindow={"end": end.isoformat()}))["session"]["id"]
    query = "query($id: ID!) { node(id: $id) { ... on Session { status } } }"

    assert (await admin(query, id=session_id))["node"]["status"] == "ACTIVE"
    clock.advance(minutes=1)
    assert (await admin(query, id=session_id))["node"]["status"] == "PAST"


async def test_update_changes_only_the_fields_given(admin):
    session = (await create_session(admin, description="Keep me", visibility="VISIBLE",
                                    accessWindow={"start": "2026-03-01T00:00:00Z"}))["session"]

    payload = (await admin(UPDATE_SESSION, input={"id": session["id"], "name": "Renamed"}))["updateSession"]

    assert payload["errors"] == []
    assert payload["session"]["name"] == "Renamed"
    assert payload["session"]["description"] == "Keep me"
    assert payload["session"]["visibility"] == "VISIBLE"
    assert payload["session"]["accessWindow"]["start"] == "2026-03-01T00:00:00+00:00"


async def test_update_with_a_null_window_opens_it(admin):
    session = (await create_session(admin, accessWindow={"start": "2026-04-01T00:00:00Z"}))["session"]
    assert session["status"] == "UPCOMING"

    payload = (await admin(UPDATE_SESSION, input={"id": session["id"], "accessWindow": None}))["updateSession"]

    assert payload["session"]["accessWindow"] == {"start": None, "end": None}
    assert payload["session"]["status"] == "ACTIVE"


async def test_update_refuses_a_bad_window_and_keeps_the_old_one(admin):
    session = (await create_session(admin, accessWindow={"start": "2026-03-01T00:00:00Z"}))["session"]

    payload = (await admin(UPDATE_SESSION, input={
        "id": session["id"], "name": "Not saved",
        "accessWindow": {"start": "2026-05-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}}))["updateSession"]
    reread = await admin("query($id: ID!) { node(id: $id) { ... on Session { name accessWindow { start } } } }",
                         id=session["id"])

    assert payload["session"] is None
    assert payload["errors"][0]["code"] == "INVALID_WINDOW"
    assert reread["node"] == {"name": "Spring onboarding", "accessWindow": {"start": "2026-03-01T00:00:00+00:00"}}


async def test_renaming_to_an_existing_name_is_a_duplicate(admin):
    await create_session(admin, name="Taken")
    session = (await create_session(admin, name="Mine"))["session"]

    payload = (await admin(UPDATE_SESSION, input={"id": session["id"], "name": "Taken"}))["updateSession"]

    assert payload["errors"][0]["code"] == "DUPLICATE"


async def test_update_of_an_unknown_session_is_not_found(admin):
    payload = (await admin(UPDATE_SESSION, input={"id": "U2Vzc2lvbjo5OTk=", "name": "X"}))["updateSession"]

    assert payload["errors"] == [{"field": ["id"], "code": "NOT_FOUND", "message": "No such session."}]


async def test_delete_session_removes_it_with_its_enrollments(admin):
    learner = await create_user(admin, "l@example.com")
    course = await create_course(admin, "C1")
    session = (await create_session(admin, courseIds=[course]))["session"]
    await admin(ENROLL, input={"sessionId": session["id"], "userIds": [learner]})

    payload = await admin("mutation($id: ID!) { deleteSession(input: {id: $id}) { deletedId errors { code } } }",
                          id=session["id"])
    again = await admin("mutation($id: ID!) { deleteSession(input: {id: $id}) { deletedId errors { code } } }",
                        id=session["id"])

    assert payload["deleteSession"] == {"deletedId": session["id"], "errors": []}
    assert again["deleteSession"] == {"deletedId": None, "errors": [{"code": "NOT_FOUND"}]}
    assert (await admin("{ sessions { totalCount } }"))["sessions"]["totalCount"] == 0


SET_COURSES = """mutation($input: SetSessionCoursesInput!) { setSessionCourses(input: $input) {
  session { courseCount courses { position course { code } coaches { name } } } errors { field code } } }"""
SET_COACHES = """mutation($input: SetCourseCoachesInput!) { setCourseCoaches(input: $input) {
  session { courses { course { code } coaches { name } } } errors { field code } } }"""


async def test_courses_keep_the_order_given_and_coaches_leave_with_their_course(admin):
    a, b, c = [await create_course(admin, code) for code in "ABC"]
    coach = await create_user(admin, "coach@example.com", "Carla")
    session = (await create_session(admin, courseIds=[a, b]))["session"]
    await admin(SET_COACHES, input={"sessionId": session["id"], "courseId": a, "coachIds": [coach]})

    payload = (await admin(SET_COURSES, input={"sessionId": session["id"], "courseIds": [c, b]}))["setSessionCourses"]
    readded = (await admin(SET_COURSES, input={"sessionId": session["id"], "courseIds": [a]}))["setSessionCourses"]

    assert [(x["position"], x["course"]["code"]) for x in payload["session"]["courses"]] == [(0, "C"), (1, "B")]
    assert payload["session"]["courseCount"] == 2
    assert readded["session"]["courses"] == [{"position": 0, "course": {"code": "A"}, "coaches": []}]


async def test_course_coaches_are_set_per_course(admin):
    a, b = [await create_course(admin, code) for code in "AB"]
    carla = await create_user(admin, "carla@example.com", "Carla")
    dan = await create_user(admin, "dan@example.com", "Dan")
    session = (await create_session(admin, courseIds=[a, b]))["session"]

    payload = (await admin(SET_COACHES, input={"sessionId": session["id"], "courseId": b,
                                               "coachIds": [dan, carla]}))["setCourseCoaches"]

    assert payload["session"]["courses"] == [
        {"course": {"code": "A"}, "coaches": []},
        {"course": {"code": "B"}, "coaches": [{"name": "Carla"}, {"name": "Dan"}]},
    ]


async def test_coaching_a_course_outside_the_session_is_refused(admin):
    a = await create_course(admin, "A")
    coach = await create_user(admin, "carla@example.com")
    session = (await create_session(admin))["session"]

    payload = (await admin(SET_COACHES, input={"sessionId": session["id"], "courseId": a,
                                               "coachIds": [coach]}))["setCourseCoaches"]

    assert payload == {"session": None, "errors": [{"field": ["courseId"], "code": "NOT_FOUND"}]}


async def test_enrolling_twice_is_a_no_op_counted_as_already_enrolled(admin):
    learners = [await create_user(admin, f"l{i}@example.com") for i in range(3)]
    session = (await create_session(admin))["session"]

    first = (await admin(ENROLL, input={"sessionId": session["id"], "userIds": learners[:2]}))["enrollLearners"]
    second = (await admin(ENROLL, input={"sessionId": session["id"], "userIds": learners}))["enrollLearners"]

    assert first == {"session": {"learnerCount": 2}, "enrolledCount": 2, "alreadyEnrolledCount": 0, "errors": []}
    assert second == {"session": {"learnerCount": 3}, "enrolledCount": 1, "alreadyEnrolledCount": 2, "errors": []}


async def test_enrolling_a_class_enrolls_its_members_of_the_moment(admin, database):
    from sqlalchemy import select

    from sessiongraph.models import Enrollment

    members = [await create_user(admin, f"m{i}@example.com") for i in range(3)]
    klass = (await admin("mutation($ids: [ID!]) { createClass(input: {name: \"Sales\", memberIds: $ids}) "
                         "{ userClass { id memberCount } } }", ids=members))["createClass"]["userClass"]
    session = (await create_session(admin))["session"]

    payload = (await admin(ENROLL, input={"sessionId": session["id"], "classId": klass["id"]}))["enrollLearners"]

    assert klass["memberCount"] == 3
    assert payload["enrolledCount"] == 3
    async with database.read() as db:
        class_ids = set((await db.scalars(select(Enrollment.class_id))).all())
    assert len(class_ids) == 1 and None not in class_ids  # the enrollment remembers the class


@pytest.mark.parametrize("extra", [{}, {"userIds": [], "classId": "VXNlckNsYXNzOjE="}])
async def test_enroll_needs_exactly_one_of_users_and_class(admin, extra):
    session = (await create_session(admin))["session"]

    payload = (await admin(ENROLL, input={"sessionId": session["id"], **extra}))["enrollLearners"]

    assert payload["errors"][0]["code"] == "VALIDATION"
    assert payload["enrolledCount"] == 0


async def test_enrolling_an_unknown_user_is_refused_and_enrolls_nobody(admin):
    learner = await create_user(admin, "l@example.com")
    session = (await create_session(admin))["session"]

    payload = (await admin(ENROLL, input={"sessionId": session["id"],
                                          "userIds": [learner, "VXNlcjo5OTk5"]}))["enrollLearners"]

    assert payload["errors"][0]["code"] == "NOT_FOUND"
    assert (await admin(ENROLL, input={"sessionId": session["id"], "userIds": []}))[
        "enrollLearners"]["session"]["learnerCount"] == 0


async def test_unenroll_counts_who_was_removed(admin):
    learners = [await create_user(admin, f"l{i}@example.com") for i in range(3)]
    session = (await create_session(admin))["session"]
    await admin(ENROLL, input={"sessionId": session["id"], "userIds": learners[:2]})

    payload = await admin("""mutation($input: UnenrollLearnersInput!) { unenrollLearners(input: $input) {
        session { learnerCount } unenrolledCount errors { code } } }""",
                          input={"sessionId": session["id"], "userIds": learners})

    assert payload["unenrollLearners"] == {"session": {"learnerCount": 0}, "unenrolledCount": 2, "errors": []}


async def test_learners_are_listed_for_admins_and_not_for_the_learners_themselves(admin, caller, make_user):
    from sessiongraph.schema.relay import to_global_id

    lena = await make_user("Lena")
    session = (await create_session(admin))["session"]
    await admin(ENROLL, input={"sessionId": session["id"], "userIds": [to_global_id("User", lena.id)]})
    query = "query($id: ID!) { node(id: $id) { ... on Session { learners { totalCount edges { node { name } } } } } }"

    as_admin = await admin(query, id=session["id"])
    as_learner = await caller(lena)(query, id=session["id"])

    assert as_admin["node"]["learners"] == {"totalCount": 1, "edges": [{"node": {"name": "Lena"}}]}
    assert as_learner["node"]["learners"] == {"totalCount": 0, "edges": []}
