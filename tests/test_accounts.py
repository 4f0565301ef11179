"""Users, classes and courses: creation rules, lists, and who sees whom."""

import pytest
from sqlalchemy import insert

from sessiongraph.models import Enrollment, Session
from sessiongraph.schema.relay import to_global_id

CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { id email name timeZone weekStart isAdmin } errors { field code message } } }"""


async def test_create_user_normalises_the_email_and_applies_defaults(admin):
    payload = (await admin(CREATE_USER, input={"email": "  Lena.Learner@Example.COM ", "name": "Lena"}))["createUser"]

    assert payload["errors"] == []
    assert payload["user"]["email"] == "lena.learner@example.com"
    assert (payload["user"]["timeZone"], payload["user"]["weekStart"], payload["user"]["isAdmin"]) == (
        "UTC", "MONDAY", False)


async def test_create_user_refuses_bad_values_all_at_once(admin):
    payload = (await admin(CREATE_USER, input={"email": "not-an-email", "name": " ",
                                               "timeZone": "Mars/Olympus"}))["createUser"]

    assert payload["user"] is None
    assert sorted((e["code"], e["field"][0]) for e in payload["errors"]) == [
        ("VALIDATION", "email"), ("VALIDATION", "name"), ("VALIDATION", "timeZone")]


@pytest.mark.parametrize("email", ["Ana@School.LOCAL", "bo@staging.test", "cy@corp.internal"])
async def test_create_user_accepts_a_schools_internal_domain(admin, email):
    payload = (await admin(CREATE_USER, input={"email": email, "name": "Ana"}))["createUser"]

    assert payload["errors"] == []
    assert payload["user"]["email"] == email.lower()


@pytest.mark.parametrize("email", ["ana@box.localhost", "ana@nowhere.invalid", "ana@school.local.", "ana@local"])
async def test_create_user_refuses_domains_that_name_no_organisation(admin, email):
    payload = (await admin(CREATE_USER, input={"email": email, "name": "Ana"}))["createUser"]

    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", ["email"])]
    assert payload["errors"][0]["message"].startswith(f"{email!r} is not an email address: ")


async def test_an_email_is_taken_whatever_its_case(admin):
    await admin(CREATE_USER, input={"email": "lena@example.com", "name": "Lena"})

    payload = (await admin(CREATE_USER, input={"email": "LENA@example.com", "name": "Lena 2"}))["createUser"]

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("DUPLICATE", ["email"])]


async def test_a_class_name_is_unique(admin):
    await admin('mutation { createClass(input: {name: "Sales"}) { userClass { id } } }')

    payload = await admin('mutation { createClass(input: {name: "Sales"}) { userClass { id } errors { code } } }')

    assert payload["createClass"] == {"userClass": None, "errors": [{"code": "DUPLICATE"}]}


async def test_users_list_searches_name_and_email_for_admins(admin, make_user):
    await make_user("Lena Learner", "lena@example.test")
    await make_user("Omar", "omar@lena-corp.test")
    await make_user("Zed", "zed@example.test")

    data = await admin('{ users(search: "LENA") { totalCount edges { node { name } } } }')

    assert [e["node"]["name"] for e in data["users"]["edges"]] == ["Lena Learner", "Omar"]
    assert data["users"]["totalCount"] == 2


async def test_a_user_sees_themselves_with_email_and_a_coach_sees_their_learners_name_only(
        make_user, caller, database):
    lena, carla, stranger = await make_user("Lena"), await make_user("Carla"), await make_user("Stranger")
    async with database.write() as db:
        session = Session(name="S", coach_id=carla.id)
        db.add(session)
        await db.flush()
        await db.execute(insert(Enrollment).values(session_id=session.id, user_id=lena.id))
    query = "query($id: ID!) { node(id: $id) { ... on User { name email } } }"
    lena_id = to_global_id("User", lena.id)

    assert (await caller(lena)(query, id=lena_id))["node"] == {"name": "Lena", "email": lena.email}
    assert (await caller(carla)(query, id=lena_id))["node"] == {"name": "Lena", "email": None}
    assert (await caller(stranger)(query, id=lena_id))["node"] is None


@pytest.mark.parametrize("garbage", ["", "nope", "VXNlcjo=", "Tm9UeXBlOjE="])
async def test_node_with_a_malformed_or_unknown_id_is_null(admin, garbage):
    assert (await admin("query($id: ID!) { node(id: $id) { id } }", id=garbage))["node"] is None


async def test_courses_are_listed_to_any_signed_in_user_by_title_with_filters(admin, make_user, caller):
    for code, title, bookable in (("PY", "Python", True), ("SQL", "Data with SQL", False), ("FR", "French", True)):
        await admin("mutation($i: CreateCourseInput!) { createCourse(input: $i) { course { id } } }",
                    i={"code": code, "title": title, "bookable": bookable})
    learner = caller(await make_user())

    everything = await learner("{ courses { totalCount edges { node { code } } } }")
    bookable = await learner("{ courses(bookable: true) { edges { node { code } } } }")
    searched = await learner('{ courses(search: "sql") { edges { node { code title } } } }')

    assert [e["node"]["code"] for e in everything["courses"]["edges"]] == ["SQL", "FR", "PY"]
    assert [e["node"]["code"] for e in bookable["courses"]["edges"]] == ["FR", "PY"]
    assert searched["courses"]["edges"] == [{"node": {"code": "SQL", "title": "Data with SQL"}}]


async def test_course_codes_are_unique_ignoring_case_and_costs_not_negative(admin):
    await admin('mutation { createCourse(input: {code: "PY", title: "Python"}) { course { id } } }')

    duplicate = await admin('mutation { createCourse(input: {code: "py", title: "x"}) { errors { code field } } }')
    negative = await admin('mutation { createCourse(input: {code: "X", title: "x", creditCost: -1}) '
                           '{ course { id } errors { code field } } }')

    assert duplicate["createCourse"]["errors"] == [{"code": "DUPLICATE", "field": ["code"]}]
    assert negative["createCourse"] == {"course": None, "errors": [{"code": "VALIDATION", "field": ["creditCost"]}]}


async def test_admins_list_classes_and_session_categories_by_name_for_their_pickers(admin, make_user, caller):
    for name in ("Sales", "Engineering", "Night shift"):
        await admin("mutation($n: String!) { createClass(input: {name: $n}) { userClass { id } } }", n=name)
    for name in ("Onboarding", "Languages"):
        await admin("mutation($n: String!) { createSessionCategory(input: {name: $n}) { sessionCategory { id } } }",
                    n=name)
    learner = caller(await make_user())

    data = await admin('{ userClasses { totalCount edges { node { name memberCount } } } '
                       'sessionCategories(search: "NG") { edges { node { name } } } }')
    refused = await learner.execute("{ userClasses { totalCount } }")

    assert [e["node"]["name"] for e in data["userClasses"]["edges"]] == ["Engineering", "Night shift", "Sales"]
    assert data["userClasses"]["totalCount"] == 3
    assert [e["node"]["name"] for e in data["sessionCategories"]["edges"]] == ["Languages", "Onboarding"]
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
