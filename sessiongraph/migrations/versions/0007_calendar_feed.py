"""calendar feed: each user's feed secret (stored hashed), and the iCalendar SEQUENCE of a
live session

Revision ID: 0007
Revises: 0006_lifecycle
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sessiongraph.models.columns

revision: str = '0007'
down_revision: str | None = '0006_lifecycle'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_feed',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id'),
    sa.UniqueConstraint('secret_hash')
    )
    # Live sessions that exist have had no reschedule the feed counted: they start at 0.
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_column('sequence')
    op.drop_table('calendar_feed')
