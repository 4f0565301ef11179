"""Checks on single input values, shared by every area."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from resolvers.errors import ErrorCode, Problems


def clean_email(value: str, problems: Problems, *field: str) -> str:
    """The address, normalised and lower-cased; a problem when it is not an address."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        problems.add(ErrorCode.VALIDATION, f"{value!r} is not an email address: {error}", *field)
        return value


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def required_text(value: str | None, problems: Problems, max_length: int, *field: str) -> str:
    text = (value or "").strip()
    if not text:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must not be blank.", *field)
    elif len(text) > max_length:
        problems.add(ErrorCode.VALIDATION, f"{field[-1]} must be at most {max_length} characters.", *field)
    return text
