"""SQLModel tables and the pure rules on them, one module per area.

Importing this package registers every table on `SQLModel.metadata`, which is what
Alembic compares the migrations against.
"""

from models.accounts import ClassMember, GuardianLink, Instructor, User, UserClass, Weekday
from models.booking import AbsenceRequest, AbsenceRequestStatus, BookableSlot
from models.courses import Course
from models.credits import CreditAccount, CreditTransaction, CreditTransactionKind
from models.reports import AttendanceReport, AttendanceStatus
from models.schedule import (
    Booking,
    BookingStatus,
    LiveSession,
    LiveSessionStatus,
)
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
    "AbsenceRequest",
    "AbsenceRequestStatus",
    "BookableSlot",
    "AttendanceReport",
    "AttendanceStatus",
    "Booking",
    "BookingStatus",
    "ClassMember",
    "Course",
    "CreditAccount",
    "CreditTransaction",
    "CreditTransactionKind",
    "Enrollment",
    "GuardianLink",
    "Instructor",
    "LiveSession",
    "LiveSessionStatus",
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
