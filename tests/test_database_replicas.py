"""Read replicas (DATABASE_REPLICA_URLS) against a real streaming replica of the test server.

`.ci/replica start` makes the replica with pg_basebackup; the test database, created on the primary,
reaches it by replication. Replay is paused on the replica (`pg_wal_replay_pause()`) to hold its state
still: what a query then answers shows which node answered it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from sessiongraph import models
from sessiongraph.infrastructure.db import Database, create_engine
from sessiongraph.infrastructure.replicas import Replicas, node_name
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app
from tests.conftest import NOW, on_postgresql, serving
from tests.schedule_data import data, gid  # noqa: F401
from tests.tcp_proxy import TcpProxy, proxy_to
from tests.test_database_faults import BOUND_SECONDS, FAULT_TIMEOUTS, assert_unavailable
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

# A port of the tests' own, so that pausing replay here never holds up another user of `.ci/replica`'s 5433.
REPLICA_PORT = int(os.environ.get("SESSIONGRAPH_TEST_REPLICA_PORT", "5434"))
SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "replica"
COURSES = "{ courses { totalCount } }"
CREATE_COURSE = """mutation($code: String!) { createCourse(input: {code: $code, title: "Replicated"}) {
  course { code title } } }"""
CHANGES = "subscription { scheduleChanged { kind liveSession { startsAt } } }"


def replicas_here() -> None:
    if not on_postgresql():
        pytest.skip("read replicas are PostgreSQL's streaming replicas; SQLite has none")


def replica_script(command: str) -> None:
    subprocess.run([str(SCRIPT), command], check=True, env={**os.environ, "REPLICA_PORT": str(REPLICA_PORT)},
                   capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def replica_server() -> Any:
    replicas_here()
    replica_script("start")
    yield f"127.0.0.1:{REPLICA_PORT}"
    replica_script("stop")


@pytest.fixture(scope="module")
def replica_pooler(replica_server) -> Any:
    """A PgBouncer in transaction mode (.ci/pgbouncer) in front of the replica; its port."""
    port = REPLICA_PORT + 1000
    pooler = {**os.environ, "PGBOUNCER_PORT": str(port), "PGBOUNCER_TARGET_PORT": str(REPLICA_PORT)}
    subprocess.run([str(SCRIPT.parent / "pgbouncer"), "start"], check=True, env=pooler, capture_output=True,
                   timeout=600)
    yield port
    subprocess.run([str(SCRIPT.parent / "pgbouncer"), "stop"], check=True, env=pooler, capture_output=True)


def direct_url(settings: Settings) -> Any:
    """The test database on the server itself (DATABASE_ADMIN_URL's host when the tests go through a pooler)."""
    admin = make_url(os.environ.get("DATABASE_ADMIN_URL") or settings.database_url)
    return make_url(settings.database_url).set(drivername="postgresql", host=admin.host, port=admin.port)


@pytest.fixture
async def replica(replica_server, settings, database) -> AsyncIterator[Replica]:
    url = direct_url(settings)
    primary = await asyncpg.connect(url.render_as_string(hide_password=False))
    standby = await asyncpg.connect(url.set(port=REPLICA_PORT).render_as_string(hide_password=False))
    handle = Replica(primary, standby, url.set(drivername="postgresql+asyncpg", port=REPLICA_PORT))
    await handle.caught_up()
    try:
        yield handle
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await primary.close()
        await standby.close()


class Replica:
    def __init__(self, primary: asyncpg.Connection, standby: asyncpg.Connection, url: Any) -> None:
        self.primary = primary
        self.standby = standby
        self.url = url.render_as_string(hide_password=False)

    async def caught_up(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        target = await self.primary.fetchval("SELECT pg_current_wal_lsn()")
        await eventually(lambda: self.standby.fetchval(
            "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target), "the replica to catch up")

    async def pause(self) -> None:
        await self.caught_up()
        await self.standby.execute("SELECT pg_wal_replay_pause()")
        await eventually(lambda: self.standby.fetchval("SELECT pg_get_wal_replay_pause_state() = 'paused'"),
                         "replay to pause")

    async def resume(self) -> None:
        await self.standby.execute("SELECT pg_wal_replay_resume()")
        await self.caught_up()


async def eventually(check: Any, what: str, within: float = 15) -> None:
    """Waits for `check()` to come true: a signal, asked for every few milliseconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"waited {within}s for {what}"
        await asyncio.sleep(0.02)


def reads(node: str) -> float:
    return REGISTRY.get_sample_value("sessiongraph_query_reads_total", {"node": node}) or 0.0


@asynccontextmanager
async def app_with(settings: Settings, database: Any, clock: Any, replica_url: str,
                   **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"database_replica_urls": (replica_url,),
                                                 "database_replica_check_seconds": 0.05, **overrides}),
                     clock=clock, database=database, check_migrations=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     timeout=30) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
    finally:
        await app.state.replicas.dispose()
        await app.state.persisted.close()
        await app.state.broker.close()


async def taken(replicas: Replicas) -> None:
    """Until an anonymous query would read from the replica."""
    async def replica_chosen() -> bool:
        return (await replicas.for_query(None)).node != "primary"
    await eventually(replica_chosen, "the replica to take queries")


class As:
    def __init__(self, client: httpx.AsyncClient, settings: Settings, clock: Any, user: models.User) -> None:
        self.client, self.headers = client, _bearer(user, settings, clock)

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables},
                                          headers=self.headers)
        assert response.status_code == 200, response.text
        assert not response.json().get("errors"), response.json()
        return response.json()["data"]


async def test_queries_read_from_the_replica_and_a_writer_reads_its_own_writes(
        replica, settings, database, clock, make_user):
    writer = await make_user("Wanda Writer", is_admin=True)
    other = await make_user("Otto Other", is_admin=True)
    async with app_with(settings, database, clock, replica.url, database_replica_max_lag_seconds=60,
                        metrics_token="scraper") as client:
        await taken(client.app.state.replicas)
        await replica.pause()
        as_writer, as_other = As(client, settings, clock, writer), As(client, settings, clock, other)
        node = node_name(replica.url)
        before = reads(node)

        # The payload is read from the primary: the paused replica has no such course.
        created = await as_writer(CREATE_COURSE, code="REP-1")
        assert created["createCourse"]["course"] == {"code": "REP-1", "title": "Replicated"}
        # Another user's query is answered by the replica, as it was before the write...
        assert (await as_other(COURSES))["courses"]["totalCount"] == 0
        assert reads(node) == before + 1
        # ...the writer's by the primary, until the replica has replayed the write.
        primary_reads = reads("primary")
        assert (await as_writer(COURSES))["courses"]["totalCount"] == 1
        assert reads("primary") == primary_reads + 1 and reads(node) == before + 1

        await replica.resume()
        await eventually(lambda: _answers(as_other, 1), "the replica to show the write")
        # Once replayed, the writer's queries go to the replica too.
        await eventually(lambda: _read_by(as_writer, node), "the writer's queries to reach the replica")
        metrics = (await client.get("/metrics", headers={"Authorization": "Bearer scraper"})).text
        assert f'sessiongraph_query_reads_total{{node="{node}"}} {reads(node)}' in metrics
        assert f'sessiongraph_replica_up{{node="{node}"}} 1.0' in metrics


async def test_a_writer_reads_its_own_writes_on_another_instance_through_redis(
        replica, settings, database, clock, make_user):
    writer = await make_user("Wanda Writer", is_admin=True)
    other = await make_user("Otto Other", is_admin=True)
    shared = {"redis_url": "redis://127.0.0.1:6379/0", "redis_prefix": f"sessiongraph-test-{uuid.uuid4().hex}:",
              "database_replica_max_lag_seconds": 60}
    async with app_with(settings, database, clock, replica.url, **shared) as first, \
            app_with(settings, database, clock, replica.url, **shared) as second:
        await taken(first.app.state.replicas)
        await taken(second.app.state.replicas)
        await replica.pause()
        await As(first, settings, clock, writer)(CREATE_COURSE, code="REP-2")
        # The second instance knows of the write only through Redis: it sends the writer to the primary.
        assert (await As(second, settings, clock, writer)(COURSES))["courses"]["totalCount"] == 1
        assert (await As(second, settings, clock, other)(COURSES))["courses"]["totalCount"] == 0


async def _answers(caller: As, total: int) -> bool:
    return (await caller(COURSES))["courses"]["totalCount"] == total


async def _read_by(caller: As, node: str) -> bool:
    before = reads(node)
    await caller(COURSES)
    return reads(node) == before + 1


async def test_a_replica_lagging_past_the_bound_is_skipped_and_taken_back(
        replica, settings, database, clock, make_user):
    reader = await make_user("Rita Reader", is_admin=True)
    async with app_with(settings, database, clock, replica.url, database_replica_max_lag_seconds=0.5) as client:
        replicas = client.app.state.replicas
        await taken(replicas)
        await replica.pause()
        # Written behind the service's back: nobody's own write, only the replica's lag keeps it from readers.
        async with database.write() as db:
            db.add(models.Course(code="LAG-1", title="Lagging"))
        await eventually(_primary_chosen(replicas), "the probes to see the lag")
        assert replicas.replicas[0].lag > 0.5
        as_reader = As(client, settings, clock, reader)
        primary_reads = reads("primary")
        assert (await as_reader(COURSES))["courses"]["totalCount"] == 1
        assert reads("primary") == primary_reads + 1

        await replica.resume()
        await taken(replicas)
        assert await _read_by(as_reader, node_name(replica.url))


def _primary_chosen(replicas: Replicas) -> Any:
    async def check() -> bool:
        return (await replicas.for_query(None)).node == "primary"
    return check


@pytest.mark.parametrize("fault", ["stopped", "hung"])
async def test_a_replica_down_or_hung_leaves_the_primary_to_answer_and_is_taken_back(
        replica, settings, database, clock, make_user, fault):
    reader = await make_user("Rita Reader", is_admin=True)
    async with database.write() as db:
        db.add(models.Course(code="UP-1", title="On the primary"))
    await replica.caught_up()
    url = make_url(replica.url)
    async with proxy_to(url.host, url.port) as proxy, app_with(
            settings, database, clock, url.set(port=proxy.port).render_as_string(hide_password=False),
            database_statement_timeout_seconds=1, database_connect_timeout_seconds=1,
            database_pool_timeout_seconds=1) as client:
        replicas = client.app.state.replicas
        await taken(replicas)
        as_reader = As(client, settings, clock, reader)
        node = replicas.replicas[0].name
        assert await _read_by(as_reader, node)

        # The replica fails while it is still counted healthy: the query it took is answered by the primary.
        _fail(proxy, fault)
        failovers = REGISTRY.get_sample_value("sessiongraph_replica_failovers_total", {"node": node}) or 0
        started = time.monotonic()
        assert (await as_reader(COURSES))["courses"]["totalCount"] == 1
        assert time.monotonic() - started < BOUND_SECONDS
        assert REGISTRY.get_sample_value("sessiongraph_replica_failovers_total", {"node": node}) == failovers + 1
        # Left out now: the next query goes to the primary at once.
        primary_reads = reads("primary")
        assert (await as_reader(COURSES))["courses"]["totalCount"] == 1
        assert reads("primary") == primary_reads + 1
        assert REGISTRY.get_sample_value("sessiongraph_replica_up", {"node": node}) == 0

        proxy.heal()
        await taken(replicas)
        assert await _read_by(as_reader, node)
        assert REGISTRY.get_sample_value("sessiongraph_replica_up", {"node": node}) == 1


def _bearer(user: models.User, settings: Settings, clock: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"}


def _true(condition: Any) -> Any:
    async def check() -> bool:
        return bool(condition())
    return check


def _fail(proxy: TcpProxy, fault: str) -> None:
    if fault == "stopped":
        proxy.cut()
    else:
        proxy.black_hole()


async def test_a_replica_behind_pgbouncer_in_transaction_mode_answers_queries(
        replica, replica_pooler, settings, database, clock, make_user):
    reader = await make_user("Rita Reader", is_admin=True)
    pooled = make_url(replica.url).set(port=replica_pooler).render_as_string(hide_password=False)
    async with app_with(settings, database, clock, pooled, database_pooler="pgbouncer",
                        database_replica_max_lag_seconds=60) as client:
        await taken(client.app.state.replicas)
        await replica.pause()
        async with database.write() as db:
            db.add(models.Course(code="POOL-1", title="Behind the replica's back"))
        as_reader, node = As(client, settings, clock, reader), node_name(pooled)
        before = reads(node)
        for _ in range(3):  # each in a transaction of its own, on whichever server connection is free
            assert (await as_reader(COURSES))["courses"]["totalCount"] == 0
        assert reads(node) == before + 3


async def test_no_node_answers_the_coded_503(replica, settings, database, clock, make_user):
    reader = await make_user("Rita Reader", is_admin=True)
    url = make_url(replica.url)
    async with proxy_to(url.host, url.port) as replica_proxy, proxy_to(url.host, 5432) as primary_proxy:
        faulty = settings.model_copy(update={"database_url": make_url(settings.database_url).set(
            host="127.0.0.1", port=primary_proxy.port).render_as_string(hide_password=False)})
        primary = Database(create_engine(faulty.model_copy(update=FAULT_TIMEOUTS)))
        try:
            async with app_with(faulty, primary, clock, url.set(port=replica_proxy.port).render_as_string(
                    hide_password=False), **FAULT_TIMEOUTS) as client:
                await taken(client.app.state.replicas)
                headers = _bearer(reader, settings, clock)
                replica_proxy.cut()
                primary_proxy.cut()
                started = time.monotonic()
                response = await client.post("/graphql", json={"query": COURSES}, headers=headers)
                assert_unavailable(response, time.monotonic() - started)
        finally:
            await primary.dispose()


async def test_subscription_events_mutation_payloads_and_websocket_queries_read_from_the_primary(
        replica, settings, database, clock, data):
    # Not the `admin` fixture: its app's outbox relay would publish the event to that app's subscribers.
    admin = await data.user("Ada Admin", is_admin=True)
    learner = await data.user("Lena")
    course = await data.course()
    teacher = await data.instructor()
    live_session = await data.live_session(course, teacher, NOW + timedelta(minutes=30))
    await data.book(learner, live_session)
    app = create_app(settings.model_copy(update={"database_replica_urls": (replica.url,),
                                                 "database_replica_max_lag_seconds": 60,
                                                 "database_replica_check_seconds": 0.05}),
                     clock=clock, database=database, check_migrations=False)
    await app.state.relay.start()
    try:
        async with serving(app) as address:
            await taken(app.state.replicas)
            socket = await GraphQLSocket.connect(address, TRANSPORT_WS, issue_token(learner.id, settings, clock.now()))
            try:
                await socket.subscribe(CHANGES)
                await eventually(_true(lambda: app.state.broker.subscriber_count > 0), "the subscription to listen")
                await replica.pause()
                async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                    response = await client.post("/graphql", headers=_bearer(admin, settings, clock), json={"query": """
                        mutation($id: ID!) { updateLiveSession(input: {id: $id, startsAt: "2026-03-10T14:00:00Z",
                          endsAt: "2026-03-10T15:00:00Z"}) { liveSession { startsAt } errors { code } } }""",
                        "variables": {"id": gid("LiveSession", live_session.id)}})
                moved = response.json()["data"]["updateLiveSession"]
                assert moved == {"liveSession": {"startsAt": "2026-03-10T14:00:00+00:00"}, "errors": []}
                event = (await socket.next_data(timeout=30))["scheduleChanged"]
                # The paused replica still has the old start: the event was read from the primary.
                assert event == {"kind": "RESCHEDULED", "liveSession": {"startsAt": "2026-03-10T14:00:00+00:00"}}
                # A query over the socket shares the socket's context with its subscriptions: the primary answers.
                primary_reads, replica_reads = reads("primary"), reads(node_name(replica.url))
                await socket.subscribe("{ viewer { user { name } } }")
                assert (await socket.next_data(timeout=30)) == {"viewer": {"user": {"name": "Lena"}}}
                assert reads("primary") == primary_reads + 1 and reads(node_name(replica.url)) == replica_reads
            finally:
                await socket.close()
    finally:
        await app.state.relay.close()
        await app.state.dispatcher.close()
        await app.state.email_sender.close()
        await app.state.replicas.dispose()
        await app.state.broker.close()


async def test_without_replicas_every_query_reads_from_the_primary(admin, settings):
    before = reads("primary")
    assert (await admin(COURSES))["courses"]["totalCount"] == 0
    assert reads("primary") == before + 1


def test_replicas_are_refused_beside_sqlite_or_for_another_engine() -> None:
    with pytest.raises(SystemExit, match="DATABASE_REPLICA_URLS"):
        Settings(database_url="sqlite:///x.db", database_replica_urls="postgresql://r/x", _env_file=None).check()
    with pytest.raises(SystemExit, match="DATABASE_REPLICA_URLS"):
        Settings(database_url="postgresql://p/x", database_replica_urls="mysql://r/x", _env_file=None).check()
    settings = Settings(database_url="postgresql://p/x", database_replica_urls=" postgresql://a/x, postgres://b/x ,",
                        _env_file=None)
    settings.check()
    assert settings.database_replica_urls == ("postgresql+asyncpg://a/x", "postgresql+asyncpg://b/x")
