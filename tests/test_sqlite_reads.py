"""SQLite's reads are answered on the event loop's thread (sessiongraph/infrastructure/sqlite_inline.py),
its writes on aiosqlite's; a read never waits for a writer. On a SQLite database of its own, whatever
DATABASE_URL says."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text

from sessiongraph import migrations
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings


def sqlite_database(tmp_path) -> Database:
    return Database.of(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}", _env_file=None,
                                jwt_secret="test-secret-of-at-least-thirty-two-bytes", environment="test",
                                database_busy_timeout_seconds=5))


async def test_a_read_is_answered_where_it_is_awaited_and_sees_the_last_write(tmp_path):
    """No thread to hand the statement to and its rows back from: the event loop runs nothing else
    meanwhile (through aiosqlite it ran the other tasks several times over)."""
    database = sqlite_database(tmp_path)
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    try:
        await migrations.upgrade(database.engine)
        async with database.write() as db:
            await db.execute(text("INSERT INTO session_category (name) VALUES ('Languages')"))
        async with database.read_rows() as connection:
            counting = asyncio.create_task(count_turns())
            await asyncio.sleep(0)
            before = turns
            names = (await connection.execute(text("SELECT name FROM session_category"))).scalars().all()
            turns_meanwhile = turns - before
            counting.cancel()
    finally:
        await database.dispose()

    assert names == ["Languages"]  # what a write committed just before
    assert turns_meanwhile == 0


async def test_a_read_does_not_wait_for_a_writer_holding_the_database(tmp_path):
    """WAL: readers see the last commit while a writer's transaction is open. Were it otherwise, a read on
    the loop's thread would stop every request for the busy timeout (5 s here)."""
    database = sqlite_database(tmp_path)
    try:
        await migrations.upgrade(database.engine)
        async with database.write() as db:
            await db.execute(text("INSERT INTO session_category (name) VALUES ('Languages')"))
        writer = sqlite3.connect(tmp_path / "reads.db", isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO session_category (name) VALUES ('Music')")
        try:
            async with asyncio.timeout(1):
                async with database.read() as db:
                    names = (await db.scalars(text("SELECT name FROM session_category"))).all()
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    finally:
        await database.dispose()

    assert names == ["Languages"]
