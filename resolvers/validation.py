"""Checks on single input values, shared by every area."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import email_validator
from email_validator import EmailNotValidError, validate_email

from sessiongraph.infrastructure.zones import zone_named
from sessiongraph.resolvers.errors import ErrorCode, Problems

# Schools run their directories on internal domains (Active Directory's `.local`, `.test` in
# staging), and this service never sends mail, so those are addresses like any other. Still
# refused: `localhost`, `invalid`, `onion` and `arpa`, which name no organisation. The library
# documents editing its list as the way to allow one (its README, "Test addresses").
ACCEPTED_SPECIAL_USE_DOMAINS = ("local", "test")
email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
    name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name not in ACCEPTED_SPECIAL_USE_DOMAINS]

# The plain addresses nearly every file holds, checked without email_validator (which costs
# ~30 µs a call: seconds over an import's 100,000 rows); it decides everything else.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+([A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?)")


def email_address(value: str) -> str:
    """The address, normalised and lower-cased, by the one rule every path uses (createUser, the
    command line, CSV import); raises EmailNotValidError when `value` is not one."""
    value = value.strip()
    plain = _PLAIN_EMAIL.fullmatch(value) if len(value) <= 254 else None
    if (plain is not None and value.index("@") <= 64
            and plain.group(1).lower() not in email_validator.SPECIAL_USE_DOMAIN_NAMES):
        return value.lower()
    return validate_email(value, check_deliverability=False).normalized.lower()


@dataclass(frozen=True, slots=True)
class Bound:
    """The range a numeric input must fall in. Each is far inside PostgreSQL's integer, and small
    enough that the times and sums made from it stay within what datetime and the columns hold
    (a lead of 2**31 minutes made every join window an OverflowError)."""

    low: int
    high: int

    def check(self, value: int | None, problems: Problems, *field: str) -> None:
        if value is not None and not self.low <= value <= self.high:
            problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be between {self.low} and {self.high}.", *field)


# The bounds of every integer input, in one place; README's "Limits and HTTP behaviour" lists them.
CREDIT_COST = Bound(0, 10_000)
JOIN_LEAD_MINUTES = Bound(0, 24 * 60)
CANCELLATION_NOTICE_MINUTES = Bound(0, 30 * 24 * 60)
# A live session's capacity and a slot's seats are one number: the slot's seats follow the capacity.
SEATS = Bound(1, 1000)
DURATION_DAYS = Bound(1, 3660)
# A course's reminders: minutes before each live session, up to 30 days, at most 10 of them.
REMINDER_OFFSET_MINUTES = Bound(1, 30 * 24 * 60)
MAX_REMINDER_OFFSETS = 10


def reminder_offsets(values: list[int] | None, problems: Problems, *field: str) -> None:
    """Problems with a list of reminder offsets: too many, a repeated one, or one out of bounds."""
    if values is None:
        return
    if len(values) > MAX_REMINDER_OFFSETS:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} holds at most {MAX_REMINDER_OFFSETS} offsets.", *field)
    if len(set(values)) < len(values):
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} names an offset twice.", *field)
    low, high = REMINDER_OFFSET_MINUTES.low, REMINDER_OFFSET_MINUTES.high
    if any(not low <= value <= high for value in values):
        problems.add(ErrorCode.VALIDATION, f"Each of {field[-1]} must be between {low} and {high} minutes.", *field)


def clean_email(value: str, problems: Problems, *field: str) -> str:
    """The address, normalised and lower-cased; a problem when it is not an address."""
    try:
        return email_address(value)
    except EmailNotValidError as error:
        problems.add(ErrorCode.VALIDATION, f"{value!r} is not an email address: {error}", *field)
        return value


def is_time_zone(name: str) -> bool:
    return zone_named(name) is not None


def required_text(value: str | None, problems: Problems, max_length: int, *field: str) -> str:
    text = (value or "").strip()
    if not text:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must not be blank.", *field)
    elif len(text) > max_length:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be at most {max_length} characters.", *field)
    return text


def http_url(value: str | None, problems: Problems, *field: str) -> str | None:
    """An absolute http(s) URL, stripped; None for none (a blank value is none too)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be an http or https URL.", *field)
    elif len(text) > 2000:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be at most 2000 characters.", *field)
    return text


def optional_text(value: str | None, problems: Problems, max_length: int | None, *field: str) -> str | None:
    """The text stripped, None when blank."""
    text = (value or "").strip()
    if max_length is not None and len(text) > max_length:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be at most {max_length} characters.", *field)
    return text or None
