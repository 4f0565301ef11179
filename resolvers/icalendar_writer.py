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
# RFC 5545 TEXT allows no control character but tab (newlines are escaped first).
_CONTROL = dict.fromkeys((*range(9), *range(11, 32), 127))


def text(value: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon, comma and newline escaped."""
    if not value.isprintable():
        value = value.replace("\r\n", "\n").translate(_CONTROL)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def folded(line: str) -> bytes:
    """The content line in UTF-8, split into lines of at most 75 octets, each after the first
    led by a space, never inside a character (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= LINE_OCTETS:
        return data
    parts, start, limit = [], 0, LINE_OCTETS
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: cut before its character instead
            cut -= 1
        parts.append(data[start:cut])
        start, limit = cut, LINE_OCTETS - 1  # the leading space counts
    parts.append(data[start:])
    return b"\r\n ".join(parts)


def _stamp(instant: datetime) -> str:
    """YYYYMMDDTHHMMSS, as fast as Python writes it (strftime is several times slower)."""
    return instant.replace(tzinfo=None).isoformat(timespec="seconds").replace("-", "").replace(":", "")


def utc_stamp(instant: datetime) -> str:
    return _stamp(instant.astimezone(UTC)) + "Z"


def local_stamp(instant: datetime, zone: ZoneInfo) -> str:
    return _stamp(instant.astimezone(zone))


@lru_cache(maxsize=64)
def vtimezone(zone_name: str, first: date, last: date) -> icalendar.Timezone:
    """The zone's VTIMEZONE for [first, last]: the transitions in that span only, so calendar
    apps need not read (and cannot misread) decades of history. Cached: a day's feeds share it."""
    return icalendar.Timezone.from_tzinfo(ZoneInfo(zone_name), tzid=zone_name, first_date=first, last_date=last)


def event_text(entry: FeedEntry, zone: ZoneInfo, uid_domain: str, page_url: str,
               stamp: datetime | None = None) -> bytes:
    """One VEVENT, folded. The lines of fixed form fit in 75 octets whatever their values (the
    longest zone name makes DTSTART 61), so only the free text is folded. `stamp` is the DTSTAMP of a
    calendar with a METHOD (when it was made); without, DTSTAMP is when the event last changed."""
    ls = entry.live_session
    changed = utc_stamp(ls.updated_at)
    status = "CANCELLED" if ls.cancelled_at is not None else "CONFIRMED"
    fixed = (f"BEGIN:VEVENT\r\n"
             # Without METHOD, DTSTAMP is when the event last changed (RFC 5545 3.8.7.2), so an
             # unchanged feed is the same text, and the same ETag, on every read.
             f"DTSTAMP:{changed if stamp is None else utc_stamp(stamp)}\r\n"
             f"DTSTART;TZID={zone.key}:{local_stamp(ls.starts_at, zone)}\r\n"
             f"DTEND;TZID={zone.key}:{local_stamp(ls.ends_at, zone)}\r\n"
             f"SEQUENCE:{ls.sequence}\r\nSTATUS:{status}\r\n"
             f"CREATED:{utc_stamp(ls.created_at)}\r\nLAST-MODIFIED:{changed}\r\n")
    free = [f"UID:live-session-{ls.id}@{uid_domain}", f"SUMMARY:{text(_summary(entry))}",
            f"DESCRIPTION:{text(_description(entry))}", f"URL:{page_url}"]
    location = _location(ls)
    if location is not None:
        free.append(f"LOCATION:{text(location)}")
    return fixed.encode() + b"".join(folded(line) + b"\r\n" for line in free) + b"END:VEVENT\r\n"


def _summary(entry: FeedEntry) -> str:
    """The course, after the names of the children it is on (in a guardian's feed)."""
    if not entry.children:
        return entry.course_title
    return f"{', '.join(entry.children)}: {entry.course_title}"


def _description(entry: FeedEntry) -> str:
    ls = entry.live_session
    lines = [f"Lesson: {ls.lesson_name or '—'}"]
    if ls.lesson_goal:
        lines.append(f"Goal: {ls.lesson_goal}")
    lines += [f"Instructor: {entry.instructor_name}", f"Session ID: {ls.code}"]
    if ls.cancelled_at is not None:
        lines.append(f"Cancelled{': ' + ls.cancellation_reason if ls.cancellation_reason else ''}")
    return "\n".join(lines)


def _location(ls) -> str | None:
    """The place, or "Online" for a virtual classroom (whose URL the feed never reads)."""
    place = ", ".join(part for part in (ls.location_name, ls.location_room, ls.location_address) if part)
    if place:
        return place
    return "Online" if ls.is_virtual else None


def _calendar() -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODUCT)
    calendar.add("calscale", "GREGORIAN")
    return calendar


def _with_events(calendar: icalendar.Calendar, zone: ZoneInfo, span: tuple[datetime, datetime],
                 events: bytes) -> bytes:
    """The calendar with the zone's VTIMEZONE over `span` and the VEVENTs written here."""
    # The span's dates, a day wider each side: an event near an end is still within the rules.
    first, last = span[0].astimezone(zone).date(), span[1].astimezone(zone).date()
    calendar.add_component(vtimezone(zone.key, date.fromordinal(first.toordinal() - 1),
                                     date.fromordinal(last.toordinal() + 1)))
    head, end = calendar.to_ical().rsplit(b"END:VCALENDAR", 1)
    return head + events + b"END:VCALENDAR" + end


def feed_calendar(entries: Iterable[FeedEntry], *, zone: ZoneInfo, span: tuple[datetime, datetime],
                  name: str, uid_domain: str, page_url: Callable[[int], str]) -> bytes:
    """The whole feed: the calendar, the zone's VTIMEZONE over `span`, one VEVENT per entry."""
    calendar = _calendar()
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    calendar.add("refresh-interval", icalendar.vDuration.from_ical(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    events = b"".join(event_text(entry, zone, uid_domain, page_url(entry.live_session.id)) for entry in entries)
    return _with_events(calendar, zone, span, events)


def event_calendar(entry: FeedEntry, *, zone: ZoneInfo, uid_domain: str, page_url: str, stamp: datetime) -> bytes:
    """One live session as an email attachment (METHOD:PUBLISH): the same VEVENT as the feed's, its UID
    and SEQUENCE included, so a calendar app that has both keeps one event."""
    calendar = _calendar()
    calendar.add("method", "PUBLISH")
    ls = entry.live_session
    return _with_events(calendar, zone, (ls.starts_at, ls.ends_at),
                        event_text(entry, zone, uid_domain, page_url, stamp=stamp))
