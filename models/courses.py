"""Courses: what sessions group and live sessions teach."""

from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import trigram_index

DEFAULT_JOIN_LEAD_MINUTES = 15


class Course(SQLModel, table=True):
    __tablename__ = "course"
    # `courses(search:)` matches any part of the title or the code.
    __table_args__ = (trigram_index("course", "title"), trigram_index("course", "code"))

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=300)
    bookable: bool = Field(default=False)
    credit_cost: int = Field(default=1)
    absence_requests_enabled: bool = Field(default=False)
    join_lead_minutes: int = Field(default=DEFAULT_JOIN_LEAD_MINUTES)
    # Zero: a booking can be cancelled (and refunded) any time before the start.
    cancellation_notice_minutes: int = Field(default=0)
