"""HTTP edges a client or a proxy can abuse: several Authorization headers, forwarded client
addresses, the metrics endpoint."""

from __future__ import annotations

import pytest

from sessiongraph.infrastructure.tokens import issue_token

VIEWER = "{ viewer { user { name } } }"


def bearer(user, settings, clock) -> str:
    return f"Bearer {issue_token(user.id, settings, clock.now())}"


@pytest.mark.parametrize("second", ["other user", "same user", "malformed"])
async def test_several_authorization_headers_are_refused(http, make_user, settings, clock, second):
    admin = await make_user("Ada", is_admin=True)
    learner = await make_user("Lena")
    other = {"other user": bearer(admin, settings, clock), "same user": bearer(learner, settings, clock),
             "malformed": "Basic abc"}[second]

    response = await http.post("/graphql", json={"query": VIEWER},
                               headers=[("Authorization", bearer(learner, settings, clock)), ("Authorization", other)])

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Send one Authorization header, not several.",
                                           "extensions": {"code": "BAD_REQUEST"}}]}


async def test_one_authorization_header_signs_in(http, make_user, settings, clock):
    learner = await make_user("Lena")

    response = await http.post("/graphql", json={"query": VIEWER},
                               headers=[("Authorization", bearer(learner, settings, clock))])

    assert response.json() == {"data": {"viewer": {"user": {"name": "Lena"}}}}
