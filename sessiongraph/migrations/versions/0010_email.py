"""email: one message row per (event, recipient) or invitation, sent by each instance's
sender; the invitation's nonce, so its link can be written into the email; email's position
in the event sequence, starting at the newest event (what came before is not mailed)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sessiongraph.models.columns

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('next_attempt_at', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sessiongraph.models.columns.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'user_id', name='uq_email_message_event_user')
    )
    with op.batch_alter_table('email_message', schema=None) as batch_op:
        batch_op.create_index('ix_email_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_message_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_message_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonce', sa.String(length=32), nullable=True))

    # Events recorded before email existed are not mailed: a deployment upgrading gets no week-old confirmations.
    op.execute("INSERT INTO outbox_counter (name, value) "
               "SELECT 'email', value FROM outbox_counter WHERE name = 'last_event'")


def downgrade() -> None:
    op.execute("DELETE FROM outbox_counter WHERE name = 'email'")
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('nonce')
    with op.batch_alter_table('email_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_message_user_id'))
        batch_op.drop_index(batch_op.f('ix_email_message_invitation_id'))
        batch_op.drop_index('ix_email_message_due')
    op.drop_table('email_message')
