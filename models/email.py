"""Email: one message per (event, recipient), or per invitation, sent by every instance's sender.

A message row holds what is needed to compose it at send time, not the mail itself: the
recipient, the kind (the event's type, or `invitation`), the event's `data` (its global IDs,
kept here as the event may be purged first) and its schedule: `attempts`,
`next_attempt_at`, and a lease (`lease_until`) so two instances never send one at once.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class EmailStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    # Refused by the server for good (a 5xx reply), or still failing a day after it was queued.
    FAILED = "FAILED"
    # Not sent on purpose: the user turned email off or has no address now, the invitation was used or
    # expired, the reminder's live session began or was cancelled before it could go.
    SKIPPED = "SKIPPED"


INVITATION_KIND = "invitation"


class EmailMessage(SQLModel, table=True):
    __tablename__ = "email_message"
    __table_args__ = (
        # The relay's fan-out may meet an event twice (after a crash): one message per recipient all the same.
        UniqueConstraint("event_id", "user_id", name="uq_email_message_event_user"),
        # The sender's queue: pending messages by when they are due.
        Index("ix_email_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    # The event's ID; no foreign key, as the message outlives the event's purge. None for an invitation.
    event_id: int | None = Field(default=None)
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id", ondelete="CASCADE", index=True)
    # models/events.py EventType value, or INVITATION_KIND.
    kind: str = Field(max_length=64)
    # JSON: the event's webhook `data` ("{}" for an invitation).
    data: str
    status: str = Field(default=EmailStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last failure, as the SMTP server or the connection said it (no secret: the SMTP_URL is never in it).
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
