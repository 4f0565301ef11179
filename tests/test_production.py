"""ENVIRONMENT=production: no introspection, no "Did you mean", no GraphiQL, unexpected errors masked.

Development keeps the first three for the people building clients.
"""

import pytest

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.resolvers import courses as course_resolvers

INTROSPECTION = "{ __schema { queryType { name } } }"
MISSPELLINGS = [
    ("{ viewr { user { id } } }", "viewer"),
    ("{ sessions(frist: 3) { totalCount } }", "first"),
    ('{ sessions(filter: {status: ACTIV}) { totalCount } }', "ACTIVE"),
    ("query($f: SesionFilter) { sessions(filter: $f) { totalCount } }", "SessionFilter"),
]


@pytest.fixture
async def production(client_with):
    return await client_with(environment="production")


async def ask(http, query):
    return (await http.post("/graphql", json={"query": query})).json()


async def test_production_refuses_introspection_but_answers_typename(production):
    refused = await ask(production, INTROSPECTION)
    typename = await ask(production, "{ __typename }")

    assert refused["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert typename == {"data": {"__typename": "Query"}}


async def test_development_answers_introspection(http):
    assert await ask(http, INTROSPECTION) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("query,suggestion", MISSPELLINGS)
async def test_production_suggests_nothing(production, query, suggestion):
    body = await ask(production, query)

    assert body["errors"]
    assert not any("Did you mean" in error["message"] or suggestion in error["message"] for error in body["errors"])


@pytest.mark.parametrize("query,suggestion", MISSPELLINGS)
async def test_development_suggests_the_right_name(http, query, suggestion):
    body = await ask(http, query)

    assert any("Did you mean" in error["message"] and suggestion in error["message"] for error in body["errors"])


async def test_production_serves_no_graphiql(production):
    response = await production.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_production_masks_an_unexpected_error_with_an_error_id(production, make_user, settings, clock,
                                                                      monkeypatch, caplog):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("password=hunter2 in a driver message")

    monkeypatch.setattr(course_resolvers, "list_courses", broken)
    user = await make_user()
    token = issue_token(user.id, settings, clock.now())

    response = await production.post("/graphql", json={"query": "{ courses { totalCount } }"},
                                     headers={"Authorization": f"Bearer {token}"})

    error = response.json()["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL"
    assert "hunter2" not in response.text
    assert error["extensions"]["errorId"] in caplog.text
