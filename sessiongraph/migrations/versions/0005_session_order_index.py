"""session order index: the admin session list's order, coalesce(access_start, -infinity),
name, id, served by an index on PostgreSQL instead of a sort of the whole table

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not on the models: Alembic cannot compare an expression index, so the models' metadata
# leaves it out and the comparison skips it (sessiongraph.migrations.MIGRATION_ONLY_INDEXES).
NAME = 'ix_session_open_first_order'


def upgrade() -> None:
    # SQLite sorts the session table itself: it is the embedded engine, for small platforms.
    if op.get_bind().dialect.name == 'postgresql':
        # The constant is models.sessions.OPEN_START_SQL: the list's query spells it the same.
        op.execute(f"CREATE INDEX {NAME} ON session (coalesce(access_start, '-infinity'::timestamptz), name, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {NAME}')
