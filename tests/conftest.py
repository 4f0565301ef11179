"""Fixtures: a migrated database on the engine DATABASE_URL names, a frozen clock,
the app behind a real HTTP client, and callers signed in as the roles tests need.

With no DATABASE_URL the tests run on a SQLite file; with a PostgreSQL URL they
create a database of their own beside it (so parallel runs never meet) and drop
it at the end. Through PgBouncer: DATABASE_POOLER=pgbouncer, DATABASE_URL naming the
pooler and DATABASE_ADMIN_URL the server behind it (.ci/run does so).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from sessiongraph import migrations, models
from sessiongraph.infrastructure.clock import FrozenClock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings, async_database_url
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def on_postgresql() -> bool:
    """Whether this run's tests run on PostgreSQL: DATABASE_URL names a server, not SQLite."""
    given = os.environ.get("DATABASE_URL")
    return bool(given) and not given.startswith("sqlite")


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory) -> AsyncIterator[str]:
    given = os.environ.get("DATABASE_URL")
    if not on_postgresql():
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    server_url = make_url(async_database_url(given))
    name = f"sessiongraph_test_{uuid.uuid4().hex[:12]}"
    # Behind a pooler (DATABASE_POOLER=pgbouncer) the database is made on the server itself, which
    # DATABASE_ADMIN_URL names; the tests then reach it through the pooler under the same name.
    admin_url = make_url(async_database_url(os.environ.get("DATABASE_ADMIN_URL") or given))
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def settings(database_url) -> Settings:
    return Settings(database_url=database_url, jwt_secret="test-secret-of-at-least-thirty-two-bytes", environment="test",
                    _env_file=None)


@pytest.fixture(scope="session")
async def database(settings) -> AsyncIterator[Database]:
    database = Database.of(settings)
    await migrations.upgrade(database.engine)
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def clean_tables(request) -> AsyncIterator[None]:
    """Each test starts from empty tables."""
    yield
    if "database" not in request.fixturenames:
        return
    await empty_tables(request.getfixturevalue("database"))


async def empty_tables(database: Database) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    async with database.write() as db:
        if database.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await db.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await db.execute(table.delete())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
async def app(settings, database, clock):
    app = create_app(settings, clock=clock, database=database, check_migrations=False)
    # The outbox relay publishes events (the app's lifespan starts it in a served process).
    await app.state.relay.start()
    yield app
    await app.state.relay.close()
    await app.state.dispatcher.close()
    await app.state.email_sender.close()
    await app.state.planner.close()


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


class GraphQLFailed(AssertionError):
    pass


@dataclass
class Caller:
    """Someone sending GraphQL requests: anonymous, or signed in as `user`."""

    http: httpx.AsyncClient
    settings: Settings
    clock: FrozenClock
    user: models.User | None = None

    @property
    def headers(self) -> dict[str, str]:
        if self.user is None:
            return {}
        return {"Authorization": f"Bearer {issue_token(self.user.id, self.settings, self.clock.now())}"}

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        """The whole response body."""
        response = await self.http.post("/graphql", json={"query": query, "variables": variables},
                                        headers=self.headers)
        return response.json()

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        """The data of a response that must have no top-level errors."""
        body = await self.execute(query, **variables)
        if body.get("errors"):
            raise GraphQLFailed(body["errors"])
        return body["data"]


@pytest.fixture
def make_user(database):
    async def make(name: str = "Learner", email: str | None = None, **fields: Any) -> models.User:
        user = models.User(name=name, email=email or f"{uuid.uuid4().hex[:10]}@example.test", **fields)
        async with database.write() as db:
            db.add(user)
        return user

    return make


@pytest.fixture
def caller(http, settings, clock):
    def as_user(user: models.User | None = None) -> Caller:
        return Caller(http, settings, clock, user)

    return as_user


@pytest.fixture
async def admin(make_user, caller) -> Caller:
    return caller(await make_user("Ada Admin", "admin@example.test", is_admin=True))


@pytest.fixture
def anonymous(caller) -> Caller:
    return caller(None)


@dataclass
class StatementLog:
    statements: list[str]
    parameters: list[Any] = field(default_factory=list)  # each statement's, as the driver got them

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(database):
    """`with count_statements() as log:` records every SQL statement the block sends, with its parameters
    (but not the outbox relay's background work)."""

    @contextmanager
    def counting():
        log = StatementLog([])

        def record(_conn, _cursor, statement, parameters, context, *_args):
            if context is not None and context.execution_options.get("background_work"):
                return  # the outbox relay's, running beside the operation
            log.statements.append(statement)
            log.parameters.append(parameters)

        engines = [engine.sync_engine for engine in database.engines]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            yield log
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)

    return counting


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def next_schedule_message(subscription) -> dict[str, Any]:
    """A schedule message from the broker, less the outbox's event ID (tests/test_outbox.py holds those to the
    events)."""
    import asyncio

    message = dict(await asyncio.wait_for(anext(subscription), 5))
    assert isinstance(message.pop("eventId"), int)
    return message


@asynccontextmanager
async def serving(app, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """`app` served by a real uvicorn (given these options) on `port` or a free loopback port; yields its
    host:port."""
    import asyncio

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning",
                                           lifespan="off", **options))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live_server(app) -> AsyncIterator[str]:
    """The test's app behind a real uvicorn, with the test's frozen clock."""
    async with serving(app) as address:
        yield address


@pytest.fixture
async def ws_connect(live_server, settings, clock) -> AsyncIterator[Any]:
    """`await ws_connect(user, protocol)`: a GraphQL WebSocket to the live server, signed in as the user."""
    from tests.ws_client import GraphQLSocket

    sockets: list[GraphQLSocket] = []

    async def open_as(user: models.User, protocol: str) -> GraphQLSocket:
        socket = await GraphQLSocket.connect(live_server, protocol, issue_token(user.id, settings, clock.now()))
        sockets.append(socket)
        return socket

    yield open_as
    for socket in sockets:
        await socket.close()


@pytest.fixture
async def live_server_with(settings, database, clock) -> AsyncIterator[Any]:
    """`await live_server_with(**overrides)`: host:port of an app whose settings differ in those, behind a
    real uvicorn run with the options `sessiongraph serve` gives it."""
    from sessiongraph.server.cli import uvicorn_options

    async with AsyncExitStack() as stack:

        async def serve(**overrides: Any) -> str:
            app = create_app(settings.model_copy(update=overrides), clock=clock, database=database,
                             check_migrations=False)
            stack.push_async_callback(app.state.broker.close)
            stack.push_async_callback(app.state.persisted.close)
            if app.state.rate_limiter is not None:
                stack.push_async_callback(app.state.rate_limiter.close)
            return await stack.enter_async_context(serving(app, **uvicorn_options(app.state.settings)))

        yield serve


@pytest.fixture
async def client_with(settings, database, clock) -> AsyncIterator[Any]:
    """`await client_with(max_query_depth=3)`: an HTTP client of an app whose settings differ in those."""
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=overrides), clock=clock, database=database,
                         check_migrations=False)
        await app.state.relay.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        client.app = app
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
        await client.app.state.relay.close()
        await client.app.state.dispatcher.close()
        await client.app.state.email_sender.close()
        await client.app.state.planner.close()
        await client.app.state.broker.close()
        await client.app.state.persisted.close()
        if client.app.state.rate_limiter is not None:
            await client.app.state.rate_limiter.close()
