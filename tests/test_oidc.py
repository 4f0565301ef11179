"""OpenID Connect bearer tokens, against a real provider process (tests/oidc_provider.py) serving
discovery and JWKS over HTTP: accepted when signed by its keys for our audience and valid now; the
keys fetched again when it rotates them (and not more often than OIDC_JWKS_REFRESH_SECONDS); refused
with 401 otherwise."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from sessiongraph.models import User
from sessiongraph.server.app import create_app

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "sessiongraph-test"
VIEWER = "{ viewer { user { email name } } }"


@pytest.fixture
async def provider():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.oidc_provider", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        port = int((await asyncio.wait_for(process.stdout.readline(), 30)).decode())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture
async def oidc_http(provider, settings, database, clock):
    async def make(**overrides):
        app = create_app(settings.model_copy(update={"oidc_issuer": str(provider.base_url).rstrip("/"),
                                                     "oidc_audience": AUDIENCE, **overrides}),
                         clock=clock, database=database, check_migrations=False)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test"), app
    return make


def claims(provider, clock, **changes):
    now = int(clock.now().timestamp())
    base = {"iss": str(provider.base_url).rstrip("/"), "aud": AUDIENCE, "sub": "p-123", "email": "Lena@Example.test",
            "name": "Lena", "iat": now, "nbf": now, "exp": now + 300}
    return {**base, **changes}


async def signed(provider, claim_set, alg="RS256", kid=None):
    response = await provider.post("/sign", json={"claims": claim_set, "alg": alg, "kid": kid})
    return response.json()["token"]


async def viewer(client, token):
    return await client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"})


async def jwks_requests(provider):
    return (await provider.get("/stats")).json()["jwks_requests"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_a_providers_token_signs_its_user_in(provider, oidc_http, make_user, clock, alg):
    await make_user("Lena", "lena@example.test")
    client, _ = await oidc_http()

    async with client:
        response = await viewer(client, await signed(provider, claims(provider, clock), alg))

    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["user"]["email"] == "lena@example.test"


async def test_an_unknown_email_is_refused_unless_users_are_created(provider, oidc_http, clock, database):
    token = await signed(provider, claims(provider, clock, email="new@example.test", name="New Person"))
    refusing, _ = await oidc_http()
    creating, _ = await oidc_http(oidc_create_users=True)

    async with refusing, creating:
        refused = await viewer(refusing, token)
        created = await viewer(creating, token)
        again = await viewer(creating, token)
    async with database.read() as db:
        users = (await db.scalars(select(User).where(User.email == "new@example.test"))).all()

    assert refused.status_code == 401
    assert created.json()["data"]["viewer"]["user"] == {"email": "new@example.test", "name": "New Person"}
    assert again.status_code == 200
    assert len(users) == 1


async def test_a_rotated_key_is_fetched_on_its_unknown_kid(provider, oidc_http, make_user, clock):
    await make_user("Lena", "lena@example.test")
    client, _ = await oidc_http()
    async with client:
        before = await viewer(client, await signed(provider, claims(provider, clock)))
        await provider.post("/rotate")
        clock.advance(seconds=31)  # past OIDC_JWKS_REFRESH_SECONDS since the first fetch
        after = await viewer(client, await signed(provider, claims(provider, clock)))

    assert before.status_code == after.status_code == 200
    assert await jwks_requests(provider) == 2


async def test_unknown_kids_fetch_the_keys_at_most_once_per_refresh_interval(provider, oidc_http, make_user, clock):
    await make_user("Lena", "lena@example.test")
    client, _ = await oidc_http()
    async with client:
        await viewer(client, await signed(provider, claims(provider, clock)))
        unknown = [await viewer(client, await signed(provider, claims(provider, clock), kid=f"made-up-{n}"))
                   for n in range(5)]
        await provider.post("/rotate")
        too_soon = await viewer(client, await signed(provider, claims(provider, clock)))
        clock.advance(seconds=31)
        in_time = await viewer(client, await signed(provider, claims(provider, clock)))

    assert {response.status_code for response in unknown} == {401}
    assert too_soon.status_code == 401
    assert in_time.status_code == 200
    assert await jwks_requests(provider) == 2


def _unsigned(header, claim_set):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claim_set)}"


async def test_refused_tokens_get_401(provider, oidc_http, make_user, clock):
    await make_user("Lena", "lena@example.test")
    now = int(clock.now().timestamp())
    public_pem = json.loads((await provider.get("/public-key.pem")).text)
    kid = (await provider.get("/jwks")).json()["keys"][0]["kid"]
    none_token = _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims(provider, clock)) + "."
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims(provider, clock))
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    hs256_with_public_key = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    refused = {
        "another issuer": await signed(provider, claims(provider, clock, iss="https://elsewhere.example")),
        "another audience": await signed(provider, claims(provider, clock, aud="someone-else")),
        "alg none": none_token,
        "HS256 with the provider's public key": hs256_with_public_key,
        "expired": await signed(provider, claims(provider, clock, iat=now - 900, nbf=now - 900, exp=now - 31)),
        "not yet valid": await signed(provider, claims(provider, clock, nbf=now + 31)),
        "no email": await signed(provider, {k: v for k, v in claims(provider, clock).items() if k != "email"}),
        "unverified email": await signed(provider, claims(provider, clock, email_verified=False)),
    }
    within_leeway = await signed(provider, claims(provider, clock, nbf=now + 20, exp=now - 20))
    client, _ = await oidc_http()

    async with client:
        answers = {name: (await viewer(client, token)).status_code for name, token in refused.items()}
        leeway = await viewer(client, within_leeway)

    assert answers == dict.fromkeys(refused, 401)
    assert leeway.status_code == 200


async def test_the_service_own_tokens_still_work_beside_the_provider(provider, oidc_http, make_user, settings, clock):
    from sessiongraph.infrastructure.tokens import issue_token

    lena = await make_user("Lena", "lena@example.test")
    client, _ = await oidc_http()

    async with client:
        response = await viewer(client, issue_token(lena.id, settings, clock.now()))

    assert response.json()["data"]["viewer"]["user"]["email"] == "lena@example.test"


async def test_a_deactivated_users_provider_token_is_refused(provider, oidc_http, make_user, clock):
    await make_user("Lena", "lena@example.test", active=False)
    client, _ = await oidc_http(oidc_create_users=True)

    async with client:
        response = await viewer(client, await signed(provider, claims(provider, clock)))

    assert response.status_code == 401
