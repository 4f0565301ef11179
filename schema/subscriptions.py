"""The root Subscription: join availability and schedule changes, over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import TypeAlias

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from sessiongraph.resolvers import subscriptions
from sessiongraph.resolvers.errors import NotFound
from sessiongraph.resolvers.events import ScheduleEventKind as ScheduleEventKindModel
from sessiongraph.resolvers.outbox import CursorExpired, encode_cursor
from sessiongraph.resolvers.schedule import JoinState
from sessiongraph.schema.relay import id_of
from sessiongraph.schema.schedule import JoinAvailability, LiveSession

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
ScheduleEventKind: TypeAlias = ScheduleEventKindModel
strawberry.enum(ScheduleEventKind, name="ScheduleEventKind")


@strawberry.type
class ScheduleEvent:
    kind: ScheduleEventKind
    live_session: LiveSession
    occurred_at: datetime
    cursor: str = strawberry.field(description="Resume after this event: `scheduleChanged(after: cursor)`.")


def join_availability_value(state: JoinState) -> JoinAvailability:
    """The field's value for a state: nothing else, so that a result can be shared by everyone in that state."""
    return JoinAvailability(opens_at=state.opens_at, closes_at=state.closes_at, is_open=state.is_open, url=state.url)


class JoinAvailabilityStream:
    """The join states as the field's values; closing it (graphql-core does) lets go of the watch."""

    __slots__ = ("states",)

    def __init__(self, states: subscriptions.JoinStream) -> None:
        self.states = states

    def __aiter__(self) -> JoinAvailabilityStream:
        return self

    async def __anext__(self) -> JoinAvailability:
        return join_availability_value(await self.states.__anext__())

    async def aclose(self) -> None:
        self.states.close()


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The current join state at once, then again when the window opens, "
                                         "when it closes, and whenever the live session is rescheduled, "
                                         "cancelled or gets a new URL.")
    async def join_availability(self, info: Info, live_session_id: strawberry.ID
                                ) -> AsyncIterator[JoinAvailability]:
        db_id = id_of(live_session_id, "LiveSession")
        if db_id is None:
            raise NotFound("No such live session.")
        states = await subscriptions.join_availability(info.context, db_id)
        # Over WebSocket the handler takes the stream over after the first result (see resolvers/subscriptions.py).
        subscriptions.offer_handover(states, join_availability_value)
        return JoinAvailabilityStream(states)

    @strawberry.subscription(description="The viewer's (and a guardian's children's) bookings, cancellations, "
                                         "reschedules, promotions and absence decisions, as they happen; with "
                                         "`after` (an event's `cursor`), first every one since that event, in "
                                         "order, once each. A cursor older than EVENT_RETENTION_DAYS is refused "
                                         "with CURSOR_EXPIRED: reload instead.")
    async def schedule_changed(self, info: Info, after: str | None = None) -> AsyncGenerator[ScheduleEvent, None]:
        try:
            changes = await subscriptions.schedule_changes(info.context, after)
        except CursorExpired as expired:
            raise GraphQLError(str(expired), extensions={"code": "CURSOR_EXPIRED"}) from None

        async def stream():
            try:
                async for change in changes:
                    yield ScheduleEvent(kind=change.kind, live_session=LiveSession.from_model(change.live_session),
                                        occurred_at=change.occurred_at, cursor=encode_cursor(change.event_id))
            finally:
                await changes.aclose()  # lets go of the broker at once, not when collected

        return stream()
