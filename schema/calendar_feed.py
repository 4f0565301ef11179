"""The viewer's calendar feed on the wire, and resetting its secret."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from sessiongraph.resolvers import calendar_feed
from sessiongraph.schema.errors import UserError, attempt


@strawberry.type(description="The viewer's secret iCalendar feed: any calendar app subscribes to `url` "
                             "(no sign-in; whoever has the URL reads the schedule, so reset it when it leaks).")
class CalendarFeed:
    url: str = strawberry.field(description="Absolute; GET answers text/calendar.")
    created_at: datetime = strawberry.field(description="When this URL was issued (at the first read, "
                                                        "or the last reset).")

    @classmethod
    def from_link(cls, link: calendar_feed.FeedLink) -> CalendarFeed:
        return cls(url=link.url, created_at=link.created_at)


@strawberry.type
class ResetCalendarFeedPayload:
    calendar_feed: CalendarFeed | None
    errors: list[UserError]


@strawberry.type
class CalendarFeedMutation:
    @strawberry.mutation(description="Issues a new secret feed URL; the old one answers 404 from then on.")
    async def reset_calendar_feed(self, info: Info) -> ResetCalendarFeedPayload:
        link, errors = await attempt(info, lambda: calendar_feed.reset_calendar_feed(info.context))
        return ResetCalendarFeedPayload(calendar_feed=CalendarFeed.from_link(link) if link else None, errors=errors)
