"""The database engine and the short-lived sessions every unit of work opens.

A database session is called `db` throughout, so it is never confused with the
domain's sessions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from sessiongraph.infrastructure.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        # Each aiosqlite connection is a thread of its own; a pool keeps them (opening one
        # per unit of work cost more than the query), and the busy timeout makes writers
        # queue instead of failing with "database is locked".
        engine = create_async_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
            connect_args={"timeout": 30},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=False,
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """Hands out database sessions; one per loader batch, one per mutation."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # Reads on PostgreSQL run outside a transaction: asyncpg would otherwise send BEGIN
        # before a loader's one SELECT and ROLLBACK after it, two round trips for nothing.
        # Nothing is lost: at READ COMMITTED every statement takes its own snapshot anyway.
        # (SQLite's driver opens no transaction for a SELECT, so its reads stay as they are.)
        reading = engine if engine.dialect.name == "sqlite" else engine.execution_options(
            isolation_level="AUTOCOMMIT")
        self._reads = async_sessionmaker(reading, class_=AsyncSession, expire_on_commit=False)
        self._reading = reading

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; on PostgreSQL each statement commits on its own, so never write in it."""
        async with self._reads() as db:
            yield db

    @asynccontextmanager
    async def read_rows(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading rows with Core statements, as `read` but without an ORM
        session, which costs more than a short statement's whole round trip."""
        async with self._reading.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with self._sessions() as db, db.begin():
            yield db

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()
