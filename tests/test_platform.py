"""The service's plumbing: health checks, migrations, scalars, error masking."""

import logging
from datetime import UTC

import pytest
import strawberry
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlmodel import SQLModel, col

from sessiongraph import migrations
from sessiongraph.models import User
from sessiongraph.models.columns import UTCDateTime
from sessiongraph.schema.extensions import ErrorCodes
from sessiongraph.schema.scalars import SCALARS


async def test_healthz_answers_while_the_process_is_up(http):
    response = await http.get("/healthz")

    assert response.status_code == 200


async def test_readyz_answers_200_when_the_database_is_migrated(http):
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"ready": True}


@pytest.mark.parametrize(("at", "ready"), [("the previous revision", False), ("a newer release's", True)])
async def test_readyz_is_ready_at_this_release_s_head_or_past_it_not_behind_it(http, database, at, ready):
    # given: the database behind this release's head, or migrated past it by a newer release (a rolling
    # update migrates first, while this release's pods still serve)
    head = migrations.head_revision()
    assert head is not None
    previous = migrations.previous_revision(head)
    revision = previous if at == "the previous revision" else "f00d_a_newer_release"
    async with database.write() as db:
        await db.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})
    try:
        response = await http.get("/readyz")
    finally:
        async with database.write() as db:
            await db.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": head})

    # then: ready past the head (the old pods keep serving until the new ones are ready), not behind it
    assert response.status_code == (200 if ready else 503), response.text
    if not ready:
        assert response.json()["reason"] == "database not migrated"


async def test_the_migrations_create_exactly_the_tables_the_models_describe(database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"include_object": migrations.include_object})
        return compare_metadata(context, SQLModel.metadata)

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)

    assert diff == []
    assert await migrations.current_revision(database.engine) == migrations.head_revision()


async def test_every_utc_column_reads_back_aware_in_utc(database, make_user):
    """UTCDateTime makes SQLite's naive values aware, and leaves asyncpg's as they come: asyncpg reads a
    timestamptz as an aware UTC datetime, so every such column must be a timestamptz on PostgreSQL."""
    columns = {(table.name, column.name) for table in SQLModel.metadata.tables.values()
               for column in table.columns if isinstance(column.type, UTCDateTime)}
    assert len(columns) > 20
    user = await make_user("Ada")

    async with database.engine.connect() as connection:
        created_at = (await connection.execute(
            select(User.created_at).where(col(User.id) == user.id))).scalar_one()
        if database.dialect == "postgresql":
            kinds = {(table, name): kind for table, name, kind in (await connection.execute(text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema()"))).all()}
            assert {kinds[column] for column in columns} == {"timestamp with time zone"}

    assert created_at.tzinfo is UTC, created_at


def test_the_session_order_index_spells_the_constant_the_list_query_does():
    # PostgreSQL uses an expression index only for a query with the same expression.
    from sessiongraph.models.sessions import OPEN_START_SQL

    migration = (migrations.HERE / "versions" / "0005_session_order_index.py").read_text()
    assert f"coalesce(access_start, {OPEN_START_SQL}), name, id" in migration


async def test_a_naive_datetime_is_a_bad_user_input_error(admin):
    body = await admin.execute(
        'mutation($w: DateWindowInput) { createSession(input: {name: "S", accessWindow: $w}) { session { id } } }',
        w={"start": "2026-03-01T09:00:00"})

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "offset" in body["errors"][0]["message"]
    assert (await admin("{ sessions { totalCount } }"))["sessions"]["totalCount"] == 0


async def test_a_naive_datetime_literal_is_a_bad_user_input_error(admin):
    body = await admin.execute(
        'mutation { createSession(input: {name: "S", accessWindow: {end: "2026-03-01T09:00:00"}}) { session { id } } }')

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_datetimes_come_back_in_utc_with_an_offset(admin):
    data = await admin(
        'mutation { createSession(input: {name: "S", accessWindow: {start: "2026-03-01T09:00:00+09:00"}}) '
        '{ session { accessWindow { start end } } } }')

    assert data["createSession"]["session"]["accessWindow"] == {"start": "2026-03-01T00:00:00+00:00", "end": None}


async def test_an_invalid_query_is_a_validation_error_with_a_code(admin):
    body = await admin.execute("{ sessions { nope } }")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_an_unexpected_exception_is_masked_with_an_error_id_that_is_logged(caplog):
    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> int:
            raise RuntimeError("secret database password in this message")

    schema = strawberry.Schema(query=Query, extensions=[ErrorCodes],
                               config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALARS))

    with caplog.at_level(logging.ERROR, logger="sessiongraph.errors"):
        result = schema.execute_sync("{ broken }")

    error = result.errors[0]
    assert error.message == "Internal server error"
    assert error.extensions["code"] == "INTERNAL"
    assert "secret" not in str(error.formatted)
    assert error.extensions["errorId"] in caplog.text
    assert "secret database password" in caplog.text


@pytest.mark.parametrize("url,expected", [
    ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
])
def test_plain_database_urls_are_mapped_to_the_async_drivers(url, expected):
    from sessiongraph.infrastructure.settings import async_database_url

    assert async_database_url(url) == expected


async def test_an_unused_variable_is_a_validation_error_and_a_missing_one_bad_input(admin):
    unused = await admin.execute("query($x: Int) { viewer { user { name } } }")
    missing = await admin.execute("query($id: ID!) { node(id: $id) { id } }")

    assert unused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert missing["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
