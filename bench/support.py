"""What the benchmarks share: a database of their own to run on."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from sessiongraph.infrastructure.settings import async_database_url


async def make_database(given: str | None, folder: Path, purpose: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """The URL to benchmark on, and how to drop it afterwards.

    SQLite (the default) is a file in `folder`; with a PostgreSQL server URL a database
    named for `purpose` is created on that server, and dropping it is the cleanup.
    """
    async def nothing() -> None:
        return None

    if not given or given.startswith("sqlite"):
        return given or f"sqlite+aiosqlite:///{folder / 'bench.db'}", nothing
    server = make_url(async_database_url(given))
    name = f"bench_{purpose}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()

    async def drop() -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


async def analyze(database) -> None:
    """Statistics for the freshly seeded tables, as autovacuum would soon gather on a real server;
    without them PostgreSQL plans for a few hundred rows and joins 100,000 by nested loops."""
    if database.engine.dialect.name == "postgresql":
        async with database.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_ready(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    """Until the service at `base` answers /readyz, or the process has exited."""
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        for _ in range(int(seconds * 10)):
            if server.poll() is not None:
                raise SystemExit("the server exited before it was ready")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"the server was not ready within {seconds:.0f} s")
