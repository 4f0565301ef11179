"""search indexes: trigram indexes for the searches that match any part of a user's name or
email, a course's title or code, and a session's name (GIN with pg_trgm on PostgreSQL)

Revision ID: 0004
Revises: 0003
Create Date: 2026-03-10
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = {'app_user': ('email', 'name'), 'course': ('code', 'title'), 'session': ('name',)}


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # A trusted extension (PostgreSQL 13 on): the database's owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for table, columns in SEARCHED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_index(f'ix_{table}_{column}_trigrams', [column], unique=False,
                                      postgresql_using='gin', postgresql_ops={column: 'gin_trgm_ops'})


def downgrade() -> None:
    # pg_trgm stays: other objects of the database may have come to use it.
    for table, columns in SEARCHED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(f'ix_{table}_{column}_trigrams')
