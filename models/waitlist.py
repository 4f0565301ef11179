"""Waitlists: learners queuing for a full slot, first come, first served.

`position` is the learner's ticket: the slot's `waitlist_joined` counter taken in the
transaction that joins (the slot's row lock makes the tickets of a slot unique and in
joining order). An entry leaves WAITING once: PROMOTED (booked when a seat freed),
SKIPPED (a seat freed but they could not take it; `reason` says why), EXPIRED (the
slot's cancellation notice passed, or its live session was cancelled) or LEFT.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow


class WaitlistStatus(StrEnum):
    WAITING = "WAITING"
    PROMOTED = "PROMOTED"
    SKIPPED = "SKIPPED"
    EXPIRED = "EXPIRED"
    LEFT = "LEFT"


class WaitlistReason(StrEnum):
    """Why an entry was SKIPPED or EXPIRED; stable values a client may switch on."""

    NO_ACCESS = "NO_ACCESS"
    NOT_BOOKABLE = "NOT_BOOKABLE"
    ALREADY_BOOKED = "ALREADY_BOOKED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    NOTICE_PASSED = "NOTICE_PASSED"
    LIVE_SESSION_CANCELLED = "LIVE_SESSION_CANCELLED"


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        UniqueConstraint("slot_id", "position", name="ux_waitlist_entry_slot_position"),
        # One WAITING entry per learner and slot; the ones that ended are history.
        Index("ux_waitlist_entry_slot_learner_waiting", "slot_id", "learner_id", unique=True,
              sqlite_where=text("status = 'WAITING'"), postgresql_where=text("status = 'WAITING'")),
        Index("ix_waitlist_entry_learner_status", "learner_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Withdrawing a slot drops its waitlist with it.
    slot_id: int = Field(foreign_key="bookable_slot.id", ondelete="CASCADE")
    learner_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    position: int
    status: str = Field(default=WaitlistStatus.WAITING.value, max_length=16)
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # The slot's cancellation deadline when the learner joined: past it nobody is promoted.
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=32)
    # The booking a promotion made.
    booking_id: int | None = Field(default=None, foreign_key="booking.id", ondelete="SET NULL")


def status_of(entry: Any, now: datetime) -> WaitlistStatus:
    """Expiry is read lazily: a WAITING entry past its deadline is EXPIRED whether or not a
    write has marked it yet (promotions and joins mark the slot's entries when they run)."""
    if entry.status == WaitlistStatus.WAITING.value and now >= entry.expires_at:
        return WaitlistStatus.EXPIRED
    return WaitlistStatus(entry.status)


def reason_of(entry: Any, now: datetime) -> str | None:
    if entry.reason is None and status_of(entry, now) is WaitlistStatus.EXPIRED:
        return WaitlistReason.NOTICE_PASSED.value
    return entry.reason
