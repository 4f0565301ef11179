"""SQLModel tables and the pure rules on them, one module per area.

Importing this package registers every table on `SQLModel.metadata`, which is what
Alembic compares the migrations against.
"""

from sessiongraph.models.accounts import ClassMember, GuardianLink, Instructor, User, UserClass, Weekday
from sessiongraph.models.audit import AuditEntry
from sessiongraph.models.booking import AbsenceRequest, AbsenceRequestStatus, BookableSlot
from sessiongraph.models.calendar_feed import CalendarFeed
from sessiongraph.models.courses import Course
from sessiongraph.models.credits import CreditAccount, CreditTransaction, CreditTransactionKind
from sessiongraph.models.email import EmailMessage, EmailStatus
from sessiongraph.models.events import Event, EventType, EventUser, OutboxCounter
from sessiongraph.models.reminders import ReminderSent
from sessiongraph.models.reports import AttendanceReport, AttendanceStatus
from sessiongraph.models.schedule import (
    Booking,
    BookingStatus,
    LiveSession,
    LiveSessionStatus,
)
from sessiongraph.models.sessions import (
    Enrollment,
    Session,
    SessionCategory,
    SessionCourse,
    SessionCourseCoach,
    SessionStatus,
    SessionVisibility,
)
from sessiongraph.models.signin import Invitation, RefreshToken, SignInFailures
from sessiongraph.models.waitlist import WaitlistEntry, WaitlistReason, WaitlistStatus
from sessiongraph.models.webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

__all__ = [
    "AbsenceRequest",
    "AbsenceRequestStatus",
    "AttendanceReport",
    "AttendanceStatus",
    "AuditEntry",
    "BookableSlot",
    "Booking",
    "BookingStatus",
    "CalendarFeed",
    "ClassMember",
    "Course",
    "CreditAccount",
    "CreditTransaction",
    "CreditTransactionKind",
    "EmailMessage",
    "EmailStatus",
    "Enrollment",
    "Event",
    "EventType",
    "EventUser",
    "GuardianLink",
    "Instructor",
    "Invitation",
    "LiveSession",
    "LiveSessionStatus",
    "OutboxCounter",
    "RefreshToken",
    "ReminderSent",
    "Session",
    "SessionCategory",
    "SessionCourse",
    "SessionCourseCoach",
    "SessionStatus",
    "SessionVisibility",
    "SignInFailures",
    "User",
    "UserClass",
    "WaitlistEntry",
    "WaitlistReason",
    "WaitlistStatus",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "Weekday",
]
