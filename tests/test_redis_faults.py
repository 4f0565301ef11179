"""Redis failing under the service: killed, or hung (SIGSTOP).

Each test runs a redis-server of its own on a free port. While it is away mutations and
queries keep answering within a bounded delay, rate limits hold in-process (said once in
the log per outage), events published meanwhile are lost but the broker's listener
reconnects and tells its subscribers to resync, and all goes back to Redis when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as redis

from sessiongraph.infrastructure.broker import RESYNC, RedisBroker
from sessiongraph.infrastructure.redis_faults import RedisTimeouts
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.persisted import RedisDocuments
from tests.conftest import NOW, free_port
from tests.schedule_data import data, gid  # noqa: F401

TIMEOUTS = dict(redis_connect_timeout_seconds=0.5, redis_socket_timeout_seconds=0.5,
                redis_retry_interval_seconds=0.3, redis_health_check_seconds=0.5)
# A mutation pays at most one read timeout for its rate limit and one for publishing its events.
BOUND_SECONDS = 2.0
RESCHEDULE = """mutation($id: ID!, $startsAt: DateTime!, $endsAt: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $startsAt, endsAt: $endsAt}) { errors { code } } }"""


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            for _ in range(100):  # up to about 5 s
                try:
                    if await client.ping():
                        return
                except (redis.ConnectionError, OSError):
                    await asyncio.sleep(0.05)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=5)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def cont(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        server.close()


async def take_back(server: RedisServer, fault: str) -> None:
    if fault == "kill":
        await server.start()  # on the same port, empty
    else:
        server.cont()


def fault_in(server: RedisServer, fault: str) -> None:
    server.kill() if fault == "kill" else server.stop()


@pytest.fixture
async def booked_session(data):
    learner = await data.user("Lena")
    live_session = await data.live_session(await data.course(), await data.instructor(), NOW + timedelta(days=1))
    await data.book(learner, live_session)
    return learner, live_session


@pytest.mark.parametrize("fault", ["kill", "stop"])
async def test_mutations_answer_in_time_with_the_rate_limit_held_in_process_while_redis_is_away(
        fault, redis_server, client_with, make_user, settings, clock, booked_session, caplog):
    caplog.set_level(logging.WARNING)
    http = await client_with(redis_url=redis_server.url, rate_limit_user_burst=3, rate_limit_user_per_minute=6,
                             **{**TIMEOUTS, "redis_retry_interval_seconds": 1.5})
    admin = await make_user("Ada", is_admin=True)
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}
    _, live_session = booked_session
    store = http.app.state.rate_limiter.store
    broker = http.app.state.broker

    async def reschedule(hour: int):
        starts = NOW.replace(hour=hour) + timedelta(days=1)
        started = time.monotonic()
        response = await http.post("/graphql", headers=headers, json={"query": RESCHEDULE, "variables": {
            "id": gid("LiveSession", live_session.id), "startsAt": starts.isoformat(),
            "endsAt": (starts + timedelta(hours=1)).isoformat()}})
        return response, time.monotonic() - started

    before, _ = await reschedule(8)
    assert before.status_code == 200 and before.json()["data"]["updateLiveSession"]["errors"] == []
    assert not store.outage.down

    fault_in(redis_server, fault)
    answers = [await reschedule(hour) for hour in (9, 10, 11, 12)]

    elapsed = [round(seconds, 2) for _, seconds in answers]
    assert elapsed[0] < BOUND_SECONDS, f"{fault}: a mutation took {elapsed}s"
    # Those that follow within the retry interval do not ask Redis at all (no read timeout, 0.5 s, paid).
    assert max(elapsed[1:]) < 0.45, f"{fault}: the mutations took {elapsed}s"
    # The in-process bucket starts full (3) while Redis is away: three pass, the fourth is refused.
    assert [response.status_code for response, _ in answers] == [200, 200, 200, 429]
    assert answers[0][0].json()["data"]["updateLiveSession"]["errors"] == []
    assert answers[3][0].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    query_started = time.monotonic()
    viewer = await http.post("/graphql", headers=headers, json={"query": "{ viewer { user { name } } }"})
    assert viewer.json() == {"data": {"viewer": {"user": {"name": "Ada"}}}}
    assert time.monotonic() - query_started < BOUND_SECONDS
    await http.app.state.relay.idle()  # the outbox relay publishes after the commit, beside the request
    assert store.outage.down and broker.publishing.down
    assert caplog.text.count("rate limits: Redis unreachable") == 1, caplog.text
    assert caplog.text.count("events: Redis unreachable") == 1, caplog.text

    await take_back(redis_server, fault)
    clock.advance(minutes=10)  # every bucket full again, wherever it is kept
    # Redis is left alone for the retry interval after its last failure; the next call asks it again.
    await asyncio.wait_for(_until(lambda: not store.outage.skip() and not broker.publishing.skip()), 5)
    after, seconds = await reschedule(13)
    assert after.status_code == 200 and seconds < BOUND_SECONDS, after.text
    await http.app.state.relay.idle()
    assert not store.outage.down and not broker.publishing.down
    assert caplog.text.count("rate limits: Redis answers again") == 1
    # The buckets are Redis's again.
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert await client.exists(f"{settings.rate_limit_key_prefix}user:{admin.id}")
    finally:
        await client.aclose()


@pytest.mark.parametrize("fault", ["kill", "stop"])
async def test_the_listener_notices_the_outage_and_subscribers_resync_when_redis_is_back(
        fault, redis_server, caplog):
    caplog.set_level(logging.INFO)
    timeouts = RedisTimeouts(connect=0.5, read=0.5, retry_interval=0.3, health_check=0.5)
    prefix = "faults:"
    listening = RedisBroker(redis_server.url, prefix=prefix, timeouts=timeouts)
    publishing = RedisBroker(redis_server.url, prefix=prefix, timeouts=timeouts)
    await listening.start()
    try:
        async with listening.subscribe("schedule:user:1") as subscription:
            await publishing.publish("schedule:user:1", {"kind": "BEFORE"})
            assert await asyncio.wait_for(anext(subscription), 5) == {"kind": "BEFORE"}

            fault_in(redis_server, fault)
            started = time.monotonic()
            await publishing.publish("schedule:user:1", {"kind": "LOST"})  # gives up in time; the event is lost
            assert time.monotonic() - started < 1.0
            # A hung Redis is noticed by the missing answer to the listener's ping.
            await asyncio.wait_for(_until(lambda: not listening.connected), 5)

            await take_back(redis_server, fault)
            assert await asyncio.wait_for(anext(subscription), 10) == RESYNC
            assert caplog.text.count("Redis listener lost its connection") == 1, caplog.text
            assert listening.reconnects == 1
            await asyncio.wait_for(_until(lambda: not publishing.publishing.skip()), 5)
            await publishing.publish("schedule:user:1", {"kind": "AFTER"})
            assert await asyncio.wait_for(anext(subscription), 5) == {"kind": "AFTER"}
    finally:
        await listening.close()
        await publishing.close()


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)


async def test_persisted_queries_are_unknown_in_time_while_redis_hangs(redis_server, caplog):
    caplog.set_level(logging.WARNING)
    timeouts = RedisTimeouts(connect=0.5, read=0.5, retry_interval=0.3, health_check=0.5)
    store = RedisDocuments(redis_server.url, key_prefix="faults:apq:", ttl_seconds=60, timeouts=timeouts)
    try:
        await store.put("abc", "{ __typename }")
        assert await store.get("abc") == "{ __typename }"

        redis_server.stop()
        started = time.monotonic()
        assert await store.get("abc") is None  # the client sends the query's text again
        await store.put("def", "{ viewer { user { id } } }")
        assert await store.get("abc") is None
        assert time.monotonic() - started < 1.0  # one read timeout, then Redis is left alone
        assert caplog.text.count("persisted queries: Redis unreachable") == 1

        redis_server.cont()
        await asyncio.wait_for(_until(lambda: not store.outage.skip()), 5)
        assert await store.get("abc") == "{ __typename }"
        assert caplog.text.count("persisted queries: Redis answers again") == 1
    finally:
        await store.close()
