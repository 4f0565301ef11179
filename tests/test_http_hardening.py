"""HTTP edges a client or a proxy can abuse: several Authorization headers, forwarded client
addresses, the metrics endpoint."""

from __future__ import annotations

import httpx
import pytest

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app
from sessiongraph.server.cli import uvicorn_options
from tests.conftest import serving

VIEWER = "{ viewer { user { name } } }"
CREATE = 'mutation { createSessionCategory(input: {name: "Evening"}) { errors { code } } }'


def error_codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or ()]


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


async def test_metrics_are_off_unless_a_token_is_set(http):
    response = await http.get("/metrics")

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "scrape-secret", "Bearer scrape-secret "])
async def test_metrics_need_the_token(client_with, authorization):
    http = await client_with(metrics_token="scrape-secret")

    response = await http.get("/metrics", headers={"Authorization": authorization} if authorization else {})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "sessiongraph_" not in response.text


async def test_metrics_are_served_with_the_token(client_with):
    http = await client_with(metrics_token="scrape-secret")

    response = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert response.status_code == 200
    assert "sessiongraph_active_subscriptions" in response.text


@pytest.mark.parametrize(("forwarded_allow_ips", "second_allowed"), [("", False), ("127.0.0.1", True)])
async def test_forwarded_for_is_believed_only_from_the_proxies_named(settings, database, clock, forwarded_allow_ips,
                                                                     second_allowed):
    app = create_app(settings.model_copy(update={"rate_limit_ip_burst": 1, "forwarded_allow_ips": forwarded_allow_ips}),
                     clock=clock, database=database, check_migrations=False)
    options = uvicorn_options(app.state.settings)
    async with serving(app, **options) as address, httpx.AsyncClient(base_url=f"http://{address}") as client:
        # Two clients, as a proxy on this host would tell them apart; or one rotating the header.
        codes = [error_codes((await client.post("/graphql", json={"query": CREATE},
                                                headers={"X-Forwarded-For": forwarded_for})).json())
                 for forwarded_for in ("203.0.113.7", "203.0.113.8")]
    await app.state.persisted.close()
    await app.state.rate_limiter.close()

    assert codes[0] == ["UNAUTHENTICATED"]  # anonymous, but the mutation took its IP's token
    assert codes[1] == (["UNAUTHENTICATED"] if second_allowed else ["RATE_LIMITED"])
