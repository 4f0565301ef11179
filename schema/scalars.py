"""DateTime and Date as the contract defines them, and never a naive time.

DateTime is RFC 3339's date-time exactly (a `T` or `t`, seconds, an optional fraction, `Z`,
`z` or a `±hh:mm` offset); Date is `YYYY-MM-DD`. Python's fromisoformat takes much more
(`20260308`, `2026-W10-7`, `24:00`), so the grammar is written out here. Both must fall in
a window of dates: far outside it a conversion between zones leaves what datetime holds
(sessiongraph/infrastructure/storable.py holds the window, for CSV files too).
"""

import re
from datetime import UTC, date, datetime, timedelta, timezone

import strawberry

from sessiongraph.infrastructure.storable import EARLIEST_DATE, LATEST_DATE, storable_date


class InvalidScalar(ValueError):
    """A value the client sent that its scalar refuses: BAD_USER_INPUT."""



_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_DATE_ONLY = re.compile(_DATE)
_DATE_TIME = re.compile(_DATE + r"[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
                        r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))")


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _in_window(day: date, shown: str) -> None:
    if not storable_date(day):
        raise InvalidScalar(f"{shown} is outside the dates this service takes, {EARLIEST_DATE} to {LATEST_DATE}")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 64 else value[:64] + "…")


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidScalar("DateTime must be an RFC 3339 string with an offset")
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidScalar(f"{_shown(value)} is not an RFC 3339 date and time with an offset, like "
                            "'2026-03-08T09:30:00Z' or '2026-03-08T10:30:00+01:00'")
    year, month, day, hour, minute, second, fraction, _, sign, offset_hours, offset_minutes = match.groups()
    if hour == "24":
        raise InvalidScalar(f"{_shown(value)}: RFC 3339 has no hour 24; send 00:00:00 of the next day")
    if second == "60":
        raise InvalidScalar(f"{_shown(value)} is a leap second, which this service does not take")
    try:
        if sign is None:
            zone = UTC
        else:
            if int(offset_hours) > 23 or int(offset_minutes) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
            zone = timezone(-offset if sign == "-" else offset)
        # Microseconds are the finest datetime holds: further digits are dropped, not rounded.
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone)
    except ValueError as error:
        raise InvalidScalar(f"{_shown(value)} is not a valid date and time") from error
    _in_window(parsed.date(), _shown(value))
    utc = parsed.astimezone(UTC)
    _in_window(utc.date(), _shown(value))
    return utc


def parse_date(value: object) -> date:
    if not isinstance(value, str) or _DATE_ONLY.fullmatch(value) is None:
        raise InvalidScalar(f"{_shown(str(value))} is not a YYYY-MM-DD date" if isinstance(value, str)
                            else "Date must be a YYYY-MM-DD string")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as error:
        raise InvalidScalar(f"{value!r} is not a YYYY-MM-DD date") from error
    _in_window(parsed, repr(value))
    return parsed


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="RFC 3339 date and time with an offset ('Z' or '±hh:mm'), between 1900-01-01 and 2199-12-31; "
                "a value without an offset is refused.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

DateScalar = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD, between 1900-01-01 and 2199-12-31.",
    serialize=lambda value: value.isoformat(),
    parse_value=parse_date,
)

SCALARS = {datetime: DateTimeScalar, date: DateScalar}
