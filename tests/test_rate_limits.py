"""Mutations are rate limited per user and per IP by token buckets, in-process or in a real Redis."""

import uuid

import pytest
import redis.asyncio as redis

from sessiongraph.infrastructure.ratelimit import Bucket, Decision, InProcessBuckets, RedisBuckets
from sessiongraph.infrastructure.tokens import issue_token

REDIS_URL = "redis://127.0.0.1:6379/0"
CREATE = 'mutation($name: String!) { createSessionCategory(input: {name: $name}) { errors { code } } }'


class As:
    """One caller of one app: posts mutations and queries with their token."""

    def __init__(self, http, settings, clock, user=None):
        self.http = http
        self.headers = {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"} if user else {}

    async def create(self, count=1):
        responses = [await self.http.post("/graphql", json={"query": CREATE, "variables": {"name": uuid.uuid4().hex}},
                                          headers=self.headers) for _ in range(count)]
        return responses[-1]


def refusal(response):
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED", body
    return body["errors"][0]


@pytest.fixture
def redis_prefix():
    return f"sessiongraph-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_cleanup(redis_prefix):
    yield
    client = redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["in-process", "redis"])
async def limited(request, client_with, make_user, settings, clock, redis_prefix, redis_cleanup):
    """A factory of callers of one app whose rate limits are the given ones."""
    overrides = {"redis_url": REDIS_URL, "rate_limit_key_prefix": redis_prefix} if request.param == "redis" else {}
    apps = {}

    async def make(*, user=True, **limits):
        key = tuple(sorted(limits.items()))
        if key not in apps:
            apps[key] = await client_with(**overrides, **limits)
            store = apps[key].app.state.rate_limiter.store
            assert isinstance(store, RedisBuckets if request.param == "redis" else InProcessBuckets)
        return As(apps[key], settings, clock, await make_user(is_admin=True) if user else None)

    return make


async def test_mutations_up_to_the_burst_pass_and_the_next_is_refused_with_retry_after(limited, clock):
    admin = await limited(rate_limit_user_burst=3, rate_limit_user_per_minute=6)

    allowed = await admin.create(3)
    refused = await admin.create()

    assert allowed.status_code == 200 and allowed.json()["data"]["createSessionCategory"]["errors"] == []
    assert refused.status_code == 429
    assert refusal(refused)["extensions"]["retryAfter"] == 10  # one token every ten seconds
    assert refused.headers["Retry-After"] == "10"
    assert "data" not in refused.json() or refused.json()["data"] is None


async def test_the_bucket_refills_with_the_clock(limited, clock):
    admin = await limited(rate_limit_user_burst=3, rate_limit_user_per_minute=6)
    await admin.create(3)

    clock.advance(seconds=9)
    still_refused = await admin.create()
    clock.advance(seconds=1)
    allowed = await admin.create()
    refused_again = await admin.create()

    assert refusal(still_refused)["extensions"]["retryAfter"] == 1
    assert allowed.status_code == 200
    assert refused_again.status_code == 429


async def test_each_user_has_a_bucket_of_their_own(limited):
    first = await limited(rate_limit_user_burst=2)
    second = await limited(rate_limit_user_burst=2)
    await first.create(2)

    assert (await first.create()).status_code == 429
    assert (await second.create()).status_code == 200


async def test_users_behind_one_ip_share_its_bucket(limited):
    first = await limited(rate_limit_user_burst=10, rate_limit_ip_burst=3)
    second = await limited(rate_limit_user_burst=10, rate_limit_ip_burst=3)
    await first.create(2)

    assert (await second.create()).status_code == 200
    assert (await second.create()).status_code == 429


async def test_anonymous_mutations_count_against_the_ip(limited):
    anonymous = await limited(user=False, rate_limit_ip_burst=2)
    answered = await anonymous.create(2)

    assert answered.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await anonymous.create()).status_code == 429


async def test_queries_are_not_rate_limited(limited):
    admin = await limited(rate_limit_user_burst=1, rate_limit_ip_burst=1)

    for _ in range(5):
        response = await admin.http.post("/graphql", json={"query": "{ sessions { totalCount } }"},
                                         headers=admin.headers)
        assert response.status_code == 200 and "errors" not in response.json()


async def test_each_mutation_field_of_an_operation_takes_a_token(limited):
    admin = await limited(rate_limit_user_burst=3)
    three = "mutation { " + " ".join(
        f'm{n}: createSessionCategory(input: {{name: "c{n}"}}) {{ errors {{ code }} }}' for n in range(3)) + " }"

    allowed = await admin.http.post("/graphql", json={"query": three}, headers=admin.headers)
    refused = await admin.create()

    assert allowed.status_code == 200 and "errors" not in allowed.json()
    assert refused.status_code == 429


async def test_in_a_batch_only_the_refused_operation_fails(client_with, make_user, settings, clock):
    http = await client_with(batching_enabled=True, rate_limit_user_burst=1)
    admin = As(http, settings, clock, await make_user(is_admin=True))
    batch = [{"query": CREATE, "variables": {"name": name}} for name in ("a", "b")]

    response = await http.post("/graphql", json=batch, headers=admin.headers)

    assert response.status_code == 200
    outcomes = sorted("errors" in entry for entry in response.json())
    assert outcomes == [False, True]


async def test_two_instances_share_buckets_through_redis(redis_prefix, redis_cleanup):
    first, second = RedisBuckets.from_url(REDIS_URL), RedisBuckets.from_url(REDIS_URL)
    bucket = Bucket(f"{redis_prefix}user:1", burst=2, per_second=1)
    try:
        assert (await first.take([bucket], 1, now=1000.0)).allowed
        assert (await second.take([bucket], 1, now=1000.0)).allowed
        refused = await first.take([bucket], 1, now=1000.5)
        assert not refused.allowed and refused.retry_after == 1
        assert (await second.take([bucket], 1, now=1001.0)).allowed
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("store", ["in-process", "redis"])
async def test_a_refusal_by_one_bucket_takes_nothing_from_the_others(store, redis_prefix, redis_cleanup):
    buckets = RedisBuckets.from_url(REDIS_URL) if store == "redis" else InProcessBuckets()
    roomy = Bucket(f"{redis_prefix}ip:1", burst=5, per_second=1)
    empty = Bucket(f"{redis_prefix}user:1", burst=1, per_second=1)
    try:
        await buckets.take([empty], 1, now=0.0)
        assert not (await buckets.take([empty, roomy], 1, now=0.0)).allowed
        for _ in range(5):
            assert (await buckets.take([roomy], 1, now=0.0)).allowed
    finally:
        await buckets.close()


async def test_without_redis_the_limit_is_enforced_in_process_and_logged_once(caplog):
    unreachable = RedisBuckets.from_url("redis://127.0.0.1:1/0")
    bucket = [Bucket("k", burst=1, per_second=1)]
    try:
        first = await unreachable.take(bucket, 1, now=0.0)
        second = await unreachable.take(bucket, 1, now=0.0)
    finally:
        await unreachable.close()

    assert first.allowed and not second.allowed
    assert caplog.text.count("rate limits: Redis unreachable") == 1
    assert "enforced in-process" in caplog.text


@pytest.mark.parametrize("seconds,expected", [(0.2, 1), (1.0, 1), (2.5, 3), (10.000000001, 10)])
def test_retry_after_is_whole_seconds_rounded_up(seconds, expected):
    assert Decision.wait(seconds).retry_after == expected
