"""Users and classes (named groups of users)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, trigram_index, utcnow


class Weekday(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def index(self) -> int:  # type: ignore[override]  # a weekday's number; str.index is never wanted here
        """0 for Monday, as `date.weekday()` counts."""
        return list(Weekday).index(self)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    # `users(search:)` matches any part of the name or the email.
    __table_args__ = (trigram_index("app_user", "name"), trigram_index("app_user", "email"))

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased so the unique index is case-insensitive on every engine.
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    name: str = Field(max_length=200)
    time_zone: str = Field(default="UTC", max_length=64)
    week_start: str = Field(default=Weekday.MONDAY.value, max_length=9)
    is_admin: bool = Field(default=False)
    # A deactivated user cannot sign in and their tokens are refused; their rows stay, as history.
    active: bool = Field(default=True)
    email_notifications: bool = Field(default=True)
    # argon2id (sessiongraph/infrastructure/passwords.py); None for a user who signs in otherwise
    # (an identity provider, an invitation not yet taken up). Never written to the audit log.
    password_hash: str | None = Field(default=None, sa_column=Column(String(200), nullable=True,
                                                                     info={"secret": True}))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class UserClass(SQLModel, table=True):
    __tablename__ = "user_class"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)


class ClassMember(SQLModel, table=True):
    __tablename__ = "class_member"

    class_id: int = Field(foreign_key="user_class.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE", index=True)


class Instructor(SQLModel, table=True):
    """A user who teaches: the profile learners see on their live sessions."""

    __tablename__ = "instructor"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True, ondelete="CASCADE")
    display_name: str = Field(max_length=200)
    bio: str | None = None


class GuardianLink(SQLModel, table=True):
    """A guardian (a parent, say) who may read a learner's schedule and reports."""

    __tablename__ = "guardian_link"

    guardian_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    learner_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE", index=True)
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
