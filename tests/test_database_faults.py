"""The database failing under the service: down, hung, or holding a lock too long.

Every such failure answers GraphQL-shaped JSON with SERVICE_UNAVAILABLE, HTTP 503 and
Retry-After, within the configured timeouts, and the service recovers by itself once the
database answers again. PostgreSQL runs behind a TCP proxy the test cuts and black-holes;
on SQLite (a file, no network) what applies is the busy timeout, tested on its own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sessiongraph.infrastructure.db import Database, create_engine, database_unavailable
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.models.events import EventType
from sessiongraph.resolvers.outbox import NewEvent, encode_cursor, record_events, user_channel
from sessiongraph.server.app import create_app
from tests.conftest import on_postgresql, serving
from tests.schedule_data import data, gid  # noqa: F401
from tests.tcp_proxy import TcpProxy, proxy_to
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, GraphQLSocket

# The timeouts these tests run with, and the bound every answer must come within: a hung
# database costs at most a ping and a connection attempt, each 1 s.
FAULT_TIMEOUTS = dict(database_connect_timeout_seconds=1, database_statement_timeout_seconds=1,
                      database_pool_timeout_seconds=1, database_busy_timeout_seconds=1,
                      readiness_timeout_seconds=1, service_unavailable_retry_after_seconds=7)
BOUND_SECONDS = 4.0

VIEWER = "{ viewer { user { name } } }"
CHANGES = "subscription { scheduleChanged { kind } }"
COURSES = "{ courses { totalCount } }"
CREATE_COURSE = 'mutation($code: String!) { createCourse(input: {code: $code, title: "T"}) { course { id } } }'


async def timed(request) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert elapsed < BOUND_SECONDS, f"answered after {elapsed:.1f}s"
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"].split(";")[0] in ("application/json", "application/graphql-response+json")
    codes = [error["extensions"]["code"] for error in response.json()["errors"]]
    assert codes and set(codes) == {"SERVICE_UNAVAILABLE"}, response.json()
    assert "Traceback" not in response.text and "asyncpg" not in response.text


@asynccontextmanager
async def client_of(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 timeout=30) as client:
        yield client


def skip_on_sqlite() -> None:
    if not on_postgresql():
        pytest.skip("a TCP proxy sits between the service and PostgreSQL; SQLite is a file "
                    "(its busy timeout is tested in test_sqlite_lock_held_too_long_answers_503)")


@asynccontextmanager
async def app_behind_proxy(settings, clock) -> AsyncIterator[tuple[TcpProxy, Any, Any]]:
    """The app on a database engine of its own that reaches PostgreSQL through a proxy."""
    url = make_url(settings.database_url)
    async with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        faulty = settings.model_copy(update={
            "database_url": url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            **FAULT_TIMEOUTS})
        proxied_database = Database(create_engine(faulty))
        app = create_app(faulty, clock=clock, database=proxied_database, check_migrations=False)
        try:
            yield proxy, app, faulty
        finally:
            proxy.heal()
            await app.state.broker.close()
            await proxied_database.dispose()


@pytest.fixture
async def proxied(settings, database, clock) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient, object]]:
    skip_on_sqlite()
    async with app_behind_proxy(settings, clock) as (proxy, app, faulty), client_of(app) as client:
        yield proxy, client, faulty


async def sign_in_headers(make_user, settings, clock, **fields) -> dict[str, str]:
    user = await make_user("Ada", is_admin=True, **fields)
    return {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"}


async def assert_everything_answers(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> None:
    viewer = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert viewer.status_code == 200 and viewer.json()["data"]["viewer"]["user"]["name"] == "Ada", viewer.text
    created = await client.post("/graphql", json={"query": CREATE_COURSE, "variables": {"code": code}},
                                headers=headers)
    assert created.status_code == 200 and created.json()["data"]["createCourse"]["course"]["id"], created.text
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize("fault", ["cut", "black_hole"])
async def test_postgresql_down_or_hung_answers_503_within_the_bound_then_recovers(
        proxied, fault, make_user, clock):
    proxy, client, faulty = proxied
    headers = await sign_in_headers(make_user, faulty, clock)
    await assert_everything_answers(client, headers, "BEFORE")  # the pool now holds live connections

    getattr(proxy, fault)()

    assert_unavailable(*await timed(client.post("/graphql", json={"query": VIEWER}, headers=headers)))
    assert_unavailable(*await timed(client.post("/graphql", json={"query": CREATE_COURSE,
                                                                  "variables": {"code": "DURING"}},
                                                headers=headers)))
    # In application/graphql-response+json too (httpx's */* is answered in application/json).
    modern, elapsed = await timed(client.post("/graphql", json={"query": VIEWER},
                                              headers={**headers, "Accept": "application/graphql-response+json"}))
    assert_unavailable(modern, elapsed)
    assert modern.headers["content-type"].startswith("application/graphql-response+json")
    # Anonymous requests need no database: they keep answering, and quickly.
    anonymous, elapsed = await timed(client.post("/graphql", json={"query": "{ viewer { user { id } } }"}))
    assert elapsed < BOUND_SECONDS and anonymous.status_code == 200 and anonymous.json() == {"data": {"viewer": None}}
    ready, elapsed = await timed(client.get("/readyz"))
    assert elapsed < BOUND_SECONDS and ready.status_code == 503 and ready.json()["ready"] is False
    assert ready.headers["retry-after"] == "7"

    proxy.heal()
    # No restart: the very next requests find the database again (dead pooled connections are pinged out).
    await assert_everything_answers(client, headers, "AFTER")


async def test_an_outage_while_idle_costs_no_request_afterwards(proxied, make_user, clock):
    """The pool's connections died while nobody asked: the first request after the outage pings them out."""
    proxy, client, faulty = proxied
    headers = await sign_in_headers(make_user, faulty, clock)
    await assert_everything_answers(client, headers, "BEFORE")
    proxy.cut()
    proxy.heal()
    await assert_everything_answers(client, headers, "AFTER")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_websocket_operation_the_database_cannot_check_is_refused_and_the_socket_stays(
        settings, database, clock, make_user, protocol):
    """A socket's sign-in is read again for every operation: with the database away that one operation
    answers SERVICE_UNAVAILABLE (not 4403, which would tell the client its sign-in is bad)."""
    skip_on_sqlite()
    user = await make_user("Ada")
    async with app_behind_proxy(settings, clock) as (proxy, app, faulty), serving(app) as base:
        socket = await GraphQLSocket.connect(base, protocol, issue_token(user.id, faulty, clock.now()))
        try:
            proxy.cut()
            refused = await socket.subscribe(CHANGES)
            message = await socket.next_message()
            proxy.heal()
            if protocol == TRANSPORT_WS:  # the same socket goes on once the database answers
                await socket.subscribe(VIEWER)
                answered = await socket.next_message()
        finally:
            await socket.close()

    assert message["id"] == refused and message["type"] == "error", message
    payload = message["payload"]
    assert [error["extensions"]["code"] for error in (payload if isinstance(payload, list) else [payload])] == [
        "SERVICE_UNAVAILABLE"]
    if protocol == TRANSPORT_WS:
        assert answered["payload"] == {"data": {"viewer": {"user": {"name": "Ada"}}}}, answered


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_websocket_that_cannot_be_signed_in_for_now_is_told_to_try_again_later(
        settings, database, clock, make_user, protocol):
    skip_on_sqlite()
    user = await make_user("Ada")
    async with app_behind_proxy(settings, clock) as (proxy, app, faulty), serving(app) as base:
        proxy.cut()
        started = time.monotonic()
        async with websockets.connect(f"ws://{base}/graphql", subprotocols=[protocol]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {
                "authorization": f"Bearer {issue_token(user.id, faulty, clock.now())}"}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(10):
                    await asyncio.wait_for(socket.recv(), BOUND_SECONDS)
        elapsed = time.monotonic() - started

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013, closed.value
    assert elapsed < BOUND_SECONDS


@asynccontextmanager
async def table_locked(settings, table: str) -> AsyncIterator[None]:
    """Another client holds `table` so that nobody else may read or write it until the block ends."""
    if on_postgresql():
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
                yield
                await connection.rollback()
        finally:
            await engine.dispose()
    else:
        path = make_url(settings.database_url).database
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # SQLite locks the whole file for writers
            yield
            other.execute("ROLLBACK")
        finally:
            other.close()


async def test_a_statement_held_too_long_inside_a_resolver_answers_503(settings, database, make_user, clock):
    """Past the middleware, in the resolvers: PostgreSQL's statement timeout, SQLite's busy timeout."""
    faulty = settings.model_copy(update=FAULT_TIMEOUTS)
    own_database = Database(create_engine(faulty))
    app = create_app(faulty, clock=clock, database=own_database, check_migrations=False)
    try:
        async with client_of(app) as client:
            headers = await sign_in_headers(make_user, faulty, clock)
            async with table_locked(faulty, "course"):
                assert_unavailable(*await timed(client.post("/graphql", json={
                    "query": CREATE_COURSE, "variables": {"code": "LOCKED"}}, headers=headers)))
                courses, elapsed = await timed(client.post("/graphql", json={"query": COURSES}, headers=headers))
                if on_postgresql():
                    assert_unavailable(courses, elapsed)
                else:  # in WAL mode readers never wait for a writer
                    assert courses.status_code == 200 and courses.json()["data"]["courses"]["totalCount"] == 0
            await assert_everything_answers(client, headers, "UNLOCKED")
    finally:
        await app.state.broker.close()
        await own_database.dispose()


async def test_sqlite_lock_held_too_long_answers_503(settings, database, make_user, clock):
    """SQLite has no network to fail: its fault is a writer waiting past DATABASE_BUSY_TIMEOUT_SECONDS."""
    if on_postgresql():
        pytest.skip("SQLite's busy timeout; PostgreSQL's faults are tested through the proxy")
    faulty = settings.model_copy(update=FAULT_TIMEOUTS)
    own_database = Database(create_engine(faulty))
    try:
        async with table_locked(faulty, "course"):
            started = time.monotonic()
            with pytest.raises(Exception) as raised:
                async with own_database.write() as db:
                    await db.execute(text("INSERT INTO course (code, title) VALUES ('X', 'x')"))
            elapsed = time.monotonic() - started
        assert database_unavailable(raised.value), raised.value
        assert 0.8 < elapsed < BOUND_SECONDS, elapsed  # it did wait, for the busy timeout and no longer
    finally:
        await own_database.dispose()


async def test_a_mistake_in_a_statement_is_not_called_unavailable(database):
    with pytest.raises(Exception) as raised:
        async with database.read() as db:
            await db.execute(text("SELECT no_such_column FROM course"))
    assert not database_unavailable(raised.value)


async def test_no_pooled_connection_free_in_time_answers_503_while_readyz_stays_ready(settings, database, make_user,
                                                                                      clock):
    """A busy pool is not an unready instance: readiness asks the database through a connection of its own (a
    balancer that took the last instance out under a surge would answer every request with its own 503)."""
    faulty = settings.model_copy(update={**FAULT_TIMEOUTS, "database_pool_size": 1})  # plus one overflow
    own_database = Database(create_engine(faulty))
    app = create_app(faulty, clock=clock, database=own_database, check_migrations=False)
    try:
        async with client_of(app) as client:
            headers = await sign_in_headers(make_user, faulty, clock)
            async with own_database.read_rows(), own_database.read_rows():  # every connection taken
                assert_unavailable(*await timed(client.post("/graphql", json={"query": VIEWER}, headers=headers)))
                ready = await client.get("/readyz")
                assert ready.status_code == 200, ready.text
            await assert_everything_answers(client, headers, "FREED")
    finally:
        await app.state.broker.close()
        await own_database.dispose()


async def test_a_schedule_event_the_database_cannot_read_closes_the_socket_so_that_the_client_resumes_it(
        settings, database, clock, make_user, data):
    """An event whose live session cannot be read is not sent half (no data, no cursor: a client going on would
    have lost it): the socket is closed "try again later" (1013), and the client, reconnecting with
    `after:` its last cursor, gets the event once the database answers."""
    skip_on_sqlite()
    course = await data.course()
    live_session = await data.live_session(course, await data.instructor(), clock.now() + timedelta(days=1))
    user = await make_user("Ada")
    await data.book(user, live_session)
    changes = "subscription($after: String) { scheduleChanged(after: $after) { kind cursor liveSession { id } } }"
    async with app_behind_proxy(settings, clock) as (proxy, app, faulty), serving(app) as base:
        token = issue_token(user.id, faulty, clock.now())
        broker = app.state.broker
        socket = await GraphQLSocket.connect(base, TRANSPORT_WS, token)
        try:
            await socket.subscribe(changes)
            while user_channel(user.id) not in broker._subscribers:  # the subscription listens
                await asyncio.sleep(0.01)
            # when: an event comes while the database is away
            async with database.write() as db:  # recorded as a booking records it (the relay is not running)
                [event_id] = await record_events(db, [NewEvent(EventType.BOOKING_CREATED, {}, live_session.id,
                                                               "BOOKED", [user.id])], now=clock.now())
            proxy.cut()
            await broker.publish(user_channel(user.id), {"eventId": event_id, "kind": "BOOKED",
                                                         "liveSessionId": live_session.id,
                                                         "occurredAt": clock.now().isoformat()})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(5):
                    await socket.next_message(BOUND_SECONDS)
        finally:
            await socket.close()
        proxy.heal()
        # then: the client reconnects and resumes after the cursor it had (none: from before the event)
        again = await GraphQLSocket.connect(base, TRANSPORT_WS, token)
        try:
            await again.subscribe(changes, after=encode_cursor(event_id - 1))
            resumed = await again.next_data()
        finally:
            await again.close()

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013, closed.value
    assert resumed["scheduleChanged"]["cursor"] == encode_cursor(event_id)
    assert resumed["scheduleChanged"]["liveSession"]["id"] == gid("LiveSession", live_session.id)


async def test_socket_work_holds_at_most_its_share_of_the_pool_and_never_waits_on_itself(database):
    """WebSocket work reads through `Database.sharing(WEBSOCKET_DATABASE_CONNECTIONS)`: thousands of sockets
    reconnecting at once queue for their share instead of taking the whole pool from HTTP requests."""
    sockets = database.sharing(2)
    inside, most, release = 0, 0, asyncio.Event()

    async def socket_read() -> None:
        nonlocal inside, most
        async with sockets.read() as db:
            await db.execute(text("SELECT 1"))
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    readers = [asyncio.create_task(socket_read()) for _ in range(6)]
    while inside < 2:
        await asyncio.sleep(0)
    for _ in range(20):  # the others had every chance to come in
        await asyncio.sleep(0)
    async with database.read() as db:  # the rest of the pool is free meanwhile
        assert (await db.execute(text("SELECT 1"))).scalar() == 1
    release.set()
    await asyncio.wait_for(asyncio.gather(*readers), 10)
    assert most == 2

    # One connection's share: work holding it opens a session inside its own, and starts tasks that read.
    alone = database.sharing(1)

    async def nested() -> int:
        async with alone.read() as outer:
            await outer.execute(text("SELECT 1"))
            async with alone.read_rows() as inner:
                first = (await inner.execute(text("SELECT 2"))).scalar()

            async def side() -> int:
                async with alone.read() as db:
                    return (await db.execute(text("SELECT 3"))).scalar()

            return first + sum(await asyncio.gather(side(), side()))

    assert await asyncio.wait_for(nested(), 10) == 8
