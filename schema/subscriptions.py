"""The root Subscription: join availability and schedule changes, over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from resolvers import subscriptions
from resolvers.errors import NotFound
from resolvers.events import ScheduleEventKind as ScheduleEventKindModel
from resolvers.loaders.schedule import LiveSessionById
from resolvers.permissions import can_see_live_session
from schema.relay import id_of
from schema.schedule import JoinAvailability, LiveSession

ScheduleEventKind = strawberry.enum(ScheduleEventKindModel, name="ScheduleEventKind")


@strawberry.type
class ScheduleEvent:
    kind: ScheduleEventKind
    live_session: LiveSession
    occurred_at: datetime


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The current join state at once, then again when the window opens, "
                                         "when it closes, and whenever the live session is rescheduled, "
                                         "cancelled or gets a new URL.")
    async def join_availability(self, info: Info, live_session_id: strawberry.ID
                                ) -> AsyncGenerator[JoinAvailability, None]:
        db_id = id_of(live_session_id, "LiveSession")
        if db_id is None:
            raise NotFound("No such live session.")
        states = await subscriptions.join_availability(info.context, db_id)

        async def stream():
            async for state in states:
                yield JoinAvailability(opens_at=state.opens_at, closes_at=state.closes_at, is_open=state.is_open,
                                       url=state.url)

        return stream()

    @strawberry.subscription(description="The viewer's (and a guardian's children's) bookings, cancellations, "
                                         "reschedules and absence decisions, as they happen.")
    async def schedule_changed(self, info: Info) -> AsyncGenerator[ScheduleEvent, None]:
        changes = await subscriptions.schedule_changes(info.context)

        async def stream():
            async for change in changes:
                ctx = info.context.fresh()
                live_session = await LiveSessionById(ctx).load(change.live_session_id)
                if live_session is None or not await can_see_live_session(ctx, live_session):
                    continue
                info.context.refresh()
                yield ScheduleEvent(kind=change.kind, live_session=LiveSession.from_model(live_session),
                                    occurred_at=change.occurred_at)

        return stream()
