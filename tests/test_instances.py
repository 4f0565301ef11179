"""Two service processes sharing the database and Redis: an event raised on one reaches a
subscriber on the other, also after the Redis connection drops mid-stream.

The processes run the real `sessiongraph serve` with the real clock, so the live
session is placed a day ahead of now.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from sessiongraph.infrastructure.tokens import issue_token
from tests.conftest import free_port
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_broker import REDIS_URL
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

ROOT = Path(__file__).resolve().parent.parent
CHANGES = "subscription { scheduleChanged { kind liveSession { startsAt } } }"
RESCHEDULE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code message } } }"""


@pytest.fixture
async def two_instances(database_url, settings, database):
    prefix = f"sessiongraph-test-{uuid.uuid4().hex[:8]}:"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
           "JWT_SECRET": settings.jwt_secret, "RATE_LIMIT_ENABLED": "false",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for port in ports]
    try:
        async with httpx.AsyncClient() as client:
            for port in ports:
                for _ in range(200):
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("an instance did not become ready")
        yield [f"127.0.0.1:{port}" for port in ports], prefix
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


async def test_a_change_on_one_instance_reaches_a_subscriber_on_the_other_even_after_redis_drops(
        two_instances, data, settings):
    (instance_a, instance_b), prefix = two_instances
    now = datetime.now(UTC)
    learner, admin = await data.user("Lena"), await data.user("Ada", is_admin=True)
    live_session = await data.live_session(await data.course(), await data.instructor(), now + timedelta(days=1))
    await data.book(learner, live_session)
    subscriber = await GraphQLSocket.connect(instance_b, TRANSPORT_WS, issue_token(learner.id, settings, now))
    await subscriber.subscribe(CHANGES)
    await asyncio.sleep(0.3)

    async def reschedule_on_a(starts_at):
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://{instance_a}/graphql",
                json={"query": RESCHEDULE, "variables": {"id": gid("LiveSession", live_session.id),
                                                         "s": starts_at.isoformat(),
                                                         "e": (starts_at + timedelta(hours=1)).isoformat()}},
                headers={"Authorization": f"Bearer {issue_token(admin.id, settings, now)}"})
        assert response.json()["data"]["updateLiveSession"]["errors"] == []

    first_time = (now + timedelta(days=2)).replace(microsecond=0)
    await reschedule_on_a(first_time)
    event = (await subscriber.next_data(timeout=10))["scheduleChanged"]
    assert event["kind"] == "RESCHEDULED"
    assert datetime.fromisoformat(event["liveSession"]["startsAt"]) == first_time

    # Redis drops instance B's listener; B reconnects and still delivers.
    admin_redis = redis.Redis.from_url(REDIS_URL)

    async def listener_ids():
        return {c["id"] for c in await admin_redis.client_list(_type="pubsub")
                if c["name"].startswith(prefix.rstrip(":"))}

    before = await listener_ids()
    assert len(before) == 2  # one per instance
    for client_id in before:
        await admin_redis.client_kill_filter(_id=client_id)
    for _ in range(100):  # until both instances have listened again, on new connections
        after = await listener_ids()
        if len(after) == 2 and not after & before:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the instances did not reconnect to Redis")
    await admin_redis.aclose()

    second_time = first_time + timedelta(days=1)
    await reschedule_on_a(second_time)
    event = (await subscriber.next_data(timeout=10))["scheduleChanged"]
    assert datetime.fromisoformat(event["liveSession"]["startsAt"]) == second_time
    await subscriber.close()
