"""Live sessions (one instructor-led class meeting) and the bookings on them.

Not to be confused with the administrative `Session` (models/sessions.py), which a
live session may belong to.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, text
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow
from sessiongraph.models.windows import DateWindow


class LiveSessionStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class BookingStatus(StrEnum):
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Location:
    is_virtual: bool
    name: str | None = None
    address: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


# The rules below read a live session's columns only, so they answer alike for a model
# and for a row of those columns (schema/compiled reads rows, not models).


def status_of(live_session: Any, now: datetime) -> LiveSessionStatus:
    """CANCELLED once cancelled; otherwise COMPLETED from the end instant on."""
    if live_session.cancelled_at is not None:
        return LiveSessionStatus.CANCELLED
    if now >= live_session.ends_at:
        return LiveSessionStatus.COMPLETED
    return LiveSessionStatus.SCHEDULED


def join_window_of(live_session: Any, lead_minutes: int) -> DateWindow:
    """[startsAt - lead, endsAt): open at its first instant, closed at the end instant."""
    return DateWindow(live_session.starts_at - timedelta(minutes=lead_minutes), live_session.ends_at)


def is_joinable(live_session: Any, now: datetime, lead_minutes: int) -> bool:
    """The time and state half of the join rule; who may join is permissions' half."""
    return (live_session.cancelled_at is None and live_session.virtual_classroom_url is not None
            and join_window_of(live_session, lead_minutes).contains(now))


def location_of(live_session: Any) -> Location | None:
    """Virtual when it has a classroom URL; none when it has neither a URL nor a place."""
    ls = live_session
    has_place = any(v is not None for v in (ls.location_name, ls.location_address, ls.location_room))
    if ls.virtual_classroom_url is None and not has_place:
        return None
    return Location(is_virtual=ls.virtual_classroom_url is not None, name=ls.location_name,
                    address=ls.location_address, room=ls.location_room)


class LiveSession(SQLModel, table=True):
    __tablename__ = "live_session"
    __table_args__ = (
        # Schedules select by administrative session, teaching lists by instructor,
        # course histories by course; each then by time.
        Index("ix_live_session_session_starts", "session_id", "starts_at"),
        Index("ix_live_session_instructor_starts", "instructor_id", "starts_at"),
        Index("ix_live_session_course_starts", "course_id", "starts_at"),
        # The reminder planner looks for the live sessions starting in a few minutes' window.
        Index("ix_live_session_starts", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The "Session ID" people read off the screen: short, upper-case, unique.
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    course_id: int = Field(foreign_key="course.id")
    session_id: int | None = Field(default=None, foreign_key="session.id", ondelete="SET NULL")
    instructor_id: int = Field(foreign_key="instructor.id")
    lesson_name: str | None = Field(default=None, max_length=300)
    lesson_goal: str | None = None
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    virtual_classroom_url: str | None = Field(default=None, max_length=2000)
    location_name: str | None = Field(default=None, max_length=200)
    location_address: str | None = Field(default=None, max_length=500)
    location_room: str | None = Field(default=None, max_length=100)
    recording_url: str | None = Field(default=None, max_length=2000)
    # [{"title": ..., "url": ...}] in the order given; read with every row, never on its own.
    extra_links: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capacity: int = Field(default=30)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancellation_reason: str | None = None
    # The iCalendar SEQUENCE: one more at each change of its time and at its cancellation,
    # so calendar apps replace their copy (resolvers/schedule.py).
    sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def has_ended(self, now: datetime) -> bool:
        return now >= self.ends_at

    def status(self, now: datetime) -> LiveSessionStatus:
        return status_of(self, now)

    def join_window(self, lead_minutes: int) -> DateWindow:
        return join_window_of(self, lead_minutes)

    @property
    def location(self) -> Location | None:
        return location_of(self)

    @property
    def links(self) -> list[Link]:
        return [Link(title=link["title"], url=link["url"]) for link in self.extra_links or []]


class Booking(SQLModel, table=True):
    """A learner's place on a live session. Learners book slots (models/booking.py); the
    credits a booking costs are credit transactions (models/credits.py)."""

    __tablename__ = "booking"
    __table_args__ = (
        # At most one live booking per learner and live session; cancelled ones are history.
        Index("ux_booking_learner_live_session_booked", "learner_id", "live_session_id", unique=True,
              sqlite_where=text("status = 'BOOKED'"), postgresql_where=text("status = 'BOOKED'")),
        Index("ix_booking_learner_status", "learner_id", "status"),
        # A retried bookSlot with the same key finds the booking its first try made.
        Index("ux_booking_learner_idempotency_key", "learner_id", "idempotency_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    live_session_id: int = Field(foreign_key="live_session.id", ondelete="CASCADE", index=True)
    status: str = Field(default=BookingStatus.BOOKED.value, max_length=16)
    booked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The client's key for the bookSlot request that made it, when it sent one.
    idempotency_key: str | None = Field(default=None, max_length=200)
