"""Administrative sessions: training periods that group courses, coaches and learners."""

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, func, literal, literal_column
from sqlalchemy.sql.expression import ColumnElement
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, trigram_index, utcnow
from sessiongraph.models.windows import DateWindow, WindowStatus

SessionStatus = WindowStatus

# Where a session whose access window has no start sorts: before every other.
OPEN_START = datetime(1, 1, 1, tzinfo=UTC)
# The admin list's order, `coalesce(access_start, OPEN_START), name, id`, has an index on
# PostgreSQL (migration 0005, which spells this same constant) that only serves a query
# spelling it too: a bind parameter in its place would not match the index's expression.
# asyncpg sends OPEN_START (datetime.min) as -infinity, so cursors holding it compare with
# this constant as they should.
OPEN_START_SQL = "'-infinity'::timestamptz"


class SessionVisibility(StrEnum):
    """What learners get once the access window has ended (Chamilo's meaning)."""

    READ_ONLY = "READ_ONLY"
    VISIBLE = "VISIBLE"
    INVISIBLE = "INVISIBLE"


class SessionCategory(SQLModel, table=True):
    __tablename__ = "session_category"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    start: date | None = None
    end: date | None = None


class Session(SQLModel, table=True):
    __tablename__ = "session"
    __table_args__ = (
        # The admin list sorts by access start (open starts first), then name.
        Index("ix_session_access_order", "access_start", "name"),
        # The admin list's search matches any part of the name.
        trigram_index("session", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str | None = None
    category_id: int | None = Field(default=None, foreign_key="session_category.id", ondelete="SET NULL", index=True)
    coach_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL", index=True)
    visibility: str = Field(default=SessionVisibility.READ_ONLY.value, max_length=16)
    display_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    display_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    access_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    access_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    coach_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    coach_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Chamilo's duration sessions: days counted per learner from their first access.
    duration_days: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def display_window(self) -> DateWindow:
        return DateWindow(self.display_start, self.display_end)

    @property
    def access_window(self) -> DateWindow:
        return DateWindow(self.access_start, self.access_end)

    @property
    def coach_access_window(self) -> DateWindow:
        return DateWindow(self.coach_start, self.coach_end)

    def status(self, now: datetime) -> WindowStatus:
        """The admin's view: the access window against now (duration sessions are ACTIVE)."""
        return self.access_window.status(now)

    def coach_status(self, now: datetime) -> WindowStatus:
        return self.coach_access_window.status(now)

    def learner_window(self, first_access_at: datetime | None) -> DateWindow:
        """The window one learner has: the access window, or their personal duration."""
        if self.duration_days is None:
            return self.access_window
        if first_access_at is None:
            return DateWindow()
        return DateWindow(first_access_at, first_access_at + timedelta(days=self.duration_days))

    def learner_status(self, now: datetime, first_access_at: datetime | None) -> WindowStatus:
        return self.learner_window(first_access_at).status(now)

    def listed_for_learner(self, now: datetime, first_access_at: datetime | None) -> bool:
        """Display window open, and not hidden by INVISIBLE once access has ended."""
        if not self.display_window.contains(now):
            return False
        ended = self.learner_status(now, first_access_at) is WindowStatus.PAST
        return not (ended and self.visibility == SessionVisibility.INVISIBLE)

    def usable_by_learner(self, now: datetime, first_access_at: datetime | None) -> bool:
        """Inside the access window, or past it on a VISIBLE session."""
        status = self.learner_status(now, first_access_at)
        if status is WindowStatus.ACTIVE:
            return True
        return status is WindowStatus.PAST and self.visibility == SessionVisibility.VISIBLE


class SessionCourse(SQLModel, table=True):
    __tablename__ = "session_course"

    session_id: int = Field(foreign_key="session.id", primary_key=True, ondelete="CASCADE")
    course_id: int = Field(foreign_key="course.id", primary_key=True, ondelete="CASCADE", index=True)
    position: int = 0


class SessionCourseCoach(SQLModel, table=True):
    __tablename__ = "session_course_coach"

    session_id: int = Field(foreign_key="session.id", primary_key=True, ondelete="CASCADE")
    course_id: int = Field(foreign_key="course.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE", index=True)


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollment"

    session_id: int = Field(foreign_key="session.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE", index=True)
    # The class this learner came in with, when enrolled by class.
    class_id: int | None = Field(default=None, foreign_key="user_class.id", ondelete="SET NULL")
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Starts a duration session's clock for this learner.
    first_access_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def access_order(dialect: str) -> ColumnElement[Any]:
    """The access start with OPEN_START for none: the admin list's first sort key."""
    open_start = literal_column(OPEN_START_SQL, UTCDateTime) if dialect == "postgresql" else literal(
        OPEN_START, UTCDateTime)
    return func.coalesce(Session.access_start, open_start)
