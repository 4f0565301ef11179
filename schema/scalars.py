"""DateTime and Date as the contract defines them: ISO 8601, and never a naive time."""

from datetime import UTC, date, datetime

import strawberry


class InvalidScalar(ValueError):
    """A value the client sent that its scalar refuses: BAD_USER_INPUT."""


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidScalar("DateTime must be an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidScalar(f"{value!r} is not an ISO 8601 date and time") from error
    if parsed.tzinfo is None:
        raise InvalidScalar(f"{value!r} has no offset; send UTC ('Z') or an offset like '+02:00'")
    return parsed.astimezone(UTC)


def parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise InvalidScalar("Date must be a YYYY-MM-DD string")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidScalar(f"{value!r} is not a YYYY-MM-DD date") from error


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date and time with an offset; a value without one is refused.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

DateScalar = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD.",
    serialize=lambda value: value.isoformat(),
    parse_value=parse_date,
)

SCALARS = {datetime: DateTimeScalar, date: DateScalar}
