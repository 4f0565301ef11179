"""SQLite reads on the event loop's own thread, without aiosqlite's thread per connection.

aiosqlite runs each call of a connection (cursor, execute, fetchall, close...) on a thread of its
own and hands the answer back through the event loop: measured on the full-scale benchmark
database, one indexed SELECT of a user (four such calls) cost 343 µs of CPU that way against 7 µs
called directly. Under load SQLite's CPU per request was 1.4 to 2.3 times PostgreSQL's (README,
"Instructions per request, and SQLite at full scale").

A read on SQLite in WAL mode does not wait for writers, and the service's reads are indexed and
short (a month calendar's statement takes 0.4 ms), so `Database` reads SQLite through connections
whose calls run where they are awaited: the loop stops for the statement's own time and nothing
more. Writes keep aiosqlite: a writer may wait for the database lock (up to the busy timeout), and
that wait must not stop the loop.

The classes give SQLAlchemy's aiosqlite dialect the part of aiosqlite's API it calls, through its
`async_creator` hook; everything else (pooling, errors, which are sqlite3's own classes either way)
is the dialect's as before. The writing engine's pragmas are not run on these connections: WAL is
the file's own mode once a writer set it, and foreign keys and `synchronous` concern writes only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Inline:
    """What the dialect puts its isolation-level change on (aiosqlite's queue to its thread): run now."""

    __slots__ = ()

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is None:
                raise
            future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection:
    """A sqlite3 connection with aiosqlite.Connection's coroutine methods, answered where awaited."""

    __slots__ = ("_conn", "_open")

    _tx = _Inline()

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._open = True

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """aiosqlite's name for it, None once closed: the dialect commits and rolls back only while it is set."""
        return self._conn if self._open else None

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._open = False
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


async def _connect(path: str, busy_timeout: float) -> InlineConnection:
    # check_same_thread off: SQLAlchemy's pool may close a connection from its finalizer's thread.
    return InlineConnection(sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False))


def inline_reading_engine(url: str, *, timeout: float, **pool: Any) -> AsyncEngine | None:
    """An engine for reading the SQLite file at `url` inline; None for an in-memory database, which
    a second engine could not share."""
    parsed = make_url(url)
    path = parsed.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return create_async_engine(parsed, async_creator=partial(_connect, path, timeout), **pool)
