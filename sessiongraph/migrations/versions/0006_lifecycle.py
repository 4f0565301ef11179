"""lifecycle: waitlist entries, and the recurrence and waitlist counter of a slot

Revision ID: 0006_lifecycle
Revises: 0005
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sessiongraph.models.columns

revision: str = '0006_lifecycle'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bookable_slot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recurrence', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        # Existing slots have had no waitlist: their counter starts at 0.
        batch_op.add_column(sa.Column('waitlist_joined', sa.Integer(), nullable=False, server_default='0'))

    op.create_table('waitlist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('joined_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['learner_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slot_id'], ['bookable_slot.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slot_id', 'position', name='ux_waitlist_entry_slot_position')
    )
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.create_index('ix_waitlist_entry_learner_status', ['learner_id', 'status'], unique=False)
        batch_op.create_index('ux_waitlist_entry_slot_learner_waiting', ['slot_id', 'learner_id'], unique=True,
                              sqlite_where=sa.text("status = 'WAITING'"),
                              postgresql_where=sa.text("status = 'WAITING'"))


def downgrade() -> None:
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.drop_index('ux_waitlist_entry_slot_learner_waiting',
                            sqlite_where=sa.text("status = 'WAITING'"),
                            postgresql_where=sa.text("status = 'WAITING'"))
        batch_op.drop_index('ix_waitlist_entry_learner_status')
    op.drop_table('waitlist_entry')
    with op.batch_alter_table('bookable_slot', schema=None) as batch_op:
        batch_op.drop_column('waitlist_joined')
        batch_op.drop_column('recurrence')
