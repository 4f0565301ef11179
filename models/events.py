"""The outbox: every change others hear of, written in the transaction that makes it.

An `Event` is one change (a booking, a cancellation, a reschedule...). Its `id` is a
position in one gapless sequence that grows in commit order (`OutboxCounter`), so a
reader that has seen event 41 has seen every event up to 41 that concerns it, and
`scheduleChanged(after:)` resumes from a position. `EventUser` names the people whose
schedule it concerns (their `schedule:user:<id>` channels); `schedule_kind` is what
`scheduleChanged` says of it, None for events only webhooks report. The relay sets
`published_at` once it has gone to the broker.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class EventType(StrEnum):
    """The webhook event types of DESIGN.md; an event row's `type`."""

    BOOKING_CREATED = "booking.created"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_RESCHEDULED = "booking.rescheduled"
    LIVE_SESSION_UPDATED = "live_session.updated"
    LIVE_SESSION_CANCELLED = "live_session.cancelled"
    ABSENCE_REQUEST_CREATED = "absence_request.created"
    ABSENCE_REQUEST_REVIEWED = "absence_request.reviewed"
    ENROLLMENT_CREATED = "enrollment.created"
    WAITLIST_PROMOTED = "waitlist.promoted"
    REMINDER_DUE = "reminder.due"


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        # The relay's queue: what has not gone out yet, oldest first.
        Index("ix_event_unpublished", "published_at", "id"),
        Index("ix_event_occurred_at", "occurred_at"),
    )

    # Given by `OutboxCounter`, never by the database: the order of commits, without gaps.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    type: str = Field(max_length=64)
    schedule_kind: str | None = Field(default=None, max_length=32)
    live_session_id: int | None = Field(default=None)
    # JSON: the webhook `data` (global IDs of what it concerns and its main fields).
    data: str
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EventUser(SQLModel, table=True):
    """Whose schedule an event concerns: it goes to their channel and is replayed to them."""

    __tablename__ = "event_user"
    __table_args__ = (Index("ix_event_user_event", "event_id"),)  # the purge deletes by event

    user_id: int = Field(primary_key=True)
    event_id: int = Field(primary_key=True, foreign_key="event.id", ondelete="CASCADE")


class OutboxCounter(SQLModel, table=True):
    """Named numbers of the outbox, one row each (`OutboxCounterName`)."""

    __tablename__ = "outbox_counter"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0)


class OutboxCounterName(StrEnum):
    # The last event ID handed out. Raised in the transaction that writes the events, so the row
    # lock (PostgreSQL) or the write lock (SQLite) makes IDs follow the order of commits.
    LAST_EVENT = "last_event"
    # Every event up to this ID has been purged: a cursor before it is expired.
    PURGED_THROUGH = "purged_through"
    # The relay's turn: the relay of one instance at a time holds this row's lock.
    RELAY = "relay"
    # Every event up to this ID has been handed to the webhooks (resolvers/webhooks.py `make_deliveries`).
    WEBHOOKS = "webhooks"
    # Every event up to this ID has been handed to email (resolvers/email.py `queue_messages`).
    EMAIL = "email"
    # The reminder planner's turn (resolvers/reminders.py), as RELAY is the relay's.
    REMINDERS = "reminders"
