"""Recurring availability: an RFC 5545 RRULE expanded into a slot's occurrences.

The rule's parts are read and bounded before dateutil sees it, so a rule that would
make a million occurrences (COUNT=100000, FREQ=SECONDLY) costs a string split, not an
expansion. Expansion runs in the instructor's zone on naive local times, then each
occurrence is placed in the zone: a weekly 09:00 stays 09:00 local across DST changes
(its UTC instant moves instead). A local start that does not exist that day (inside
the spring-forward gap) lands where zoneinfo puts it, an hour later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_OCCURRENCES = 400
MAX_SPAN = timedelta(days=366)
MAX_RULE_LENGTH = 500
# Sub-daily rules would repeat a slot within its own day; the slot's time of day is its startsAt's.
FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTHDAY", "BYYEARDAY",
                   "BYWEEKNO", "BYMONTH", "BYSETPOS"})


class InvalidRecurrence(ValueError):
    """The rule is not one we expand; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Recurrence:
    rule: str                    # normalised: upper case, no "RRULE:" prefix
    count: int | None
    until: datetime | None       # UTC, from the rule's UNTIL or the input's `until`


def parse(text: str, until: datetime | None) -> Recurrence:
    """Reads the rule's parts and refuses, before any expansion, what is not a daily or
    slower rule ending within MAX_OCCURRENCES occurrences or MAX_SPAN."""
    rule = text.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:"):]
    rule = rule.upper()
    if not rule:
        raise InvalidRecurrence("The recurrence is empty.")
    if len(rule) > MAX_RULE_LENGTH:
        raise InvalidRecurrence(f"The recurrence is longer than {MAX_RULE_LENGTH} characters.")
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value or name in parts:
            raise InvalidRecurrence(f"`{part}` is not a NAME=VALUE part given once.")
        if name not in PARTS:
            raise InvalidRecurrence(f"{name} is not supported; use {', '.join(sorted(PARTS))}.")
        parts[name] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise InvalidRecurrence(f"FREQ must be one of {', '.join(sorted(FREQUENCIES))}.")
    count = _bounded_int(parts, "COUNT", 1, MAX_OCCURRENCES)
    _bounded_int(parts, "INTERVAL", 1, 366)
    if "UNTIL" in parts and until is not None:
        raise InvalidRecurrence("Give the end once: the rule's UNTIL or `until`.")
    if count is not None and (until is not None or "UNTIL" in parts):
        raise InvalidRecurrence("COUNT and UNTIL cannot both be given (RFC 5545).")
    if "UNTIL" in parts:
        until = _rule_until(parts["UNTIL"])
    if count is None and until is None:
        raise InvalidRecurrence(f"The recurrence needs an end: COUNT (at most {MAX_OCCURRENCES}) or until.")
    return Recurrence(rule=rule, count=count, until=until)


def _bounded_int(parts: dict[str, str], name: str, lowest: int, highest: int) -> int | None:
    if name not in parts:
        return None
    value = parts[name]
    if not value.isdigit() or len(value) > 6 or not lowest <= int(value) <= highest:
        raise InvalidRecurrence(f"{name} must be a whole number from {lowest} to {highest}.")
    return int(value)


def _rule_until(value: str) -> datetime:
    """RFC 5545 UNTIL: a UTC date-time (…Z) or a date (the whole day, in UTC here)."""
    for layout in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            moment = datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
        return moment + timedelta(days=1) - timedelta(microseconds=1) if layout == "%Y%m%d" else moment
    raise InvalidRecurrence("UNTIL must be a UTC date-time (20270131T090000Z) or a date (20270131).")


def occurrences(recurrence: Recurrence, first_start: datetime, zone: ZoneInfo) -> list[datetime]:
    """The starts (UTC) of the series whose first start is `first_start`: at most
    MAX_OCCURRENCES, all within MAX_SPAN of the first."""
    horizon = first_start + MAX_SPAN
    if recurrence.until is not None:
        if recurrence.until < first_start:
            raise InvalidRecurrence("The recurrence ends before the slot's first start.")
        if recurrence.until > horizon:
            raise InvalidRecurrence(f"A recurrence may cover at most {MAX_SPAN.days} days.")
    local_start = first_start.astimezone(zone).replace(tzinfo=None)
    try:
        parsed = rrulestr(recurrence.rule, dtstart=local_start)
    except (ValueError, TypeError) as error:
        raise InvalidRecurrence(f"The recurrence is not a valid RRULE ({error}).") from None
    if not isinstance(parsed, rrule):
        raise InvalidRecurrence("Give one RRULE.")
    last = min(recurrence.until or horizon, horizon).astimezone(zone).replace(tzinfo=None)
    # The walk always stops at the horizon, whatever the rule: a rule whose parts match no
    # day (BYMONTHDAY=31;BYMONTH=2) ends there instead of searching to the year 9999.
    bounded = parsed.replace(count=None, until=last)
    wanted = recurrence.count if recurrence.count is not None else MAX_OCCURRENCES + 1
    starts = [local.replace(tzinfo=zone).astimezone(UTC) for local in islice(bounded, wanted)]
    if not starts:
        raise InvalidRecurrence("The recurrence matches no date before its end.")
    if len(starts) > MAX_OCCURRENCES:
        raise InvalidRecurrence(f"The recurrence makes more than {MAX_OCCURRENCES} occurrences.")
    if recurrence.count is not None and len(starts) < recurrence.count:
        raise InvalidRecurrence(f"COUNT={recurrence.count} reaches past {MAX_SPAN.days} days from the first start.")
    return starts
