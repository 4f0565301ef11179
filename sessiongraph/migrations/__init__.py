"""Alembic migrations, and the checks the service runs on them at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent

# Indexes a migration creates that the models do not describe: expression indexes, which
# Alembic cannot compare (it reports them changed on PostgreSQL). Comparisons of the models
# with the database (autogenerate, tests/test_platform.py) leave them out.
MIGRATION_ONLY_INDEXES = frozenset({"ix_session_open_first_order"})


def include_object(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def upgrade(engine: AsyncEngine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def is_up_to_date(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()
