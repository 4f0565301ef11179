"""reminders: a course's reminder offsets, the reminders recorded (reminder_sent), and an
index on live sessions' start for the planner's window

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sessiongraph.models.columns

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('course', schema=None) as batch_op:
        # Existing courses get DESIGN.md's default, a day and a quarter of an hour before.
        batch_op.add_column(sa.Column('reminder_offsets', sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=False, server_default='[1440,15]'))
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.create_index('ix_live_session_starts', ['starts_at'], unique=False)

    op.create_table('reminder_sent',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('live_session_id', sa.Integer(), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('starts_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['live_session_id'], ['live_session.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'live_session_id', 'offset_minutes', 'starts_at')
    )
    with op.batch_alter_table('reminder_sent', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_sent_starts_at', ['starts_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder_sent', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_sent_starts_at')
    op.drop_table('reminder_sent')
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_index('ix_live_session_starts')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('reminder_offsets')
