"""Who is asking: tokens, anonymous callers, and admin-only root fields."""

from datetime import timedelta

import jwt
import pytest

from sessiongraph.infrastructure.tokens import issue_token

VIEWER = "{ viewer { user { name } } }"
ADMIN_LIST = "{ sessions { totalCount } }"


async def post(http, query, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post("/graphql", json={"query": query}, headers=headers)


async def test_no_token_is_anonymous_and_viewer_is_null(anonymous):
    body = await anonymous.execute(VIEWER)

    assert body == {"data": {"viewer": None}}


async def test_a_valid_token_signs_the_user_in(make_user, caller):
    user = await make_user("Lena")

    data = await caller(user)(VIEWER)

    assert data["viewer"]["user"]["name"] == "Lena"


async def test_an_expired_token_is_refused_with_401(http, make_user, settings, clock):
    user = await make_user()
    token = issue_token(user.id, settings, clock.now() - timedelta(hours=settings.jwt_lifetime_hours + 1))

    response = await post(http, VIEWER, token)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in response.json()["errors"][0]["message"]


async def test_a_token_that_expires_later_on_the_frozen_clock_is_accepted_until_then(http, make_user, settings, clock):
    user = await make_user()
    token = issue_token(user.id, settings, clock.now())

    assert (await post(http, VIEWER, token)).status_code == 200
    clock.advance(hours=settings.jwt_lifetime_hours)
    assert (await post(http, VIEWER, token)).status_code == 401


async def test_a_forged_token_is_refused_with_401(http, make_user, clock):
    user = await make_user()
    forged = jwt.encode({"sub": str(user.id), "exp": clock.now() + timedelta(hours=1)},
                        "somebody-elses-secret-that-is-long-enough", algorithm="HS256")

    response = await post(http, VIEWER, forged)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Token xyz"])
async def test_a_malformed_authorization_header_is_refused(http, header):
    response = await http.post("/graphql", json={"query": VIEWER}, headers={"Authorization": header})

    assert response.status_code == 401


async def test_a_token_for_a_user_who_does_not_exist_is_refused(http, settings, clock):
    response = await post(http, VIEWER, issue_token(424242, settings, clock.now()))

    assert response.status_code == 401


async def test_admin_only_fields_answer_unauthenticated_to_anonymous_and_forbidden_to_others(
        anonymous, make_user, caller):
    learner = caller(await make_user())

    anonymous_body = await anonymous.execute(ADMIN_LIST)
    learner_body = await learner.execute(ADMIN_LIST)

    assert anonymous_body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert learner_body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert learner_body["errors"][0]["path"] == ["sessions"]


@pytest.mark.parametrize("mutation", [
    'createUser(input: {email: "x@example.com", name: "X"}) { user { id } }',
    'createCourse(input: {code: "C", title: "C"}) { course { id } }',
    'createSession(input: {name: "S"}) { session { id } }',
    'createClass(input: {name: "K"}) { userClass { id } }',
    'createSessionCategory(input: {name: "Cat"}) { sessionCategory { id } }',
])
async def test_admin_mutations_are_refused_to_non_admins(mutation, make_user, caller, anonymous, admin):
    learner = caller(await make_user())

    refused = await learner.execute(f"mutation {{ {mutation} }}")
    anonymous_refused = await anonymous.execute(f"mutation {{ {mutation} }}")

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert anonymous_refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # and nothing was written: the admin still sees no sessions or courses
    assert (await admin("{ sessions { totalCount } courses { totalCount } }")) == {
        "sessions": {"totalCount": 0}, "courses": {"totalCount": 0}}


async def test_anonymous_node_lookup_is_null_without_error(admin, anonymous):
    created = await admin('mutation { createCourse(input: {code: "PY", title: "Python"}) { course { id } } }')
    course_id = created["createCourse"]["course"]["id"]

    body = await anonymous.execute("query($id: ID!) { node(id: $id) { id } }", id=course_id)

    assert body == {"data": {"node": None}}
