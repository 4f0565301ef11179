"""What every resolver gets for one request (or one subscription event)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sessiongraph.infrastructure.broker import Broker, InProcessBroker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.replicas import Replicas
from sessiongraph.infrastructure.scheduler import Scheduler
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.models import User


@dataclass(slots=True)
class Actor:
    """Who is asking. Roles beyond the admin flag come from the data, per object."""

    user: User | None = None

    @classmethod
    def command_line(cls) -> Actor:
        """The operator at the command line: an administrator who is no stored user."""
        return cls(User(name="sessiongraph command line", email="operator@localhost", is_admin=True))

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


# Where an HTTP request's state keeps the reads its sign-in began.
REQUEST_READS = "sessiongraph_reads"


class SharedReads:
    """One database connection for all the reads of one operation, its statements one at a time.

    Each statement read through a session of its own paid for a pool checkout, and on
    PostgreSQL the pre-ping round trip that checkout makes (infrastructure/db.py): about
    as much CPU as the statement itself. An operation's loaders and lists run side by
    side, and a connection takes one statement at a time, so a lock queues them; the
    statements of one request then run one after another, each still answering a whole
    level's batch. A statement that comes after the operation has been answered (a
    sibling field graphql-core left running when an error nulled its parent) reads
    through a session of its own.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: AsyncConnection | None = None
        # An ORM session on that connection, made only for a statement that reads instances: one that
        # reads columns only runs on the connection itself, without a session's bookkeeping (its
        # transaction object, identity map and close), some 100 µs a statement.
        self._db: AsyncSession | None = None
        self._closed = False
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """The connection for the statements of this block, in the task that holds it: a loader takes
        its turn first and gathers its keys after, so that the keys that came while it waited
        go into its statement instead of one more."""
        async with self._lock:
            self._holder = asyncio.current_task()
            try:
                yield
            finally:
                self._holder = None

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._holder is not None and self._holder is asyncio.current_task():
            return await self._run(method, *args, **kwargs)
        async with self._lock:
            return await self._run(method, *args, **kwargs)

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            async with self.database.read() as db:
                return await getattr(db, method)(*args, **kwargs)
        try:
            if self._connection is None:
                self._connection = await self.database.reading_connection()
            if args and _reads_no_instances(args[0]):
                return await getattr(self._connection, method)(*args, **kwargs)
            if self._db is None:
                self._db = self.database.session_on(self._connection)
            return await getattr(self._db, method)(*args, **kwargs)
        except BaseException:
            # A failed statement leaves the connection waiting for a rollback (or dead); the next
            # statement starts afresh on a connection of its own.
            await asyncio.shield(self._release())
            raise

    async def _release(self) -> None:
        db, connection, self._db, self._connection = self._db, self._connection, None, None
        try:
            if db is not None:
                await db.close()
        finally:
            if connection is not None:
                await connection.close()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("execute", *args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("scalars", *args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("scalar", *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("get", *args, **kwargs)

    def get_bind(self) -> Any:
        return self.database.engine

    async def close(self) -> None:
        """After the statement under way, if any; later ones read through sessions of their own."""
        async with self._lock:
            self._closed = True
            await self._release()


def _reads_no_instances(statement: Any) -> bool:
    """A SELECT (or a UNION of them) of columns only: no entity (a mapped class, or an alias of
    one) among what it selects."""
    if isinstance(statement, CompoundSelect):
        return all(_reads_no_instances(select) for select in statement.selects)
    return isinstance(statement, Select) and not any(
        column.is_selectable and "parententity" in column._annotations for column in statement._raw_columns)


@dataclass
class Context:
    database: Database
    clock: Clock
    settings: Settings
    actor: Actor
    broker: Broker = field(default_factory=InProcessBroker)
    scheduler: Scheduler | None = None
    # The mutation rate limiter (sessiongraph/infrastructure/ratelimit.py), which signIn asks too; None when off.
    rate_limiter: Any = None
    request: Any = None
    response: Any = None
    # What a WebSocket client sent in `connection_init`.
    connection_params: dict[str, Any] | None = None
    loaders: dict[type, Any] = field(default_factory=dict)
    # One instant per request, so every field of a response agrees on "now".
    now: datetime = None  # type: ignore[assignment]
    # While an operation executes (schema/planned.py `OneReadSession`), the session its reads share.
    shared_reads: SharedReads | None = None
    # Read replicas (DATABASE_REPLICA_URLS), None without; `read_failover` asks the HTTP view to answer a
    # query again after the replica it read from failed (sessiongraph/server/app.py).
    replicas: Replicas | None = None
    read_failover: bool = False
    # While the planned execution answers (schema/execution.py): it gathers a level's awaitables all at
    # once, which is what `Together` does for sibling lists, so those run as they are called.
    answered_by_levels: bool = False

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = self.clock.now()
        if self.scheduler is None:
            self.scheduler = Scheduler(self.clock)

    def fresh(self) -> Context:
        """A context for one subscription event: the same caller, empty loaders, a new "now".

        Over WebSocket the connection's context lives as long as the socket; its
        loaders would answer every event with what they cached for the first.
        """
        return replace(self, loaders={}, now=self.clock.now(), shared_reads=None)

    def refresh(self, loaders: dict[type, Any] | None = None) -> None:
        """Forget every load (for `loaders`, shared with others hearing the same event, when given) and
        take a new "now": the connection's context, before each event it serves, so the event's fields
        are read as they are now."""
        self.loaders = {} if loaders is None else loaders
        self.now = self.clock.now()

    @asynccontextmanager
    async def read_turn(self) -> AsyncIterator[Any]:
        """`read`, with the shared session held for the whole block (see `SharedReads.turn`)."""
        if self.shared_reads is not None:
            async with self.shared_reads.turn():
                yield self.shared_reads
            return
        async with self.database.read() as db:
            yield db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        """A session for reading (never write in it): the operation's shared one while it executes,
        else one of its own."""
        if self.shared_reads is not None:
            yield self.shared_reads
            return
        async with self.database.read() as db:
            yield db

    async def reads_for_query(self) -> Database:
        """The database a query's reads go to, chosen once per query (schema/execution.py `OneReadSession`): a
        replica when one is fit to answer this caller. A WebSocket's context is shared by all the socket's
        operations, its subscriptions' events too, which read from the primary: its queries do as well."""
        if self.replicas is None or self.request is None or getattr(self.request, "scope", {}).get("type") != "http":
            return self.database
        return await self.replicas.for_query(self.actor.user_id)

    async def mutation_done(self) -> None:
        """After a mutation: its writer's next queries read from a replica only once it has replayed them."""
        if self.replicas is not None and self.actor.user_id is not None:
            await self.replicas.wrote(self.actor.user_id)

    def take_request_reads(self) -> SharedReads | None:
        """The reads an HTTP request's sign-in began on the primary (sessiongraph/server/app.py
        `Authentication`), handed to the first operation that asks; None when there are none."""
        state = getattr(self.request, "scope", {}).get("state") if self.request is not None else None
        return state.pop(REQUEST_READS, None) if state else None

    def forget_loaded(self) -> None:
        """Drop every cached load; a mutation has changed what they would answer."""
        self.loaders.clear()
