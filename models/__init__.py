"""SQLModel tables and the pure rules on them, one module per area.

Importing this package registers every table on `SQLModel.metadata`, which is what
Alembic compares the migrations against.
"""

from models.accounts import ClassMember, User, UserClass, Weekday
from models.courses import Course
from models.sessions import (
    Enrollment,
    Session,
    SessionCategory,
    SessionCourse,
    SessionCourseCoach,
    SessionStatus,
    SessionVisibility,
)

__all__ = [
    "ClassMember",
    "Course",
    "Enrollment",
    "Session",
    "SessionCategory",
    "SessionCourse",
    "SessionCourseCoach",
    "SessionStatus",
    "SessionVisibility",
    "User",
    "UserClass",
    "Weekday",
]
