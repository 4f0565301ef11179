"""Courses: what sessions group and live sessions teach."""

import json

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import trigram_index

DEFAULT_JOIN_LEAD_MINUTES = 15
# Minutes before each of its live sessions that the people on it are reminded (DESIGN.md).
DEFAULT_REMINDER_OFFSETS_MINUTES = (1440, 15)


def offsets_text(offsets: list[int] | tuple[int, ...]) -> str:
    """How a course stores its reminder offsets: one spelling per set (largest first), so the reminder
    planner finds the courses with an offset by comparing the column with the few spellings in use."""
    return json.dumps(sorted(set(offsets), reverse=True), separators=(",", ":"))


DEFAULT_REMINDER_OFFSETS = offsets_text(DEFAULT_REMINDER_OFFSETS_MINUTES)


class Course(SQLModel, table=True):
    __tablename__ = "course"
    # `courses(search:)` matches any part of the title or the code; a list without a search (the bookable
    # courses) is read in its order, title then id.
    __table_args__ = (trigram_index("course", "title"), trigram_index("course", "code"),
                      Index("ix_course_title_id", "title", "id"))

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=300)
    bookable: bool = Field(default=False)
    credit_cost: int = Field(default=1)
    absence_requests_enabled: bool = Field(default=False)
    join_lead_minutes: int = Field(default=DEFAULT_JOIN_LEAD_MINUTES)
    # Zero: a booking can be cancelled (and refunded) any time before the start.
    cancellation_notice_minutes: int = Field(default=0)
    # JSON list of minutes (`offsets_text`); `[]`: no reminders.
    reminder_offsets: str = Field(default=DEFAULT_REMINDER_OFFSETS, max_length=200,
                                  sa_column_kwargs={"server_default": DEFAULT_REMINDER_OFFSETS})

    @property
    def reminder_offsets_minutes(self) -> list[int]:
        return json.loads(self.reminder_offsets)
