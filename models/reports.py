"""Attendance reports: what an instructor records per learner after a live session,
and the attendance figures tracking derives from them."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow


class AttendanceStatus(StrEnum):
    PRESENT = "PRESENT"
    LATE = "LATE"
    ABSENT = "ABSENT"
    EXCUSED = "EXCUSED"


class AttendanceReport(SQLModel, table=True):
    """What the instructor recorded for one learner at one live session."""

    __tablename__ = "attendance_report"

    live_session_id: int = Field(foreign_key="live_session.id", primary_key=True, ondelete="CASCADE")
    learner_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE", index=True)
    status: str = Field(max_length=16)
    feedback: str | None = None
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")


ATTENDED = (AttendanceStatus.PRESENT.value, AttendanceStatus.LATE.value)


@dataclass(frozen=True, slots=True)
class AttendanceFigures:
    """One learner's (or a whole session's) attendance, Chamilo's tracking columns.

    `booked` counts the live sessions expected of them, cancelled ones left out;
    `attended`, `late`, `absent` and `excused` count the reports by status.
    """

    booked: int = 0
    attended: int = 0
    late: int = 0
    absent: int = 0
    excused: int = 0
    last_attended_at: datetime | None = None

    @property
    def attendance_rate(self) -> float | None:
        """The share of reported meetings they came to, late included; excused absences
        count neither way. None while no report counts."""
        due = self.attended + self.late + self.absent
        if due == 0:
            return None
        return (self.attended + self.late) / due
