"""Booking: the slots instructors publish for learners to book, and absence requests.

A slot is an offer: an instructor's time for a course with a number of seats. Its
first booking creates the live session (models/schedule.py) that the slot then
stands for; later bookings join that live session. `booked` counts the slot's live
bookings: the one number a booking and a cancellation change, by a conditional
UPDATE, so concurrent bookings can never take more seats than there are.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow


class BookableSlot(SQLModel, table=True):
    __tablename__ = "bookable_slot"
    __table_args__ = (
        # A course's slots are listed by time; an instructor's are checked for overlaps by time.
        Index("ix_bookable_slot_course_starts", "course_id", "starts_at"),
        Index("ix_bookable_slot_instructor_starts", "instructor_id", "starts_at"),
        CheckConstraint("booked >= 0 AND booked <= seats", name="ck_bookable_slot_seats"),
    )

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="course.id", ondelete="CASCADE")
    instructor_id: int = Field(foreign_key="instructor.id", ondelete="CASCADE")
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    seats: int
    booked: int = Field(default=0)
    # What the live session made at the first booking gets.
    virtual_classroom_url: str | None = Field(default=None, max_length=2000)
    location_name: str | None = Field(default=None, max_length=200)
    location_address: str | None = Field(default=None, max_length=500)
    location_room: str | None = Field(default=None, max_length=100)
    # Set by the first booking; the live session the slot stands for from then on.
    live_session_id: int | None = Field(default=None, foreign_key="live_session.id", ondelete="SET NULL",
                                        unique=True)
    published_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    # The RRULE the slot was published with (every occurrence of a series holds it), else None.
    recurrence: str | None = Field(default=None, max_length=500)
    # How many learners ever joined its waitlist: the next one's position (models/waitlist.py).
    waitlist_joined: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def seats_left(self) -> int:
        return max(self.seats - self.booked, 0)

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        return overlapping(self.starts_at, self.ends_at, starts_at, ends_at)


def overlapping(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: one ending as the other starts does not overlap it."""
    return a_start < b_end and b_start < a_end


def cancellation_deadline(starts_at: datetime, notice_minutes: int) -> datetime:
    """The last instant (excluded) a booking can be cancelled and refunded."""
    return starts_at - timedelta(minutes=notice_minutes)


class AbsenceRequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class AbsenceRequest(SQLModel, table=True):
    """A booked learner's notice that they will not attend; one per booking."""

    __tablename__ = "absence_request"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", ondelete="CASCADE", unique=True)
    reason: str
    status: str = Field(default=AbsenceRequestStatus.PENDING.value, max_length=16)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    review_comment: str | None = None
