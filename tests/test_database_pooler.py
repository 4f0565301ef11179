"""PostgreSQL's engine as configured, and behind a pooler in transaction mode (DATABASE_POOLER=pgbouncer).

Behind PgBouncer only a transaction keeps its server connection, so the pooled engine sets the statement
timeout per transaction and reads in a transaction. These run on whichever server DATABASE_URL names (the
pooled engine works against PostgreSQL itself too); .ci/run runs them through a real PgBouncer as well.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from asyncpg import Connection
from sqlalchemy import text

from sessiongraph.infrastructure.db import Database, create_engine
from tests.conftest import on_postgresql

# The engine of the run (a direct one cannot pass PgBouncer, which refuses its startup parameter), and the pooled one.
POOLERS = sorted({os.environ.get("DATABASE_POOLER", "none"), "pgbouncer"})


@pytest.fixture(params=POOLERS)
async def engine_of(request, settings, database) -> AsyncIterator[Database]:
    if not on_postgresql():
        pytest.skip("PostgreSQL's statement timeout and transactions; SQLite has a busy timeout (test_database_faults)")
    own = Database(create_engine(settings.model_copy(update={
        "database_pooler": request.param, "database_statement_timeout_seconds": 1.5})))
    yield own
    await own.dispose()


async def test_every_unit_of_work_runs_under_the_statement_timeout(engine_of):
    async with engine_of.write() as db:
        assert (await db.execute(text("SHOW statement_timeout"))).scalar() == "1500ms"
    async with engine_of.read() as db:
        assert (await db.execute(text("SHOW statement_timeout"))).scalar() == "1500ms"
    async with engine_of.read_rows() as connection:
        assert (await connection.execute(text("SHOW statement_timeout"))).scalar() == "1500ms"


async def test_a_statement_past_the_timeout_is_stopped(engine_of):
    """By the server (57014) or, whichever comes first, by asyncpg's command timeout: either way unavailable."""
    from sessiongraph.infrastructure.db import database_unavailable

    with pytest.raises(Exception) as raised:
        async with engine_of.read() as db:
            await db.execute(text("SELECT pg_sleep(10)"))
    assert database_unavailable(raised.value), raised.value
    async with engine_of.read() as db:  # and the pooled connection serves the next one
        assert (await db.execute(text("SELECT 1"))).scalar() == 1


async def test_behind_a_pooler_a_read_keeps_one_transaction(engine_of):
    """Outside a transaction the pooler could run a statement's execution on another server connection than the
    one it was prepared on; directly, reads skip BEGIN and ROLLBACK, each statement its own transaction."""
    async with engine_of.read() as db:
        first = (await db.execute(text("SELECT txid_current()"))).scalar()
        second = (await db.execute(text("SELECT txid_current()"))).scalar()
    pooled = engine_of.engine.get_execution_options().get("transaction_pooled", False)
    assert (first == second) is pooled


async def test_behind_a_pooler_no_prepared_statement_stays_on_the_server(engine_of):
    """Named statements would outlive the transaction on its server connection, for the pooler's next client
    to trip over (`__asyncpg_stmt_1__` already exists) or to pile up: behind one, every statement is unnamed."""
    for _ in range(3):
        async with engine_of.write() as db:
            await db.execute(text("SELECT count(*) FROM course WHERE code = :code"), {"code": "X"})
        async with engine_of.read() as db:
            await db.execute(text("SELECT count(*) FROM app_user WHERE id = :id"), {"id": 1})
    async with engine_of.read() as db:
        kept = (await db.execute(text("SELECT count(*) FROM pg_prepared_statements"))).scalar()
    pooled = engine_of.engine.get_execution_options().get("transaction_pooled", False)
    # Directly, the engine keeps them per connection on purpose (this very statement among them).
    assert (kept == 0) is pooled, kept


async def test_a_pooled_connection_is_pinged_in_one_round_trip(engine_of, monkeypatch):
    """Each checkout pings the pooled connection (test_database_faults: an outage while idle), with one
    statement in the simple protocol: not SQLAlchemy's BEGIN, SELECT and ROLLBACK, three round trips."""
    sent: list[str] = []
    for method in ("execute", "fetch", "fetchrow", "_execute"):
        original = getattr(Connection, method)

        def spy(self, query, *args, _original=original, _method=method, **kwargs):
            sent.append(f"{_method}: {query}")
            return _original(self, query, *args, **kwargs)
        monkeypatch.setattr(Connection, method, spy)

    async with engine_of.read_rows() as connection:  # a new connection: nothing to ping
        await connection.execute(text("SELECT 2"))
    made = list(sent)
    del sent[:]
    async with engine_of.read_rows() as connection:  # the same one, from the pool
        await connection.execute(text("SELECT 2"))

    assert not any("SELECT 1" in s for s in made), made
    pinged = [s for s in sent if "SELECT 2" not in s and "SET LOCAL" not in s and s != "execute: BEGIN"
              and not s.startswith("execute: ROLLBACK")]
    assert pinged == ["execute: SELECT 1"], sent
