"""`viewer`: the signed-in user's own corner of the graph."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import accounts, calendar_feed, schedule, sessions, waitlist
from sessiongraph.schema.accounts import User
from sessiongraph.schema.calendar_feed import CalendarFeed
from sessiongraph.schema.credits import CreditAccount
from sessiongraph.schema.relay import Connection
from sessiongraph.schema.schedule import LearnerSchedule, LiveSession, connection, load_ahead_rows
from sessiongraph.schema.sessions import Session
from sessiongraph.schema.waitlist import WaitlistEntry


@strawberry.type
class MySessions:
    current: list[Session]
    upcoming: list[Session]
    past: list[Session]


@strawberry.type(description="A learner as their guardian sees them: read-only.")
class Learner:
    model: strawberry.Private[models.User]

    @strawberry.field
    def user(self) -> User:
        return User.from_model(self.model)

    @strawberry.field(description="The child's schedule; myBooking and myReport on it are the child's.")
    def schedule(self) -> LearnerSchedule:
        assert self.model.id is not None  # a stored user
        return LearnerSchedule(learner_id=self.model.id)

    @strawberry.field(description="The child's credits, read-only.")
    def credits(self) -> CreditAccount:
        assert self.model.id is not None  # a stored user
        return CreditAccount(user_id=self.model.id)


@strawberry.type
class Viewer:
    model: strawberry.Private[models.User]

    @strawberry.field
    def user(self) -> User:
        return User.from_model(self.model)

    @strawberry.field(description="Sessions the viewer learns in (by display window, access window and "
                                  "visibility) or coaches (by coach access window).")
    async def my_sessions(self, info: Info) -> MySessions:
        mine = await sessions.my_sessions(info.context)
        return MySessions(current=[Session.from_model(s) for s in mine.current],
                          upcoming=[Session.from_model(s) for s in mine.upcoming],
                          past=[Session.from_model(s) for s in mine.past])

    @strawberry.field(description="The viewer's own live sessions.")
    def schedule(self) -> LearnerSchedule:
        assert self.model.id is not None  # a stored user
        return LearnerSchedule(learner_id=self.model.id)

    @strawberry.field(description="The viewer's credit balance and transactions.")
    def credits(self) -> CreditAccount:
        assert self.model.id is not None  # a stored user
        return CreditAccount(user_id=self.model.id)

    @strawberry.field(description="The learners the viewer is a guardian of, by name.")
    async def children(self, info: Info) -> list[Learner]:
        return [Learner(model=child) for child in await accounts.children(info.context)]

    @strawberry.field(description="The live sessions the viewer teaches, starting in [from, to), ascending; "
                                  "empty for those who do not teach.")
    async def teaching(self, info: Info, first: int | None = None, after: str | None = None,
                       from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
                       to: datetime | None = None) -> Connection[LiveSession]:
        page = await schedule.teaching(info.context, starts_from=from_, starts_before=to, first=first, after=after)
        if page is not None:
            await load_ahead_rows(info, page.items)
        return connection(page, LiveSession.from_model)

    @strawberry.field(description="The viewer's waitlist entries on slots that have not started, soonest slot "
                                  f"first, whatever their status; at most {waitlist.VIEWER_WAITLIST_LIMIT}.")
    async def waitlist(self, info: Info) -> list[WaitlistEntry]:
        return [WaitlistEntry.from_model(entry, info.context.now) for entry in await waitlist.viewer_waitlist(
            info.context)]

    @strawberry.field(description="The viewer's secret iCalendar feed URL, issued on first read.")
    async def calendar_feed(self, info: Info) -> CalendarFeed:
        return CalendarFeed.from_link(await calendar_feed.calendar_feed(info.context))


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    def viewer(self, info: Info) -> Viewer | None:
        user = info.context.actor.user
        return Viewer(model=user) if user is not None else None
