"""The outbox under faults: Redis away during mutations, a process killed between the commit
and the publish, and two instances sharing the relay's work.

Each test runs a redis-server of its own on a free port (tests/test_redis_faults.py's), so it
can stop and start it. The process tests run the real `sessiongraph serve` with the real clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.resolvers import outbox
from sessiongraph.server.app import create_app
from tests.conftest import NOW, free_port, serving
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_redis_faults import TIMEOUTS, fault_in, redis_server, take_back  # noqa: F401
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

ROOT = Path(__file__).resolve().parent.parent
CHANGES = "subscription($after: String) { scheduleChanged(after: $after) { kind cursor } }"
RESCHEDULE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code } } }"""
BOUND_SECONDS = 2.0


async def published_flags(database) -> list[bool]:
    async with database.read() as db:
        return [at is not None for at in (await db.scalars(
            select(models.Event.published_at).order_by(models.Event.id))).all()]


async def until(condition: Callable, seconds: float = 10) -> None:
    async def check():
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(check(), seconds)


def reschedule_request(live_session: models.LiveSession, starts: datetime) -> dict:
    return {"query": RESCHEDULE, "variables": {"id": gid("LiveSession", live_session.id), "s": starts.isoformat(),
                                               "e": (starts + timedelta(hours=1)).isoformat()}}


@pytest.mark.parametrize("fault", ["kill", "stop"])
async def test_events_committed_while_redis_is_away_go_out_in_order_once_it_is_back(
        fault, redis_server, settings, database, clock, data):
    # given: an instance on its own Redis, a learner booked and subscribed
    app = create_app(settings.model_copy(update={**TIMEOUTS, "redis_url": redis_server.url,
                                                 "redis_prefix": f"outbox-{uuid.uuid4().hex[:6]}:",
                                                 "outbox_poll_seconds": 0.2, "rate_limit_enabled": False}),
                     clock=clock, database=database, check_migrations=False)
    learner, admin = await data.user("Lena"), await data.user("Ada", is_admin=True)
    live_session = await data.live_session(await data.course(), await data.instructor(), NOW + timedelta(days=30))
    await data.book(learner, live_session)
    await app.state.broker.start()
    await app.state.relay.start()
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}
    try:
        async with serving(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
            socket = await GraphQLSocket.connect(address, TRANSPORT_WS, issue_token(learner.id, settings, clock.now()))
            await socket.subscribe(CHANGES)
            await asyncio.sleep(0.05)

            async def reschedule(hour: int) -> float:
                started = time.monotonic()
                response = await http.post("/graphql", headers=headers, json=reschedule_request(
                    live_session, (NOW + timedelta(days=30)).replace(hour=hour)))
                assert response.json()["data"]["updateLiveSession"]["errors"] == []
                return time.monotonic() - started

            await reschedule(8)
            assert outbox.decode_cursor((await socket.next_data())["scheduleChanged"]["cursor"]) == 1

            # when: Redis goes away and three changes commit
            fault_in(redis_server, fault)
            elapsed = [await reschedule(hour) for hour in (9, 10, 11)]
            await app.state.relay.idle()

            # then: each mutation answered in time, and the events wait in the table
            assert max(elapsed) < BOUND_SECONDS, elapsed
            assert await published_flags(database) == [True, False, False, False]

            # when: Redis is back
            await take_back(redis_server, fault)

            # then: the subscriber hears the three, in order, once each; the relay publishes them all
            heard = [outbox.decode_cursor((await socket.next_data(timeout=10))["scheduleChanged"]["cursor"])
                     for _ in range(3)]
            assert heard == [2, 3, 4]
            await until(lambda: _all_published(database))
            assert await socket.nothing_within(0.5)
            await socket.close()
    finally:
        await app.state.relay.close()
        await app.state.broker.close()


async def _all_published(database) -> bool:
    return all(await published_flags(database))


# --- real processes --------------------------------------------------------------------------


class Instances:
    """`sessiongraph serve` processes on the test's database and Redis."""

    def __init__(self, database_url: str, redis_url: str, jwt_secret: str) -> None:
        self.prefix = f"outbox-{uuid.uuid4().hex[:8]}:"
        self.env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "REDIS_PREFIX": self.prefix,
                    "JWT_SECRET": jwt_secret, "RATE_LIMIT_ENABLED": "false", "OUTBOX_POLL_SECONDS": "0.1",
                    "REDIS_CONNECT_TIMEOUT_SECONDS": "0.5", "REDIS_SOCKET_TIMEOUT_SECONDS": "0.5",
                    "REDIS_RETRY_INTERVAL_SECONDS": "0.3", "REDIS_HEALTH_CHECK_SECONDS": "0.5",
                    "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.processes: list[subprocess.Popen] = []

    async def start(self) -> tuple[str, subprocess.Popen]:
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port)],
                                   cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return f"127.0.0.1:{port}", process
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("an instance did not become ready")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            process.wait(timeout=15)


