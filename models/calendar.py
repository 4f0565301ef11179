"""Local days, weeks and months in a viewer's IANA time zone.

Times are stored in UTC; "today", a calendar day and a week exist only in a zone.
A local day is [its midnight, the next day's midnight), so it lasts 23 or 25 hours
across a daylight-saving change and every instant falls on exactly one day.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sessiongraph.models.accounts import Weekday


class CalendarView(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local day starts. Where midnight is skipped by a change,
    zoneinfo reads it with the offset before the change: the change's own instant."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class LocalDays:
    """The local dates first..last (both included), and the UTC span they cover."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def starts_at(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def ends_at(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def week_start_on_or_before(day: date, week_start: Weekday) -> date:
    return day - timedelta(days=(day.weekday() - week_start.index) % 7)


def calendar_days(view: CalendarView, day: date, week_start: Weekday, zone: ZoneInfo) -> LocalDays:
    """DAY: that day. WEEK: the seven days from the week start on or before it.
    MONTH: whole weeks, from the week holding the 1st to the week holding the last day."""
    if view is CalendarView.DAY:
        return LocalDays(day, day, zone)
    if view is CalendarView.WEEK:
        first = week_start_on_or_before(day, week_start)
        return LocalDays(first, first + timedelta(days=6), zone)
    month_first = day.replace(day=1)
    next_month = (month_first + timedelta(days=32)).replace(day=1)
    month_last = next_month - timedelta(days=1)
    first = week_start_on_or_before(month_first, week_start)
    last = week_start_on_or_before(month_last, week_start) + timedelta(days=6)
    return LocalDays(first, last, zone)
