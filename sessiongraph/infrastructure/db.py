"""The database engine and the short-lived sessions every unit of work opens.

A database session is called `db` throughout, so it is never confused with the
domain's sessions.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from asyncpg import Connection
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.sqlite_inline import inline_reading_engine

log = logging.getLogger("sessiongraph.db")

# Set in a transaction's `db.info` by what wants the commit heard (`notify_on_commit`).
_NOTIFY_ON_COMMIT = "notify_on_commit"


def create_engine(settings: Settings, url: str | None = None, *, pooled: bool = True) -> AsyncEngine:
    """The engine for DATABASE_URL, or for `url` (a read replica's) with the same settings; unpooled, a
    connection of its own for each use, opened and closed with it."""
    pool: dict[str, Any] = {"pool_size": settings.database_pool_size, "max_overflow": settings.database_pool_size,
                            "pool_timeout": settings.database_pool_timeout_seconds} if pooled else {
        "poolclass": NullPool}
    if settings.is_sqlite:
        # Each aiosqlite connection is a thread of its own; a pool keeps them (opening one
        # per unit of work cost more than the query), and the busy timeout makes writers
        # queue instead of failing with "database is locked" -- for a bounded time, after
        # which the request answers SERVICE_UNAVAILABLE rather than waiting on.
        engine = create_async_engine(
            url or settings.database_url,
            **pool,
            connect_args={"timeout": settings.database_busy_timeout_seconds},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    statement_timeout = settings.database_statement_timeout_seconds
    timeout_ms = max(1, int(statement_timeout * 1000))
    connect_args: dict[str, Any] = {
        # asyncpg's own bounds: the whole connection set-up, and each statement on the client
        # side, which is what ends a wait on a server that does not answer at all.
        "timeout": settings.database_connect_timeout_seconds,
        "command_timeout": statement_timeout,
    }
    options: dict[str, Any] = {}
    if settings.database_pooler == "pgbouncer":
        connect_args.update(_transaction_pooled(timeout_ms))
        options["execution_options"] = {TRANSACTION_POOLED: True}
    else:
        # The server stops a slow statement itself, leaving the connection usable.
        connect_args["server_settings"] = {"statement_timeout": str(timeout_ms)}
    engine = create_async_engine(url or settings.database_url, **pool, connect_args=connect_args, **options)
    if pooled:
        ping_on_checkout(engine)
    return engine


# Marks a connection just made, which needs no ping on its first checkout.
_FRESH = "sessiongraph_fresh"


def ping_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection may have died in an outage: each checkout pings it first, so that the
    first request after the database came back does not fail on it.

    This is SQLAlchemy's `pool_pre_ping`, but in one round trip instead of three. Its asyncpg dialect
    pings in a transaction (BEGIN; SELECT; ROLLBACK, so that a pooler in transaction mode keeps
    the prepare and the execute on one server connection), and it did so before every read here:
    the reading engine's AUTOCOMMIT is applied only after the ping. A statement in the simple protocol
    (asyncpg's `execute` without arguments) is one message and one round trip, through a pooler too.
    (Not the empty statement: asyncpg fails on its answer, which has no command tag.) Two checkouts a request
    (the bearer's user, then the operation's reads) paid 0.37 M instructions each for the three.

    A failed ping invalidates the whole pool, as SQLAlchemy's does: the pool's other connections
    died in the same outage, and the checkout is tried again on a new connection."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def fresh(dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(sync_engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.pop(_FRESH, False):
            return
        try:
            await_(dbapi_connection.driver_connection.execute("SELECT 1"))
        except Exception as error:
            raise exc.InvalidatePoolError(f"the pooled connection failed its ping: {error!r}") from error


# An engine's execution option: its connections go through a pooler in transaction mode (PgBouncer's
# pool_mode=transaction), so that only what happens inside one transaction stays on one server connection.
TRANSACTION_POOLED = "transaction_pooled"


def _transaction_pooled(timeout_ms: int) -> dict[str, Any]:
    """asyncpg's connection arguments for a pooler in transaction mode (below PgBouncer 1.21, which
    knows nothing of prepared statements).

    Between two transactions the pooler may hand our client connection another server connection,
    where a statement prepared by name on the first does not exist -- or where another client's
    `__asyncpg_stmt_1__` already does. So neither asyncpg nor SQLAlchemy's dialect keeps prepared
    statements, and the dialect prepares each statement unnamed (its `prepared_statement_name_func`
    hook; SQLAlchemy's documented recipe names them by UUID instead, and asyncpg closes a named one only
    before the client connection's next statement -- by then perhaps on another server connection, so
    they pile up unless the pooler DISCARDs after each transaction). An unnamed statement
    lives until the next one on that server connection: the dialect executes it at once, inside the
    transaction (`Database` opens one for reads too), so it is still there.

    Session settings would leak to whichever client gets the server connection next, and the pooler
    refuses a `statement_timeout` startup parameter: the timeout is set per transaction instead,
    `SET LOCAL` with each BEGIN."""
    set_timeout = f" SET LOCAL statement_timeout = {timeout_ms};"

    class TransactionPooledConnection(Connection):
        async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109
            # asyncpg's Transaction.start sends its BEGIN through here: the SET LOCAL rides in the same
            # round trip (tests/test_database_pooler.py fails if it ever stops doing so).
            if not args and query.startswith("BEGIN"):
                query += set_timeout
            return await super().execute(query, *args, timeout=timeout)

    return {"statement_cache_size": 0, "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: "", "connection_class": TransactionPooledConnection}


def _no_answer(error: BaseException) -> bool:
    return isinstance(error, TimeoutError | ConnectionError) or "connection is closed" in str(error)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = (getattr(error, "original_error", None) or getattr(error, "orig", None)
                 or error.__cause__ or error.__context__)


# PostgreSQL's SQLSTATEs for "not now": a statement cancelled by statement_timeout, the server
# shutting down or starting up, too many connections, and the connection exceptions (class 08).
UNAVAILABLE_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03", "53300", "53400"})


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) says the database did not answer in time or could not be
    reached, as opposed to a mistake in the statement: the caller answers SERVICE_UNAVAILABLE."""
    causes = list(_causes(error))
    in_database = any(isinstance(cause, exc.SQLAlchemyError) for cause in causes)
    for cause in causes:
        if isinstance(cause, exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return True
        if _no_answer(cause) or (in_database and isinstance(cause, OSError)):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate in UNAVAILABLE_SQLSTATES or sqlstate.startswith("08")):
            return True
        if isinstance(cause, sqlite3.OperationalError) and any(
                word in str(cause) for word in ("database is locked", "database is busy")):
            return True
    return False


