"""Reminders: the `reminder.due` events already recorded, one row each.

The row's key is the reminder's identity, so a reminder is recorded once whichever instance
plans it and however often: (user, live session, offset, the start it was planned for). The
start is part of it so that a live session moved to another time is reminded again for the
new time, and a reminder recorded for the old time does not stand for it.
"""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class ReminderSent(SQLModel, table=True):
    __tablename__ = "reminder_sent"
    # The purge deletes by start.
    __table_args__ = (Index("ix_reminder_sent_starts_at", "starts_at"),)

    user_id: int = Field(primary_key=True, foreign_key="app_user.id", ondelete="CASCADE")
    live_session_id: int = Field(primary_key=True, foreign_key="live_session.id", ondelete="CASCADE")
    offset_minutes: int = Field(primary_key=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    sent_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
