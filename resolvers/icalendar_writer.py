"""A calendar feed as RFC 5545 text.

The `icalendar` library writes the calendar around the events and the VTIMEZONE of the
owner's zone, built from the zoneinfo rules for the feed's span. The VEVENTs are written
here, line by line: icalendar's component serializer costs about 0.4 ms per event on our
machines, four times the budget of 1,000 events in 100 ms. tests/test_calendar_feed.py holds
these lines to what icalendar writes for the same event, property by property.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

from sessiongraph.resolvers.calendar_feed import FeedEntry

PRODUCT = "-//sessiongraph//calendar feed//EN"
# How often calendar apps should read the feed again (RFC 7986 REFRESH-INTERVAL, and the
# X-PUBLISHED-TTL that Outlook and Google read instead).
REFRESH = "PT1H"
LINE_OCTETS = 75
# RFC 5545 TEXT: backslash, semicolon, comma and newline escaped; other control characters
# (but tab) are not allowed in a value at all.
_TEXT_ESCAPES = {ord("\\"): "\\\\", ord(";"): "\\;", ord(","): "\\,", ord("\n"): "\\n",
                 **{c: None for c in range(32) if c not in (9, 10)}, 127: None}


def text(value: str) -> str:
    return value.translate(_TEXT_ESCAPES)


def folded(line: str) -> str:
    """The content line split into lines of at most 75 octets, each after the first led by a
    space, never inside a UTF-8 character (RFC 5545 3.1)."""
    if len(line) * 4 <= LINE_OCTETS or len(line.encode()) <= LINE_OCTETS:
        return line
    parts: list[str] = []
    start, octets = 0, 0
    for index, char in enumerate(line):
        size = len(char.encode())
        limit = LINE_OCTETS if not parts else LINE_OCTETS - 1  # the leading space counts
        if octets + size > limit:
            parts.append(line[start:index])
            start, octets = index, 0
        octets += size
    parts.append(line[start:])
    return "\r\n ".join(parts)


def utc_stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def local_stamp(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y%m%dT%H%M%S")


@lru_cache(maxsize=64)
def vtimezone(zone_name: str, first: date, last: date) -> icalendar.Timezone:
    """The zone's VTIMEZONE for [first, last]: the transitions in that span only, so calendar
    apps need not read (and cannot misread) decades of history. Cached: a day's feeds share it."""
    return icalendar.Timezone.from_tzinfo(ZoneInfo(zone_name), tzid=zone_name, first_date=first, last_date=last)


def event_lines(entry: FeedEntry, zone: ZoneInfo, uid_domain: str, page_url: str) -> list[str]:
    """One VEVENT's content lines, unfolded."""
    ls = entry.live_session
    summary = entry.course_title if not entry.children else f"{', '.join(entry.children)}: {entry.course_title}"
    description = [f"Lesson: {ls.lesson_name or '—'}"]
    if ls.lesson_goal:
        description.append(f"Goal: {ls.lesson_goal}")
    description += [f"Instructor: {entry.instructor_name}", f"Session ID: {ls.code}"]
    if ls.cancelled_at is not None:
        description.append(f"Cancelled{': ' + ls.cancellation_reason if ls.cancellation_reason else ''}")
    lines = [
        "BEGIN:VEVENT",
        f"UID:live-session-{ls.id}@{uid_domain}",
        # Without METHOD, DTSTAMP is when the event last changed (RFC 5545 3.8.7.2), so an
        # unchanged feed is the same text, and the same ETag, on every read.
        f"DTSTAMP:{utc_stamp(ls.updated_at)}",
        f"DTSTART;TZID={zone.key}:{local_stamp(ls.starts_at, zone)}",
        f"DTEND;TZID={zone.key}:{local_stamp(ls.ends_at, zone)}",
        f"SEQUENCE:{ls.sequence}",
        f"STATUS:{'CANCELLED' if ls.cancelled_at is not None else 'CONFIRMED'}",
        f"SUMMARY:{text(summary)}",
        f"DESCRIPTION:{text(chr(10).join(description))}",
    ]
    location = _location(ls)
    if location is not None:
        lines.append(f"LOCATION:{text(location)}")
    lines += [f"URL:{page_url}", f"CREATED:{utc_stamp(ls.created_at)}",
              f"LAST-MODIFIED:{utc_stamp(ls.updated_at)}", "END:VEVENT"]
    return lines


def _location(ls) -> str | None:
    """The place, or "Online" for a virtual classroom: never its URL, which only the Join
    rule hands out (and only while it is open)."""
    place = ", ".join(part for part in (ls.location_name, ls.location_room, ls.location_address) if part)
    if place:
        return place
    return "Online" if ls.virtual_classroom_url is not None else None


def feed_calendar(entries: Iterable[FeedEntry], *, zone: ZoneInfo, span: tuple[datetime, datetime],
                  name: str, uid_domain: str, page_url: Callable[[int], str]) -> bytes:
    """The whole feed: the calendar, the zone's VTIMEZONE over `span`, one VEVENT per entry."""
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODUCT)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    calendar.add("refresh-interval", icalendar.vDuration.from_ical(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    # The span's dates, a day wider each side: an event near an end is still within the rules.
    first, last = span[0].astimezone(zone).date(), span[1].astimezone(zone).date()
    calendar.add_component(vtimezone(zone.key, date.fromordinal(first.toordinal() - 1),
                                     date.fromordinal(last.toordinal() + 1)))
    head, end = calendar.to_ical().decode().rsplit("END:VCALENDAR", 1)
    events = [folded(line) for entry in entries
              for line in event_lines(entry, zone, uid_domain, page_url(entry.live_session.id))]
    return (head + "".join(line + "\r\n" for line in events) + "END:VCALENDAR" + end).encode()
