"""The ways a resolver says no, independent of how GraphQL puts it on the wire.

- `UserErrors`: something the user can fix; a mutation's payload lists them.
- `NotAuthenticated` / `NotAllowed`: the client developer's to fix; top-level errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    INVALID_WINDOW = "INVALID_WINDOW"
    COACH_WINDOW_NOT_COVERING = "COACH_WINDOW_NOT_COVERING"
    NOT_BOOKABLE = "NOT_BOOKABLE"
    NO_ACCESS = "NO_ACCESS"
    SLOT_FULL = "SLOT_FULL"
    SLOT_IN_PAST = "SLOT_IN_PAST"
    SLOT_OVERLAP = "SLOT_OVERLAP"
    ALREADY_BOOKED = "ALREADY_BOOKED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    TOO_LATE_TO_CANCEL = "TOO_LATE_TO_CANCEL"
    ABSENCE_NOT_ENABLED = "ABSENCE_NOT_ENABLED"
    ABSENCE_TOO_LATE = "ABSENCE_TOO_LATE"
    ABSENCE_ALREADY_REQUESTED = "ABSENCE_ALREADY_REQUESTED"
    SESSION_ENDED = "SESSION_ENDED"
    # Booking: a bookSlot retry whose key named another booking; an absence without a booking.
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NOT_BOOKED = "NOT_BOOKED"
    # The booking lifecycle: waitlists, withdrawing and repeating slots (DESIGN.md, Version 2).
    SLOT_NOT_FULL = "SLOT_NOT_FULL"
    ALREADY_WAITING = "ALREADY_WAITING"
    WAITLIST_CLOSED = "WAITLIST_CLOSED"
    SLOT_HAS_BOOKINGS = "SLOT_HAS_BOOKINGS"
    INVALID_RECURRENCE = "INVALID_RECURRENCE"
    # Live sessions: recording attendance, changing one.
    LIVE_SESSION_CANCELLED = "LIVE_SESSION_CANCELLED"
    LIVE_SESSION_NOT_STARTED = "LIVE_SESSION_NOT_STARTED"
    # CSV import: the file as a whole, then its header.
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    NOT_TEXT = "NOT_TEXT"
    MISSING_COLUMN = "MISSING_COLUMN"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    # Sign-in (DESIGN.md, Version 2).
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"
    TOKEN_REUSED = "TOKEN_REUSED"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    # Webhooks: a URL that is not http(s), or whose host is private, loopback or reserved.
    WEBHOOK_URL_REFUSED = "WEBHOOK_URL_REFUSED"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input; `field` is the path inside the mutation's input."""

    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class UserErrors(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, code: ErrorCode, message: str, *field: str) -> UserErrors:
        return cls([Problem(code, message, tuple(field) or None)])


class Problems:
    """Collects every problem with an input before refusing it, so the user sees all."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: ErrorCode, message: str, *field: str) -> None:
        self.items.append(Problem(code, message, tuple(field) or None))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise UserErrors(self.items)


class NotAuthenticated(Exception):
    def __init__(self, message: str = "Sign in to do this.") -> None:
        super().__init__(message)


class NotAllowed(Exception):
    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class RateLimited(Exception):
    """Too many attempts in a short time: the client waits `retry_after` seconds (HTTP 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts in a short time; try again in {retry_after} seconds.")
        self.retry_after = retry_after


class BadInput(Exception):
    """A malformed argument the client should never have sent (an unknown time zone, say)."""


class NotFound(Exception):
    """Asked for something that is not there, or that the caller may not see (which looks the same)."""
