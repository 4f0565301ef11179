"""What subscribers hear: the join window as it opens and closes, and schedule changes.

A `joinAvailability` subscriber wakes at two kinds of moment: an instant the window
opens or closes (through the process's one scheduler: a timer per distinct
instant, not per subscriber) and an event on the live session's channel (a
reschedule, a new URL, a cancellation, a booking). At an instant only the clock
has changed, so the state is worked out again from what was loaded before, with no
query: ten thousand subscribers waiting for the same class cost no database work
when it opens. After an event, the live session is read again through a fresh
context, since the connection's loaders would still hold what they read first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from resolvers import permissions
from resolvers.context import Context
from resolvers.errors import NotFound
from resolvers.events import ScheduleEventKind, live_session_channel, user_channel
from resolvers.loaders.accounts import ChildIdsByGuardian
from resolvers.loaders.courses import CourseById
from resolvers.loaders.schedule import LiveSessionById
from resolvers.permissions import require_signed_in
from resolvers.schedule import JoinState
from sessiongraph.broker import RESYNC

# Live-session events after which every subscriber emits, even if its state did not change.
ANNOUNCED = {ScheduleEventKind.RESCHEDULED.value, ScheduleEventKind.UPDATED.value, ScheduleEventKind.CANCELLED.value}


@dataclass(frozen=True, slots=True)
class JoinSituation:
    """What the join state follows from, copied out of the rows (a subscriber keeps it
    for hours, and ten thousand of them should not keep ORM objects); only `now` moves
    between events."""

    opens_at: datetime
    closes_at: datetime
    url: str | None
    cancelled: bool
    may_join: bool

    def state(self, now: datetime) -> JoinState:
        is_open = (self.may_join and not self.cancelled and self.url is not None
                   and self.opens_at <= now < self.closes_at)
        return JoinState(opens_at=self.opens_at, closes_at=self.closes_at, is_open=is_open,
                         url=self.url if is_open else None)

    def next_change(self, now: datetime) -> datetime | None:
        if now < self.opens_at:
            return self.opens_at
        if now < self.closes_at:
            return self.closes_at
        return None


async def _situation(ctx: Context, live_session_id: int) -> JoinSituation:
    live_session = await LiveSessionById(ctx).load(live_session_id)
    if live_session is None or not await permissions.can_see_live_session(ctx, live_session):
        raise NotFound("No such live session.")
    course = await CourseById(ctx).load(live_session.course_id)
    window = live_session.join_window(course.join_lead_minutes)
    return JoinSituation(opens_at=window.start, closes_at=window.end, url=live_session.virtual_classroom_url,
                         cancelled=live_session.is_cancelled,
                         may_join=await permissions.may_join(ctx, live_session, course))


async def join_availability(ctx: Context, live_session_id: int) -> AsyncIterator[JoinState]:
    """Checks the caller may see the live session first (raising NotFound before any
    event), then returns the stream of its join states."""
    require_signed_in(ctx)
    situation = await _situation(ctx.fresh(), live_session_id)
    return _join_states(ctx, live_session_id, situation)


TICK: dict[str, str] = {"kind": "TICK"}


async def _join_states(ctx: Context, live_session_id: int, situation: JoinSituation) -> AsyncIterator[JoinState]:
    async with ctx.broker.subscribe(live_session_channel(live_session_id)) as events:
        alarm = None

        def set_alarm() -> None:
            """The scheduler puts a tick in this subscriber's queue at the next change."""
            nonlocal alarm
            if alarm is not None:
                alarm.cancel()
            instant = situation.next_change(ctx.clock.now())
            alarm = ctx.scheduler.call_at(instant, lambda: events.offer(TICK)) if instant is not None else None

        last = situation.state(ctx.clock.now())
        yield last
        set_alarm()
        try:
            async for message in events:  # raises SubscriberOverflow to end the stream
                announce = False
                if message is not TICK:
                    try:
                        situation = await _situation(ctx.fresh(), live_session_id)
                    except NotFound:
                        return  # no longer theirs to see: the stream ends
                    announce = message is RESYNC or message.get("kind") in ANNOUNCED
                set_alarm()
                state = situation.state(ctx.clock.now())
                if announce or state != last:
                    last = state
                    yield state
        finally:
            if alarm is not None:
                alarm.cancel()


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    kind: ScheduleEventKind
    live_session_id: int
    occurred_at: datetime


async def schedule_changes(ctx: Context) -> AsyncIterator[ScheduleChange]:
    """The viewer's schedule changes, and their children's for a guardian."""
    user = require_signed_in(ctx)
    children = await ChildIdsByGuardian(ctx.fresh()).load(user.id)
    channels = [user_channel(user.id)] + [user_channel(child) for child in sorted(children)]
    return _schedule_changes(ctx, channels)


async def _schedule_changes(ctx: Context, channels: list[str]) -> AsyncIterator[ScheduleChange]:
    recent: list[tuple[str, int, str]] = []
    async with ctx.broker.subscribe(*channels) as events:
        async for message in events:
            if message is RESYNC or "liveSessionId" not in message:
                continue  # a change is news once; after a reconnect there is nothing to replay
            key = (message["kind"], message["liveSessionId"], message["occurredAt"])
            if key in recent:
                continue  # a guardian hears a change once, not once per child it concerns
            recent = [*recent[-31:], key]
            yield ScheduleChange(ScheduleEventKind(message["kind"]), message["liveSessionId"],
                                 datetime.fromisoformat(message["occurredAt"]))
