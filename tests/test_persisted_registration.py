"""APQ registration is bounded: by document size, per client IP, and to signed-in callers in
production, so that anonymous clients cannot fill the shared Redis."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis

from sessiongraph.clients.documents import document_hash
from sessiongraph.infrastructure.tokens import issue_token

REDIS_URL = "redis://127.0.0.1:6379/0"


def padded(size: int) -> str:
    """A distinct valid document of about `size` bytes (the padding is a comment)."""
    return f"# {uuid.uuid4().hex} {'x' * max(0, size - 60)}\nquery {{ __typename }}"


def registration(document: str) -> dict:
    return {"query": document, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(document)}}}


async def register(http, document: str, headers: dict | None = None) -> dict:
    response = await http.post("/graphql", json=registration(document), headers=headers or {})
    body = response.json()
    assert body["data"] == {"__typename": "Query"}, body  # refused registration or not, the document ran
    return body


def refusal(body: dict) -> str | None:
    return (body.get("extensions") or {}).get("persistedQuery", {}).get("code")


async def is_registered(http, document: str) -> bool:
    hit = (await http.post("/graphql", json={"extensions": registration(document)["extensions"]})).json()
    return hit.get("data") == {"__typename": "Query"}


@pytest.fixture
async def redis_under_test():
    prefix = f"sessiongraph-test:{uuid.uuid4().hex}:"
    client = redis.from_url(REDIS_URL)
    yield client, prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_registration_flood_leaves_redis_memory_within_a_bound(client_with, redis_under_test):
    client, prefix = redis_under_test
    http = await client_with(redis_url=REDIS_URL, persisted_query_key_prefix=prefix + "apq:",
                             rate_limit_key_prefix=prefix + "limits:")
    settings = http.app.state.settings
    before = (await client.info("memory"))["used_memory"]

    large = [await register(http, padded(600_000)) for _ in range(30)]
    small = [await register(http, padded(settings.persisted_query_max_bytes - 100))
             for _ in range(settings.persisted_query_registration_burst + 20)]

    keys = [key async for key in client.scan_iter(match=f"{prefix}apq:*")]
    grown = (await client.info("memory"))["used_memory"] - before
    # The flood sent 18 MB; what may stay is the burst of documents at the size cap, and some slack
    # for whatever else uses this Redis meanwhile.
    assert grown < settings.persisted_query_registration_burst * settings.persisted_query_max_bytes * 2 + 2_000_000
    assert len(keys) == settings.persisted_query_registration_burst
    assert {refusal(body) for body in large} == {"PERSISTED_QUERY_TOO_LARGE"}
    assert [refusal(body) for body in small].count(None) == settings.persisted_query_registration_burst
    assert {refusal(body) for body in small} == {None, "PERSISTED_QUERY_REGISTRATION_LIMITED"}


async def test_the_registration_bucket_refills_with_the_clock(client_with, clock):
    http = await client_with(persisted_query_registration_burst=2, persisted_query_registrations_per_minute=60)

    documents = [padded(200) for _ in range(3)]
    refusals = [refusal(await register(http, document)) for document in documents]
    clock.advance(seconds=1)
    again = refusal(await register(http, documents[2]))

    assert refusals == [None, None, "PERSISTED_QUERY_REGISTRATION_LIMITED"]
    assert again is None
    assert [await is_registered(http, document) for document in documents] == [True, True, True]


async def test_in_production_only_signed_in_callers_register(client_with, make_user, settings, clock):
    http = await client_with(environment="production")
    user = await make_user()
    signed_in = {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"}
    anonymous_document, signed_in_document = padded(200), padded(200)

    anonymous = await register(http, anonymous_document)
    member = await register(http, signed_in_document, signed_in)

    assert refusal(anonymous) == "PERSISTED_QUERY_SIGN_IN_REQUIRED"
    assert refusal(member) is None
    assert not await is_registered(http, anonymous_document)
    assert await is_registered(http, signed_in_document)


async def test_registration_can_be_turned_off(client_with):
    http = await client_with(persisted_query_registration="off")
    document = padded(200)

    body = await register(http, document)

    assert refusal(body) == "PERSISTED_QUERY_REGISTRATION_OFF"
    assert not await is_registered(http, document)
