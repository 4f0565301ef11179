"""Date windows and the status rule every window-driven listing uses.

A window is half-open, [start, end): at the end instant it is over. Either end may
be missing, which leaves that side open.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class WindowStatus(StrEnum):
    UPCOMING = "UPCOMING"
    ACTIVE = "ACTIVE"
    PAST = "PAST"


@dataclass(frozen=True, slots=True)
class DateWindow:
    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_valid(self) -> bool:
        return self.start is None or self.end is None or self.end >= self.start

    def status(self, now: datetime) -> WindowStatus:
        if self.start is not None and now < self.start:
            return WindowStatus.UPCOMING
        if self.end is not None and now >= self.end:
            return WindowStatus.PAST
        return WindowStatus.ACTIVE

    def contains(self, now: datetime) -> bool:
        return self.status(now) is WindowStatus.ACTIVE

    def covers(self, other: "DateWindow") -> bool:
        """True when this window is open for at least all of `other`."""
        starts_in_time = self.start is None or (other.start is not None and self.start <= other.start)
        ends_in_time = self.end is None or (other.end is not None and self.end >= other.end)
        return starts_in_time and ends_in_time