def create_reading_engine(settings: Settings, url: str | None = None) -> AsyncEngine | None:
    """On SQLite, the engine its reads go through: on the event loop's thread, not aiosqlite's
    (sessiongraph/infrastructure/sqlite_inline.py); elsewhere None, the engine reads as it writes."""
    if not settings.is_sqlite:
        return None
    return inline_reading_engine(url or settings.database_url, timeout=settings.database_busy_timeout_seconds,
                                 pool_size=settings.database_pool_size, max_overflow=settings.database_pool_size,
                                 pool_timeout=settings.database_pool_timeout_seconds)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Whether this task (or the task that started it) holds a turn of a `Database.sharing` view.
_HOLDS_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("holds_database_turn", default=False)


class Database:
    """Hands out database sessions; one per loader batch, one per mutation."""

    # Which node answers the reads: the primary, or a read replica's name (`reading_from`).
    node = "primary"

    def __init__(self, engine: AsyncEngine, *, reading_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self._reading_engine = reading_engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # Reads on PostgreSQL run outside a transaction: asyncpg would otherwise send BEGIN
        # before a loader's one SELECT and ROLLBACK after it, two round trips for nothing.
        # Nothing is lost: at READ COMMITTED every statement takes its own snapshot anyway.
        # (SQLite's driver opens no transaction for a SELECT, so its reads stay as they are.)
        # Behind a pooler in transaction mode, though, a statement outside a transaction is prepared on
        # one server connection and could be executed on another: reads open a transaction there.
        autocommit = engine.dialect.name != "sqlite" and not engine.get_execution_options().get(TRANSACTION_POOLED)
        reading = engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else reading_engine or engine
        self._reads = async_sessionmaker(reading, class_=AsyncSession, expire_on_commit=False)
        self._reading = reading
        self._commit_listeners: list[Callable[[], None]] = []
        self._turns: asyncio.Semaphore | None = None  # see `sharing`

    def reading_from(self, replica: Database, node: str) -> Database:
        """This database, its reads answered by `replica` (sessiongraph/infrastructure/replicas.py); writes,
        and the reads inside them, stay here."""
        view = copy.copy(self)
        view._reads, view._reading, view.node = replica._reads, replica._reading, node
        return view

    def sharing(self, connections: int) -> Database:
        """This database, for work that may hold at most `connections` of the pool's connections at once (a
        WebSocket's, so that a surge of sockets leaves the rest of the pool to HTTP requests): its reads,
        rows and transactions wait their turn. A task that holds a turn reads on in it (as do the tasks it
        starts), so that work opening a session inside another never waits on itself."""
        view = copy.copy(self)
        view._turns = asyncio.Semaphore(connections)
        return view

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._turns is None or _HOLDS_TURN.get():
            yield
            return
        async with self._turns:
            holding = _HOLDS_TURN.set(True)
            try:
                yield
            finally:
                _HOLDS_TURN.reset(holding)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; on PostgreSQL each statement commits on its own, so never write in it."""
        async with self._turn(), self._reads() as db:
            yield db

    async def reading_connection(self) -> AsyncConnection:
        """A connection for reading that the caller closes: one operation's reads share it (see
        resolvers/context.py `SharedReads`), so that the operation checks a connection out once."""
        return await self._reading.connect().start()

    def session_on(self, connection: AsyncConnection) -> AsyncSession:
        """An ORM session reading through `connection`; closing it leaves the connection open."""
        return AsyncSession(bind=connection, expire_on_commit=False)

    @asynccontextmanager
    async def read_rows(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading rows with Core statements, as `read` but without an ORM
        session, which costs more than a short statement's whole round trip."""
        async with self._turn(), self._reading.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with self._turn(), self._sessions() as db:
            async with db.begin():
                yield db
            if db.info.pop(_NOTIFY_ON_COMMIT, False):
                self._committed()

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener` after every commit of a transaction that called `notify_on_commit`
        (the outbox relay: it publishes what the transaction recorded at once, rather than at its
        next poll). Returns the function that stops it."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

    def _committed(self) -> None:
        for listener in list(self._commit_listeners):
            try:
                listener()
            except Exception:  # the transaction has committed: its caller must not see this
                log.exception("a commit listener failed")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine its statements go through: the one engine, or on SQLite also the reading one
        (what listens to statements, traces them or counts them listens to each)."""
        return (self.engine,) if self._reading_engine is None else (self.engine, self._reading_engine)

    @classmethod
    def of(cls, settings: Settings, url: str | None = None) -> Database:
        """The database DATABASE_URL (or `url`) names, as the service reads and writes it."""
        return cls(create_engine(settings, url), reading_engine=create_reading_engine(settings, url))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reading_engine is not None:
            await self._reading_engine.dispose()


def notify_on_commit(db: AsyncSession) -> None:
    """Once the transaction `db` belongs to commits, `Database.on_commit` listeners are called."""
    db.info[_NOTIFY_ON_COMMIT] = True
