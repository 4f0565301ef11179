"""Alembic migrations, and the checks the service runs on them at start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, cast

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
    return _scripts().get_current_head()


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


@cache  # the release's own scripts: read once, not at every readiness probe
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def previous_revision(revision: str) -> str | None:
    script = _scripts().get_revision(revision)
    return cast(str | None, script.down_revision) if script is not None else None


@cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


async def is_up_to_date(engine: AsyncEngine) -> bool:
    """At this release's head, or past it: at a revision this release does not know, which a newer release's
    migration applied. A rolling update migrates first (the Helm chart's pre-upgrade Job) while the old
    release's pods still serve, and each migration keeps the previous release working: those pods stay
    ready until the new ones are, rather than all turning unready at once."""
    current = await current_revision(engine)
    return current is not None and (current == head_revision() or current not in known_revisions())