@pytest.fixture
async def instances(database_url, settings, database, redis_server) -> AsyncIterator[Instances]:
    started = Instances(database_url, redis_server.url, settings.jwt_secret)
    try:
        yield started
    finally:
        started.stop_all()


class Listener:
    """A plain Redis subscriber to one live session's channel: what the relays published, as they published it."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.channel = channel
        self.pubsub = self.client.pubsub()

    async def __aenter__(self) -> Listener:
        await self.pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()

    async def event_ids(self, count: int, then_quiet_for: float) -> list[int]:
        """The event IDs heard until `count` distinct ones, and whatever else comes in `then_quiet_for` seconds."""
        heard: list[int] = []
        deadline = None
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                heard.append(json.loads(message["data"])["eventId"])
            if deadline is None and len(set(heard)) >= count:
                deadline = time.monotonic() + then_quiet_for
            if deadline is not None and time.monotonic() >= deadline:
                return heard


async def test_an_event_committed_by_a_process_killed_before_it_published_goes_out_after_a_restart(
        instances, redis_server, data, settings, database):
    # given: one instance, and a live session a learner booked
    now = datetime.now(UTC)
    learner, admin = await data.user("Lena"), await data.user("Ada", is_admin=True)
    live_session = await data.live_session(await data.course(), await data.instructor(), now + timedelta(days=2))
    await data.book(learner, live_session)
    address, process = await instances.start()

    # when: Redis hangs, a change commits (its publishing cannot happen), and the process is killed
    redis_server.stop()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://{address}/graphql", json=reschedule_request(
            live_session, (now + timedelta(days=3)).replace(microsecond=0)),
            headers={"Authorization": f"Bearer {issue_token(admin.id, settings, now)}"}, timeout=BOUND_SECONDS)
    assert response.json()["data"]["updateLiveSession"]["errors"] == []
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=5)
    assert await published_flags(database) == [False]

    # then: once Redis answers, a new process publishes it at start
    redis_server.cont()
    channel = f"{instances.prefix}{outbox.live_session_channel(live_session.id)}"
    async with Listener(redis_server.url, channel) as listener:
        await instances.start()
        assert await listener.event_ids(1, then_quiet_for=0.5) == [1]
    assert await published_flags(database) == [True]


async def test_two_instances_publish_each_event_once_and_in_order(instances, redis_server, data, settings, database):
    # given: two instances, and a live session a learner booked
    now = datetime.now(UTC)
    learner, admin = await data.user("Lena"), await data.user("Ada", is_admin=True)
    live_session = await data.live_session(await data.course(), await data.instructor(), now + timedelta(days=2))
    await data.book(learner, live_session)
    addresses = [(await instances.start())[0], (await instances.start())[0]]
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, now)}"}
    channel = f"{instances.prefix}{outbox.live_session_channel(live_session.id)}"
    changes = 12

    # when: changes are made on both at once
    async with Listener(redis_server.url, channel) as listener, httpx.AsyncClient(timeout=30) as client:
        responses = await asyncio.gather(*(
            client.post(f"http://{addresses[n % 2]}/graphql", headers=headers, json=reschedule_request(
                live_session, (now + timedelta(days=3, minutes=n)).replace(microsecond=0)))
            for n in range(changes)))
        assert all(r.json()["data"]["updateLiveSession"]["errors"] == [] for r in responses)

        # then: every event was published once, in the order of the commits, by one relay or the other
        heard = await listener.event_ids(changes, then_quiet_for=1.0)
    assert heard == list(range(1, changes + 1))
    assert await published_flags(database) == [True] * changes
