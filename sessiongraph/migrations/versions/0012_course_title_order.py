"""course_title_order: an index in the order course lists are given (title, then id), for a list with
no search, such as the bookable courses an instructor may offer slots of

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.create_index('ix_course_title_id', ['title', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_index('ix_course_title_id')
